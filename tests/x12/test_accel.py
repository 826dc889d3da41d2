"""The compiled element checks (hub/edi/x12/_accel.pyx) agree with the generated Python checkers.

Segment by segment: for every segment of every corpus transaction set with a
schema, and for random mutations of them, the C rule and the Python checker
give the same verdict.  Set by set: the validator's findings are the same with
and without the extension.  ``.ci/run`` sets ``EDIHUB_REQUIRE_ACCEL=1``, so CI
fails if the extension was not built (the benchmark figures depend on it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.edi.x12 import accel, read_document
from hub.edi.x12.schema import checkers_for, schema_for
from hub.edi.x12.validate import X12Validator
from tests.conftest import corpus_path
from tests.x12.test_fast_paths import SEGMENTS_850, SEGMENTS_856, _set

pytestmark = pytest.mark.skipif(not accel.AVAILABLE and os.environ.get("EDIHUB_REQUIRE_ACCEL") != "1",
                                reason="hub.edi.x12._accel is not compiled here")

DELIMITER_SETS = [(":", None), (">", "^"), ("\\", "!")]
CORPUS_KINDS = ("850", "855", "856", "810", "997", "999")


def test_the_extension_is_built_where_required():
    if os.environ.get("EDIHUB_REQUIRE_ACCEL") == "1":
        assert accel.AVAILABLE, "EDIHUB_REQUIRE_ACCEL=1 but hub.edi.x12._accel did not import (not compiled?)"
    assert accel.AVAILABLE


def _python_verdict(checkers, seg: list[str]) -> bool:
    try:
        return bool(checkers.get(seg[0])[len(seg)](seg))
    except IndexError:
        return False


def _compiled_verdict(rules, seg: list[str], comp: str, rep: str | None) -> bool:
    return accel.first_unclean([seg], rules, comp, rep) < 0


def _corpus_transactions():
    base = corpus_path("x12")
    files = sorted(p for kind in CORPUS_KINDS for p in (base / kind).glob("*") if p.is_file())
    files += sorted(p for p in (base / "malformed").glob("*") if p.is_file())
    for path in files:
        doc = read_document(path)
        for tx in doc.transactions:
            if schema_for(tx.type, tx.version) is not None:
                yield path, tx


def test_corpus_segments_get_the_same_verdict():
    compared = disagreements = 0
    for path, tx in _corpus_transactions():
        schema = schema_for(tx.type, tx.version)
        d = tx.interchange.delimiters
        checkers = checkers_for(schema.dictionary.version, d.component, d.repetition)
        rules = accel.rules_for(schema, checkers)
        for seg in tx.segments:
            if seg[0] not in rules:
                continue
            compared += 1
            if _python_verdict(checkers, seg) != _compiled_verdict(rules, seg, d.component, d.repetition):
                disagreements += 1
                pytest.fail(f"{Path(path).name}: {seg!r}: python {_python_verdict(checkers, seg)}, compiled "
                            f"{_compiled_verdict(rules, seg, d.component, d.repetition)}")
    assert compared > 2000 and disagreements == 0


def test_corpus_findings_are_the_same_with_and_without_the_extension(monkeypatch):
    sets = list(_corpus_transactions())
    compiled = X12Validator()
    with_c = [[f.to_json() for f in compiled.validate(tx)] for _, tx in sets]
    assert any(m.rules is not None for m in compiled._machines.values())
    monkeypatch.setattr(accel, "rules_for", lambda *args: None)
    plain = X12Validator()
    without = [[f.to_json() for f in plain.validate(tx)] for _, tx in sets]
    assert all(m.rules is None for m in plain._machines.values())
    for (path, _), a, b in zip(sets, with_c, without, strict=True):
        assert a == b, Path(path).name
    assert len(sets) > 50 and any(with_c) and not all(with_c)


# -- random segments: mutations of clean ones and of corpus-like values

VALUES = st.one_of(
    st.text(alphabet="0123456789", max_size=10),
    st.text(alphabet="0123456789.-", max_size=8),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789", max_size=12),
    st.sampled_from(["", "00", "BY", "ST", "92", "EA", "20261126", "20260229", "20240229", "1200", "2460",
                     "235959", "1200301", "-1.5", ".5", "5.", ".", "-", "1.2.3", "\x07", "A\xa0B", "\u00e9",
                     "\u0663", "PE", "UP", "S", "O", "I", "1", "2", "CTN25", "LB", "ZZ"]),
    st.text(max_size=6),
)
TEMPLATES = [
    ["BEG", "00", "SA", "PO1", "", "20261126"], ["CUR", "BY", "USD"], ["REF", "DP", "042"], ["PER", "BD", "JOHN"],
    ["DTM", "002", "20261210"], ["N1", "ST", "ACME", "92", "DC01"], ["N3", "1 ROAD"], ["N4", "CITY", "IL", "62701"],
    ["PO1", "1", "2", "EA", "3.5", "", "BP", "X1"], ["PID", "F", "", "", "", "WIDGET"], ["PO4", "1", "12", "EA"],
    ["CTT", "1"], ["TD5", "", "", "", "M", "TRUCK"], ["BSN", "00", "SHIP1", "20261126", "1200"],
    ["HL", "1", "", "S"], ["TD1", "CTN25", "2"], ["MAN", "GM", "00012345678901234567"], ["LIN", "", "BP", "X1"],
    ["SN1", "", "4", "EA"], ["PRF", "PO1"], ["IT1", "1", "2", "EA", "3.5", "", "BP", "X1"], ["TDS", "1000"],
    ["BIG", "20261126", "INV1"], ["BAK", "00", "AC", "PO1", "20261126"], ["ACK", "IA", "2", "EA"],
    ["SAC", "C", "D240", "", "", "100"], ["TD1", "CTN25", "2", "", "", "", "G", "10.5", "LB"],
    ["REF", "BM", "1", "x:y"], ["PO1", "1", "2", "EA", "3", "", "BP", "A^B"],
]


@settings(max_examples=int(os.environ.get("EDIHUB_ACCEL_EXAMPLES", "3000")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TEMPLATES), st.sampled_from(["850", "856", "810", "855"]), st.sampled_from(DELIMITER_SETS),
       st.sampled_from(["004010", "005010"]), st.data())
def test_random_segments_get_the_same_verdict(template, kind, delims, version, data):
    schema = schema_for(kind, version)
    comp, rep = delims
    checkers = checkers_for(schema.dictionary.version, comp, rep)
    rules = accel.rules_for(schema, checkers)
    seg = list(template)
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        where = data.draw(st.integers(1, len(seg)), label="where")
        value = data.draw(VALUES, label="value")
        if where == len(seg):
            seg.append(value)
        else:
            seg[where] = value
    if data.draw(st.booleans(), label="separator"):
        where = data.draw(st.integers(1, len(seg) - 1), label="sep at") if len(seg) > 1 else 0
        if where:
            seg[where] += data.draw(st.sampled_from([comp, rep or comp]), label="sep")
    if seg[0] not in rules:
        assert accel.first_unclean([seg], rules, comp, rep) == 0
        return
    assert _python_verdict(checkers, seg) == _compiled_verdict(rules, seg, comp, rep), seg


def test_rule_verdicts_on_edge_values():
    schema = schema_for("850", "004010")
    checkers = checkers_for(schema.dictionary.version, ">", "^")
    rules = accel.rules_for(schema, checkers)
    cases = {
        ("DTM", "002", "20240229"): True,  # leap day
        ("DTM", "002", "20230229"): False,
        ("DTM", "002", "19000229"): False,  # not a leap year
        ("DTM", "002", "20000229"): True,
        ("DTM", "002", "20261210", "2359"): True,
        ("DTM", "002", "20261210", "2400"): False,
        ("PO1", "1", "-2", "EA", "-.5"): True,
        ("PO1", "1", "2.", "EA", "1.2.3"): False,
        ("PO1", "1", "2", "EA", "3", "", "BP", "A>B"): False,  # component separator in an AN
        ("PO1", "1", "2", "EA", "3", "", "BP", "A^B"): False,  # repetition separator in an AN
        ("PO1", "1", "2", "EA", "3", "", "BP"): False,  # P0607: a qualifier without its value
        ("N1", "ST"): False,  # R0203: a name or an id
        ("N1", "ST", "ACME"): True,
        ("CTT", "1", "", "", "", "", "", "", "extra"): False,  # more elements than defined
        ("ZZZ", "1"): False,  # not in the set
    }
    for seg, expected in cases.items():
        assert _compiled_verdict(rules, list(seg), ">", "^") is expected, seg
        if seg[0] in rules:
            assert _python_verdict(checkers, list(seg)) is expected, seg


def test_segments_that_are_not_lists_of_str_take_the_python_path():
    doc = read_document(b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261126*1200*U*00401*"
                        b"000000001*0*T*>~GS*PO*SENDER*RECEIVER*20261126*1200*1*X*004010~ST*850*0001~"
                        b"BEG*00*SA*PO1**20261126~PO1*1*2*EA*3.5**BP*X1~CTT*1~SE*5*0001~GE*1*1~IEA*1*000000001~")
    (tx,) = doc.transactions
    assert X12Validator().validate(tx) == []
    tx.segments[2] = tuple(tx.segments[2])  # a caller's own transaction with a tuple segment
    assert X12Validator().validate(tx) == []
    tx.segments[2] = ["PO1", "1", None, "EA"]
    with pytest.raises(TypeError):
        accel.first_unclean(tx.segments, accel.rules_for(schema_for("850", "004010"),
                                                         checkers_for("004010", ">", None)), ">", None)


def test_an_empty_segment_is_unclean_not_a_crash():
    rules = accel.rules_for(schema_for("850", "004010"), checkers_for("004010", ">", None))
    assert accel.first_unclean([["BEG", "00", "SA", "PO1", "", "20261126"], []], rules, ">", None) == 1
    assert accel.hl_links_clean([[], ["HL", "1", "", "S"]], "HL", {"S": 1}, frozenset({"S"})) is True


def test_rules_are_built_once_not_per_validator():
    # regression: the pipeline makes one validator per file, and each built the rule tables again
    # (200 one-set files: 0.17 s of 0.4 s of EDI work)
    doc = read_document(b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261126*1200*U*00401*"
                        b"000000001*0*T*>~GS*PO*SENDER*RECEIVER*20261126*1200*1*X*004010~ST*850*0001~"
                        b"BEG*00*SA*PO1**20261126~PO1*1*2*EA*3.5**BP*X1~CTT*1~SE*5*0001~GE*1*1~IEA*1*000000001~")
    (tx,) = doc.transactions
    first, second = X12Validator(), X12Validator()
    assert first.validate(tx) == [] and second.validate(tx) == []
    (m1,), (m2,) = first._machines.values(), second._machines.values()
    assert m1.rules is not None and m1.rules is m2.rules


ORDER_850 = ["BEG", "CUR", "REF", "PER", "DTM", "TD5", "N1", "N3", "N4", "PO1", "PID", "PO4", "PO1", "CTT"]
ORDER_856 = ["BSN", "DTM", "HL", "TD1", "TD5", "REF", "N1", "HL", "PRF", "HL", "MAN", "HL", "LIN", "SN1", "PID",
             "HL", "LIN", "SN1", "CTT"]
STRUCTURAL = {"SEGMENT_MISSING", "SEGMENT_UNEXPECTED", "SEGMENT_OUT_OF_ORDER", "SEGMENT_NOT_IN_SET",
              "SEGMENT_UNRECOGNIZED", "SEGMENT_OVER_MAX_USE", "LOOP_OVER_MAX"}


@settings(max_examples=int(os.environ.get("EDIHUB_ACCEL_EXAMPLES", "3000")) // 3, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["850", "856"]), st.data())
def test_the_compiled_walk_agrees_with_the_python_walk(kind, data):
    # exact both ways: walk_clean is True exactly when the walk of _run reports no structural finding
    pool = sorted(SEGMENTS_850 if kind == "850" else SEGMENTS_856)
    if data.draw(st.booleans(), label="in order"):
        # the schema's order with random repeat counts: mostly clean, but for over-used segments, over-repeated
        # loops and missing mandatory ones -- what random orders rarely reach past their first misplaced segment
        order = ORDER_850 if kind == "850" else ORDER_856
        tags = [t for t in order for _ in range(data.draw(st.integers(0, 3), label=t))]
    else:
        tags = data.draw(st.lists(st.sampled_from(pool), max_size=30), label="tags")
    levels = data.draw(st.lists(st.sampled_from(["S", "O", "T", "P", "I"]), min_size=1, max_size=5))
    (tx,) = read_document(_set(kind, tags, levels)).transactions
    validator = X12Validator()
    validator.validate(tx)
    (m,) = validator._machines.values()
    walk = accel.walk_clean(tx.segments, m.table, m.step, len(m.schema.loops))
    structural = [f.code for f in validator._run(tx, m, tx.segments, None) if f.code in STRUCTURAL]
    assert walk == (not structural), (tags, structural)


def test_the_compiled_walk_on_the_corpus_agrees_with_the_python_walk():
    checked = faulted = 0
    for path, tx in _corpus_transactions():
        if not (tx.complete and tx.segments[-1][0] == "SE"):
            continue
        validator = X12Validator()
        validator.validate(tx)
        (m,) = validator._machines.values()
        walk = accel.walk_clean(tx.segments, m.table, m.step, len(m.schema.loops))
        structural = [f.code for f in validator._run(tx, m, tx.segments, None) if f.code in STRUCTURAL]
        assert walk == (not structural), (Path(path).name, structural)
        checked += 1
        faulted += bool(structural)
    assert checked > 50 and faulted > 0


@pytest.mark.parametrize("kind, tags, clean", [
    ("850", ["BEG", "CUR", "PO1"], True),
    ("850", ["BEG", "CUR", "CUR", "PO1"], False),  # CUR at most once
    ("850", ["CUR", "PO1"], False),  # BEG missing
    ("850", ["BEG", "PO1", "CTT", "PO1"], False),  # a line after the summary: out of order
    ("856", ["BSN", "HL", "TD1", "HL", "LIN", "SN1", "CTT"], True),
    ("856", ["BSN", "TD1", "HL", "LIN"], False),
])
def test_the_compiled_walk_on_chosen_sets(kind, tags, clean):
    (tx,) = read_document(_set(kind, tags, ["S", "I"])).transactions
    validator = X12Validator()
    validator.validate(tx)
    (m,) = validator._machines.values()
    assert accel.walk_clean(tx.segments, m.table, m.step, len(m.schema.loops)) is clean
