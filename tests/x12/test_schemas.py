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
