#!/usr/bin/env python3
"""Pipeline throughput: what the runtime costs on top of the EDI work it does.

Writes ``--files`` partner files (the shipped ACME 850 sample, each with its
own control numbers and PO numbers, ``--sets`` purchase orders per file) and
measures, in this one process:

* ``work``      the EDI work alone, nothing stored: per file read the bytes,
                acknowledge them (read + validate + 997) and map every set to a
                canonical document with the partner's mapping -- the least
                the pipeline must do;
* ``sqlite``    ``edihub run --once`` on the embedded defaults (SQLite store,
                folder drop zones, the folder ERP adapter writing JSON);
* ``postgresql`` the same on PostgreSQL (``--pg URL``; by default a fresh
                database on 127.0.0.1:5432, skipped when there is none).

It prints files/s, sets/s, CPU and wall seconds, commits per file (counted on
the store's engine) and each pipeline run's cost as a multiple of ``work``
("x work"): the price of the store, the archive, the drop zones and the ERP
hand-off.  There is no target; the figures go into the closing notes.

Usage::

    python bench/pipeline_bench.py                      # 200 files x 1 set, sqlite + postgresql
    python bench/pipeline_bench.py --files 50 --sets 40 --stores sqlite
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SAMPLE = REPO / "inbound" / "acme" / "acme_850_4010.x12"


def make_file(n: int, sets: int) -> bytes:
    """The ACME sample with interchange/group number ``n`` and ``sets`` purchase orders (PO numbers unique)."""
    text = SAMPLE.read_text()
    head, rest = text.split("ST*850*0001~", 1)
    body, tail = rest.split("SE*14*0001~", 1)
    sets_text = "".join(
        f"ST*850*{k:04d}~" + body.replace("PO-2026-0001", f"PO-{n:05d}-{k:04d}") + f"SE*14*{k:04d}~"
        for k in range(1, sets + 1)
    )
    tail = tail.replace("GE*1*101", f"GE*{sets}*{n}")
    out = head.replace("000000101", f"{n:09d}").replace("*101*X*", f"*{n}*X*") + sets_text + tail
    return out.replace("IEA*1*000000101", f"IEA*1*{n:09d}").encode()


def workspace(root: Path, files: int, sets: int) -> Path:
    for name in ("partner_profiles", "mappings"):
        shutil.copytree(REPO / name, root / name)
    inbound = root / "inbound" / "acme"
    inbound.mkdir(parents=True)
    (root / "inbound" / "nordbuy").mkdir(parents=True)
    for n in range(1, files + 1):
        (inbound / f"po-{n:05d}.x12").write_bytes(make_file(n, sets))
    return root


def stage_work(root: Path) -> dict:
    """Acknowledge and map every file, keeping nothing."""
    from hub.acks.x12 import acknowledge
    from hub.edi.x12 import read_document
    from hub.mapping import load_mapping
    from hub.partners import load_profiles

    profile = load_profiles(root / "partner_profiles")["acme"]
    name = next(d.mapping for d in profile.documents if d.type == "850" and d.direction == "inbound")
    mapping = load_mapping(name, (str(root / "mappings"),))
    files = sorted((root / "inbound" / "acme").iterdir())
    sets = 0
    for path in files:
        data = path.read_bytes()
        acknowledge(data)
        for tx in read_document(data).transactions:
            mapping.to_canonical(tx)
            sets += 1
    return {"files": len(files), "sets": sets}


def stage_pipeline(root: Path, url: str) -> dict:
    from sqlalchemy import event

    from hub.config import DEFAULTS
    from hub.runtime.app import build_pipeline

    config = copy.deepcopy(DEFAULTS)
    config["folders"]["settle_seconds"] = 0.0
    config["database"]["url"] = url
    pipeline = build_pipeline(config)
    commits = [0]
    event.listen(pipeline.store.engine, "commit", lambda conn: commits.__setitem__(0, commits[0] + 1))
    try:
        report = pipeline.run_until_idle()
    finally:
        pipeline.close()
    if report.failed or report.errors:
        raise SystemExit(f"pipeline run failed: {report.failed} failed, errors {report.errors[:3]}")
    return {"files": report.received, "sets": report.delivered, "commits": commits[0]}


def _fresh_pg(base: str) -> tuple[str, object] | None:
    try:
        import psycopg
    except ImportError:
        return None
    name = f"edihub_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - no server: the stage is skipped, and said so
        print(f"postgresql: skipped ({exc.__class__.__name__}: {exc})".splitlines()[0])
        return None

    def drop() -> None:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"postgresql+psycopg://127.0.0.1:5432/{name}", drop


def timed(fn, *args) -> tuple[dict, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn(*args)
    return out, time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--sets", type=int, default=1, help="purchase orders per file")
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--pg", default=os.environ.get("EDIHUB_BENCH_PG", "postgresql://127.0.0.1:5432/test"),
                    help="a PostgreSQL database to create the bench database from")
    args = ap.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="edihub-pipeline-bench-") as tmp:
        master = workspace(Path(tmp) / "master", args.files, args.sets)
        size = sum(p.stat().st_size for p in (master / "inbound" / "acme").iterdir())
        cwd = os.getcwd()
        try:
            os.chdir(master)
            work, cpu, wall = timed(stage_work, master)
            rows.append(("work", work, cpu, wall))
            for store in args.stores.split(","):
                run = Path(tmp) / store
                shutil.copytree(master, run)
                os.chdir(run)
                cleanup = None
                if store == "sqlite":
                    url = f"sqlite:///{run / 'var' / 'edihub.db'}"
                elif store == "postgresql":
                    got = _fresh_pg(args.pg)
                    if got is None:
                        continue
                    url, cleanup = got
                else:
                    raise SystemExit(f"unknown store {store!r}")
                try:
                    out, cpu, wall = timed(stage_pipeline, run, url)
                finally:
                    os.chdir(cwd)
                    if cleanup is not None:
                        cleanup()
                rows.append((store, out, cpu, wall))
        finally:
            os.chdir(cwd)

    print(f"{args.files} files x {args.sets} set(s), {size / 1e6:.2f} MB in all")
    print(f"{'stage':>10} {'files/s':>9} {'sets/s':>9} {'cpu s':>8} {'wall s':>8} {'commits/file':>13} "
          f"{'x work (cpu)':>13} {'x work (wall)':>14}")
    base_cpu, base_wall = rows[0][2], rows[0][3]
    for name, out, cpu, wall in rows:
        commits = out.get("commits")
        per_file = f"{commits / out['files']:.1f}" if commits is not None and out["files"] else "-"
        print(f"{name:>10} {out['files'] / wall:9.1f} {out['sets'] / wall:9.1f} {cpu:8.2f} {wall:8.2f} "
              f"{per_file:>13} {cpu / base_cpu:13.1f} {wall / base_wall:14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
