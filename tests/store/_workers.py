"""Entry points of the worker processes the concurrency tests start (spawned: importable, picklable).

Each process opens its own Store on the shared URL, waits for the common start
signal (so that they really compete), does its part and reports back on a queue.
"""

from __future__ import annotations

import time
from typing import Any

from hub.store import Store, open_store


def upgrade_worker(url: str, start: Any, results: Any) -> None:
    start.wait(30)
    try:
        store = open_store(url)  # every process migrates: they must not trip over each other
        results.put(("ok", store.current_revision()))
        store.close()
    except Exception as exc:  # reported to the test, which fails with it
        results.put(("error", repr(exc)))


def claim_worker(url: str, worker_id: str, limit: int, start: Any, results: Any) -> None:
    """Claim until nothing is left; never release, so any item handed out twice would show up twice."""
    claimed: list[int] = []
    try:
        with Store(url) as store:
            start.wait(30)
            while ids := store.claim("file", ["received"], worker_id, limit=limit, lease_seconds=600):
                claimed.extend(ids)
                time.sleep(0.001)  # "work" on them: a worker that only claims would hog SQLite's write lock
        results.put((worker_id, claimed))
    except Exception as exc:
        results.put((worker_id, repr(exc)))


def counter_worker(url: str, worker_id: str, count: int, start: Any, results: Any) -> None:
    try:
        with Store(url) as store:
            start.wait(30)
            numbers = [store.next_control_number("acme", "interchange") for _ in range(count)]
        results.put((worker_id, numbers))
    except Exception as exc:
        results.put((worker_id, repr(exc)))
