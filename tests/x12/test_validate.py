"""The X12 schema validator: one hand-written fixture per finding code, HL rules, the corpus.

Fixtures are small interchanges written here; the corpus tests pin the exact
set of finding codes per public sample (several samples really are
defective: each expectation says why).
"""

from __future__ import annotations

import copy

import pytest

from hub.edi.x12 import read_document
from hub.edi.x12.schema import checkers_for, resolve_version, schema_for
from hub.edi.x12.validate import X12Validator, segment_problems
from tests.conftest import corpus_path

# ------------------------------------------------------------------ helpers


def interchange(
    segments: list[str],
    *,
    gs08: str = "004010",
    isa12: str = "00401",
    isa11: str = "U",
    comp: str = ">",
    gs01: str = "PO",
) -> bytes:
    """An interchange around one transaction set (``segments`` from ST to SE; SE01 is recomputed)."""
    body = list(segments)
    if body and body[-1].startswith("SE*"):
        control = body[-1].split("*")[2]
        body[-1] = f"SE*{len(body)}*{control}"
    isa = (
        f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{'SENDER':<15}*ZZ*{'RECEIVER':<15}*240101*1200*{isa11}*{isa12}"
        f"*000000001*0*P*{comp}"
    )
    gs = f"GS*{gs01}*SENDER*RECEIVER*20240101*1200*1*X*{gs08}"
    text = "~\n".join([isa, gs, *body, "GE*1*1", "IEA*1*000000001"]) + "~\n"
    return text.encode("latin-1")


def findings_of(segments: list[str], validator: X12Validator | None = None, **kw):
    doc = read_document(interchange(segments, **kw))
    assert len(doc.transactions) == 1
    return (validator or X12Validator()).validate(doc.transactions[0])


PO = [
    "ST*850*0001",
    "BEG*00*SA*PO123**20240115",
    "REF*DP*038",
    "DTM*002*20240201",
    "N1*ST*STORE 1*92*0001",
    "N3*1 MAIN ST",
    "N4*CITY*OH*44139",
    "PO1*1*10*EA*9.25*PE*UP*123456789012",
    "PID*F****WIDGET",
    "CTT*1",
    "SE*11*0001",
]


def po(*changes: tuple[int, str | None], insert: dict[int, list[str]] | None = None) -> list[str]:
    """PO with segment ``i`` (0 = ST) replaced (``None`` drops it) and segments inserted before index ``i``."""
    out: list[str] = []
    repl = dict(changes)
    for i, seg in enumerate(PO):
        out.extend((insert or {}).get(i, []))
        if i in repl:
            if repl[i] is not None:
                out.append(repl[i])
        else:
            out.append(seg)
    return out


def one(findings, code):
    hits = [f for f in findings if f.code == code]
    assert len(hits) == 1, [(f.code, f.message) for f in findings]
    return hits[0]


def codes(findings):
    return sorted(f.code for f in findings)


# ------------------------------------------------------------------ clean input


def test_clean_purchase_order_has_no_finding():
    assert findings_of(PO) == []


def test_validate_does_not_change_the_transaction():
    doc = read_document(interchange(po((2, "BEG*00*SA*" + "X" * 30 + "**20240230"))))
    tx = doc.transactions[0]
    before = copy.deepcopy(tx.segments)
    assert X12Validator().validate(tx)
    assert tx.segments == before
    assert tx.findings == [] or all(f.layer != "schema" for f in tx.findings)


def test_every_finding_carries_position_and_ack_fields():
    found = findings_of(po((2, "BEG*00*SA*" + "X" * 25 + "**20240115"), insert={3: ["ZZZ*1"]}))
    for f in found:
        assert f.layer == "schema"
        assert (f.interchange, f.group, f.transaction) == (0, 0, 0)
        assert f.segment is not None and f.segment_id
        assert f.ack_level in ("segment", "element")
        assert f.ack_code
        assert f.code.isupper()


# ------------------------------------------------------------------ segment level (997 AK304)


def test_segment_unrecognized():
    f = one(findings_of(po(insert={3: ["ZZZ*1"]})), "SEGMENT_UNRECOGNIZED")
    assert (f.ack_level, f.ack_code, f.segment, f.segment_id) == ("segment", "1", 4, "ZZZ")


def test_segment_not_in_set():
    f = one(findings_of(po(insert={3: ["CLM*1*100"]})), "SEGMENT_NOT_IN_SET")
    assert (f.ack_code, f.segment, f.segment_id) == ("6", 4, "CLM")


def test_segment_out_of_order():
    f = one(findings_of(po(insert={4: ["CUR*BY*USD"]})), "SEGMENT_OUT_OF_ORDER")  # CUR belongs before DTM
    assert (f.ack_code, f.segment, f.segment_id) == ("7", 5, "CUR")


def test_segment_unexpected():
    f = one(findings_of(po(insert={7: ["SLN*1**I"]})), "SEGMENT_UNEXPECTED")  # SLN only inside a PO1 loop
    assert (f.ack_code, f.segment, f.segment_id) == ("2", 8, "SLN")


def test_mandatory_segment_missing():
    f = one(findings_of(po((1, None))), "SEGMENT_MISSING")
    assert (f.ack_code, f.segment, f.segment_id, f.loop_id) == ("3", 2, "BEG", None)


def test_mandatory_loop_missing():
    f = one(findings_of(po((7, None), (8, None))), "SEGMENT_MISSING")
    assert (f.ack_code, f.segment, f.segment_id, f.loop_id) == ("3", 8, "PO1", "PO1")


def test_loop_over_maximum():
    f = one(findings_of(po(insert={10: ["CTT*1"]})), "LOOP_OVER_MAX")  # the CTT loop occurs once
    assert (f.ack_code, f.segment, f.segment_id, f.loop_id) == ("4", 11, "CTT", "CTT")


def test_segment_over_maximum_use():
    f = one(findings_of(po(insert={2: ["BEG*00*SA*PO124**20240115"]})), "SEGMENT_OVER_MAX_USE")
    assert (f.ack_code, f.segment, f.segment_id) == ("5", 3, "BEG")


def test_missing_se_reports_mandatory_segments_still_missing():
    doc = read_document(interchange(["ST*850*0001", "BEG*00*SA*PO1**20240101"]))
    tx = doc.transactions[0]
    assert not tx.complete
    f = one(X12Validator().validate(tx), "SEGMENT_MISSING")
    assert (f.segment_id, f.loop_id) == ("PO1", "PO1")


def test_997_without_ak1_and_ak9():
    found = findings_of(["ST*997*0001", "SE*2*0001"], gs01="FA")
    assert [(f.code, f.segment_id, f.ack_code) for f in found] == [
        ("SEGMENT_MISSING", "AK1", "3"),
        ("SEGMENT_MISSING", "AK9", "3"),
    ]


# ------------------------------------------------------------------ element level (997 AK403)


def test_mandatory_element_missing():
    f = one(findings_of(po((1, "BEG*00*SA***20240115"))), "ELEMENT_MISSING")
    assert (f.ack_level, f.ack_code, f.segment, f.element, f.element_ref) == ("element", "1", 2, 3, "324")


def test_conditional_element_missing_pair():
    f = one(findings_of(po((7, "PO1*1*10*EA*9.25*PE*UP"))), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.ack_code, f.segment, f.element, f.element_ref, f.loop_id) == ("2", 8, 7, "234", "PO1")
    assert "P0607" in f.message
    ctx = f.extra["ctx"][0]
    assert ctx["name"] == "SITUATIONAL TRIGGER"
    assert (ctx["segment_id"], ctx["segment"], ctx["element"], ctx["element_ref"]) == ("PO1", 8, 6, "235")


def test_conditional_element_missing_required_one_of():
    f = one(findings_of(po((2, "REF*DP"))), "ELEMENT_CONDITIONAL_MISSING")  # R0203
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("2", 3, 2, "127")


def test_too_many_data_elements():
    f = one(findings_of(po((5, "N3*1 MAIN ST*SUITE 2*EXTRA"))), "TOO_MANY_ELEMENTS")
    assert (f.ack_code, f.segment, f.element, f.bad_value) == ("3", 6, 3, "EXTRA")


def test_element_too_short():
    f = one(findings_of(po((6, "N4*C*OH*44139"))), "ELEMENT_TOO_SHORT")
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("4", 7, 1, "19")


def test_element_too_long_message():
    f = one(findings_of(po((1, "BEG*00*SA*" + "X" * 25 + "**20240115"))), "ELEMENT_TOO_LONG")
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("5", 2, 3, "324")
    assert f.message.startswith("BEG03 (324)")
    assert "is 25 characters, at most 22 allowed" in f.message


def test_invalid_character_control():
    f = one(findings_of(po((5, "N3*1 MAIN\x01ST"))), "ELEMENT_INVALID_CHARACTER")
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("6", 6, 1, "166")


def test_numeric_types():
    # N0 has no decimal point; a leading minus is fine; N2 decimals are implied
    f = one(findings_of(po((9, "CTT*1.5"))), "ELEMENT_INVALID_CHARACTER")
    assert (f.segment, f.element, f.element_ref) == (10, 1, "354")
    assert findings_of(po((9, "CTT*-1"))) == []
    inv = [
        "ST*810*0001",
        "BIG*20240101*INV1",
        "IT1*1*1*EA*9.25",
        "TDS*12.50",
        "SE*5*0001",
    ]
    f = one(findings_of(inv, gs01="IN"), "ELEMENT_INVALID_CHARACTER")
    assert (f.segment_id, f.element, f.element_ref) == ("TDS", 1, "610")
    inv[3] = "TDS*-1250"
    assert findings_of(inv, gs01="IN") == []


def test_real_numbers():
    assert findings_of(po((7, "PO1*1*.5*EA*-9.25*PE*UP*123456789012"))) == []
    f = one(findings_of(po((7, "PO1*1*1.2.3*EA*9.25*PE*UP*123456789012"))), "ELEMENT_INVALID_CHARACTER")
    assert (f.element, f.element_ref) == (2, "330")
    # exponents: not in 004010, allowed in 005010
    one(findings_of(po((7, "PO1*1*1E3*EA*9.25*PE*UP*123456789012"))), "ELEMENT_INVALID_CHARACTER")
    assert findings_of(po((7, "PO1*1*1E3*EA*9.25*PE*UP*123456789012")), gs08="005010", isa12="00501") == []
    # the decimal point and the sign do not count towards the length
    assert findings_of(po((7, "PO1*1*-123456789012.345*EA*9.25*PE*UP*123456789012"))) == []


def test_invalid_code_value():
    f = one(findings_of(po((8, "PID*Z****WIDGET"))), "ELEMENT_INVALID_CODE")  # 349: F, S, X
    assert (f.severity, f.ack_code, f.segment, f.element, f.element_ref, f.bad_value) == (
        "error", "7", 9, 1, "349", "Z",
    )


def test_unknown_code_of_an_open_list_is_a_warning():
    f = one(findings_of(po((7, "PO1*1*10*QQ*9.25*PE*UP*123456789012"))), "ELEMENT_UNKNOWN_CODE")
    assert (f.severity, f.ack_code, f.element, f.element_ref) == ("warning", "7", 3, "355")
    quiet = X12Validator(open_codes_warn=False)
    assert findings_of(po((7, "PO1*1*10*QQ*9.25*PE*UP*123456789012")), quiet) == []


def test_malformed_value_of_an_open_list_is_an_error():
    found = findings_of(po((7, "PO1*1*10*EACH*9.25*PE*UP*123456789012")))
    assert codes(found) == ["ELEMENT_INVALID_CODE", "ELEMENT_TOO_LONG"]
    assert all(f.severity == "error" for f in found)


def test_invalid_date():
    f = one(findings_of(po((1, "BEG*00*SA*PO123**20240230"))), "ELEMENT_INVALID_DATE")
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("8", 2, 5, "373")
    f = one(findings_of(po((1, "BEG*00*SA*PO123**2024AB01"))), "ELEMENT_INVALID_DATE")
    assert findings_of(po((1, "BEG*00*SA*PO123**20240229"))) == []  # leap year
    f = one(findings_of(po((1, "BEG*00*SA*PO123**240115"))), "ELEMENT_TOO_SHORT")  # 373 is CCYYMMDD
    assert f.element == 5


def test_invalid_time():
    f = one(findings_of(po((3, "DTM*002*20240201*2560"))), "ELEMENT_INVALID_TIME")
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("9", 4, 3, "337")
    assert findings_of(po((3, "DTM*002*20240201*235959"))) == []
    assert findings_of(po((3, "DTM*002*20240201*23595999"))) == []
    one(findings_of(po((3, "DTM*002*20240201*236061"))), "ELEMENT_INVALID_TIME")


def test_exclusion_condition():
    f = one(findings_of(po(insert={4: ["TD3*TL*********TRLR"]})), "ELEMENT_EXCLUSION")  # E0110
    assert (f.ack_code, f.segment, f.element, f.element_ref) == ("10", 5, 10, "24")
    assert f.extra["ctx"][0]["element"] == 1


def test_component_separator_in_a_simple_element():
    f = one(findings_of(po((5, "N3*1 MAIN>ST"))), "TOO_MANY_COMPONENTS")
    assert (f.ack_code, f.extra["ik"], f.segment, f.element, f.component) == ("3", "13", 6, 1, 2)


def test_too_many_components_in_a_composite():
    f = one(findings_of(po((2, "REF*DP*038**VN>1>PO>2>IA>3>XX"))), "TOO_MANY_COMPONENTS")
    assert (f.element, f.component, f.element_ref, f.extra["ik"]) == (4, 7, "C040", "13")
    assert findings_of(po((2, "REF*DP*038**VN>1>PO>2"))) == []


def test_composite_component_problems():
    f = one(findings_of(po((2, "REF*DP*038**VN"))), "ELEMENT_MISSING")  # C04002 is mandatory
    assert (f.element, f.component, f.element_ref) == (4, 2, "127")
    f = one(findings_of(po((2, "REF*DP*038**VN>1>PO"))), "ELEMENT_CONDITIONAL_MISSING")  # P0304 in C040
    assert (f.element, f.component, f.element_ref) == (4, 4, "127")


def test_repetition_where_not_allowed():
    kw = {"gs08": "005010", "isa12": "00501", "isa11": "^"}
    f = one(findings_of(po((5, "N3*1 MAIN ST^2 MAIN ST")), **kw), "TOO_MANY_REPETITIONS")
    assert (f.ack_code, f.extra["ik"], f.segment, f.element, f.repetition) == ("3", "12", 6, 1, 2)
    # without a repetition separator (ISA11 U) the character is data
    assert findings_of(po((5, "N3*1 MAIN ST^2 MAIN ST"))) == []


def test_repetitions_allowed_in_999_ctx():
    ack = [
        "ST*999*0001*005010X231A1",
        "AK1*PO*1*004010",
        "AK2*850*0001",
        "IK3*PO1*8*PO1*8",
        "CTX*SITUATIONAL TRIGGER^PO1>1*PO1*8**6",
        "IK4*7*234*2",
        "IK5*R*5",
        "AK9*R*1*1*0",
        "SE*9*0001",
    ]
    kw = {"gs08": "005010X231A1", "isa12": "00501", "isa11": "^", "gs01": "FA"}
    assert findings_of(ack, **kw) == []
    ack[4] = "CTX*" + "^".join(["A"] * 11) + "*PO1*8"
    f = one(findings_of(ack, **kw), "TOO_MANY_REPETITIONS")
    assert (f.element, f.repetition) == (1, 11)


# ------------------------------------------------------------------ schema corrections (004010 structures)


def test_850_ls_le_bounded_ldt_loop():
    ls = ["LS*A", "LDT*AA*5*DA", "QTY*01*5", "LE*A"]
    assert findings_of(po(insert={9: ls})) == []
    f = one(findings_of(po(insert={9: ["LS*A", "LDT*AA*5*DA"]})), "SEGMENT_MISSING")  # LE closes the bound
    assert (f.segment_id, f.loop_id) == ("LE", "LS")


def test_850_header_lm_loop_lq_repeats_without_nte():
    assert findings_of(po(insert={7: ["LM*VI", "LQ*0*A", "LQ*0*B"]})) == []  # after the N1 loop


def test_850_po1_n1_loop_ends_with_ldt_loop():
    assert findings_of(po(insert={9: ["N1*ST*STORE 2", "LDT*AA*5*DA", "QTY*01*5"]})) == []


def test_855_ack_loop_takes_a_dtm():
    ack = [
        "ST*855*0001",
        "BAK*00*AC*PO123*20240115",
        "PO1*1*10*EA*9.25*PE*UP*123456789012",
        "ACK*IA*10*EA*068*20240120",
        "DTM*067*20240121",
        "ACK*IB*5*EA",
        "CTT*1",
        "SE*8*0001",
    ]
    assert findings_of(ack, gs01="PR") == []
    ack[3] = "ACK*IA*10*EA*068"  # C0405: ACK04 needs ACK05
    f = one(findings_of(ack, gs01="PR"), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.segment_id, f.element, f.element_ref) == ("ACK", 5, "373")


def test_qty_and_po3_elements_are_checked():
    f = one(findings_of(po(insert={8: ["PO3*PQ**CAT*1.5**10*EA", "QTY*01"]})), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.segment_id, f.element_ref) == ("QTY", "380")  # R0204
    f = one(findings_of(po(insert={8: ["PO3*PQ***1.5**10*EA"]})), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.segment_id, f.element) == ("PO3", 3)  # L040305: a unit price needs PO303 or PO305
    assert findings_of(po(insert={8: ["PO3*PQ**CAT*1.5**10*EA"]})) == []


def test_csh_agency_qualifier_and_special_services_pair():
    assert findings_of(po(insert={3: ["CSH*SC*****VI*X1"]})) == []  # CSH06 559 / CSH07 560 (P0607)
    f = one(findings_of(po(insert={3: ["CSH*******X1"]})), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.segment_id, f.element, f.element_ref) == ("CSH", 6, "559")


def test_810_it3_elements_are_checked():
    inv = ["ST*810*0001", "BIG*20240101*INV1", "IT1*1*1*EA*9.25", "IT3*2", "TDS*925", "SE*6*0001"]
    f = one(findings_of(inv, gs01="IN"), "ELEMENT_CONDITIONAL_MISSING")
    assert (f.segment_id, f.element, f.element_ref) == ("IT3", 2, "355")  # P0102
    inv[3] = "IT3*2*CA"
    assert findings_of(inv, gs01="IN") == []



def test_beg_has_twelve_elements_in_004010():
    # 004010 BEG ends with BEG11 (786 Security Level Code) and BEG12 (640 Transaction Type Code).
    assert findings_of(po((1, "BEG*00*SA*PO1**20240115******01*DR"))) == []
    f = one(findings_of(po((1, "BEG*00*SA*PO1**20240115******01*DR*X"))), "TOO_MANY_ELEMENTS")
    assert (f.segment, f.element) == (2, 13)
    f = one(findings_of(po((1, "BEG*00*SA*PO1**20240115*******D"))), "ELEMENT_TOO_SHORT")
    assert (f.element, f.element_ref) == (12, "640")


def test_iss_has_eight_elements_in_004010():
    # 004010 ISS07 (380 Quantity) and ISS08 (81 Weight) follow the three quantity/unit pairs.
    inv = ["ST*810*0001", "BIG*20240101*INV1", "IT1*1*1*EA*9.25", "TDS*925", "ISS*1*CA*****5*12.5", "SE*6*0001"]
    assert findings_of(inv, gs01="IN") == []
    inv[4] = "ISS*1*CA*****5*12.5*X"
    f = one(findings_of(inv, gs01="IN"), "TOO_MANY_ELEMENTS")
    assert (f.segment_id, f.element) == ("ISS", 9)


# ------------------------------------------------------------------ HL hierarchy (856)

ASN = [
    "ST*856*0001",
    "BSN*00*SHIP1*20240101*1200",
    "HL*1**S",
    "TD1*CTN*2",
    "HL*2*1*O",
    "PRF*PO123",
    "HL*3*2*T",
    "HL*4*3*P",
    "MAN*GM*00000123456789012345",
    "HL*5*4*I",
    "LIN**UP*123456789012",
    "SN1**10*EA",
    "HL*6*2*I",
    "LIN**UP*123456789029",
    "SN1**5*EA",
    "CTT*6",
    "SE*17*0001",
]


def asn(*changes: tuple[int, str]) -> list[str]:
    out = list(ASN)
    for i, seg in changes:
        out[i] = seg
    return out


def test_clean_ship_notice():
    assert findings_of(ASN, gs01="SH") == []


def _shift_hl(seg: str) -> str:
    if not seg.startswith("HL*"):
        return seg
    _, hid, parent, level = seg.split("*")
    return f"HL*{int(hid) + 1}*{int(parent) + 1 if parent else ''}*{level}"


def test_hl_ids_start_at_one():
    found = findings_of([_shift_hl(s) for s in ASN], gs01="SH")  # 2, 3, 4 ...: consistent, but not from 1
    f = one(found, "HL_ID_SEQUENCE")
    assert (f.segment, f.element, f.element_ref, f.ack_level, f.bad_value) == (3, 1, "628", "element", "2")
    assert len(found) == 1


def test_hl_ids_unique_and_increasing():
    f = one(findings_of(asn((6, "HL*2*2*T")), gs01="SH"), "HL_ID_SEQUENCE")  # duplicate 2
    assert (f.segment, f.element, f.bad_value) == (7, 1, "2")
    found = findings_of(asn((12, "HL*4*2*I")), gs01="SH")  # 4 again, after 5
    assert one(found, "HL_ID_SEQUENCE").segment == 13


def test_hl_parent_must_be_an_earlier_hl():
    f = one(findings_of(asn((4, "HL*2*9*O")), gs01="SH"), "HL_PARENT_UNKNOWN")
    assert (f.segment, f.element, f.element_ref, f.bad_value) == (5, 2, "734", "9")


def test_hl_parent_missing_below_the_top_level():
    f = one(findings_of(asn((4, "HL*2**O")), gs01="SH"), "HL_PARENT_MISSING")
    assert (f.segment, f.element, f.element_ref, f.ack_code) == (5, 2, "734", "2")


def test_hl_child_level_below_parent_level():
    f = one(findings_of(asn((6, "HL*3*4*T")), gs01="SH"), "HL_PARENT_UNKNOWN")  # 4 comes later
    assert f.segment == 7
    f = one(findings_of(asn((12, "HL*6*5*I")), gs01="SH"), "HL_LEVEL_ORDER")  # item under item
    assert (f.segment, f.element, f.element_ref, f.bad_value) == (13, 3, "735", "I")
    assert f.extra["parent"] == {"id": "5", "level": "I", "segment": 10}
    assert f.extra["ctx"][0] == {"name": "HL01", "reference": "5"}
    f = one(findings_of(asn((6, "HL*3*2*S")), gs01="SH"), "HL_LEVEL_ORDER")  # shipment under order
    assert f.segment == 7


def test_hl_optional_levels():
    # tare and pack are optional: item under order, pack under order, item under tare are fine
    segs = [
        "ST*856*0001",
        "BSN*00*SHIP1*20240101*1200",
        "HL*1**S",
        "HL*2*1*O",
        "HL*3*2*I",
        "HL*4*2*P",
        "HL*5*4*I",
        "HL*6*2*T",
        "HL*7*6*I",
        "SE*10*0001",
    ]
    assert findings_of(segs, gs01="SH") == []
    segs[5] = "HL*4*3*P"  # pack under item
    f = one(findings_of(segs, gs01="SH"), "HL_LEVEL_ORDER")
    assert (f.segment, f.bad_value, f.extra["parent"]["level"]) == (6, "P", "I")
    segs[5] = "HL*4*2*Q"  # an unranked level is not ordered (735 is an open list: a warning only)
    assert codes(findings_of(segs, gs01="SH")) == ["ELEMENT_UNKNOWN_CODE"]


# ------------------------------------------------------------------ other sets, versions, TA1


def test_set_without_schema_gets_syntax_checks_only():
    segs = ["ST*830*0001", "BFR*00**1*DL*A*20240101*20241231*20240101", "bad*1", "LIN**BP*A\x02B", "SE*5*0001"]
    found = findings_of(segs, gs01="PS")
    assert [(f.code, f.layer, f.segment, f.element) for f in found] == [
        ("SEGMENT_TAG_INVALID", "syntax", 3, None),
        ("ELEMENT_CONTROL_CHARACTER", "syntax", 4, 3),
    ]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("004010", "004010"),
        ("004010VICS", "004010"),
        ("004010UCS", "004010"),
        ("004030VICS", "004010"),
        ("004060", "004010"),
        ("003040", "004010"),
        ("002040", "004010"),
        ("00401", "004010"),
        ("005010", "005010"),
        ("005010X222A1", "005010"),
        ("005010X231", "005010"),
        ("00501", "005010"),
        ("006020", "005010"),
        ("008020", "005010"),
        ("", "004010"),
        ("garbage", "004010"),
    ],
)
def test_version_mapping(version, expected):
    assert resolve_version(version) == expected


def test_schema_for():
    assert schema_for("850", "004010VICS").version == "004010"
    assert schema_for("850", "005010").version == "005010"
    assert schema_for("850", "005010").dictionary.version == "005010"
    assert schema_for("999", "004010").version == "005010"  # only 005010 exists
    assert schema_for("830", "004010") is None
    assert X12Validator().schema_for("856", "004060").id == "856"


def test_st03_governs_the_version():
    # GS08 says 004010 but ST03 names a 005010 guide: 005010 rules (REF02 up to 50 characters)
    segs = po((2, "REF*DP*" + "X" * 40))
    one(findings_of(segs), "ELEMENT_TOO_LONG")
    segs[0] = "ST*850*0001*005010"
    assert findings_of(segs) == []


def test_ta1():
    doc = read_document(interchange(["ST*850*0001", *PO[1:]]).replace(b"GS*", b"TA1*17456*240230*1200*A*000~\nGS*", 1))
    ic = doc.interchanges[0]
    assert len(ic.ta1s) == 1
    found = X12Validator().validate_ta1s(ic)
    assert codes(found) == ["ELEMENT_INVALID_DATE", "ELEMENT_TOO_SHORT"]
    assert {(f.element, f.element_ref) for f in found} == {(1, "I12"), (2, "I08")}
    assert X12Validator().validate_ta1(["TA1", "000000001", "240101", "1200", "R", "015"]) == []
    one(X12Validator().validate_ta1(["TA1", "000000001", "240101", "1200", "Q", "015"]), "ELEMENT_INVALID_CODE")


# ------------------------------------------------------------------ fast path == slow path

FAST_CASES = [
    po((1, "BEG*00*SA*" + "X" * 25 + "**20240115")),
    po((7, "PO1*1*10*EA*9.25*PE*UP")),
    po((5, "N3*1 MAIN>ST")),
    po((2, "REF*DP*038**VN>1>PO>2")),
    po((9, "CTT*1.5")),
    PO,
]


def _corpus_transactions():
    for sub in ("810", "850", "855", "856", "997", "999", "ta1", "malformed"):
        for path in sorted(corpus_path("x12", sub).iterdir()):
            yield from read_document(path).transactions


def _agree(transactions):
    checked = 0
    for tx in transactions:
        schema = schema_for(tx.type, tx.version)
        if schema is None:
            continue
        d = tx.delimiters
        ck = checkers_for(schema.dictionary.version, d.component, d.repetition)
        for seg in tx.segments:
            sd = ck.dictionary.segments.get(seg[0])
            if sd is None or seg[0] in ("ST", "SE"):
                continue
            fast = ck.function(seg[0], len(seg))(seg)
            slow = segment_problems(sd, seg, d.component, d.repetition, ck.dictionary.real_exponent)
            assert fast == (not slow), (seg, slow)
            checked += 1
    return checked


def test_fast_checkers_agree_with_the_slow_path_on_fixtures():
    assert _agree(read_document(interchange(segs)).transactions[0] for segs in FAST_CASES) > 40


@pytest.mark.corpus
def test_fast_checkers_agree_with_the_slow_path_on_the_corpus():
    assert _agree(_corpus_transactions()) > 500


def test_remembered_shapes_give_the_same_findings():
    texts = [interchange(s) for s in (*FAST_CASES, *FAST_CASES, *FAST_CASES)]
    v = X12Validator()
    for text in texts:
        tx = read_document(text).transactions[0]
        assert [f.to_dict() for f in v.validate(tx)] == [f.to_dict() for f in X12Validator().validate(tx)]


# ------------------------------------------------------------------ the shared corpus

W = "ELEMENT_UNKNOWN_CODE"  # warning: value missing from an open (incomplete) code list

# file -> (error codes, warning codes), with the reason for each error
CORPUS = {
    "810/bots_810_4010_2sets_crlf.x12": ((), (W,)),
    # IT1 lines without unit price: IT102/IT103/IT104 are paired (P020304)
    "810/bots_810_4010_outbound_2sets_6kb.x12": (("ELEMENT_CONDITIONAL_MISSING",), (W,)),
    "810/bots_810_4030VICS.x12": ((), ()),
    # TXI04 "noval" (955 is ID 2/2) and TXI05 "Customer VAT Number" (956 is AN 1/10)
    "810/edifabric_810_2040_crlf.txt": (("ELEMENT_TOO_LONG",), (W,)),
    "810/edinet_810_4010_unpadded-isa_bom_indented.edi": ((), (W,)),
    "850/bots_850_4010VICS_del-0x7f-element-sep_nak-0x15-terminator_42kb.x12": ((), (W,)),
    "850/bots_850_4010_3interchanges_crlf.x12": ((), ()),
    "850/bots_850_4010_cr-terminator.x12": ((), ()),
    "850/bots_850_4010_isa00300_2groups_4sets_plus-subsep.x12": ((), (W,)),
    "850/bots_850_4010_isa00302_newline-terminator_at-subsep.x12": ((), (W,)),
    "850/bots_850_4010_pipe-element-sep_4sets.x12": ((), ()),
    "850/bots_850_4010_plain.x12": ((), (W,)),
    "850/bots_850_4010_tilde-element-sep_newline-terminator.x12": ((), (W,)),
    # DTM*037*19980205***19: DTM05 (a 003040-style century) without DTM06 (P0506)
    "850/bots_850_4010_wrapped80col_lf.x12": (("ELEMENT_CONDITIONAL_MISSING",), (W,)),
    "850/bots_850_ebcdic_encoded.x12": ((), ()),
    # N4*City*State*64116*US: N402 (156) is ID 2/2
    "850/edinet_850_4010_nbsp-padded-isa_bom_indented.edi": (("ELEMENT_TOO_LONG",), (W,)),
    "850/nodex12_850_4010VICS_2interchanges.edi": ((), (W,)),
    # 008020 is read with the 005010 schema, the closest we have: REF02 is 55 characters, 005010 allows 50
    "850/stedi_850_8020_one-segment-per-line.edi": (("ELEMENT_TOO_LONG",), (W,)),
    "855/bots_855_4010UCS_6sets_crlf.x12": ((), ()),
    "855/nodex12_855_4010.edi": ((), (W,)),
    "856/bots_856_4010_partner2_edifact-style-delimiters.x12": ((), (W,)),
    "856/bots_856_4010_retailer-inbound_crlf.x12": ((), ()),
    # ISA11 declares "-" as the repetition separator, yet REF02 "999999-001" and N403 "31139-0020" use it as data
    "856/nodex12_856_4060.edi": (("TOO_MANY_REPETITIONS",), (W,)),
    "997/bots_997_4010VICS_nak-terminator.x12": ((), ()),
    "997/bots_997_4010_2sets_278-837-rejections.x12": ((), ()),
    "997/bots_997_4010_generated_4sets.x12": ((), ()),
    "997/bots_997_4010_rejected_ak3-ak4-errors.x12": ((), ()),
    "997/bots_997_5010X222A1_generated.x12": ((), ()),
    "997/staedi_997_5010.edi": ((), ()),
    "997/staedi_997_5010_3interchanges.edi": ((), ()),
    "999/imsweb_999_5010X231A1_accepted.txt": ((), ()),
    "999/pyx12_999_5010X231_2groups_4sets.txt": ((), ()),
    "999/staedi_999_5010X231_ik3-ik4-ctx.edi": ((), ()),
    "ta1/bots_ta1_4010_reject-015_standalone.x12": ((), ()),
    "ta1/bots_ta1_plus_997_4010_rejected.x12": ((), ()),
    # the 810 inside has the TXI defects above; TA101 "17456" is not 9 digits
    "ta1/edifabric_ta1_plus_810_2040.txt": (("ELEMENT_TOO_LONG", "ELEMENT_TOO_SHORT"), (W,)),
    "ta1/staedi_ta1_5010_standalone.txt": ((), ()),
}


def _validate_file(name: str):
    doc = read_document(corpus_path("x12", name))
    v = X12Validator()
    found = []
    for tx in doc.transactions:
        found.extend(v.validate(tx))
    for ic in doc.interchanges:
        found.extend(v.validate_ta1s(ic))
    return doc, found


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS), ids=sorted(CORPUS))
def test_corpus_finding_codes(name):
    _, found = _validate_file(name)
    errors = tuple(sorted({f.code for f in found if f.severity == "error"}))
    warnings = tuple(sorted({f.code for f in found if f.severity == "warning"}))
    assert (errors, warnings) == CORPUS[name], [f.message for f in found if f.severity == "error"]


@pytest.mark.corpus
def test_corpus_expectations_cover_every_valid_file():
    on_disk = {
        str(p.relative_to(corpus_path("x12")))
        for sub in ("810", "850", "855", "856", "997", "999", "ta1")
        for p in corpus_path("x12", sub).iterdir()
    }
    assert on_disk == set(CORPUS)


def _at(found, code):
    return sorted((f.segment, f.segment_id, f.element, f.element_ref, f.ack_code) for f in found if f.code == code)


@pytest.mark.corpus
def test_malformed_997_invalid_codes_and_nonnumeric():
    _, found = _validate_file("malformed/staedi_997_invalid-codes-and-nonnumeric.edi")
    assert _at(found, "ELEMENT_INVALID_CODE") == [(2, "AK1", 1, "479", "7")]  # AK101 not in the code set
    assert _at(found, "ELEMENT_TOO_LONG") == [(2, "AK1", 1, "479", "5")]
    assert _at(found, "ELEMENT_INVALID_CHARACTER") == [(5, "AK4", 2, "725", "6")]  # AK402 not numeric
    assert {f.code for f in found} == {"ELEMENT_INVALID_CODE", "ELEMENT_TOO_LONG", "ELEMENT_INVALID_CHARACTER"}


@pytest.mark.corpus
def test_malformed_997_without_ak1_and_ak9():
    _, found = _validate_file("malformed/staedi_997_missing-ak1-ak9_version-mismatch.edi")
    assert _at(found, "SEGMENT_MISSING") == [(2, "AK1", None, None, "3"), (2, "AK9", None, None, "3")]
    assert {f.code for f in found} == {"SEGMENT_MISSING"}


@pytest.mark.corpus
def test_malformed_997_repetition_separators_where_not_allowed():
    _, found = _validate_file("malformed/staedi_997_repetition-seps-where-not-allowed.edi")
    assert [(s, t, e) for s, t, e, _, _ in _at(found, "TOO_MANY_REPETITIONS")] == [
        (4, "AK3", 2), (4, "AK3", 4), (5, "AK4", 4),
    ]
    assert all(f.extra["ik"] == "12" for f in found if f.code == "TOO_MANY_REPETITIONS")
    comps = [(f.segment, f.element, f.repetition) for f in found if f.code == "TOO_MANY_COMPONENTS"]
    assert (4, 2, 3) in comps and (5, 4, 1) in comps and (5, 4, 2) in comps
    assert {"ELEMENT_INVALID_CHARACTER", "ELEMENT_INVALID_CODE"} <= {f.code for f in found}


@pytest.mark.corpus
def test_malformed_999_wrong_order():
    doc, found = _validate_file("malformed/staedi_999_wrong-order_bad-se-count.edi")
    assert _at(found, "SEGMENT_UNEXPECTED") == [(2, "IK5", None, None, "2")]  # IK5 before AK1
    assert _at(found, "ELEMENT_TOO_LONG") == [(3, "AK1", 1, "479", "5")]  # "HC   "
    assert _at(found, "TOO_MANY_ELEMENTS") == [(4, "AK2", 4, None, "3")]  # AK2*837*0001*X*Y*Z
    assert (5, "IK5", 1, "717", "7") in _at(found, "ELEMENT_INVALID_CODE")  # IK5*Q
    assert _at(found, "SEGMENT_OVER_MAX_USE") == [(6, "IK5", None, None, "5")]  # IK5 twice in one AK2 loop
    assert _at(found, "ELEMENT_INVALID_CHARACTER") == [(14, "CTX", 6, "725", "6")]  # C023 in CTX06
    assert any(f.code == "SE01_COUNT" for f in doc.findings)  # the count belongs to the reader
