#!/usr/bin/env python3
"""X12 throughput and memory benchmark.

Generates a large 850 (purchase orders) and a large 856 (ship notices with a
deep S/O/T/P/I HL hierarchy), then measures, each stage in a fresh
subprocess so that peak RSS is per stage:

* ``floor``     read in 1 MiB chunks, decode latin-1, split segments and
                elements, keep nothing: the least any Python tokenizer can do;
* ``tokenizer`` :class:`hub.edi.x12.reader.X12Reader`, iterating every
                transaction set;
* ``full``      read + schema validation + 997
                (:func:`hub.acks.x12.acknowledge`; falls back to
                :func:`hub.edi.x12.analyse.analyse` with validation, labelled so);
* ``pyx12``     ``pyx12.x12file.X12Reader`` over a slice of the same file
                (about 1.5 MB, whole transaction sets, envelope closed),
                time extrapolated to the whole file and labelled so.

Usage (see bench/README.md)::

    python bench/x12_bench.py                    # 20 MB files, all stages
    python bench/x12_bench.py --scale 10         # 200 MB files
    python bench/x12_bench.py --rss-check        # peak RSS at 20 MB and at 200 MB
    python bench/x12_bench.py --stage tokenizer FILE   # one stage (what the driver runs)

Generated files go to bench/out/ (ignored by git; reused when they match).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import deque
from itertools import repeat
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CHUNK = 1 << 20
MB = 1_000_000
STAGES = ("floor", "tokenizer", "full", "pyx12")
TARGETS = {"tokenizer": 0.5, "full": 0.25}
GENERATOR_VERSION = 4  # bump when the generated content changes

# ----------------------------------------------------------------------------- generation

ISA_DATE, ISA_TIME, GS_DATE = "240301", "1230", "20240301"
CITIES = [
    ("SPRINGFIELD", "IL", "62701"), ("RIVERSIDE", "CA", "92501"), ("FRANKLIN", "TN", "37064"),
    ("GREENVILLE", "SC", "29601"), ("BRISTOL", "CT", "06010"), ("CLINTON", "IA", "52732"),
    ("MADISON", "WI", "53703"), ("GEORGETOWN", "TX", "78626"), ("SALEM", "OR", "97301"),
]
WORDS = ["WIDGET", "GADGET", "BOLT", "NUT", "BRACKET", "HINGE", "PANEL", "CABLE", "SWITCH", "LAMP",
         "BLUE", "RED", "STEEL", "BRASS", "LARGE", "SMALL", "12IN", "6FT", "PACK", "KIT"]
CARRIERS = [("UPSN", "UPS GROUND"), ("FDEG", "FEDEX GROUND"), ("RDWY", "YRC FREIGHT"), ("ODFL", "OLD DOMINION")]


def _isa(control: int) -> str:
    return (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'BUYERCO':15}*ZZ*{'SUPPLIERCO':15}*{ISA_DATE}*{ISA_TIME}"
        f"*U*00401*{control:09d}*0*P*>~\n"
    )


def _upc(rnd: random.Random) -> str:
    return f"{rnd.randrange(10**11, 10**12)}"


def _sscc(rnd: random.Random) -> str:
    """An SSCC-18: extension digit, 16 digits of company prefix and serial, GS1 check digit."""
    body = f"{rnd.randrange(10)}{rnd.randrange(10**15, 10**16)}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _desc(rnd: random.Random) -> str:
    return " ".join(rnd.sample(WORDS, 3))


def _address(rnd: random.Random, qualifier: str, name: str) -> list[str]:
    city, state, zipcode = rnd.choice(CITIES)
    return [
        f"N1*{qualifier}*{name}*92*{rnd.randrange(1000, 9999)}~\n",
        f"N3*{rnd.randrange(1, 9999)} MAIN STREET~\n",
        f"N4*{city}*{state}*{zipcode}*US~\n",
    ]


def _purchase_order(rnd: random.Random, n: int, lines: int) -> list[str]:
    ctl = f"{n:06d}"
    po = f"PO{n:08d}"
    segs = [
        f"ST*850*{ctl}~\n",
        f"BEG*00*SA*{po}**{GS_DATE}~\n",
        "CUR*BY*USD~\n",
        f"REF*DP*{rnd.randrange(100, 999)}~\n",
    ]
    if rnd.random() < 0.5:
        segs.append(f"REF*IA*{rnd.randrange(10000, 99999)}~\n")
    if rnd.random() < 0.7:
        segs.append(f"PER*BD*JANE BUYER*TE*555{rnd.randrange(1000000, 9999999)}~\n")
    segs += [
        "FOB*PP*OR*ORIGIN DOCK~\n",
        "ITD*01*3*2**10**30~\n",
        "DTM*002*20240315~\n",
    ]
    if rnd.random() < 0.5:
        segs.append("DTM*010*20240310~\n")
    scac, carrier = rnd.choice(CARRIERS)
    segs.append(f"TD5*O*2*{scac}*M*{carrier}~\n")
    segs += _address(rnd, "ST", f"STORE {rnd.randrange(1, 999)}")
    segs += _address(rnd, "BT", "BUYERCO ACCOUNTS PAYABLE")
    total = 0
    for line in range(1, lines + 1):
        qty = rnd.randrange(1, 500)
        total += qty
        segs += [
            f"PO1*{line}*{qty}*EA*{rnd.randrange(100, 99999) / 100:.2f}**UP*{_upc(rnd)}*VN*VN{rnd.randrange(10**6)}~\n",
            f"PID*F****{_desc(rnd)}~\n",
            f"PO4*{rnd.choice((6, 12, 24))}*1*EA~\n",
        ]
    segs.append(f"CTT*{lines}*{total}~\n")
    segs.append(f"SE*{len(segs) + 1}*{ctl}~\n")
    return segs


def _ship_notice(rnd: random.Random, n: int) -> list[str]:
    ctl = f"{n:06d}"
    scac, carrier = rnd.choice(CARRIERS)
    segs = [
        f"ST*856*{ctl}~\n",
        f"BSN*00*SH{n:08d}*{GS_DATE}*1230*0001~\n",
        "DTM*011*20240301*1230~\n",
    ]
    hl = 0

    def new_hl(parent: int | None, level: str, child: bool) -> int:
        nonlocal hl
        hl += 1
        segs.append(f"HL*{hl}*{'' if parent is None else parent}*{level}*{1 if child else 0}~\n")
        return hl

    ship = new_hl(None, "S", True)
    cartons = 0
    segs += [
        f"TD1*CTN25*{rnd.randrange(1, 99)}****G*{rnd.randrange(10, 9999)}*LB~\n",
        f"TD5*B*2*{scac}*M*{carrier}~\n",
        f"REF*BM*BOL{n:09d}~\n",
        f"REF*CN*PRO{rnd.randrange(10**8, 10**9)}~\n",
        "DTM*011*20240301~\n",
        "DTM*017*20240305~\n",
    ]
    segs += _address(rnd, "SF", "SUPPLIERCO WAREHOUSE 1")
    segs += _address(rnd, "ST", f"STORE {rnd.randrange(1, 999)}")
    for _ in range(rnd.randint(1, 3)):
        order = new_hl(ship, "O", True)
        segs += [
            f"PRF*PO{rnd.randrange(10**7, 10**8)}***20240215~\n",
            f"REF*IA*{rnd.randrange(10000, 99999)}~\n",
        ]
        segs += _address(rnd, "BY", f"STORE {rnd.randrange(1, 999)}")[:1]
        for _ in range(rnd.randint(1, 2)):
            tare = new_hl(order, "T", True)
            segs += ["TD1*PLT94*1~\n", f"MAN*GM*{_sscc(rnd)}~\n"]
            for _ in range(rnd.randint(2, 4)):
                pack = new_hl(tare, "P", True)
                cartons += 1
                segs.append(f"MAN*GM*{_sscc(rnd)}~\n")
                for _ in range(rnd.randint(1, 3)):
                    new_hl(pack, "I", False)
                    segs += [
                        f"LIN**UP*{_upc(rnd)}*VN*VN{rnd.randrange(10**6)}~\n",
                        f"SN1**{rnd.randrange(1, 48)}*EA~\n",
                        f"PID*F****{_desc(rnd)}~\n",
                    ]
    segs.append(f"CTT*{hl}~\n")
    segs.append(f"SE*{len(segs) + 1}*{ctl}~\n")
    return segs


def generate(kind: str, path: Path, scale: float, seed: int = 20240301) -> dict:
    """Write one interchange (one GS) of 850s or 856s of about 20 MB x ``scale``; returns its metadata."""
    rnd = random.Random(seed)
    target = int(20 * MB * scale)
    segments = transactions = 0
    with open(path, "w", encoding="ascii", newline="") as out:
        gs = "PO" if kind == "850" else "SH"
        head = [_isa(1), f"GS*{gs}*BUYERCO*SUPPLIERCO*{GS_DATE}*{ISA_TIME}*1*X*004010~\n"]
        out.write("".join(head))
        written = sum(map(len, head))
        segments += 2
        batch: list[str] = []
        n = 0
        # at least 8,000 POs at scale 1 (the brief), and at least the target size
        min_sets = int(8000 * scale) if kind == "850" else 0
        while written < target or n < min_sets:
            n += 1
            segs = _purchase_order(rnd, n, 20) if kind == "850" else _ship_notice(rnd, n)
            segments += len(segs)
            text = "".join(segs)
            written += len(text)
            batch.append(text)
            if len(batch) >= 256:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
        tail = f"GE*{n}*1~\nIEA*1*{1:09d}~\n"
        out.write(tail)
        segments += 2
        transactions = n
    meta = {
        "kind": kind, "scale": scale, "seed": seed, "generator": GENERATOR_VERSION,
        "bytes": path.stat().st_size, "segments": segments, "transactions": transactions,
    }
    path.with_suffix(".json").write_text(json.dumps(meta))
    return meta


def ensure_file(kind: str, out_dir: Path, scale: float) -> tuple[Path, dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    label = f"{scale:g}".replace(".", "_")
    path = out_dir / f"{kind}_x{label}.x12"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == GENERATOR_VERSION and meta.get("bytes") == path.stat().st_size:
            return path, meta
    start = time.perf_counter()
    meta = generate(kind, path, scale)
    print(f"  generated {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
          f"{meta['bytes'] / MB:.1f} MB, {meta['transactions']:,} sets, {meta['segments']:,} segments "
          f"in {time.perf_counter() - start:.1f} s", flush=True)
    return path, meta


def make_slice(src: Path, target_bytes: int) -> tuple[Path, dict]:
    """The first whole transaction sets of ``src`` up to about ``target_bytes``, with GE/IEA closing them."""
    dst = src.with_name(src.stem + f"_slice{target_bytes // 1000}k.x12")
    with open(src, "rb") as fh:
        data = fh.read(target_bytes + 200_000)
    cut = data.rfind(b"~\nST*", 0, target_bytes) + 2
    body = data[:cut]
    lines = body.split(b"~\n")
    isa13 = lines[0].split(b"*")[13].decode()
    gs06 = lines[1].split(b"*")[6].decode()
    sets = body.count(b"\nST*")
    body += f"GE*{sets}*{gs06}~\nIEA*1*{isa13}~\n".encode()
    dst.write_bytes(body)
    meta = {"bytes": len(body), "segments": body.count(b"~"), "transactions": sets}
    return dst, meta


# ----------------------------------------------------------------------------- stages (run in a child)


def stage_baseline(path: str) -> dict:
    import hub.edi.x12.reader  # noqa: F401

    try:
        import hub.acks.x12  # noqa: F401
        import hub.edi.x12.validate  # noqa: F401
    except ImportError:
        pass
    return {"segments": 0, "label": "interpreter + hub imports, no work"}


def stage_floor(path: str) -> dict:
    """Read 1 MiB chunks, decode latin-1, split segments and elements; keep nothing."""
    segments = 0
    sink = deque(maxlen=0).extend
    with open(path, "rb", buffering=0) as fh:
        data = fh.read(CHUNK)
        head = data[:120].decode("latin-1")
        elem, term = head[3], head[105]
        breaks = [c for c in "\r\n" if c != term]
        carry = ""
        while data:
            text = carry + data.decode("latin-1")
            for c in breaks:
                if c in text:
                    text = text.replace(c, "")
            parts = text.split(term)
            carry = parts.pop()
            segments += len(parts)
            sink(map(str.split, parts, repeat(elem)))
            data = fh.read(CHUNK)
        if carry.strip():
            segments += 1
            carry.split(elem)
    return {"segments": segments, "label": "floor: 1 MiB chunks, latin-1 decode, str.split x2, keep nothing"}


def stage_tokenizer(path: str) -> dict:
    from hub.edi.x12.model import Transaction
    from hub.edi.x12.reader import X12Reader

    reader = X12Reader(path, keep_summaries=False)
    sets = 0
    for item in reader:
        if type(item) is Transaction:
            sets += 1
    segments = sum(ic.segment_count for ic in reader.interchanges)
    return {"segments": segments, "transactions": sets, "findings": len(reader.findings),
            "label": "hub X12Reader (keep_summaries=False), every transaction set"}


def stage_full(path: str) -> dict:
    try:
        from hub.acks.x12 import acknowledge
    except ImportError:
        acknowledge = None
    try:
        from hub.edi.x12.validate import X12Validator  # noqa: F401

        validator = True
    except ImportError:
        validator = False
    if acknowledge is not None:
        result = acknowledge(path)
        errors = sum(1 for f in result.findings if f.severity == "error")
        try:
            from hub.edi.x12.accel import AVAILABLE as compiled
        except ImportError:
            compiled = False
        return {
            "findings": len(result.findings), "errors": errors, "ack_bytes": len(result.data),
            "label": "read + schema validation + 997 (hub.acks.x12.acknowledge"
            + (", compiled element checks)" if compiled else ", pure-Python element checks)")
            + ("" if validator else " WITHOUT validation: hub.edi.x12.validate missing"),
        }
    from hub.edi.x12.analyse import analyse

    result = analyse(path, validate=True)
    return {
        "segments": result.segments, "findings": len(result.findings),
        "label": "read + schema validation, NO 997 (hub.acks.x12 missing; analyse())"
        + ("" if validator else " WITHOUT validation: hub.edi.x12.validate missing"),
    }


def stage_pyx12(path: str) -> dict:
    import pyx12.x12file

    segments = 0
    with open(path, encoding="ascii") as fh:
        reader = pyx12.x12file.X12Reader(fh)
        for _seg in reader:
            segments += 1
        errors = len(reader.pop_errors()) if hasattr(reader, "pop_errors") else None
    return {"segments": segments, "errors": errors, "label": "pyx12.x12file.X12Reader"}


STAGE_FUNCS = {
    "baseline": stage_baseline, "floor": stage_floor, "tokenizer": stage_tokenizer,
    "full": stage_full, "pyx12": stage_pyx12,
}


def run_stage_here(name: str, path: str) -> dict:
    func = STAGE_FUNCS[name]
    cpu0 = time.process_time()
    start = time.perf_counter()
    result = func(path)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result.update({"stage": name, "file": path, "bytes": os.path.getsize(path), "seconds": seconds,
                   "cpu_seconds": cpu, "peak_rss_mib": rss_kb / 1024})
    return result


def run_once(name: str, path: Path) -> dict:
    """One run of one stage in a fresh subprocess."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--stage", name, str(path)],
        capture_output=True, text=True, cwd=str(REPO),
    )
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} on {path} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_stages(jobs: list[tuple[str, Path]], repeat_n: int = 1) -> list[dict]:
    """Run each (stage, file) ``repeat_n`` times, interleaved (so that load from elsewhere hits every stage
    alike); per job the fastest wall and CPU times and the largest peak RSS."""
    best: list[dict | None] = [None] * len(jobs)
    for _ in range(repeat_n):
        for i, (name, path) in enumerate(jobs):
            r = run_once(name, path)
            b = best[i]
            if b is None:
                best[i] = r
                continue
            b["peak_rss_mib"] = max(b["peak_rss_mib"], r["peak_rss_mib"])
            b["seconds"] = min(b["seconds"], r["seconds"])
            b["cpu_seconds"] = min(b["cpu_seconds"], r["cpu_seconds"])
    return [b for b in best if b is not None]


def run_stage(name: str, path: Path, repeat_n: int = 1) -> dict:
    return run_stages([(name, path)], repeat_n)[0]


# ----------------------------------------------------------------------------- driver


def fmt_row(cols, widths) -> str:
    cells = [str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cols, widths, strict=True))]
    return "  ".join(cells)


def throughput_table(args, out_dir: Path) -> int:
    rows = []
    verdicts = []
    for kind in args.kinds:
        path, meta = ensure_file(kind, out_dir, args.scale)
        size_mb = meta["bytes"] / MB
        jobs: list[tuple[str, Path]] = [("baseline", path)]
        slice_meta = None
        for stage in args.stages:
            if stage == "pyx12":
                try:
                    import pyx12  # noqa: F401
                except ImportError:
                    continue
                slice_path, slice_meta = make_slice(path, int(args.pyx12_mb * MB))
                jobs.append((stage, slice_path))
            else:
                jobs.append((stage, path))
        results = {job[0]: r for job, r in zip(jobs, run_stages(jobs, args.repeat), strict=True)}
        base = results["baseline"]
        rows.append((kind, "baseline", base["label"], size_mb, *([None] * 4), base["peak_rss_mib"], None, None))
        floor = results.get("floor")
        for stage in args.stages:
            r = results.get(stage)
            if r is None:
                rows.append((kind, stage, "pyx12 not installed: skipped", size_mb, *([None] * 7)))
                continue
            label = r["label"]
            if stage == "pyx12":
                assert slice_meta is not None
                factor = meta["bytes"] / slice_meta["bytes"]  # extrapolate to the whole file
                seconds, cpu = r["seconds"] * factor, r["cpu_seconds"] * factor
                label += (
                    f" on a {slice_meta['bytes'] / MB:.1f} MB slice ({slice_meta['transactions']} sets), "
                    "times extrapolated to the whole file; RSS is for the slice"
                )
                if r["segments"] != slice_meta["segments"]:
                    label += f" [read {r['segments']} of {slice_meta['segments']} segments!]"
                if r.get("errors"):
                    label += f" [{r['errors']} pyx12 errors]"
            else:
                seconds, cpu = r["seconds"], r["cpu_seconds"]
                if stage in ("floor", "tokenizer") and r.get("segments") != meta["segments"]:
                    label += f" [segments {r.get('segments')} != {meta['segments']}!]"
                if r.get("findings"):
                    label += f" [{r['findings']} findings]"
                if stage == "full" and "ack_bytes" in r:
                    label += f" [997: {r['ack_bytes']:,} bytes]"
            wall_ratio = floor["seconds"] / seconds if floor else None
            cpu_ratio = floor["cpu_seconds"] / cpu if floor else None
            rows.append((kind, stage, label, size_mb, seconds, cpu, size_mb / seconds, meta["segments"] / seconds,
                         r["peak_rss_mib"], wall_ratio, cpu_ratio))
            if stage in TARGETS and cpu_ratio is not None:
                ok = cpu_ratio >= TARGETS[stage]
                verdicts.append(f"{kind} {stage}: {cpu_ratio:.2f}x floor by CPU time ({wall_ratio:.2f}x by wall "
                                f"clock), target >= {TARGETS[stage]}x: {'PASS' if ok else 'FAIL'}")

    print()
    widths = (4, 9, 6, 7, 7, 7, 11, 7, 8, 8)
    print(fmt_row(("kind", "stage", "MB", "wall s", "cpu s", "MB/s", "segments/s", "RSS MiB", "x floor", "x floor"),
                  widths))
    print(fmt_row(("", "", "", "", "", "(wall)", "(wall)", "(peak)", "(wall)", "(cpu)"), widths))
    for kind, stage, _label, size_mb, seconds, cpu, mbps, segs, rss, wall_ratio, cpu_ratio in rows:
        print(fmt_row((
            kind, stage, f"{size_mb:.1f}",
            "" if seconds is None else f"{seconds:.2f}",
            "" if cpu is None else f"{cpu:.2f}",
            "" if mbps is None else f"{mbps:.1f}",
            "" if segs is None else f"{segs:,.0f}",
            "" if rss is None else f"{rss:.0f}",
            "" if wall_ratio is None else f"{wall_ratio:.2f}",
            "" if cpu_ratio is None else f"{cpu_ratio:.2f}",
        ), widths))
    print()
    print("what each stage is:")
    for kind, stage, label, *_ in rows:
        print(f"  {kind} {stage:9} {label}")
    print()
    print(f"targets (best of {args.repeat} interleaved runs per stage; verdicts use CPU time, which other load "
          "on the machine disturbs least):")
    for v in verdicts:
        print("  " + v)
    return 0 if all(v.endswith("PASS") for v in verdicts) else 1


def rss_check(args, out_dir: Path) -> int:
    stages = [s for s in args.stages if s in ("floor", "tokenizer", "full")]
    print(f"peak RSS at scale 1 and scale {args.big_scale:g} ({', '.join(stages)}):", flush=True)
    results = []
    for kind in args.kinds:
        small, small_meta = ensure_file(kind, out_dir, 1)
        big, big_meta = ensure_file(kind, out_dir, args.big_scale)
        for stage in stages:
            a = run_stage(stage, small)
            b = run_stage(stage, big)
            extra_sets = max(1, big_meta["transactions"] - small_meta["transactions"])
            per_set = (b["peak_rss_mib"] - a["peak_rss_mib"]) * 2**20 / extra_sets
            results.append((kind, stage, small_meta["bytes"] / MB, a, big_meta["bytes"] / MB, b, per_set))
            print(f"  {kind} {stage}: {a['peak_rss_mib']:.0f} MiB / {b['peak_rss_mib']:.0f} MiB", flush=True)
    print()
    widths = (4, 9, 6, 8, 7, 6, 8, 7, 10, 6)
    print(fmt_row(("kind", "stage", "MB", "RSS MiB", "MB/s", "MB", "RSS MiB", "MB/s", "B/extra set", "same?"), widths))
    ok_all = True
    for kind, stage, amb, a, bmb, b, per_set in results:
        # "same": within 10% or 8 MiB (allocator noise), whichever is larger
        tolerance = max(8.0, 0.10 * a["peak_rss_mib"])
        same = b["peak_rss_mib"] - a["peak_rss_mib"] <= tolerance
        ok_all &= same
        print(fmt_row((kind, stage, f"{amb:.0f}", f"{a['peak_rss_mib']:.0f}", f"{amb / a['seconds']:.1f}",
                       f"{bmb:.0f}", f"{b['peak_rss_mib']:.0f}", f"{bmb / b['seconds']:.1f}",
                       f"{per_set:.0f}", "yes" if same else "NO"), widths))
    print()
    print("B/extra set: RSS growth divided by the number of extra transaction sets in the big file")
    print("verdict: peak RSS " + ("does not grow with the file size" if ok_all else "GROWS with the file size"))
    return 0 if ok_all else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--stage", nargs=2, metavar=("NAME", "FILE"), help="run one stage on FILE and print JSON (child mode)"
    )
    p.add_argument("--out", type=Path, default=HERE / "out", help="where generated files go (default bench/out)")
    p.add_argument("--scale", type=float, default=1.0, help="file size as a multiple of 20 MB (10 = 200 MB)")
    p.add_argument("--kinds", default="850,856", help="which files: 850, 856 or both (default)")
    p.add_argument("--stages", default=",".join(STAGES), help=f"stages to run (default {','.join(STAGES)})")
    p.add_argument("--pyx12-mb", type=float, default=1.5, help="size of the slice pyx12 reads (default 1.5 MB)")
    p.add_argument("--repeat", type=int, default=3, help="runs per stage; the fastest counts (default 3)")
    p.add_argument("--rss-check", action="store_true", help="compare peak RSS at scale 1 and at --big-scale")
    p.add_argument("--big-scale", type=float, default=10.0, help="the large size for --rss-check (default 10)")
    p.add_argument("--generate-only", action="store_true", help="only write the files")
    args = p.parse_args(argv)

    if args.stage:
        name, path = args.stage
        if name not in STAGE_FUNCS:
            p.error(f"unknown stage {name!r}; one of {', '.join(STAGE_FUNCS)}")
        print(json.dumps(run_stage_here(name, path)))
        return 0

    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    for k in args.kinds:
        if k not in ("850", "856"):
            p.error(f"unknown kind {k!r}")
    for s in args.stages:
        if s not in STAGES:
            p.error(f"unknown stage {s!r}")
    if "floor" not in args.stages and not args.rss_check:
        args.stages.insert(0, "floor")  # ratios need it
    print(f"python {sys.version.split()[0]} on {os.uname().machine}, {os.cpu_count()} CPUs", flush=True)
    if args.generate_only:
        for kind in args.kinds:
            ensure_file(kind, args.out, args.scale)
        return 0
    if args.rss_check:
        return rss_check(args, args.out)
    return throughput_table(args, args.out)


if __name__ == "__main__":
    sys.exit(main())
