"""SIGKILL the worker again and again: nothing is lost, nothing is delivered twice.

200 distinct X12 850s from acme go into ``inbound/acme/`` of a temporary
working directory; the ERP is a real HTTP server in this process that honours
``Idempotency-Key`` (201 for a new key, 200 ``Idempotent-Replayed`` for a key it
holds, see :mod:`tests.runtime.helpers_erp_server`).  The worker is a separate
process running ``edihub run --once`` (the CLI itself, started from a few lines
of Python that can arm a crash point, see :data:`WORKER`).  It is killed with
SIGKILL, restarted, killed... each time in one of these ways, chosen with a
seeded RNG:

``startup``
    0.05-1.0 s after its imports: while it opens the store and loads profiles.
``timer``
    0.05-1.5 s after its first pass began: anywhere.
``intake``
    right after the k-th file was recorded in the store, before it left the drop zone.
``parse``
    right after the k-th 997 was archived, before the parse transaction committed.
``erp``
    inside the ERP, when it has accepted the k-th POST and not answered yet: the
    window between ``post`` and ``delivered``.
``recorded``
    right after the k-th delivery attempt was recorded, before the state ``delivered``.
``send``
    right after the k-th 997 was written to ``outbound/acme/``, before ``delivered``.

Each crash point is used once (in the pipeline's order, while it can still
happen), then kinds are drawn at random.  After ``KILLS`` kills runs finish on
their own until one ends with nothing left.  Then every PO must have reached
the ERP under one idempotency key and been accepted exactly once, every file
must have exactly one 997 in ``outbound/acme/``, and the store must show 200
delivered 850s and 200 sent 997s, nothing else.

The seed is printed (and named in every assertion message): ``EDIHUB_CRASH_SEED=<n>``
replays a run's choice of kills; ``EDIHUB_CRASH_KILLS`` changes how many.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub.store import Store
from tests.runtime.helpers_erp_server import (  # noqa: F401 - erp and db_url are fixtures
    IdempotentErp,
    Request,
    db_url,
    drop_orders,
    erp,
    hub_dir,
    read_997s,
    x12_850,
)

N_FILES = 200
KILLS = int(os.environ.get("EDIHUB_CRASH_KILLS", "14"))
LEASE_SECONDS = 1.0  # a killed worker's claims are taken over this long after it died
MAX_SECONDS = 240.0  # give up (and fail) rather than loop for ever

# `edihub run --once`, with "ready" on stdout once imported and "working" when the first pass starts; with
# EDIHUB_TEST_CRASH=<point>:<k> it SIGKILLs itself right after the k-th call of that point's method returned.
WORKER = """
import os, signal
import hub.cli, hub.runtime.app, hub.erp.http, hub.edi.x12, hub.acks.x12, hub.mapping
from hub.runtime.pipeline import Pipeline
from hub.store import Archive, Store
from hub.transports import FolderTransport

POINTS = {"intake": (Store, "record_file"), "parse": (Archive, "put_bytes"), "recorded": (Store, "record_delivery"),
          "send": (FolderTransport, "send")}
point, _, nth = os.environ.get("EDIHUB_TEST_CRASH", "").partition(":")
if point in POINTS:
    cls, name = POINTS[point]
    original, calls = getattr(cls, name), []

    def crash_after(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append(1)
        if len(calls) == int(nth):
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(cls, name, crash_after)

run_until_idle = Pipeline.run_until_idle

def announce(self, *args, **kwargs):
    print("working", flush=True)
    return run_until_idle(self, *args, **kwargs)

Pipeline.run_until_idle = announce
print("ready", flush=True)
hub.cli.main(["run", "--once", "-c", "config.yaml", "--json"], prog_name="edihub")
"""
PENDING = {"file": ("received", "retry_wait"), "transaction": ("parsed", "mapped", "retry_wait")}
CRASH_POINTS = ("intake", "startup", "parse", "timer", "erp", "recorded", "send")  # each used once first, in this order


class Trap:
    """Kills the worker from inside the ERP's request handler at its k-th POST of a new document: the document is
    accepted, the answer never sent (the ERP's handler runs this under its lock, before it decides)."""

    def __init__(self, server: IdempotentErp) -> None:
        self.server = server
        self.pid: int | None = None
        self.countdown = 0
        self.fired = 0

    def arm(self, pid: int, nth: int) -> None:
        with self.server.lock:
            self.pid, self.countdown = pid, nth

    def disarm(self) -> None:
        with self.server.lock:
            self.pid = None

    def __call__(self, request: Request) -> None:
        if self.pid is not None and request.key not in self.server.documents:
            self.countdown -= 1
            if self.countdown <= 0:
                os.kill(self.pid, signal.SIGKILL)
                self.pid = None
                self.fired += 1
        return None  # no fault: the ERP accepts (or replays) the request as usual


@dataclass
class Progress:
    drop: int = N_FILES  # files still in the drop zone
    unparsed: int = N_FILES  # files not yet parsed (in the drop zone or received)
    at_erp: int = 0  # documents the ERP holds
    sent: int = 0  # 997s in outbound/acme/

    def __str__(self) -> str:
        return f"[drop {self.drop}, unparsed {self.unparsed}, erp {self.at_erp}, 997s {self.sent}]"


@dataclass
class Log:
    seed: int
    runs: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"seed {self.seed} (EDIHUB_CRASH_SEED={self.seed} replays it); runs: {', '.join(self.runs)}"


def _progress(root: Path, url: str, server: IdempotentErp) -> Progress:
    drop = sum(1 for p in (root / "inbound" / "acme").iterdir() if not p.name.startswith("."))
    sent = sum(1 for p in (root / "outbound" / "acme").iterdir() if not p.name.startswith("."))
    try:
        with Store(url) as store:
            received = store.counts_by_state("file").get("received", 0)
    except Exception:  # killed before the first migration finished: no tables yet
        received = N_FILES - drop
    return Progress(drop, drop + received, len(server.documents), sent)


def _pending(url: str) -> int:
    with Store(url) as store:
        return sum(store.counts_by_state(entity).get(state, 0) for entity, states in PENDING.items()
                   for state in states)


def _choose(rng: random.Random, used: set[str], p: Progress) -> tuple[str, float]:
    """The next kind of kill (see the module docstring) and its delay or k."""
    can = {"startup": True, "timer": True, "intake": p.drop > 0, "parse": p.unparsed > 0,
           "erp": p.at_erp < N_FILES, "recorded": p.at_erp < N_FILES, "send": p.sent < N_FILES}
    fresh = [m for m in CRASH_POINTS if can[m] and m not in used]
    mode = fresh[0] if fresh else rng.choice([m for m in CRASH_POINTS if can[m]])
    if mode == "startup":
        return mode, rng.uniform(0.05, 1.0)
    if mode == "timer":
        return mode, rng.uniform(0.05, 1.5)
    left = {"intake": p.drop, "parse": p.unparsed, "erp": N_FILES - p.at_erp, "recorded": N_FILES - p.at_erp,
            "send": N_FILES - p.sent}[mode]
    return mode, rng.randint(1, max(1, min(left, 60)))


def _crash_loop(root: Path, url: str, server: IdempotentErp, trap: Trap, rng: random.Random, log: Log) -> None:
    """Start, kill, restart... then let runs finish until one ends with nothing left."""
    deadline = time.monotonic() + MAX_SECONDS
    kills = 0
    used: set[str] = set()
    progress = Progress()
    while True:
        assert time.monotonic() < deadline, f"no end after {MAX_SECONDS}s; {log}"
        mode, arg = _choose(rng, used, progress) if kills < KILLS else ("run", 0)
        in_worker = mode in ("intake", "parse", "recorded", "send")
        env = {**os.environ, "EDIHUB_TEST_CRASH": f"{mode}:{arg}" if in_worker else ""}
        with open(root / "worker.log", "ab") as errors:
            proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=root, env=env, stdout=subprocess.PIPE,
                                    stderr=errors, text=True)
        try:
            assert proc.stdout.readline() in ("ready\n", ""), f"worker: {proc.stdout.read()}"
            if mode == "erp":
                trap.arm(proc.pid, int(arg))
            elif mode == "startup" or (mode == "timer" and proc.stdout.readline() == "working\n"):
                time.sleep(arg)  # startup: from its imports; timer: from its first pass
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=120)
            out = proc.stdout.read()
        finally:
            trap.disarm()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            used.add(mode)
            progress = _progress(root, url, server)
            log.runs.append(f"{mode} {arg:.2f}s {progress}" if isinstance(arg, float) else f"{mode} #{arg} {progress}")
            continue
        log.runs.append(f"{mode if mode != 'run' else ''} finished rc={proc.returncode}".strip())
        errors_tail = (root / "worker.log").read_text(errors="replace")[-3000:]
        assert proc.returncode == 0, f"worker exit {proc.returncode}: {out}\n{errors_tail}\n{log}"
        if _pending(url) == 0:
            return
        time.sleep(LEASE_SECONDS)  # a dead worker's claims are still leased: wait them out, run again


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_sigkill_at_random_moments_loses_nothing_and_delivers_once(tmp_path, erp, db_url):  # noqa: F811
    seed = int(os.environ.get("EDIHUB_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash test seed: {seed}")
    rng = random.Random(seed)
    log = Log(seed)
    trap = Trap(erp)
    erp.fault = trap
    hub_dir(tmp_path, db_url, erp.erp_config(timeout=30.0, attempts=1),
            {"lease_seconds": LEASE_SECONDS, "retry_base_seconds": 0.2, "retry_max_seconds": 1.0})
    orders = [x12_850(i, prefix="PO-CRASH") for i in range(N_FILES)]
    drop_orders(tmp_path / "inbound" / "acme", orders)

    started = time.monotonic()
    _crash_loop(tmp_path, db_url, erp, trap, rng, log)
    elapsed = time.monotonic() - started
    killed = sum(1 for r in log.runs if "finished" not in r)
    print(f"crash test: {len(log.runs)} worker runs, {killed} killed, {elapsed:.1f}s; {log}")

    # the ERP: each PO under one key, accepted (201) once; the rest are replays of a key it held
    by_po: dict[str, list[Request]] = defaultdict(list)
    for r in erp.seen():
        by_po[r.number].append(r)
    assert sorted(by_po, key=str) == sorted(o.po for o, _ in orders), f"missing or extra at the ERP; {log}"
    for po, requests in by_po.items():
        keys = {r.key for r in requests}
        assert len(keys) == 1, f"{po} reached the ERP under keys {sorted(keys)}; {log}"
        assert [r.status for r in requests].count(201) == 1, f"{po}: {[r.status for r in requests]}; {log}"
        assert {r.status for r in requests} <= {201, 200}, f"{po}: {[r.status for r in requests]}; {log}"
    assert len(erp.documents) == N_FILES
    assert {d["document_type"] for d in erp.documents.values()} == {"purchase_order"}
    replays = sum(1 for r in erp.seen() if r.status == 200)
    print(f"crash test: {len(erp.seen())} POSTs, {replays} answered as replays of a held key, {erp.aborted} cut "
          "short by a kill")

    # one 997 per file, each group acknowledged once
    acks = read_997s(tmp_path / "outbound" / "acme")
    assert len(acks) == N_FILES, f"{len(acks)} 997 files for {N_FILES} inputs; {log}"
    assert all(len(groups) == 1 for groups in acks.values()), f"{acks}; {log}"
    groups = Counter(g for gs in acks.values() for g in gs)
    assert groups == Counter(o.gs06 for o, _ in orders), f"997s per group: {groups.most_common(3)}; {log}"
    assert not [p for p in (tmp_path / "outbound" / "nordbuy").iterdir() if not p.name.startswith(".")]

    # the store
    with Store(db_url) as store:
        txs = store.list_transactions(limit=10_000, newest_first=False)
        inbound = [t for t in txs if t.direction == "inbound"]
        outbound = [t for t in txs if t.direction == "outbound"]
        assert len(inbound) == N_FILES and {t.type for t in inbound} == {"850"}, f"{len(inbound)} inbound; {log}"
        assert sorted(t.document_number for t in inbound) == sorted(by_po), log
        assert len(outbound) == N_FILES and {t.type for t in outbound} == {"997"}, f"{len(outbound)}; {log}"
        assert store.counts_by_state("transaction") == {"delivered": 2 * N_FILES}, log
        assert store.counts_by_state("file") == {"parsed": 2 * N_FILES}, log  # 200 received, 200 997s
        for tx in inbound:
            deliveries = store.deliveries_for(tx.id)
            assert [d.status for d in deliveries].count("ok") == 1, f"tx {tx.id}: {deliveries}; {log}"
            assert {d.idempotency_key for d in deliveries} == {by_po[tx.document_number][0].key}, log
            events = [e.event for e in store.events_for("transaction", tx.id)]
            assert events.count("delivered") == 1, f"tx {tx.id}: {events}; {log}"
        files = store.list_files(limit=10_000)
        received = [f for f in files if f.channel.startswith("folder:")]
        assert len({f.sha256 for f in received}) == len(received) == N_FILES, log
        assert {f.original_name for f in received} == {o.name for o, _ in orders}, log
        sent = [f for f in files if f.channel == "out:ack"]
        assert sorted(f.original_name for f in sent) == sorted(acks), log
    assert not list((tmp_path / "inbound" / "acme").iterdir()), f"files left in the drop zone; {log}"
    stray = [p.name for p in (tmp_path / "outbound" / "acme").iterdir() if p.name.startswith(".")]
    archive_tmp = tmp_path / "var" / "archive" / "tmp"
    stray += [f"archive/tmp/{p.name}" for p in archive_tmp.iterdir()] if archive_tmp.is_dir() else []
    print(f"crash test: temporaries left by the kills (never picked up): {stray or 'none'}")
