"""Schemas as data and the validator: structure, repeats, mandatory, element formats, 0085 codes."""

from __future__ import annotations

import pytest

from hub.edi.edifact import read_document
from hub.edi.edifact.analyse import analyse
from hub.edi.edifact.schema import available, compile_message, find_schema, load_directory
from hub.edi.edifact.validate import EdifactValidator

HEAD = "UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'"
TAIL = "UNZ+1+R1'"


def order(body: list[str], mtype: str = "ORDERS:D:96A:UN") -> bytes:
    segs = [f"UNH+1+{mtype}", *body]
    segs.append(f"UNT+{len(segs) + 1}+1")
    return ("UNB+UNOC:3+S+R+240115:1200+R1'" + "'".join(segs) + "'" + TAIL).encode()


GOOD = ["BGM+220+PO1+9", "DTM+137:20240115:102", "RFF+CT:C1", "NAD+BY+5412345000013::9", "CTA+PD+:Joe",
        "COM+0123:TE", "CUX+2:EUR:9", "LIN+1++5400000000001:EN", "QTY+21:10", "PRI+AAA:1.25",
        "LIN+2++5400000000002:EN", "QTY+21:5", "UNS+S", "CNT+2:2"]


def schema_findings(data: bytes):
    return [f for f in analyse(data).findings if f.layer == "schema"]


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
@pytest.mark.parametrize("message", ["ORDERS", "ORDRSP", "DESADV", "INVOIC", "APERAK"])
def test_schemas_exist_and_compile(directory, message):
    compiled = compile_message(directory, message)
    assert compiled is not None
    assert compiled.root.children[0].name == "UNH" and compiled.root.children[-1].name == "UNT"
    for tag in compiled.tags:
        assert tag in compiled.segments


def test_contrl_schema_and_lookup():
    assert find_schema("CONTRL", "2", "2", "UN") is not None
    assert find_schema("CONTRL", "4", "1", "UN") is not None
    assert find_schema("ORDERS", "D", "96A", "UN").directory == "D96A"
    assert find_schema("ORDERS", "D", "01B", "UN").directory == "D01B"
    assert find_schema("ORDERS", "D", "99Z", "UN") is None
    assert ("D96A", "ORDERS") in available()


def test_directory_data():
    d96a, d01b = load_directory("D96A"), load_directory("D01B")
    assert d96a.elements["1131"].format == "an..3" and d01b.elements["1131"].format == "an..17"
    assert d96a.elements["0081"].format == "a1"
    nad = d01b.segments["NAD"]
    assert nad[0].mandatory and nad[0].id == "3035" and nad[6].id == "C819"
    assert [c[0].id for c in d96a.composites["C507"]] == ["2005", "2380", "2379"]


def test_valid_order_has_no_findings():
    assert schema_findings(order(GOOD)) == []


def test_wrong_order_is_reported_with_position():
    body = GOOD.copy()
    body.insert(7, body.pop(body.index("QTY+21:10")))  # QTY before its LIN
    (f,) = schema_findings(order(body))
    assert (f.code, f.segment, f.segment_id, f.ack_level, f.ack_code) == ("SEGMENT_UNEXPECTED", 9, "QTY", "segment",
                                                                         "15")


def test_segment_after_a_later_group_cascades():
    body = GOOD.copy()
    body.insert(1, body.pop(body.index("CUX+2:EUR:9")))  # CUX (SG7) before DTM, RFF (SG1), NAD (SG2)
    found = schema_findings(order(body))
    assert found[0].code == "MANDATORY_SEGMENT_MISSING" and found[0].segment_id == "DTM"
    assert {f.segment_id for f in found if f.code == "SEGMENT_UNEXPECTED"} == {"RFF", "NAD", "CTA", "COM"}


def test_missing_mandatory_segment():
    body = [s for s in GOOD if not s.startswith("UNS")]
    found = [f for f in schema_findings(order(body)) if f.code == "MANDATORY_SEGMENT_MISSING"]
    assert [(f.segment_id, f.ack_code) for f in found] == [("UNS", "13")]


def test_missing_mandatory_first_dtm():
    body = [s for s in GOOD if not s.startswith("DTM")]
    found = [f for f in schema_findings(order(body)) if f.code == "MANDATORY_SEGMENT_MISSING"]
    assert [(f.segment_id, f.segment) for f in found] == [("DTM", 3)]


def test_unknown_segment():
    body = GOOD.copy()
    body.insert(2, "XYZ+1")
    (f,) = schema_findings(order(body))
    assert (f.code, f.segment, f.ack_code) == ("SEGMENT_NOT_IN_MESSAGE", 4, "15")


def test_too_many_repeats():
    many = ["BGM+220+PO1+9"] + ["DTM+137:20240115:102"] * 36 + GOOD[2:]
    found = [f for f in schema_findings(order(many)) if f.code == "SEGMENT_REPEATS"]
    assert found and found[0].segment == 38 and found[0].ack_code == "35"


def test_too_many_group_repeats():
    many = GOOD[:2] + ["RFF+CT:C1", "DTM+171:20240101:102"] * 11 + GOOD[3:]
    found = [f for f in schema_findings(order(many)) if f.code == "GROUP_REPEATS"]
    assert found and found[0].loop_id == "SG1" and found[0].ack_code == "36"


@pytest.mark.parametrize(
    "segment,code,element,component,ack",
    [
        ("QTY+21:ten", "INVALID_CHARACTER_TYPE", 1, 2, "37"),
        ("QTY+21:1.2.3", "INVALID_DECIMAL", 1, 2, "19"),
        ("QTY+21:.5", "MISSING_DIGIT_BEFORE_DECIMAL", 1, 2, "38"),
        ("QTY+21:1234567890123456", "ELEMENT_TOO_LONG", 1, 2, "39"),
        ("QTY+2100:1", "ELEMENT_TOO_LONG", 1, 1, "39"),
        ("QTY+:1", "MANDATORY_COMPONENT_MISSING", 1, 1, "13"),
        ("QTY+21:1:PCE:X", "TOO_MANY_COMPONENTS", 1, 4, "16"),
        ("QTY+21:1+X", "TOO_MANY_ELEMENTS", 2, None, "16"),
        ("QTY", "MANDATORY_ELEMENT_MISSING", 1, None, "13"),
    ],
)
def test_element_checks(segment, code, element, component, ack):
    body = GOOD.copy()
    body[body.index("QTY+21:10")] = segment
    found = [f for f in schema_findings(order(body)) if f.code == code]
    assert len(found) == 1, schema_findings(order(body))
    f = found[0]
    assert (f.segment, f.element, f.component, f.ack_level, f.ack_code) == (10, element, component, "element", ack)


def test_negative_and_decimal_comma_numbers_are_valid():
    body = GOOD.copy()
    body[body.index("QTY+21:10")] = "QTY+21:-1,5"
    assert schema_findings(order(body)) == []


def test_released_characters_count_once():
    body = GOOD.copy()
    body[body.index("RFF+CT:C1")] = "RFF+CT:" + "?+" * 35  # 35 characters once unescaped (1154 an..35)
    assert schema_findings(order(body)) == []
    body[body.index("RFF+CT:" + "?+" * 35)] = "RFF+CT:" + "?+" * 36
    assert [f.code for f in schema_findings(order(body))] == ["ELEMENT_TOO_LONG"]


def test_validator_caches_give_the_same_answers():
    v = EdifactValidator()
    data = order(GOOD[:8] + ["QTY+21:ten"] + GOOD[9:])
    m = read_document(data).messages[0]
    first = [(f.code, f.segment) for f in v.validate(m)]
    second = [(f.code, f.segment) for f in v.validate(m)]
    assert first == second == [("INVALID_CHARACTER_TYPE", 10)]


def test_message_without_schema_is_still_read():
    data = order(["BGM+1"], mtype="PAYMUL:D:96A:UN")
    result = analyse(data)
    assert [f for f in result.findings if f.is_error] == []
    assert result.extra["without_schema"] == {"PAYMUL D:96A": 1}


def test_stand_in_directory_for_other_releases():
    data = order(["BGM+380+1+9", "DTM+137:20240115:102", "NAD+BYZZ+1::9", "UNS+S"], mtype="INVOIC:D:97B:UN")
    (f,) = [f for f in analyse(data).findings if f.layer == "schema"]
    assert f.code == "ELEMENT_TOO_LONG" and f.is_error and "D96A segment directory" in f.message


def test_d01b_order():
    body = ["BGM+220+PO1+9", "DTM+137:20240115:102", "NAD+BY+5412345000013::9++Name+Street+City+DE-BY+12345+DE",
            "LIN+1++5400000000001:EN", "IMD+F++:::" + "x" * 200, "QTY+21:10", "UNS+S"]
    assert schema_findings(order(body, mtype="ORDERS:D:01B:UN")) == []
    # D96A: 7008 is an..35
    found = schema_findings(order(body, mtype="ORDERS:D:96A:UN"))
    assert [(f.code, f.segment_id, f.element, f.component) for f in found] == [("ELEMENT_TOO_LONG", "IMD", 3, 4)]


def test_desadv_packaging_hierarchy():
    body = ["BGM+351+D1+9", "DTM+137:20240115:102", "NAD+BY+1::9", "CPS+1", "PAC+1++PX", "CPS+2+1", "PAC+2++CT",
            "LIN+1++5400000000001:EN", "QTY+12:2", "CPS+3+1", "LIN+2++5400000000002:EN", "QTY+12:1", "CNT+2:2"]
    assert schema_findings(order(body, mtype="DESADV:D:96A:UN")) == []


def test_invoic_summary_group_is_mandatory():
    body = ["BGM+380+I1+9", "DTM+137:20240115:102", "NAD+SU+1::9", "LIN+1++1:EN", "QTY+47:1", "UNS+S"]
    found = schema_findings(order(body, mtype="INVOIC:D:96A:UN"))
    assert [(f.code, f.segment_id) for f in found] == [("MANDATORY_GROUP_MISSING", "MOA")]
    body.append("MOA+79:100")
    assert schema_findings(order(body, mtype="INVOIC:D:96A:UN")) == []


def test_aperak():
    body = ["BGM+27+APERAK002+7", "DTM+137:20250322:102", "RFF+ACW:PO123456", "ERC+12", "FTX+AAI+++Rejected"]
    assert schema_findings(order(body, mtype="APERAK:D:96A:UN")) == []


def test_fast_path_still_reports_problems():
    """A message whose structure and most segments were seen valid before still has its new errors reported."""
    v = EdifactValidator()
    good = read_document(order(GOOD)).messages[0]
    assert v.validate(good) == [] and v.validate(good) == []
    bad_body = GOOD.copy()
    bad_body[bad_body.index("QTY+21:10")] = "QTY+21:1x"
    bad = read_document(order(bad_body)).messages[0]
    found = v.validate(bad)
    assert [(f.code, f.segment, f.element, f.component, f.loop_id) for f in found] == [
        ("INVALID_CHARACTER_TYPE", 10, 1, 2, "SG25")]
    assert [(f.code, f.segment) for f in v.validate(bad)] == [("INVALID_CHARACTER_TYPE", 10)]
    missing = GOOD.copy()
    missing[missing.index("NAD+BY+5412345000013::9")] = "NAD"
    assert [f.code for f in v.validate(read_document(order(missing)).messages[0])] == ["MANDATORY_ELEMENT_MISSING"]
    trailing = GOOD.copy()
    trailing[trailing.index("CUX+2:EUR:9")] = "CUX+2:EUR:9+"
    assert [f.code for f in v.validate(read_document(order(trailing)).messages[0])] == ["TRAILING_SEPARATOR"]
