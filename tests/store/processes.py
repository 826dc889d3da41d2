"""Run a worker function in several spawned processes at once and collect what each reported."""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from typing import Any

_CTX: Any = None


def _context() -> Any:
    global _CTX
    if _CTX is None:
        _CTX = multiprocessing.get_context("forkserver")
        _CTX.set_forkserver_preload(["tests.store._workers"])
    return _CTX


def run_processes(target: Callable[..., None], args: Sequence[tuple[Any, ...]], timeout: float = 60) -> list[Any]:
    """Start one process per ``args`` tuple (each gets ``*args, start, results``), release them together.

    ``start`` is a barrier: each worker waits on it once ready (imports done,
    database open), so the processes really run at the same time.

    The children come from a fork *server* (started once, with the store and
    SQLAlchemy imported), not from forking the test process itself: a plain
    fork would inherit the test's pooled database connections, and spawning
    re-imports everything in every child (a second or more each).
    """
    ctx = _context()
    start = ctx.Barrier(len(args))
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*a, start, results), daemon=True) for a in args]
    for p in processes:
        p.start()
    collected = []
    try:
        for _ in processes:
            collected.append(results.get(timeout=timeout))
    except queue.Empty:
        raise AssertionError(f"only {len(collected)} of {len(processes)} worker processes reported") from None
    finally:
        for p in processes:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
    return collected
