#!/usr/bin/env python3
"""X12 mapping throughput benchmark (850 and 856 <-> canonical documents).

On the 850 and 856 files that ``bench/x12_bench.py`` generates (its generator is
imported, not copied; the files are shared in bench/out/), measures per file,
each stage in a fresh subprocess so that peak RSS is per stage:

* ``read``      :class:`hub.edi.x12.reader.X12Reader`, iterating every transaction set;
* ``validate``  read + ``X12Validator().validate(tx)`` on every set;
* ``map``       read + ``load_mapping("common/<set>.004010").to_canonical(tx)`` on every set;
* ``outbound``  ``Mapping.to_edi(doc)`` on documents mapped from the file (the first
                ``--outbound-sample`` of them, default 1,000, mapped before the clock starts).

and prints documents/s, segments/s, CPU seconds, peak RSS and the ratio
"mapping cost / validation cost", where cost = stage time minus reading time,
against the target: mapping costs no more than validation (ratio <= 1).

Usage (see bench/README.md)::

    python bench/mapping_bench.py                      # 20 MB 850 + 856, best of 3
    python bench/mapping_bench.py --kinds 850 --repeat 1 --scale 0.25
    python bench/mapping_bench.py --stage map 850 FILE  # one stage (what the driver runs)

Exit status 0 when the target holds for every kind, 1 otherwise (a set that fails
to map counts as a failure of its kind).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import x12_bench  # noqa: E402  (bench/x12_bench.py: generator, file cache, table format)

MB = x12_bench.MB
STAGES = ("read", "validate", "map", "outbound")
MAPPINGS = {"850": "common/850.004010", "856": "common/856.004010"}
MAX_ERRORS_KEPT = 3

# ----------------------------------------------------------------------------- stages (run in a child)


def _sets(path: str):
    from hub.edi.x12.model import Transaction
    from hub.edi.x12.reader import X12Reader

    reader = X12Reader(path, keep_summaries=False)
    for item in reader:
        if type(item) is Transaction:
            yield item


def _clock(work) -> tuple[dict, float, float]:
    cpu0 = time.process_time()
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start, time.process_time() - cpu0


def stage_read(kind: str, path: str, sample: int) -> tuple[dict, float, float]:
    def work() -> dict:
        sets = segments = 0
        for tx in _sets(path):
            sets += 1
            segments += len(tx.segments)
        return {"documents": sets, "segments": segments, "label": "X12Reader (keep_summaries=False), every set"}

    return _clock(work)


def stage_validate(kind: str, path: str, sample: int) -> tuple[dict, float, float]:
    from hub.edi.x12.validate import X12Validator

    validator = X12Validator()

    def work() -> dict:
        sets = segments = findings = 0
        for tx in _sets(path):
            sets += 1
            segments += len(tx.segments)
            findings += len(validator.validate(tx))
        return {"documents": sets, "segments": segments, "findings": findings,
                "label": "read + X12Validator().validate(tx), every set"}

    return _clock(work)


def stage_map(kind: str, path: str, sample: int) -> tuple[dict, float, float]:
    from hub.mapping import MappingError, load_mapping

    mapping = load_mapping(MAPPINGS[kind], [str(REPO / "mappings")])  # loading is not timed

    def work() -> dict:
        sets = segments = failed = 0
        errors: list[str] = []
        for tx in _sets(path):
            sets += 1
            segments += len(tx.segments)
            try:
                mapping.to_canonical(tx)
            except MappingError as exc:
                failed += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(str(exc)[:300])
        return {"documents": sets, "segments": segments, "failed": failed, "errors": errors,
                "label": f"read + load_mapping({MAPPINGS[kind]!r}).to_canonical(tx), every set"}

    return _clock(work)


def stage_outbound(kind: str, path: str, sample: int) -> tuple[dict, float, float]:
    from hub.mapping import MappingError, load_mapping

    mapping = load_mapping(MAPPINGS[kind], [str(REPO / "mappings")])
    docs: list[dict] = []
    sets = failed = 0
    errors: list[str] = []
    for tx in _sets(path):  # not timed: the inbound side builds the documents
        sets += 1
        try:
            docs.append(mapping.to_canonical(tx))
        except MappingError as exc:
            failed += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(str(exc)[:300])
        if sample and sets >= sample:
            break
    total = None if sample else sets

    def work() -> dict:
        segments = out_failed = 0
        for doc in docs:
            try:
                segments += len(mapping.to_edi(doc)) + 2  # + ST and SE
            except MappingError as exc:
                out_failed += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(str(exc)[:300])
        what = f"the first {sets:,} sets" if total is None else "every set"
        return {"documents": len(docs), "segments": segments, "failed": failed + out_failed,
                "inbound_failed": failed, "tried": sets, "errors": errors,
                "label": f"to_edi(doc) on the documents mapped from {what} of the file"
                + (" (SAMPLE; mapping untimed)" if total is None else " (mapping untimed)")}

    return _clock(work)


STAGE_FUNCS = {"read": stage_read, "validate": stage_validate, "map": stage_map, "outbound": stage_outbound}


def run_stage_here(name: str, kind: str, path: str, sample: int) -> dict:
    result, seconds, cpu = STAGE_FUNCS[name](kind, path, sample)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result.update({"stage": name, "kind": kind, "file": path, "seconds": seconds, "cpu_seconds": cpu,
                   "peak_rss_mib": rss_kb / 1024})
    return result


def run_once(name: str, kind: str, path: Path, sample: int) -> dict:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--outbound-sample", str(sample),
         "--stage", name, kind, str(path)],
        capture_output=True, text=True, cwd=str(REPO),
    )
    if proc.returncode != 0:
        return {"stage": name, "kind": kind, "crashed": proc.stderr.strip()[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_jobs(jobs: list[tuple[str, str, Path]], repeat_n: int, sample: int) -> list[dict]:
    """Each (stage, kind, file) ``repeat_n`` times, interleaved; fastest wall and CPU, largest RSS."""
    best: list[dict | None] = [None] * len(jobs)
    for i_run in range(repeat_n):
        for i, (name, kind, path) in enumerate(jobs):
            print(f"  run {i_run + 1}/{repeat_n}: {kind} {name}", flush=True)
            r = run_once(name, kind, path, sample)
            b = best[i]
            if b is None or "crashed" in b:
                best[i] = r
            elif "crashed" not in r:
                b["peak_rss_mib"] = max(b["peak_rss_mib"], r["peak_rss_mib"])
                b["seconds"] = min(b["seconds"], r["seconds"])
                b["cpu_seconds"] = min(b["cpu_seconds"], r["cpu_seconds"])
    return [b for b in best if b is not None]


# ----------------------------------------------------------------------------- driver


def report(args) -> int:
    rows = []
    notes: list[str] = []
    verdicts: list[tuple[str, bool]] = []
    for kind in args.kinds:
        path, meta = x12_bench.ensure_file(kind, args.out, args.scale)
        jobs = [(stage, kind, path) for stage in STAGES]
        results = {r["stage"]: r for r in run_jobs(jobs, args.repeat, args.outbound_sample)}
        for stage in STAGES:
            r = results[stage]
            if "crashed" in r:
                rows.append((kind, stage, "", "", "", "", "", ""))
                notes.append(f"{kind} {stage}: the stage CRASHED:\n      " + r["crashed"].replace("\n", "\n      "))
                continue
            docs_s = r["documents"] / r["seconds"] if r["seconds"] else 0.0
            segs_s = r["segments"] / r["seconds"] if r["seconds"] else 0.0
            rows.append((kind, stage, f"{r['documents']:,}", f"{r['seconds']:.2f}", f"{r['cpu_seconds']:.2f}",
                         f"{docs_s:,.0f}", f"{segs_s:,.0f}", f"{r['peak_rss_mib']:.0f}"))
            label = r["label"]
            if stage in ("read", "validate", "map") and r["segments"] != meta["segments"] - 4:
                label += f" [segments {r['segments']:,} != {meta['segments'] - 4:,} in the sets!]"
            if r.get("findings"):
                label += f" [{r['findings']:,} validation findings]"
            notes.append(f"{kind} {stage:8} {label}")
            if r.get("failed"):
                tried = r.get("tried", r["documents"])
                notes.append(f"    {kind} {stage}: {r['failed']:,} of {tried:,} sets FAILED to map; first errors:")
                notes += [f"      {e}" for e in r.get("errors", [])]

        read, val, mapped = results["read"], results["validate"], results["map"]
        if any("crashed" in r for r in (read, val, mapped)):
            verdicts.append((f"{kind}: a stage crashed, no ratio: FAIL", False))
            continue
        val_cpu, map_cpu = val["cpu_seconds"] - read["cpu_seconds"], mapped["cpu_seconds"] - read["cpu_seconds"]
        val_wall, map_wall = val["seconds"] - read["seconds"], mapped["seconds"] - read["seconds"]
        ratio = map_cpu / val_cpu if val_cpu > 0 else float("inf")
        wall_ratio = map_wall / val_wall if val_wall > 0 else float("inf")
        failed = mapped.get("failed", 0)
        ok = ratio <= 1.0 and not failed
        text = (f"{kind}: mapping cost / validation cost = {map_cpu:.2f} / {val_cpu:.2f} CPU s = {ratio:.1f}x "
                f"({wall_ratio:.1f}x by wall clock); per set {1e3 * map_cpu / mapped['documents']:.3f} ms mapping vs "
                f"{1e3 * val_cpu / val['documents']:.3f} ms validation; target <= 1x: {'PASS' if ok else 'FAIL'}")
        if val_cpu <= 0:
            text += " (validation cost <= 0: within the noise of the read time; try --repeat 5)"
        if failed:
            text += f" ({failed:,} of {mapped['documents']:,} sets failed to map)"
        verdicts.append((text, ok))

    print()
    widths = (4, 8, 9, 7, 7, 9, 11, 7)
    print(x12_bench.fmt_row(("kind", "stage", "docs", "wall s", "cpu s", "docs/s", "segments/s", "RSS MiB"), widths))
    print(x12_bench.fmt_row(("", "", "", "", "", "(wall)", "(wall)", "(peak)"), widths))
    for row in rows:
        print(x12_bench.fmt_row(row, widths))
    print()
    print("what each stage is:")
    for n in notes:
        print("  " + n)
    print()
    print(f"target (best of {args.repeat} interleaved runs per stage; cost = stage CPU time minus read CPU time):")
    for text, _ok in verdicts:
        print("  " + text)
    return 0 if verdicts and all(ok for _t, ok in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--stage", nargs=3, metavar=("NAME", "KIND", "FILE"),
                   help="run one stage on FILE and print JSON (child mode)")
    p.add_argument("--out", type=Path, default=HERE / "out", help="where generated files go (default bench/out)")
    p.add_argument("--scale", type=float, default=1.0, help="file size as a multiple of 20 MB")
    p.add_argument("--kinds", default="850,856", help="which files: 850, 856 or both (default)")
    p.add_argument("--repeat", type=int, default=3, help="runs per stage; the fastest counts (default 3)")
    p.add_argument("--outbound-sample", type=int, default=1000,
                   help="documents for the outbound stage (the first N sets; 0 = every set; default 1000)")
    args = p.parse_args(argv)

    if args.stage:
        name, kind, path = args.stage
        if name not in STAGE_FUNCS or kind not in MAPPINGS:
            p.error(f"unknown stage {name!r} or kind {kind!r}")
        print(json.dumps(run_stage_here(name, kind, path, args.outbound_sample)))
        return 0

    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for k in args.kinds:
        if k not in MAPPINGS:
            p.error(f"unknown kind {k!r}")
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs", flush=True)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
