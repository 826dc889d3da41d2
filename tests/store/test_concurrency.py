"""Several workers, threads and processes, on one database: no item is claimed twice, no number issued twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from hub.store import File, Store
from tests.store._workers import claim_worker, counter_worker
from tests.store.processes import run_processes

ITEMS = 200


def _seed(store: Store, n: int = ITEMS) -> set[int]:
    """``n`` received files, inserted in one transaction (record_file would commit, and fsync, n times)."""
    rows = [
        File(sha256=f"{i:064x}", size=i, channel="folder", original_name=f"f{i}.edi", partner_id="acme")
        for i in range(n)
    ]
    with store.session() as s:
        s.add_all(rows)
        s.flush()
        return {row.id for row in rows}


def _assert_each_claimed_once(ids: set[int], claims: list[list[int]]) -> None:
    counts = Counter(i for claimed in claims for i in claimed)
    twice = sorted(i for i, n in counts.items() if n > 1)
    assert not twice, f"claimed more than once: {twice[:10]}"
    assert set(counts) == ids


def test_four_threads_claim_each_item_exactly_once(store):
    ids = _seed(store)
    barrier = threading.Barrier(4)

    def work(n: int) -> list[int]:
        barrier.wait()
        claimed = []
        while batch := store.claim("file", ["received"], f"thread-{n}", limit=1 + n % 3):
            claimed.extend(batch)
            time.sleep(0.001)  # as a worker does some work per batch: the others get their turn at the lock
        return claimed

    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(work, range(4)))
    _assert_each_claimed_once(ids, claims)
    assert sum(1 for c in claims if c) >= 2, "the workers did not actually compete"


def test_processes_claim_each_item_exactly_once(store, store_url):
    ids = _seed(store)
    results = run_processes(claim_worker, [(store_url, f"proc-{n}", 1 + n) for n in range(3)])
    bad = [r for r in results if not isinstance(r[1], list)]
    assert not bad, bad
    _assert_each_claimed_once(ids, [claimed for _, claimed in results])
    assert sum(1 for _, claimed in results if claimed) >= 2, "the processes did not actually compete"
    leases = {f.claimed_by for f in store.list_files(limit=ITEMS)}
    assert leases <= {"proc-0", "proc-1", "proc-2"}


def test_an_expired_lease_makes_the_item_claimable_again(store):
    ids = sorted(_seed(store, 3))
    t0 = datetime.now(UTC)
    assert store.claim("file", ["received"], "crashed", limit=3, lease_seconds=30, now=t0) == ids
    assert store.claim("file", ["received"], "other", limit=3, now=t0 + timedelta(seconds=29)) == []
    store.release("file", ids[2], "crashed")  # a clean release frees at once
    assert store.claim("file", ["received"], "other", limit=3, now=t0 + timedelta(seconds=29)) == [ids[2]]
    assert store.claim("file", ["received"], "other", limit=3, now=t0 + timedelta(seconds=30)) == ids[:2]
    assert {store.get_file(i).claimed_by for i in ids} == {"other"}


def test_control_numbers_from_threads_are_unique_and_consecutive(store):
    def take(_: int) -> list[int]:
        return [store.next_control_number("acme", "group") for _ in range(25)]

    with ThreadPoolExecutor(4) as pool:
        numbers = [n for chunk in pool.map(take, range(4)) for n in chunk]
    assert sorted(numbers) == list(range(1, 101))


def test_control_numbers_from_processes_are_unique_and_consecutive(store, store_url):
    """The counter does not exist yet: the processes also race to create it."""
    results = run_processes(counter_worker, [(store_url, f"proc-{n}", 40) for n in range(3)])
    bad = [r for r in results if not isinstance(r[1], list)]
    assert not bad, bad
    numbers = [n for _, chunk in results for n in chunk]
    assert sorted(numbers) == list(range(1, 121))
    for _, chunk in results:
        assert chunk == sorted(chunk), "one process saw its numbers go backwards"
    assert store.next_control_number("acme", "interchange") == 121
