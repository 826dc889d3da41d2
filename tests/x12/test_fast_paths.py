"""The validator's fast paths never accept what its slow path faults.

The fast paths (generated element checkers with C-level digit tests, the
structure regex, the HL link check) exist only for speed; these properties
pin that they are never more lenient than the walk and ``value_errors``.
"""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.edi.x12 import read_document
from hub.edi.x12.schema import ElementDef, _numeric_ok, _real_ok, schema_for, value_errors
from hub.edi.x12.validate import X12Validator

NUMBERS = st.text(alphabet="0123456789.-E+ ,a\u0663", max_size=12)


@settings(max_examples=400, deadline=None)
@given(NUMBERS, st.integers(1, 4), st.integers(4, 12), st.sampled_from(["R", "N0", "N2"]))
def test_numeric_fast_checks_accept_only_valid_values(value, low, high, kind):
    defn = ElementDef("0", "test", kind, low, high)
    fast = _real_ok if kind == "R" else _numeric_ok
    if value and fast(value, low, high):
        assert value_errors(defn, value) == []
    if value.isdigit() and value.isascii() and low <= len(value) <= high:
        assert value_errors(defn, value) == []


HEAD = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261126*1200*U*00401*000000001*0*T*>~"
    "GS*{gid}*SENDER*RECEIVER*20261126*1200*1*X*004010~"
)
TAIL = "GE*1*1~IEA*1*000000001~"

# One segment of each kind the sets below use, clean on its own.
SEGMENTS_850 = {
    "BEG": "BEG*00*SA*PO1**20261126",
    "CUR": "CUR*BY*USD",
    "REF": "REF*DP*042",
    "PER": "PER*BD*JOHN",
    "DTM": "DTM*002*20261210",
    "N1": "N1*ST*ACME*92*DC01",
    "N3": "N3*1 ROAD",
    "N4": "N4*CITY*IL*62701",
    "PO1": "PO1*1*2*EA*3.5**BP*X1",
    "PID": "PID*F****WIDGET",
    "PO4": "PO4*1*12*EA",
    "CTT": "CTT*1",
    "TD5": "TD5****M*TRUCK",
}
SEGMENTS_856 = {
    "BSN": "BSN*00*SHIP1*20261126*1200",
    "DTM": "DTM*011*20261126",
    "HL": None,  # built with ids below
    "TD1": "TD1*CTN25*2",
    "TD5": "TD5*B*2*SCAC",
    "REF": "REF*BM*123",
    "N1": "N1*ST*ACME*92*DC01",
    "PRF": "PRF*PO1",
    "MAN": "MAN*GM*00012345678901234567",
    "LIN": "LIN**BP*X1",
    "SN1": "SN1**4*EA",
    "PID": "PID*F****WIDGET",
    "CTT": "CTT*1",
}


def _set(kind: str, tags: list[str], levels: list[str]) -> bytes:
    segs = ["ST*" + kind + "*0001"]
    hl_ids: list[tuple[str, str]] = []
    for tag in tags:
        if tag == "HL":
            n = len(hl_ids) + 1
            level = levels[(n - 1) % len(levels)]
            parent = hl_ids[-1][0] if hl_ids and level != "S" else ""
            segs.append(f"HL*{n}*{parent}*{level}")
            hl_ids.append((str(n), level))
        else:
            segs.append((SEGMENTS_850 if kind == "850" else SEGMENTS_856)[tag])
    segs.append(f"SE*{len(segs) + 1}*0001")
    gid = "PO" if kind == "850" else "SH"
    return (HEAD.format(gid=gid) + "~".join(segs) + "~" + TAIL).encode()


@settings(max_examples=int(os.environ.get("EDIHUB_FAST_PATH_EXAMPLES", "600")), deadline=None)
@given(
    st.sampled_from(["850", "856"]),
    st.data(),
)
def test_structure_regex_never_accepts_what_the_walk_faults(kind, data):
    pool = sorted(SEGMENTS_850 if kind == "850" else SEGMENTS_856)
    tags = data.draw(st.lists(st.sampled_from(pool), max_size=25), label="tags")
    levels = data.draw(st.lists(st.sampled_from(["S", "O", "T", "P", "I", "X"]), min_size=1, max_size=5))
    doc = read_document(_set(kind, tags, levels))
    (tx,) = doc.transactions
    validator = X12Validator()
    fast = validator.validate(tx)
    machine = next(iter(validator._machines.values()))
    slow = validator._run(tx, machine, tx.segments, None)  # the walk alone
    assert sorted((f.code, f.segment, f.element) for f in fast) == sorted((f.code, f.segment, f.element) for f in slow)
    schema = schema_for(kind, "004010")
    if schema.structure_ok([s[0] for s in tx.segments]):
        assert not [f for f in slow if f.ack_level == "segment"], "regex accepted a set the walk faults"


def test_structure_regex_accepts_clean_sets_and_skips_the_walk():
    for kind, tags, levels in [
        ("850", ["BEG", "CUR", "REF", "REF", "DTM", "N1", "N3", "N4", "PO1", "PID", "PO4", "PO1", "CTT"], ["S"]),
        ("856", ["BSN", "DTM", "HL", "TD1", "TD5", "HL", "PRF", "HL", "MAN", "HL", "LIN", "SN1", "CTT"],
         ["S", "O", "P", "I"]),
    ]:
        doc = read_document(_set(kind, tags, levels))
        (tx,) = doc.transactions
        assert schema_for(kind, "004010").structure_ok([s[0] for s in tx.segments])
        assert X12Validator().validate(tx) == []


def test_hl_fast_path_defers_to_the_walk_on_a_bad_parent():
    # an item directly under a shipment is allowed (tare/pack/order optional), an order under an item is not
    doc = read_document(_set("856", ["BSN", "HL", "HL", "LIN", "HL"], ["S", "I", "O"]))
    (tx,) = doc.transactions
    codes = [f.code for f in X12Validator().validate(tx)]
    assert codes == ["HL_LEVEL_ORDER"]


def test_structure_regex_needs_the_loop_trigger():
    # Regression: the 850 SAC loop's trigger is optional in the table ("120 SAC O 1"), and the
    # regex let a lone CUR count as an iteration of that loop, so BEG CUR CUR passed the fast
    # path while the walk reports SEGMENT_OVER_MAX_USE for the second CUR.
    doc = read_document(_set("850", ["BEG", "CUR", "CUR", "PO1"], ["S"]))
    (tx,) = doc.transactions
    assert not schema_for("850", "004010").structure_ok([s[0] for s in tx.segments])
    assert [f.code for f in X12Validator().validate(tx)] == ["SEGMENT_OVER_MAX_USE"]


def test_structure_pattern_refuses_segment_ids_outside_the_schema():
    # each ID is one character in the pattern's subject; an ID the schema does not know is NUL
    schema = schema_for("850", "004010")
    assert schema.structure_ok(["ST", "BEG", "PO1", "SE"])
    assert not schema.structure_ok(["ST", "BEG", "ZZZ", "PO1", "SE"])
    assert not schema.structure_ok(["ST", "BEG", "PO1", "PO1,", "SE"])
