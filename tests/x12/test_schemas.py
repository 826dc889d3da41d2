"""The bundled X12 schema data files: they load, are consistent, and compile."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from hub.edi.x12.schema import (
    COMPLEX,
    ERROR,
    VERSIONS,
    CompositeDef,
    ElementDef,
    Note,
    available,
    checkers_for,
    load_dictionary,
    load_schema,
    resolve_version,
)

SETS = [("810", "004010"), ("810", "005010"), ("850", "004010"), ("850", "005010"), ("855", "004010"),
        ("855", "005010"), ("856", "004010"), ("856", "005010"), ("997", "004010"), ("997", "005010"),
        ("999", "005010")]


def _files():
    return [r.name for r in resources.files("hub.edi.x12").joinpath("schemas").iterdir() if r.name.endswith(".json")]


def test_data_files_are_package_data_and_valid_json():
    names = _files()
    assert {"dictionary.004010.json", "dictionary.005010.json"} <= set(names)
    for name in names:
        json.loads(resources.files("hub.edi.x12").joinpath("schemas", name).read_text(encoding="utf-8"))


def test_available_sets():
    assert sorted(available()) == sorted(SETS)


@pytest.mark.parametrize("version", VERSIONS)
def test_dictionary_is_consistent(version):
    d = load_dictionary(version)
    assert d.version == version
    for ref, e in d.elements.items():
        assert e.ref == ref and 0 < e.min <= e.max, ref
        if e.codes is not None:
            assert e.type == "ID", ref
            assert all(e.min <= len(c) <= e.max for c in e.codes), ref
    for tag, seg in d.segments.items():
        assert tag in d.known_segments
        if seg.elements is None:
            continue
        assert [u.pos for u in seg.elements] == list(range(1, len(seg.elements) + 1))
        for u in seg.elements:
            assert u.req in ("M", "O", "X"), (tag, u.pos)
            assert u.repeat >= 1
        for note in seg.syntax:
            assert max(note.positions) <= len(seg.elements), (tag, note.text)
            assert len(note.positions) >= 2
    for ref, c in d.composites.items():
        for note in c.syntax:
            assert max(note.positions) <= len(c.components), (ref, note.text)


def test_005010_extends_004010_with_its_differences():
    d4, d5 = load_dictionary("004010"), load_dictionary("005010")
    assert d4.elements["127"].max == 30 and d5.elements["127"].max == 50
    assert [u.ref for u in d4.segments["AK1"].elements] == ["479", "28"]
    assert [u.ref for u in d5.segments["AK1"].elements] == ["479", "28", "480"]
    assert len(d5.composites["C030"].components) == 3
    assert d5.segments["BEG"] == d4.segments["BEG"]  # inherited
    assert d5.segments["CTX"].elements[0].repeat == 10
    assert isinstance(d5.segments["CTX"].elements[0].definition, CompositeDef)


def test_code_lists():
    d = load_dictionary("004010")
    assert d.elements["715"].codes == frozenset(["A", "E", "M", "P", "R", "W", "X"]) and not d.elements["715"].open
    assert d.elements["723"].codes == frozenset(str(i) for i in range(1, 11))
    assert d.elements["355"].open and "EA" in d.elements["355"].codes
    assert d.elements["235"].open and {"UP", "VN", "BP"} <= d.elements["235"].codes
    assert d.elements["100"].codes is None  # ISO 4217 is external: not checked
    assert load_dictionary("005010").elements["621"].codes >= {"12", "13", "I10", "I12", "I6", "I9"}


def test_ta1_segment():
    for version in VERSIONS:
        ta1 = load_dictionary(version).segments["TA1"]
        assert [u.ref for u in ta1.elements] == ["I12", "I08", "I09", "I17", "I18"]


@pytest.mark.parametrize(("tx_type", "version"), SETS)
def test_structures_compile(tx_type, version):
    schema = load_schema(tx_type, version)
    assert schema is not None and schema.id == tx_type and schema.version == version
    assert schema.nodes[1].tag == "ST" and schema.nodes[-1].tag == "SE"
    for node in schema.nodes[1:]:
        assert node.tag in schema.dictionary.segments
    for loop in schema.loops:
        assert loop.body[0].tag == loop.id or loop.id in ("HEADER",), loop.id
    # the state machine resolves every segment of the set from every state
    for state in range(len(schema.nodes)):
        for tag in schema.tags:
            nxt, kind, arg = schema.transition(state, tag)
            assert 0 <= nxt < len(schema.nodes)
            if kind == ERROR:
                assert arg.code in ("SEGMENT_OUT_OF_ORDER", "SEGMENT_UNEXPECTED")
    # every segment definition compiles for every element count
    ck = checkers_for(schema.dictionary.version, ":", "^")
    for tag in schema.tags:
        seg = schema.dictionary.segments[tag]
        for n in range(1, (len(seg.elements) if seg.elements else 3) + 3):
            assert callable(ck.function(tag, n))


def test_mandatory_path_of_850():
    schema = load_schema("850", "004010")
    nxt, kind, arg = schema.transition(1, "PO1")  # from ST straight to PO1: BEG is missing
    assert kind == COMPLEX and [m.tag for m in arg.missing] == ["BEG"]
    assert arg.loop.id == "PO1" and arg.reset


def test_hierarchy_of_856():
    h = load_schema("856", "004010").hierarchy
    assert h.segment == "HL" and h.top == frozenset({"S"})
    assert [k for k, _ in sorted(h.levels.items(), key=lambda kv: kv[1])] == ["S", "O", "T", "P", "I"]


def test_note_parsing():
    assert Note.parse("P0405").positions == (4, 5)
    assert Note.parse("R0204050612").positions == (2, 4, 5, 6, 12)
    with pytest.raises(ValueError):
        Note.parse("Q0102")
    note = Note.parse("L03040513")
    assert note.violation(lambda p: p == 3) == ("missing", 4, 3)
    assert note.violation(lambda p: p in (3, 13)) is None
    assert Note.parse("E0110").violation(lambda p: True) == ("exclusion", 10, 1)


def test_element_defs_are_frozen():
    e = load_dictionary("004010").elements["373"]
    assert isinstance(e, ElementDef) and e.type == "DT"
    with pytest.raises(AttributeError):
        e.max = 9  # type: ignore[misc]


def test_resolve_version_is_documented_rule():
    assert resolve_version("004010VICS") == "004010"
    assert resolve_version("005010X231A1") == "005010"


# ------------------------------------------------------------------ regression tests of the schema corrections
# Structures checked against the Bots EDI 004010 grammars (order, requirement, max use, loop repeats and
# nesting); positions against public 004010 implementation guides where they show them.


def _loop(schema, *path):
    """The loop reached by following loop IDs from the set's root (first match at each level)."""
    node = schema.root
    for lid in path:
        node = next(c for c in node.body if not hasattr(c, "tag") and c.id == lid)
    return node


def _shape(loop):
    """``[(tag, req, max)]`` and ``(loop id, req, repeat)`` items of one loop body (``>1``/unbounded is 0)."""
    return [(c.tag, c.req, c.max) if hasattr(c, "tag") else (c.id, c.req, c.repeat) for c in loop.body]


def test_850_lm_loop_holds_mandatory_lq_not_an_lq_nte_loop():
    schema = load_schema("850", "004010")
    assert _shape(_loop(schema, "LM")) == [("LM", "O", 1), ("LQ", "M", 0)]
    assert _shape(_loop(schema, "PO1", "LM")) == [("LM", "O", 1), ("LQ", "M", 0)]


def test_850_spi_n1_loop_has_ref():
    schema = load_schema("850", "004010")
    assert [t[0] for t in _shape(_loop(schema, "SPI", "N1"))] == ["N1", "N2", "N3", "N4", "REF", "G61", "MSG"]


def test_850_po1_loop_order_after_dtm_has_no_ldt_or_sch_segment():
    tags = [t[0] for t in _shape(_loop(load_schema("850", "004010"), "PO1"))]
    i = tags.index("DTM")
    assert tags[i : i + 6] == ["DTM", "TC2", "TD1", "TD5", "TD3", "TD4"]
    assert tags[-9:] == ["QTY", "SCH", "PKG", "LS", "N9", "N1", "SLN", "AMT", "LM"]


def test_850_ls_le_bound_the_ldt_loop():
    schema = load_schema("850", "004010")
    ls = _loop(schema, "PO1", "LS")
    assert (ls.req, ls.repeat) == ("O", 1)
    assert _shape(ls) == [("LS", "O", 1), ("LDT", "M", 0), ("LE", "M", 1)]
    assert _shape(_loop(schema, "PO1", "LS", "LDT"))[-1] == ("LM", "O", 0)


def test_850_sch_loop_repeat_and_sln_adv_max_use():
    schema = load_schema("850", "004010")
    assert _loop(schema, "PO1", "SCH").repeat == 200
    assert ("ADV", "O", 0) in _shape(_loop(schema, "PO1", "SLN"))
    assert _shape(_loop(schema, "PO1", "N1"))[-1] == ("LDT", "O", 0)  # the N1 loop ends with an LDT loop
    assert [n.label for n in schema.nodes[1:] if n.loop.id == "SCH" and n.tag == "SCH"] == ["295"]


def test_850_header_n1_positions():
    schema = load_schema("850", "004010")
    labels = {n.tag: n.label for n in _loop(schema, "N1").body}
    assert (labels["REF"], labels["PER"], labels["TD5"]) == ("350", "360", "390")


def test_855_ack_is_a_loop_with_dtm():
    schema = load_schema("855", "004010")
    ack = _loop(schema, "PO1", "ACK")
    assert (ack.req, ack.repeat) == ("O", 104)
    assert _shape(ack) == [("ACK", "O", 1), ("DTM", "O", 1)]
    assert ack.trigger.label == "270"
    tags = [t[0] for t in _shape(_loop(schema, "PO1"))]
    assert tags[tags.index("ACK") :] == ["ACK", "MAN", "AMT", "CTB", "TXI", "QTY", "PKG", "SCH", "N9", "N1", "SLN"]
    assert ("CTP", "O", 0) in _shape(_loop(schema, "PO1"))  # a segment in the 855, not a loop
    assert _loop(schema, "PO1", "SLN", "SAC").repeat == 10


def test_855_heading_max_uses():
    schema = load_schema("855", "004010")
    top = {t[0]: t for t in _shape(schema.root) if t[0] in ("CSH", "ITD", "PKG", "CTB")}
    assert top == {"CSH": ("CSH", "O", 1), "ITD": ("ITD", "O", 5), "PKG": ("PKG", "O", 25), "CTB": ("CTB", "O", 0)}
    n1 = _shape(_loop(schema, "N1"))
    assert ("N4", "O", 1) in n1 and ("PKG", "O", 25) in n1 and n1[-1] == ("MSG", "O", 0)


def test_856_hl_loop_has_lh1_hazardous_loop_and_sln_max_use():
    schema = load_schema("856", "004010")
    hl = _shape(_loop(schema, "HL"))
    assert ("SLN", "O", 1000) in hl
    assert [t[0] for t in _shape(_loop(schema, "HL", "LH1"))] == [
        "LH1", "LH2", "LH3", "LFH", "LEP", "LH4", "LHT", "LHR", "PER", "LHE",
    ]
    assert _loop(schema, "HL", "LH1").repeat == 100


def test_810_heading_v1_and_fa1_loops_and_it1_max_uses():
    schema = load_schema("810", "004010")
    top = [t[0] for t in _shape(schema.root)]
    assert top[top.index("N9") : top.index("IT1") + 1] == ["N9", "V1", "FA1", "IT1"]
    it1 = _shape(_loop(schema, "IT1"))
    assert {("QTY", "O", 5), ("IT3", "O", 5), ("CTP", "O", 25)} <= set(it1)
    labels = {n.tag: n.label for n in schema.root.body if hasattr(n, "tag")}
    assert (labels["YNQ"], labels["PER"]) == ("055", "060")


def test_transcribed_segments_qty_po3_it3_tax():
    d = load_dictionary("004010")
    qty = [(u.ref, u.req) for u in d.segments["QTY"].elements]
    assert qty == [("673", "M"), ("380", "X"), ("C001", "O"), ("61", "X")]
    assert [n.text for n in d.segments["QTY"].syntax] == ["R0204", "E0204"]
    assert [u.ref for u in d.segments["PO3"].elements] == ["371", "373", "236", "212", "639", "380", "355", "352"]
    assert [n.text for n in d.segments["PO3"].syntax] == ["L040305"]
    assert [u.ref for u in d.segments["IT3"].elements] == ["382", "355", "368", "383", "371"]
    assert [u.ref for u in d.segments["TAX"].elements] == ["325"] + ["309", "310"] * 5 + ["441", "1179"]
    assert d.elements["383"].type == "R" and d.elements["383"].max == 9


def test_ack04_optional_ack05_conditional():
    ack = load_dictionary("004010").segments["ACK"]
    assert (ack.elements[3].req, ack.elements[4].req) == ("O", "X")
    assert "C0405" in [n.text for n in ack.syntax]


def test_csh_has_agency_qualifier_at_csh06():
    csh = load_dictionary("004010").segments["CSH"]
    assert [u.ref for u in csh.elements] == ["563", "306", "610", "508", "373", "559", "560", "566", "954", "1004"]
    assert [n.text for n in csh.syntax] == ["C0203", "P0607", "P0910"]


def test_transcribed_004010_segments_have_their_elements():
    # Segments once left as `elements: null`, now transcribed from published 004010 layouts.
    d = load_dictionary("004010")
    refs = {tag: [u.ref for u in d.segments[tag].elements] for tag in ("DTP", "DMG", "PCT", "CRC", "BAL", "DIS")}
    assert refs["DTP"] == ["374", "1250", "1251"]
    assert refs["DMG"] == ["1250", "1251", "1068", "1067", "1109", "1066", "26", "659", "380"]
    assert refs["PCT"] == ["1004", "954"]
    assert refs["CRC"] == ["1136", "1073", "1321", "1321", "1321", "1321", "1321"]
    assert refs["BAL"] == ["951", "522", "782"]
    assert refs["DIS"] == ["653", "654", "655", "656", "657", "657"]
    assert [u.ref for u in d.segments["BEG"].elements][10:] == ["786", "640"]
    assert len(d.segments["ISS"].elements) == 8
