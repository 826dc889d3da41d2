"""Validate our 997 / 999 / TA1 output with pyx12, an independent X12 validator.

pyx12 (https://github.com/azoner/pyx12) ships maps for the HIPAA 997
(``997.4010.xml``) and 999 (``999.5010.xml``, ``999.5010X231.A1.xml``).  Two
of its limits are not X12 rules, and the harness works around them without
touching what it checks:

* its reader only opens interchanges whose ISA12 is ``00401`` or ``00501``
  (``rawx12file.RawX12File``) and ``maps.xml`` is keyed by those two
  versions; an ack in an ``00204``/``00300``/``00403``... interchange (ISA12
  copied from the inbound one, as the standard allows) is therefore checked
  with ISA12 rewritten to ``00401`` and ISA11 to ``U``;
* ``maps.xml`` picks a map by ISA12 *and* GS08, and has no entry for a
  004010 997 group inside an ``00501`` interchange (where our 997s go when
  the same acknowledgment interchange carries a 999; X12.5 lets an
  interchange hold groups of any version), so the relaxed index adds one;
* its maps are the HIPAA implementation guides, which narrow some code lists
  to the health-care subset: AK101 (479, functional identifier), AK201 (143,
  transaction set identifier) and ISA05/ISA07 (I05, interchange ID
  qualifier).  An ack for an 850 (AK101 ``PO``, AK201 ``850``) or from a
  partner with ISA qualifier ``08``/``12``/``16`` is valid X12 but not valid
  HIPAA, so :func:`relaxed_map_dir` copies the maps with exactly those code
  lists removed.  HIPAA acks (for our 837 fixtures) are also checked with the
  stock maps and stock versions.

Everything else (segment order and repeats, required elements, lengths, data
types, the remaining code lists, SE/GE/IEA counts and control numbers) is
pyx12's own check.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pyx12.params
import pyx12.x12n_document

# file -> element xids whose <valid_codes> are HIPAA subsets of an X12 code list
RELAX = {
    "x12.control.00401.xml": ("ISA05", "ISA07"),
    "x12.control.00501.xml": ("ISA05", "ISA07"),
    "997.4010.xml": ("ISA05", "ISA07", "AK101", "AK201"),
    "999.5010.xml": ("AK101", "AK201"),
    "999.5010X231.A1.xml": ("AK101", "AK201"),
}


def stock_map_dir() -> Path:
    return Path(str(files("pyx12").joinpath("map")))


def relaxed_map_dir(target: Path) -> Path:
    """A copy of pyx12's maps without the HIPAA-only code lists named in :data:`RELAX`."""
    target = Path(target)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(stock_map_dir(), target)
    for name, xids in RELAX.items():
        path = target / name
        tree = ET.parse(path)
        removed = 0
        for element in tree.iter("element"):
            if element.get("xid") in xids:
                codes = element.find("valid_codes")
                if codes is not None:
                    element.remove(codes)
                    removed += 1
        assert removed, f"{name}: no code list removed; pyx12's maps changed"
        _x12_5_interchange(tree, name)
        tree.write(path, encoding="utf-8", xml_declaration=True)
    # a 004010 997 group inside an 00501 interchange (next to a 999 group)
    index = target / "maps.xml"
    tree = ET.parse(index)
    v501 = next(v for v in tree.iter("version") if v.get("icvn") == "00501")
    entry = ET.SubElement(v501, "map", {"vriic": "004010", "fic": "FA", "abbr": "997"})
    entry.text = "997.4010.xml"
    v501.remove(entry)
    v501.insert(0, entry)  # before the catch-all control map entry
    tree.write(index, encoding="utf-8", xml_declaration=True)
    return target


def _x12_5_interchange(tree: ET.ElementTree, name: str) -> None:
    """Give ISA_LOOP the X12.5 shape: ISA, TA1 (optional, repeating), GS_LOOP (optional), IEA.

    pyx12's maps put TA1 after the GS loops and make GS_LOOP required; X12.5
    (section 4.4.1, "basic interchange segments: ISA, IEA and TA1") puts TA1
    between ISA and the first GS and allows an interchange of TA1s only.
    """
    isa_loop = next(loop for loop in tree.iter("loop") if loop.get("xid") == "ISA_LOOP")
    children = list(isa_loop)
    ta1 = next(c for c in children if c.tag == "segment" and c.get("xid") == "TA1")
    gs_loop = next(c for c in children if c.tag == "loop" and c.get("xid") == "GS_LOOP")
    isa_loop.remove(ta1)
    isa_loop.insert(list(isa_loop).index(gs_loop), ta1)
    ta1.find("pos").text = "015"
    max_use = ta1.find("max_use")
    if max_use is not None:
        max_use.text = ">1"
    gs_loop.find("usage").text = "S"
    assert list(isa_loop).index(ta1) < list(isa_loop).index(gs_loop), name


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Pyx12Result:
    ok: bool
    errors: list[str] = field(default_factory=list)
    text: str = ""

    def __bool__(self) -> bool:
        return self.ok and not self.errors


def normalise_versions(interchange: str) -> str:
    """Rewrite ISA12 to 00401 (and ISA11 to U) when pyx12 cannot open the interchange's version."""
    elem = interchange[3]
    fields = interchange[:106].split(elem)
    if len(fields) != 17 or fields[12] in ("00401", "00501"):
        return interchange
    fields[11] = "U"
    fields[12] = "00401"
    return elem.join(fields) + interchange[106:]


def split_interchanges(text: str) -> list[str]:
    """pyx12 validates a file with one ISA12; give it one interchange at a time (ISA .. IEA)."""
    out = []
    pos = 0
    while True:
        start = text.find("ISA", pos)
        if start == -1 or start + 106 > len(text):
            break
        elem, term = text[start + 3], text[start + 105]
        trailer = re.compile(re.escape(term) + r"[\r\n]*IEA" + re.escape(elem) + "[^" + re.escape(term) + "]*" +
                             re.escape(term) + r"[\r\n]*")
        m = trailer.search(text, start + 106)
        end = m.end() if m else len(text)
        out.append(text[start:end])
        pos = end
    return out


def validate(text: str, map_dir: Path | None = None) -> Pyx12Result:
    """Run pyx12's validator (x12n_document, as the x12valid script does) on ``text``."""
    param = pyx12.params.params()
    if map_dir is not None:
        param.set("map_path", str(map_dir))
    handler = _Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(handler)
    try:
        ok = pyx12.x12n_document.x12n_document(
            param=param,
            src_file=io.StringIO(text),
            fd_997=None,
            fd_html=None,
            map_path=str(map_dir) if map_dir is not None else None,
        )
    except Exception as exc:  # pyx12 raises EngineError on an unknown map or a broken file
        return Pyx12Result(False, [f"{type(exc).__name__}: {exc}"], text)
    finally:
        logger.removeHandler(handler)
    return Pyx12Result(bool(ok), handler.messages, text)


def validate_ack(data: bytes, encoding: str, map_dir: Path | None, *, normalise: bool = True) -> list[Pyx12Result]:
    """Validate each interchange of an acknowledgment file; returns one result per interchange."""
    text = data.decode(encoding)
    results = []
    for chunk in split_interchanges(text):
        if normalise:
            chunk = normalise_versions(chunk)
        results.append(validate(chunk, map_dir))
    return results
