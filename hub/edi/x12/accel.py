"""The optional compiled element checks (``hub/edi/x12/_accel.pyx``) and how rules are built for them.

The X12 validator's clean path checks every element of every segment; in
pure Python that is one generated function call per segment
(:class:`hub.edi.x12.schema.Checkers`), and on a 20 MB file it costs more than
reading the file.  ``_accel`` runs the same checks in C from small per-segment
rule tables built here from the schema dictionary.  Its verdict per segment is
the generated checker's ("no finding at all"); tests/x12/test_accel.py
holds the two to the same answers, segment by segment, over the corpus and
over random mutations.

``pip install`` compiles the extension when Cython and a C compiler are there
(``setup.py``; it is optional).  Without it -- or with ``EDIHUB_NO_ACCEL=1`` in
the environment -- :data:`AVAILABLE` is False and the validator uses the
generated Python checkers, with the same findings, only slower.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from hub.edi.x12.schema import Checkers, CompositeDef, ElementDef, TransactionSchema

__all__ = ["AVAILABLE", "first_unclean", "hl_links_clean", "rules_for", "walk_clean"]

try:
    if os.environ.get("EDIHUB_NO_ACCEL", "") not in ("", "0"):
        raise ImportError("EDIHUB_NO_ACCEL is set")
    from hub.edi.x12._accel import SegmentRule, first_unclean, hl_links_clean, walk_clean
except ImportError:  # not compiled here: the pure-Python checkers do the work
    AVAILABLE = False
    SegmentRule = first_unclean = hl_links_clean = walk_clean = None  # type: ignore[assignment,misc]
else:
    AVAILABLE = True

# element kinds and note kinds, as _accel.pyx numbers them
K_AN, K_CODES, K_NUMERIC, K_REAL, K_DATE, K_TIME, K_FREE, K_BINARY, K_CALL = range(1, 10)
NOTE_KINDS = {"P": 1, "R": 2, "E": 3, "C": 4, "L": 5}
MAX_ELEMENTS = 63


def _kind(d: ElementDef) -> tuple[int, Any]:
    t = d.type
    if t == "ID" and d.codes is not None:
        return K_CODES, frozenset(d.codes)
    if t == "AN":
        return K_AN, None
    if t == "B":
        return K_BINARY, None
    if t == "R":
        return K_REAL, None
    if t.startswith("N"):
        return K_NUMERIC, None
    if t == "DT":
        return K_DATE, None
    if t == "TM":
        return K_TIME, None
    return K_FREE, None  # ID without a code list


@lru_cache(maxsize=256)
def rules_for(schema: TransactionSchema, checkers: Checkers) -> dict[str, Any] | None:
    """``{tag: SegmentRule}`` for every segment ``schema`` uses, with ``checkers``' delimiters; None without _accel.

    Built once per schema and delimiter set (both are cached objects) and
    shared by every validator: the pipeline makes one validator per file.
    A tag missing from the result (none is, today) would make every set
    holding it take the Python path.
    """
    if not AVAILABLE:
        return None
    dictionary = checkers.dictionary
    rules: dict[str, Any] = {}
    for tag in schema.tags:
        seg = dictionary.segments.get(tag)
        if seg is None:
            continue
        if seg.elements is None or tag in checkers.skip:
            rules[tag] = SegmentRule(always=True)
            continue
        if len(seg.elements) > MAX_ELEMENTS or [u.pos for u in seg.elements] != list(
                range(1, len(seg.elements) + 1)):
            continue
        elements = []
        for u in seg.elements:
            d = u.definition
            if isinstance(d, CompositeDef) or u.repeat > 1:
                kind, extra = K_CALL, checkers._slow_bool(seg, u)
                low, high = 1, 1
            else:
                assert isinstance(d, ElementDef)
                kind, extra = _kind(d)
                low, high = d.min, d.max
            elements.append((kind, low, high, u.req == "M", extra))
        notes = [(NOTE_KINDS[n.kind], n.positions) for n in seg.syntax]
        rules[tag] = SegmentRule(elements, notes)
    return rules
