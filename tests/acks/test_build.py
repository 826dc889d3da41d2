"""Building 997 / 999 / TA1 from hand-written inbound files and hand-made findings.

Every acknowledgment built here is read back with ``read_acks`` and checked by
pyx12 (``check_pyx12``), an independent validator.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest

import hub.acks.x12_build as build
from hub.acks.x12 import (
    ACCEPTED,
    ACCEPTED_WITH_ERRORS,
    PARTIALLY_ACCEPTED,
    REJECTED,
    DerivedControlNumbers,
    SequentialControlNumbers,
    acknowledge,
    read_acks,
)
from hub.edi.core import WARNING
from tests.acks import samples as s

WHEN = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)


def ack(data: bytes, **kw):
    kw.setdefault("when", WHEN)
    kw.setdefault("validate", False)  # statuses here come from envelope and hand-made findings only
    return acknowledge(data, **kw)


def segments(result) -> list[list[str]]:
    text = result.data.decode(result.encoding)
    return [line.rstrip("~").split("*") for line in text.splitlines() if line]


def tags(result, tag: str) -> list[list[str]]:
    return [seg for seg in segments(result) if seg[0] == tag]


def only(result, tag: str) -> list[str]:
    found = tags(result, tag)
    assert len(found) == 1, f"{len(found)} {tag} segments in\n{result.data.decode(result.encoding)}"
    return found[0]


def read_back(result):
    reports = read_acks(result.data)
    assert not [f for f in reports.findings if f.is_error], [f.message for f in reports.findings]
    return reports


# ------------------------------------------------------------------ 997


def test_clean_file_is_accepted(check_pyx12):
    r = ack(s.po_file())
    assert only(r, "AK1") == ["AK1", "PO", "1001"]
    assert only(r, "AK2") == ["AK2", "850", "0001"]
    assert only(r, "AK5") == ["AK5", "A"]
    assert only(r, "AK9") == ["AK9", "A", "1", "1", "1"]
    assert not tags(r, "TA1")
    check_pyx12(r)
    [report] = read_back(r)
    assert report.kind == "997" and report.status == ACCEPTED
    assert (report.functional_id, report.group_control_number) == ("PO", "1001")
    assert [(x.type, x.control_number, x.status) for x in report.sets] == [("850", "0001", ACCEPTED)]
    assert r.describe() == "997 A for group PO 1001 of interchange 000000101: 1 of 1 set(s) accepted"


def test_envelope_of_the_ack_swaps_sender_and_receiver():
    r = ack(s.po_file(sender="PARTNER", receiver="HUB", q_sender="01", q_receiver="ZZ", usage="T"))
    isa = only(r, "ISA")
    assert (isa[5], isa[6].strip(), isa[7], isa[8].strip()) == ("ZZ", "HUB", "01", "PARTNER")
    assert isa[9:11] == ["240506", "0708"]
    assert isa[11:13] == ["U", "00401"]  # ISA12 from the inbound interchange
    assert isa[13] == "000000101"  # default: derived from the inbound ISA13
    assert isa[14:17] == ["0", "T", ">"]
    gs = only(r, "GS")
    assert gs[1:4] == ["FA", "HUBGS", "SENDERGS"]
    assert gs[4:9] == ["20240506", "0708", "1001", "X", "004010"]
    assert only(r, "ST") == ["ST", "997", "0001"]
    assert only(r, "SE") == ["SE", "6", "0001"]
    assert only(r, "GE") == ["GE", "1", "1001"]
    assert only(r, "IEA") == ["IEA", "1", "000000101"]


def test_se_count_wrong_rejects_the_set(check_pyx12):
    data = s.interchange([s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY, count=99)])]).encode()
    r = ack(data)
    assert only(r, "AK5") == ["AK5", "R", "4"]
    assert only(r, "AK9") == ["AK9", "R", "1", "1", "0"]
    check_pyx12(r)
    [report] = read_back(r)
    assert report.status == REJECTED
    assert report.sets[0].status == REJECTED
    assert [(e.code, e.meaning) for e in report.sets[0].errors] == [
        ("4", "Number of Included Segments Does Not Match Actual Count")
    ]


def test_se02_mismatch_and_missing_se(check_pyx12):
    sets = [
        s.tx("850", "0001", s.PO_BODY, se_control="0009"),
        s.tx("850", "0002", s.PO_BODY, se=False),
        s.tx("850", "0003", s.PO_BODY),
    ]
    r = ack(s.interchange([s.group("PO", "1001", "004010", sets)]).encode())
    assert tags(r, "AK5") == [["AK5", "R", "3"], ["AK5", "R", "2"], ["AK5", "A"]]
    assert only(r, "AK9") == ["AK9", "P", "3", "3", "1"]
    check_pyx12(r)
    [report] = read_back(r)
    assert report.status == PARTIALLY_ACCEPTED
    assert (report.included, report.received, report.accepted) == (3, 3, 1)


def test_duplicate_st02(check_pyx12):
    sets = [s.tx("850", "0001", s.PO_BODY), s.tx("850", "0001", s.PO_BODY)]
    r = ack(s.interchange([s.group("PO", "1001", "004010", sets)]).encode())
    assert tags(r, "AK2") == [["AK2", "850", "0001"], ["AK2", "850", "0001"]]
    assert tags(r, "AK5") == [["AK5", "A"], ["AK5", "R", "23"]]
    assert only(r, "AK9") == ["AK9", "P", "2", "2", "1"]
    check_pyx12(r)
    [report] = read_back(r)
    assert report.sets[1].errors[0].meaning == "Transaction Set Control Number Not Unique within the Functional Group"


def test_missing_ge_rejects_the_group(check_pyx12):
    r = ack(s.interchange([s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)], ge=False)]).encode())
    assert only(r, "AK5") == ["AK5", "A"]  # the set itself is fine
    assert only(r, "AK9") == ["AK9", "R", "1", "1", "0", "3"]
    assert not tags(r, "TA1")  # the interchange envelope is intact
    check_pyx12(r)
    [report] = read_back(r)
    assert report.status == REJECTED
    assert [(e.code, e.meaning) for e in report.errors] == [("3", "Functional Group Trailer Missing")]


def test_ge_count_and_control_number(check_pyx12):
    grp = s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)], ge_count=2, ge_control="1002")
    r = ack(s.interchange([grp]).encode())
    assert only(r, "AK9") == ["AK9", "R", "2", "1", "0", "4", "5"]  # AK902 = GE01 as sent, AK903 = received
    check_pyx12(r)


def test_duplicate_gs06_has_no_004010_code(check_pyx12):
    groups = [s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)]) for _ in range(2)]
    r = ack(s.interchange(groups).encode())
    # 19 (control number not unique) only exists from 005010 on: the 997 rejects without a code
    assert tags(r, "AK9") == [["AK9", "A", "1", "1", "1"], ["AK9", "R", "1", "1", "0"]]
    assert only(r, "GE") == ["GE", "2", "1001"]  # both 997s in one FA group
    check_pyx12(r)


def test_element_and_segment_findings_in_a_997(check_pyx12):
    findings = {
        "0001": [
            s.element_finding(2, "BEG", 2, "7", ref="92", bad="S*~>A"),  # delimiters dropped from the copy
            s.element_finding(3, "N1", 4, "1", ref="66", loop_id="N1"),
            s.segment_finding(3, "N1", "2", loop_id="N1"),  # with the element error: AK304 2, not 8
            s.element_finding(4, "PO1", 2, "6", component=2, ref="330", bad="1\u00e90\x01"),
            s.segment_finding(9, "ZZZ", "1"),
        ]
    }
    r = ack(s.po_file(), validator=s.validator_of(findings))
    body = [seg for seg in segments(r) if seg[0] in ("AK3", "AK4", "AK5")]
    assert body == [
        ["AK3", "BEG", "2", "", "8"],
        ["AK4", "2", "92", "7", "SA"],
        ["AK3", "N1", "3", "N1", "2"],
        ["AK4", "4", "66", "1"],
        ["AK3", "PO1", "4", "", "8"],
        ["AK4", "2>2", "330", "6", "10"],
        ["AK3", "ZZZ", "9", "", "1"],
        ["AK5", "R", "5"],
    ]
    check_pyx12(r)
    [report] = read_back(r)
    [st] = report.sets
    assert st.status == REJECTED
    assert [(n.segment_id, n.position, n.code) for n in st.segments] == [
        ("BEG", 2, "8"), ("N1", 3, "2"), ("PO1", 4, "8"), ("ZZZ", 9, "1")
    ]
    po1 = st.segments[2].elements[0]
    assert (po1.element, po1.component, po1.element_ref, po1.code, po1.meaning) == (
        2, 2, "330", "6", "Invalid character in data element"
    )


def test_warnings_only_accept_with_errors_noted(check_pyx12):
    findings = {"0001": [s.element_finding(2, "BEG", 5, "8", ref="373", bad="20241301", severity=WARNING)]}
    r = ack(s.po_file(), validator=s.validator_of(findings))
    assert only(r, "AK5") == ["AK5", "E", "5"]
    assert only(r, "AK9") == ["AK9", "E", "1", "1", "1"]
    check_pyx12(r)
    [report] = read_back(r)
    assert report.status == ACCEPTED_WITH_ERRORS and report.ok
    assert report.sets[0].status == ACCEPTED_WITH_ERRORS
    assert report.sets[0].meaning == "Accepted But Errors Were Noted"


def test_implementation_codes_map_to_004010_in_a_997(check_pyx12):
    findings = {
        "0001": [
            s.segment_finding(3, "N1", "", ik="I4"),
            s.element_finding(2, "BEG", 3, "", ik="I12", bad="PO-1001"),
            s.element_finding(2, "BEG", 1, "12"),  # 005010 code: too many repetitions
            s.transaction_finding("", ik="I6"),
            s.transaction_finding("19"),  # no 004010 equivalent: left out
        ]
    }
    for f in findings["0001"]:
        f.ack_code = f.ack_code or None
    r = ack(s.po_file(), validator=s.validator_of(findings))
    body = [seg for seg in segments(r) if seg[0] in ("AK3", "AK4", "AK5")]
    assert body == [
        ["AK3", "BEG", "2", "", "8"],
        ["AK4", "1", "", "3"],
        ["AK4", "3", "", "6", "PO-1001"],
        ["AK3", "N1", "3", "", "2"],
        ["AK5", "R", "1", "5"],
    ]
    check_pyx12(r)


def test_hipaa_4010_claim_with_errors_passes_stock_pyx12(check_pyx12):
    findings = {
        "0002": [
            s.segment_finding(5, "CLM", "8", loop_id="2300"),
            s.element_finding(5, "CLM", 5, "7", component=2, ref="1332", bad="B"),
            s.element_finding(5, "CLM", 1, "4", ref="1028", bad="A"),
            s.segment_finding(7, "SV1", "3"),
        ]
    }
    r = ack(s.claim_4010(sets=2), validator=s.validator_of(findings))
    assert only(r, "AK1") == ["AK1", "HC", "3001"]
    assert tags(r, "AK5") == [["AK5", "A"], ["AK5", "R", "5"]]
    assert only(r, "AK9") == ["AK9", "P", "2", "2", "1"]
    check_pyx12(r, hipaa=True)


# ------------------------------------------------------------------ 999


CTX_TRIGGER = {"name": "SITUATIONAL TRIGGER", "segment_id": "CLM", "segment": 5, "loop_id": "2300", "element": 5,
               "component": 3, "element_ref": "1325"}
CTX_CLAIM = {"name": "CLM01", "reference": "A37YH556"}


def test_999_from_hand_made_findings(check_pyx12):
    findings = {
        "0001": [
            s.segment_finding(4, "NM1", "8", loop_id="2010", ctx=[CTX_CLAIM]),
            s.element_finding(4, "NM1", 9, "5", ref="67", bad="1234567890123456789012345678901234567890XX",
                              ik="I12", ctx=[CTX_TRIGGER]),
            s.element_finding(6, "CLM", 5, "7", component=1, ref="1331", bad="11"),
            s.element_finding(6, "CLM", 7, "12", repetition=2, ref="1359"),
            s.segment_finding(7, "SV1", "2", ik="I4"),
        ],
        "0003": [s.element_finding(3, "BHT", 4, "8", ref="373", bad="20241301", severity=WARNING)],
    }
    r = ack(s.claim_5010(sets=3), validator=s.validator_of(findings))
    assert only(r, "ST") == ["ST", "999", "0001", "005010X231A1"]
    assert only(r, "GS")[8] == "005010X231A1"
    assert only(r, "ISA")[11:13] == ["^", "00501"]
    assert only(r, "AK1") == ["AK1", "HC", "2001", "005010X222A1"]
    assert tags(r, "AK2")[0] == ["AK2", "837", "0001", "005010X222A1"]
    body = [seg for seg in segments(r) if seg[0] in ("IK3", "IK4", "CTX", "IK5")]
    assert body == [
        ["IK3", "NM1", "4", "2010", "8"],
        ["CTX", "CLM01>A37YH556"],
        ["IK4", "9", "67", "I12", "1234567890123456789012345678901234567890XX"],
        ["CTX", "SITUATIONAL TRIGGER", "CLM", "5", "2300", "5>3", "1325"],
        ["IK3", "CLM", "6", "", "8"],
        ["IK4", "5>1", "1331", "7", "11"],
        ["IK4", "7>>2", "1359", "12"],
        ["IK3", "SV1", "7", "", "I4"],
        ["IK5", "R", "5"],
        ["IK5", "A"],
        ["IK3", "BHT", "3", "", "8"],
        ["IK4", "4", "373", "8", "20241301"],
        ["IK5", "E", "5"],
    ]
    assert only(r, "AK9") == ["AK9", "P", "3", "3", "2"]
    check_pyx12(r, hipaa=True)
    [report] = read_back(r)
    assert report.kind == "999" and report.status == PARTIALLY_ACCEPTED
    assert report.version == "005010X222A1"
    assert [x.status for x in report.sets] == [REJECTED, ACCEPTED, ACCEPTED_WITH_ERRORS]
    nm1 = report.sets[0].segments[0]
    assert (nm1.segment_id, nm1.position, nm1.loop_id) == ("NM1", 4, "2010")
    assert [(c.name, c.reference) for c in nm1.context] == [("CLM01", "A37YH556")]
    el = nm1.elements[0]
    assert (el.code, el.meaning) == ("I12", "Implementation Pattern Match Failure")
    assert el.context[0].name == "SITUATIONAL TRIGGER"
    assert (el.context[0].segment_id, el.context[0].segment, el.context[0].element, el.context[0].component) == (
        "CLM", 5, 5, 3
    )
    clm = report.sets[0].segments[1]
    assert [(e.element, e.component, e.repetition) for e in clm.elements] == [(5, 1, None), (7, None, 2)]
    assert report.sets[0].segments[2].meaning == 'Implementation "Not Used" Segment Present'


def test_999_implementation_only_errors_use_i5(check_pyx12):
    findings = {"0001": [s.segment_finding(7, "SV1", "2", ik="I4")]}
    r = ack(s.claim_5010(), validator=s.validator_of(findings))
    assert only(r, "IK5") == ["IK5", "R", "I5"]
    check_pyx12(r, hipaa=True)


def test_999_envelope_errors(check_pyx12):
    sets = [s.tx("837", "0001", s.CLAIM_BODY, impl="005010X222A1", count=3),
            s.tx("837", "0001", s.CLAIM_BODY, impl="005010X222A1")]
    data = s.interchange([s.group("HC", "2001", "005010X222A1", sets, ge_count=5)], version="00501").encode()
    r = ack(data)
    assert tags(r, "IK5") == [["IK5", "R", "4"], ["IK5", "R", "23"]]
    assert only(r, "AK9") == ["AK9", "R", "5", "2", "0", "5"]
    check_pyx12(r, hipaa=True)


def test_997_and_999_groups_in_one_interchange(check_pyx12):
    groups = [
        s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)]),
        s.group("HC", "2001", "005010X222A1", [s.tx("837", "0001", s.CLAIM_BODY, impl="005010X222A1")]),
        s.group("PO", "1002", "004010", [s.tx("850", "0001", s.PO_BODY)], sender="OTHERDEPT"),
    ]
    r = ack(s.interchange(groups).encode())
    # ISA12 becomes 00501 because of the 999 (so ISA11 is a repetition separator)
    assert only(r, "ISA")[11:13] == ["^", "00501"]
    gs = tags(r, "GS")
    assert [(g[2], g[3], g[6], g[8]) for g in gs] == [
        ("HUBGS", "SENDERGS", "1001", "004010"),
        ("HUBGS", "SENDERGS", "2001", "005010X231A1"),
        ("HUBGS", "OTHERDEPT", "1002", "004010"),
    ]
    assert [st[1] for st in tags(r, "ST")] == ["997", "999", "997"]
    assert only(r, "IEA") == ["IEA", "3", "000000101"]
    check_pyx12(r)
    assert [(x.kind, x.group_control_number) for x in read_back(r)] == [("997", "1001"), ("999", "2001"),
                                                                         ("997", "1002")]


def test_gs08_missing_falls_back_to_isa12():
    data = s.interchange([s.group("PO", "1001", "", [s.tx("850", "0001", s.PO_BODY)])], version="00501").encode()
    assert only(ack(data), "ST")[1] == "999"
    data = s.interchange([s.group("PO", "1001", "", [s.tx("850", "0001", s.PO_BODY)])]).encode()
    assert only(ack(data), "ST")[1] == "997"


# ------------------------------------------------------------------ TA1


def test_isa14_asks_for_a_ta1(check_pyx12):
    r = ack(s.po_file(ack="1"))
    assert only(r, "TA1") == ["TA1", "000000101", "240102", "1200", "A", "000"]
    assert segments(r)[1][0] == "TA1"  # between ISA and the first GS (X12.5)
    assert only(r, "AK9")[1] == "A"
    assert only(r, "ISA")[14] == "0"  # we never ask for a TA1 back
    check_pyx12(r)
    reports = read_back(r)
    assert [(x.kind, x.status) for x in reports] == [("TA1", ACCEPTED), ("997", ACCEPTED)]
    ta1 = reports[0]
    assert (ta1.interchange_control_number, ta1.interchange_date, ta1.interchange_time) == (
        "000000101", "240102", "1200"
    )
    assert (ta1.note_code, ta1.note_meaning) == ("000", "No error")


def test_broken_iea_gets_a_rejecting_ta1_only(check_pyx12):
    data = s.interchange([s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)])],
                         iea_control="000000999").encode()
    r = ack(data)
    assert [seg[0] for seg in segments(r)] == ["ISA", "TA1", "IEA"]
    assert only(r, "TA1")[4:] == ["R", "001"]
    assert only(r, "IEA") == ["IEA", "0", "000000101"]
    check_pyx12(r)
    [ta1] = read_back(r)
    assert ta1.status == REJECTED
    assert ta1.note_meaning.startswith("The Interchange Control Number in the Header and Trailer Do Not Match")
    assert "TA1 R 001" in r.describe()


def test_iea_count_and_missing_iea(check_pyx12):
    grp = [s.group("PO", "1001", "004010", [s.tx("850", "0001", s.PO_BODY)])]
    r = ack(s.interchange(grp, iea_count=3).encode())
    assert only(r, "TA1")[4:] == ["R", "021"]
    check_pyx12(r)
    r = ack(s.interchange(grp, iea=False).encode())
    assert only(r, "TA1")[4:] == ["R", "023"]
    assert not tags(r, "AK1")
    check_pyx12(r)


def test_bad_isa_values_give_their_ta1_note(check_pyx12):
    r = ack(s.po_file(time="2599"))
    # an invalid ISA10 is not echoed (the TA1 would be invalid too): our own time instead
    assert only(r, "TA1") == ["TA1", "000000101", "240102", "0708", "R", "015"]
    check_pyx12(r)
    r = ack(s.po_file(date="241340", control="00000012X"))
    assert only(r, "TA1")[1:] == ["000000000", "240506", "1200", "R", "014"]
    check_pyx12(r)


def test_ta1_policy():
    assert not tags(ack(s.po_file(ack="1"), ta1="never"), "TA1")
    assert only(ack(s.po_file(), ta1="always"), "TA1")[4] == "A"
    r = ack(s.po_file(ack="1"), functional_acks=False)
    assert [seg[0] for seg in segments(r)] == ["ISA", "TA1", "IEA"]
    with pytest.raises(ValueError):
        ack(s.po_file(), ta1="sometimes")


def test_acknowledgments_are_not_acknowledged():
    ak = s.tx("997", "0001", ["AK1*PO*1001", "AK9*A*1*1*1"])
    data = s.interchange([s.group("FA", "7", "004010", [ak])]).encode()
    r = ack(data)
    assert r.data == b"" and r.acks == []
    assert r.describe() == "nothing to acknowledge"
    # ... but a TA1 requested for their interchange is sent
    data = s.interchange([s.group("FA", "7", "004010", [ak])], ack="1").encode()
    assert [seg[0] for seg in segments(ack(data))] == ["ISA", "TA1", "IEA"]
    assert only(ack(data, ack_acks=True), "AK1") == ["AK1", "FA", "7"]
    # an interchange of TA1s only is not answered, even when its envelope is wrong
    data = s.interchange([], ta1s=["TA1*000000050*240101*1200*A*000"], iea_count=1).encode()
    assert ack(data).data == b""


# ------------------------------------------------------------- numbering


def test_control_numbers_from_a_counter(check_pyx12):
    counter = SequentialControlNumbers(interchange=500, group=70, transaction=9)
    data = s.po_file() + s.po_file(control="000000102")
    r = ack(data, control_numbers=counter)
    assert [seg[13] for seg in tags(r, "ISA")] == ["000000500", "000000501"]
    assert [seg[6] for seg in tags(r, "GS")] == ["70", "71"]
    assert [seg[2] for seg in tags(r, "ST")] == ["0009", "0010"]
    assert [(a["ack_interchange"], a["ack_group"], a["ack_control_number"]) for a in r.acks] == [
        ("000000500", "70", "0009"), ("000000501", "71", "0010")
    ]
    check_pyx12(r)


def test_derived_control_numbers_stay_unique():
    numbers = DerivedControlNumbers()
    assert numbers("interchange", "000000007") == 7
    assert numbers("interchange", "000000007") == 8
    assert numbers("interchange", "garbage") == 1
    assert numbers("group", "1001") == 1001
    assert numbers("group", "1001") == 1002
    assert [numbers("transaction", "1001") for _ in range(3)] == [1, 2, 3]
    assert numbers("group", "12") == 12
    assert numbers("transaction", "12") == 1
    assert numbers("interchange", "999999999") == 999999999
    assert numbers("interchange", "999999999") == 2  # wraps, 1 is taken


def test_callable_may_return_strings():
    r = ack(s.po_file(), control_numbers=lambda kind, inbound: {"interchange": "42", "group": "43",
                                                                 "transaction": "A0044"}[kind])
    assert only(r, "ISA")[13] == "000000042"
    assert only(r, "ST") == ["ST", "997", "A0044"]


# ------------------------------------------------------------- limits


def test_at_most_999_segment_notes_and_99_element_notes(check_pyx12):
    many = [s.segment_finding(n, "N1", "2") for n in range(2, 1102)]
    many += [s.element_finding(1, "ST", n, "3") for n in range(1, 150)]
    r = ack(s.po_file(), validator=s.validator_of({"0001": many}))
    assert len(tags(r, "AK3")) == 999
    assert len(tags(r, "AK4")) == 99
    assert only(r, "AK5") == ["AK5", "R", "5"]
    assert [f.code for f in r.findings].count("ACK_TRUNCATED") == 2
    check_pyx12(r)


def test_at_most_five_codes():
    findings = {"0001": [s.transaction_finding(c) for c in ("1", "6", "7", "8", "9", "10", "11")]}
    r = ack(s.po_file(), validator=s.validator_of(findings))
    assert only(r, "AK5") == ["AK5", "R", "1", "6", "7", "8", "9"]


# ------------------------------------------------------------- streaming


def test_large_file_spools_and_stays_valid(monkeypatch, check_pyx12):
    monkeypatch.setattr(build, "SPOOL_MEMORY", 1024)  # roll over to disk after 1 KB
    sets = [s.tx("850", f"{n:04d}", s.PO_BODY) for n in range(1, 3001)]
    sets[1500] = s.tx("850", "1501", s.PO_BODY, count=2)
    data = s.interchange([s.group("PO", "1001", "004010", sets)]).encode()
    r = ack(data)
    assert len(tags(r, "AK2")) == 3000
    assert only(r, "AK9") == ["AK9", "P", "3000", "3000", "2999"]
    assert r.acks[0]["not_accepted"] == [{"type": "850", "control_number": "1501", "status": "R", "codes": ["4"]}]
    check_pyx12(r)


def test_output_stream(check_pyx12):
    out = io.BytesIO()
    r = acknowledge(s.po_file(), when=WHEN, validate=False, output=out)
    assert r.data == b""
    assert out.getvalue().startswith(b"ISA*00*")
    assert r.acks[0]["status"] == "A"


def test_delimiters_and_encoding_follow_the_inbound_file():
    data = s.po_file(ack="1").replace(b"*", b"|").replace(b"~\n", b"\x15")
    ebcdic = data.decode("latin-1").replace("\x15", "\x85").encode("cp037")  # 0x15 is NL in cp037
    r = ack(ebcdic)
    assert r.encoding == "cp037"
    text = r.data.decode("cp037")
    assert text.startswith("ISA|00|") and "TA1|000000101|" in text
    reports = read_acks(r.data)
    assert [(x.kind, x.status) for x in reports] == [("TA1", ACCEPTED), ("997", ACCEPTED)]


def test_clashing_inbound_delimiters_fall_back_to_defaults(check_pyx12):
    # component separator equal to the element separator: a broken envelope, answered with TA1 R
    data = s.po_file(comp="*")
    r = ack(data)
    assert r.data.startswith(b"ISA*00*")
    text = r.data.decode()
    assert text[105] == "~" and text[104] == ">"
    assert only(r, "TA1")[4:] == ["R", "027"]
    check_pyx12(r)


def test_cli_ack_writes_the_acknowledgment(tmp_path):
    from click.testing import CliRunner

    from hub.cli import main

    src = tmp_path / "in.x12"
    src.write_bytes(s.po_file(ack="1"))
    out = tmp_path / "out.997"
    result = CliRunner().invoke(main, ["x12", "ack", str(src), "-o", str(out)])
    assert result.exit_code in (0, 1), result.output  # 1 if the schema validator finds something
    reports = read_acks(out)
    assert [x.kind for x in reports] == ["TA1", "997"]


def test_reader_options_and_small_chunks_change_nothing():
    data = s.po_file(ack="1") + s.claim_5010(control="000000102")
    whole = ack(data)
    for options in ({"chunk_size": 7}, {"chunk_size": 1}):
        assert ack(data, reader_options=options).data == whole.data
        assert ack(data, **options).data == whole.data
    assert [r.kind for r in read_acks(whole.data, reader_options={"chunk_size": 5})] == ["TA1", "997", "999"]


def test_not_x12_gives_no_acknowledgment():
    r = ack(b"this is not EDI at all")
    assert r.not_x12 and r.data == b"" and r.acks == []
    assert r.describe() == "not X12: no acknowledgment"
    assert any(f.code == "NOT_X12" for f in r.findings)


def test_sets_that_cannot_be_named_in_ak2_are_counted_not_listed(check_pyx12):
    sets = [s.tx("850", "12", s.PO_BODY), s.tx("", "0002", s.PO_BODY), s.tx("850", "0003", s.PO_BODY)]
    r = ack(s.interchange([s.group("PO", "1001", "004010", sets)]).encode())
    assert tags(r, "AK2") == [["AK2", "850", "0003"]]
    assert only(r, "AK9") == ["AK9", "P", "3", "3", "1"]
    assert [f.code for f in r.findings].count("ACK_SET_UNIDENTIFIED") == 2
    assert [p["status"] for p in r.acks[0]["not_accepted"]] == ["R", "R"]
    check_pyx12(r)


def test_groups_that_cannot_be_named_in_ak1_are_not_acknowledged(check_pyx12):
    groups = [s.group("PO", "X1", "004010", [s.tx("850", "0001", s.PO_BODY)]),
              s.group("PO", "1002", "004010", [s.tx("850", "0001", s.PO_BODY)], sender="A", receiver="")]
    r = ack(s.interchange(groups).encode())
    assert only(r, "AK1") == ["AK1", "PO", "1002"]
    assert only(r, "GS")[2:4] == ["HUBID", "SENDERID"]  # GS02/GS03 too short: the ISA IDs instead
    assert any(f.code == "ACK_GROUP_UNIDENTIFIED" for f in r.findings)
    check_pyx12(r)
