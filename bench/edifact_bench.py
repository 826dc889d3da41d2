"""EDIFACT throughput benchmark: floor, tokenizer, full validation + CONTRL, pydifact.

    python bench/edifact_bench.py [SIZE_MB] [--pydifact-mb N] [--keep]

Generates a D.96A ORDERS interchange of about SIZE_MB megabytes (default 20),
with UNA, CR/LF after each segment and a released character in some free
texts, then measures, each stage in its own subprocess (so that its peak RSS
is its own):

* floor      -- chunked read + latin-1 decode + split into segments and
                elements honouring the release character; keeps nothing.
                No parser can do less work on the same input.
* tokenizer  -- hub.edi.edifact.EdifactReader: messages with envelope checks.
* full       -- hub.acks.edifact.acknowledge: reading, schema validation of
                every message and the CONTRL.
* pydifact   -- pydifact.segmentcollection.Interchange.from_str on a slice of
                the same data (it reads the whole text into memory and is far
                slower), extrapolated to the full size and labelled so.
* tokenizer on a quarter of the file, to show that peak RSS does not grow
  with the input.

It prints MB/s, segments/s, peak RSS and the ratios to the floor, measured in
this one run.  It is not a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHUNK = 1 << 20


# ---------------------------------------------------------------- generating


def _message(rng: random.Random, ref: int, lines: int) -> list[str]:
    segs = [
        f"UNH+{ref}+ORDERS:D:96A:UN:EAN008",
        f"BGM+220+PO{ref:08d}+9",
        "DTM+137:20240115:102",
        "DTM+2:20240122:102",
        f"RFF+CT:CONTRACT{rng.randint(1, 50):03d}",
        "NAD+BY+5412345000013::9",
        "NAD+SU+4012345500004::9",
        "NAD+DP+5412345678908::9",
    ]
    if ref % 7 == 0:
        segs.insert(4, "FTX+PUR+++Deliver to gate 3?+4 before 10?:00, ask for Mr O?'Neil")
    segs.append("CUX+2:EUR:9")
    for n in range(1, lines + 1):
        item = rng.randint(1, 2000)
        segs.append(f"LIN+{n}++{5400000000000 + item * 7}:EN")
        segs.append(f"PIA+1+ART{item:05d}:SA")
        segs.append(f"IMD+F++:::ARTICLE {item} DESCRIPTION")
        segs.append(f"QTY+21:{rng.randint(1, 48)}")
        segs.append(f"PRI+AAA:{rng.randint(1, 9999) / 100:.2f}")
    segs.append("UNS+S")
    segs.append(f"CNT+2:{lines}")
    segs.append(f"UNT+{len(segs) + 1}+{ref}")
    return segs


def generate(path: Path, size_mb: float, seed: int = 42) -> tuple[int, int]:
    """Write the interchange; returns (bytes, segments)."""
    rng = random.Random(seed)
    target = int(size_mb * 1024 * 1024)
    segments = 0
    written = 0
    ref = 0
    with path.open("wb") as out:
        head = "UNA:+.? '\r\nUNB+UNOC:3+5412345000013:14+4012345500004:14+240115:1200+BENCH0001'\r\n"
        out.write(head.encode("latin-1"))
        written += len(head)
        segments += 1
        while written < target:
            ref += 1
            segs = _message(rng, ref, rng.randint(20, 80))
            text = "'\r\n".join(segs) + "'\r\n"
            out.write(text.encode("latin-1"))
            written += len(text)
            segments += len(segs)
        tail = f"UNZ+{ref}+BENCH0001'\r\n"
        out.write(tail.encode("latin-1"))
        written += len(tail)
        segments += 1
    return written, segments


def slice_file(src: Path, dst: Path, size_mb: float) -> int:
    """The first messages of ``src`` (about ``size_mb``) as a complete interchange; returns its segments."""
    data = src.read_bytes().decode("latin-1")
    cut = data.find("UNH+", int(size_mb * 1024 * 1024))
    if cut == -1:
        cut = data.rfind("UNZ+")
    body = data[:cut]
    count = body.count("UNH+")
    text = body + f"UNZ+{count}+BENCH0001'\r\n"
    dst.write_bytes(text.encode("latin-1"))
    return text.count("'\r\n")


# -------------------------------------------------------------------- stages


def stage_floor(path: str) -> dict:
    """Chunked read + split into segments and elements honouring the release character."""
    from hub.edi.core import split_released

    segments = 0
    elem, term, rel = "+", "'", "?"
    tail = ""
    with open(path, "rb") as fh:
        while True:
            data = fh.read(CHUNK)
            if not data:
                break
            text = tail + data.decode("latin-1")
            text = text.replace("\r", "").replace("\n", "")
            cut = text.rfind(term)
            tail = text[cut + 1:]
            text = text[: cut + 1]
            if rel in text:
                parts = split_released(text, term, rel)
                for raw in parts:
                    if rel in raw:
                        split_released(raw, elem, rel)
                    else:
                        raw.split(elem)
            else:
                parts = text.split(term)
                for raw in parts:
                    raw.split(elem)
            segments += len(parts) - 1
    return {"segments": segments}


def stage_tokenizer(path: str) -> dict:
    from hub.edi.edifact.model import Message
    from hub.edi.edifact.reader import EdifactReader

    reader = EdifactReader(path)
    segments = messages = 0
    for item in reader:
        if type(item) is Message:
            messages += 1
            segments += item.segment_count
    return {"segments": segments + 2 * len(reader.interchanges), "messages": messages,
            "findings": len(reader.findings)}


def stage_full(path: str) -> dict:
    from hub.acks.edifact import acknowledge

    result = acknowledge(path)
    errors = sum(1 for f in result.findings if f.severity == "error")
    return {"messages": result.messages, "findings": len(result.findings), "errors": errors,
            "contrl_bytes": len(result.data)}


def stage_pydifact(path: str) -> dict:
    from pydifact.segmentcollection import Interchange

    text = Path(path).read_bytes().decode("latin-1")
    ic = Interchange.from_str(text)
    segments = sum(1 for _ in ic.segments)
    return {"segments": segments}


STAGES = {"floor": stage_floor, "tokenizer": stage_tokenizer, "full": stage_full, "pydifact": stage_pydifact}


def run_stage(name: str, path: str) -> dict:
    """Run one stage in this process and report time and peak RSS."""
    import gc

    gc.collect()
    start = time.perf_counter()
    cpu = time.process_time()
    out = STAGES[name](path)
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = time.process_time() - cpu
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM, reset by exec; ru_maxrss is not)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(name: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--stage", name, str(path)], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("size_mb", nargs="?", type=float, default=20.0, help="size of the generated interchange (MB)")
    ap.add_argument("--pydifact-mb", type=float, default=1.0, help="size of the slice pydifact reads (MB)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--stage", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.stage[0], args.stage[1])))
        return
    tmp = Path(tempfile.mkdtemp(prefix="edifact-bench-"))
    big = tmp / "orders_d96a.edi"
    size, segments = generate(big, args.size_mb)
    mb = size / (1024 * 1024)
    small = tmp / "orders_d96a_slice.edi"
    small_segments = slice_file(big, small, min(args.pydifact_mb, args.size_mb))
    small_mb = small.stat().st_size / (1024 * 1024)
    quarter = tmp / "orders_d96a_quarter.edi"
    slice_file(big, quarter, args.size_mb / 4)
    quarter_mb = quarter.stat().st_size / (1024 * 1024)
    print(f"input: {mb:.1f} MB, {segments:,} segments (generated D96A ORDERS, UNA, CRLF, some released chars)")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s)\n")
    results = {}
    for name in ("floor", "tokenizer", "full"):
        results[name] = _child(name, big)
    py = _child("pydifact", small)
    quarter_tok = _child("tokenizer", quarter)
    quarter_full = _child("full", quarter)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    floor_rate = mb / results["floor"]["seconds"]
    floor_cpu = mb / results["floor"]["cpu_seconds"]
    head = ("stage", "wall", "MB/s", "segments/s", "cpu", "MB/s cpu", "peak RSS", "vs floor (wall)", "vs floor (cpu)")
    rows = [head]
    for name in ("floor", "tokenizer", "full"):
        r = results[name]
        rate, crate = mb / r["seconds"], mb / r["cpu_seconds"]
        rows.append((name, f"{r['seconds']:.2f} s", f"{rate:.1f}", f"{segments / r['seconds']:,.0f}",
                     f"{r['cpu_seconds']:.2f} s", f"{crate:.1f}", f"{r['peak_rss_mb']:.0f} MB",
                     f"{rate / floor_rate:.2f}x", f"{crate / floor_cpu:.2f}x"))
    py_rate, py_crate = small_mb / py["seconds"], small_mb / py["cpu_seconds"]
    rows.append((f"pydifact ({small_mb:.1f} MB slice, extrapolated)", f"~{mb / py_rate:.1f} s", f"{py_rate:.2f}",
                 f"{small_segments / py['seconds']:,.0f}", f"~{mb / py_crate:.1f} s", f"{py_crate:.2f}",
                 f"{py['peak_rss_mb']:.0f} MB", f"{py_rate / floor_rate:.3f}x", f"{py_crate / floor_cpu:.3f}x"))
    for label, r, size in (("tokenizer", quarter_tok, quarter_mb), ("full", quarter_full, quarter_mb)):
        rows.append((f"{label} on {size:.1f} MB", f"{r['seconds']:.2f} s", f"{size / r['seconds']:.1f}", "",
                     f"{r['cpu_seconds']:.2f} s", f"{size / r['cpu_seconds']:.1f}", f"{r['peak_rss_mb']:.0f} MB",
                     "", ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    tok, tok_c = mb / results["tokenizer"]["seconds"], mb / results["tokenizer"]["cpu_seconds"]
    full, full_c = mb / results["full"]["seconds"], mb / results["full"]["cpu_seconds"]
    print()
    print(f"load average during the run: {load:.2f} on {os.cpu_count()} cpu(s) (wall-clock ratios suffer from it;"
          " cpu-time ratios much less)")
    print(f"tokenizer / floor  = {tok / floor_rate:.2f} wall, {tok_c / floor_cpu:.2f} cpu  (target >= 0.5)")
    print(f"full / floor       = {full / floor_rate:.2f} wall, {full_c / floor_cpu:.2f} cpu  (target >= 0.25)")
    print(f"full / pydifact    = {full / py_rate:.0f}x wall, {full_c / py_crate:.0f}x cpu  (target >= 30x; "
          f"pydifact extrapolated from {small_mb:.1f} MB)")
    print(f"tokenizer / pydifact = {tok / py_rate:.0f}x wall, {tok_c / py_crate:.0f}x cpu")
    print(f"peak RSS: tokenizer {results['tokenizer']['peak_rss_mb']:.0f} MB on {mb:.1f} MB and "
          f"{quarter_tok['peak_rss_mb']:.0f} MB on {quarter_mb:.1f} MB; full {results['full']['peak_rss_mb']:.0f} MB "
          f"on {mb:.1f} MB and {quarter_full['peak_rss_mb']:.0f} MB on {quarter_mb:.1f} MB")
    print(f"full run: {results['full']['messages']:,} messages, {results['full']['findings']} findings "
          f"({results['full']['errors']} errors), CONTRL {results['full']['contrl_bytes']:,} bytes")
    if args.keep:
        print(f"files kept in {tmp}")
    else:
        for p in (big, small, quarter):
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
