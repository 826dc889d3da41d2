"""Reading 997 / 999 / TA1: every acknowledgment of the shared corpus, malformed ones, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.acks.x12 import (
    ACCEPTED,
    PARTIALLY_ACCEPTED,
    REJECTED,
    UNKNOWN,
    AckReport,
    read_acks,
)
from tests.acks import samples as s
from tests.conftest import corpus_path

A, P, R, U = ACCEPTED, PARTIALLY_ACCEPTED, REJECTED, UNKNOWN

# file -> [(kind, functional id or TA101, group control number or TA105, status, [set statuses])]
EXPECTED = {
    "997/bots_997_4010VICS_nak-terminator.x12": [("997", "PR", "10001", A, [A])],
    "997/bots_997_4010_2sets_278-837-rejections.x12": [
        ("997", "HI", "17", R, [R, R, R]),
        ("997", "HC", "18", R, [R]),
        ("997", "HP", "383880001", R, [R]),
        ("997", "HP", "2", R, [R]),
        ("997", "HP", "3", R, [R]),
        ("997", "HI", "17", R, [R, R, R]),
        ("997", "HC", "18", R, [R]),
        ("997", "HP", "383880001", R, [R]),
    ],
    "997/bots_997_4010_generated_4sets.x12": [("997", "PO", "5", A, [A, A])] * 4,
    "997/bots_997_4010_rejected_ak3-ak4-errors.x12": [("997", "HC", "1", R, [R])],
    "997/bots_997_5010X222A1_generated.x12": [("997", "HC", "312", A, [A])] * 2,
    "997/staedi_997_5010.edi": [("997", "HC", "000001", R, [R])],
    "997/staedi_997_5010_3interchanges.edi": [("997", "HC", "000001", R, [R])] * 3,
    "999/imsweb_999_5010X231A1_accepted.txt": [("999", "HC", "17456", A, [A])],
    "999/pyx12_999_5010X231_2groups_4sets.txt": [("999", "BE", "13360001", A, [A])] * 4,
    "999/staedi_999_5010X231_ik3-ik4-ctx.edi": [("999", "HC", "17456", P, [A, R, R])],
    "ta1/bots_ta1_4010_reject-015_standalone.x12": [("TA1", "000484889", "015", R, [])],
    "ta1/bots_ta1_plus_997_4010_rejected.x12": [("TA1", "000484889", "015", R, []), ("997", "HC", "1", R, [R])],
    "ta1/edifabric_ta1_plus_810_2040.txt": [("TA1", "17456", "000", A, [])],
    "ta1/staedi_ta1_5010_standalone.txt": [("TA1", "000000050", "000", A, [])],
}

# file -> finding codes about the acknowledgments themselves (reader envelope findings not included)
EXPECTED_ACK_FINDINGS = {
    "ta1/edifabric_ta1_plus_810_2040.txt": {"ACK_VALUE_INVALID"},  # TA101 17456 is not 9 digits
}


def summary(report: AckReport):
    if report.kind == "TA1":
        return (report.kind, report.interchange_control_number, report.note_code, report.status, [])
    return (report.kind, report.functional_id, report.group_control_number, report.status,
            [x.status for x in report.sets])


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_acknowledgments(name):
    reports = read_acks(corpus_path("x12", name))
    assert [summary(r) for r in reports] == EXPECTED[name]
    own = {f.code for f in reports.findings if f.code.startswith("ACK_")}
    assert own == EXPECTED_ACK_FINDINGS.get(name, set())


@pytest.mark.corpus
def test_every_corpus_ack_file_is_listed():
    root = corpus_path("x12")
    files = {str(p.relative_to(root)) for d in ("997", "999", "ta1") for p in (root / d).iterdir() if p.is_file()}
    assert files == set(EXPECTED)


@pytest.mark.corpus
def test_997_with_ak3_ak4_errors():
    [report] = read_acks(corpus_path("x12", "997", "bots_997_4010_rejected_ak3-ak4-errors.x12"))
    assert (report.included, report.received, report.accepted) == (1, 1, 0)
    assert report.meaning == "Rejected"
    [st] = report.sets
    assert (st.type, st.control_number, st.code) == ("837", "300145997", "R")
    assert [(e.code, e.meaning) for e in st.errors] == [("5", "One or More Segments in Error")]
    assert [(n.segment_id, n.position, n.code, n.meaning) for n in st.segments] == [
        ("SV2", 57, "8", "Segment Has Data Element Errors"),
        ("SVD", 59, "8", "Segment Has Data Element Errors"),
    ]
    el = st.segments[0].elements
    assert [(e.element, e.component, e.element_ref, e.code, e.bad_value) for e in el] == [
        (2, 1, "235", "7", "  "),
        (2, 2, "234", "1", None),
    ]
    assert el[0].meaning == "Invalid code value"
    assert el[1].meaning == "Mandatory (required) data element missing"


@pytest.mark.corpus
def test_999_with_ik3_ik4_ctx():
    [report] = read_acks(corpus_path("x12", "999", "staedi_999_5010X231_ik3-ik4-ctx.edi"))
    assert (report.version, report.included, report.received, report.accepted) == ("005010X222", 3, 3, 1)
    assert report.meaning == "Partially Accepted, At Least One Transaction Set Was Rejected"
    second, third = report.sets[1], report.sets[2]
    [clm] = second.segments
    assert (clm.segment_id, clm.position, clm.code) == ("CLM", 22, "8")
    assert [(c.name, c.reference) for c in clm.context] == [("CLM01", "123456789")]
    [ik4] = clm.elements
    assert (ik4.element, ik4.element_ref, ik4.code, ik4.meaning) == (
        2, "782", "1", "Mandatory (required) data element missing"
    )
    [ref] = third.segments
    assert (ref.segment_id, ref.position, ref.code, ref.meaning) == (
        "REF", 57, "3", "Mandatory (required) segment missing"
    )
    trigger, business = ref.context
    assert trigger.names == [("SITUATIONAL TRIGGER", None), ("SITUATIONAL TRIGGER", "2"), ("SITUATIONAL TRIGGER", "3")]
    assert (trigger.segment_id, trigger.segment, trigger.element, trigger.component, trigger.element_ref) == (
        "CLM", 43, 5, 3, "1325"
    )
    assert (business.name, business.reference) == ("CLM01", "987654321")


@pytest.mark.corpus
def test_ta1_with_note_and_its_envelope():
    [ta1] = read_acks(corpus_path("x12", "ta1", "bots_ta1_4010_reject-015_standalone.x12"))
    assert (ta1.interchange_control_number, ta1.interchange_date, ta1.interchange_time) == (
        "000484889", "040709", "1339"
    )
    assert (ta1.code, ta1.status, ta1.note_code, ta1.note_meaning) == (
        "R", REJECTED, "015", "Invalid Interchange Time Value"
    )
    assert ta1.meaning.startswith("The transmitted interchange control structure header and trailer are rejected")
    assert (ta1.ack_sender, ta1.ack_receiver, ta1.ack_interchange) == ("0000BBB", "00000AAA", "412141129")
    assert [e.code for e in ta1.errors] == ["015"]


@pytest.mark.corpus
def test_997_group_and_set_codes():
    reports = read_acks(corpus_path("x12", "ta1", "bots_ta1_plus_997_4010_rejected.x12"))
    ak = reports[1]
    assert [(e.code, e.meaning) for e in ak.errors] == [("1", "Functional Group Not Supported")]
    assert [(e.code, e.meaning) for e in ak.sets[0].errors] == [
        ("3", "Transaction Set Control Number in Header and Trailer Do Not Match"),
        ("7", "Missing or Invalid Transaction Set Control Number"),
    ]
    assert (ak.ack_group, ak.ack_control_number) == ("1", "0001")


# ------------------------------------------------------------------ malformed


MALFORMED = {
    "staedi_997_invalid-codes-and-nonnumeric.edi": (
        [("997", "HC NOT IN CODESET", "000001", R, [R])],
        {"ACK_VALUE_INVALID"},  # AK101 not a code, AK402 not a number
    ),
    "staedi_997_missing-ak1-ak9_version-mismatch.edi": (
        [("997", None, None, U, [])],
        {"ACK_STRUCTURE"},  # no AK1, no AK9
    ),
    "staedi_997_repetition-seps-where-not-allowed.edi": (
        [("997", "HC", "000001", R, [R])],
        {"ACK_REPETITION_NOT_ALLOWED", "ACK_VALUE_INVALID", "ACK_CODE_INVALID"},
    ),
    "staedi_999_wrong-order_bad-se-count.edi": (
        [("999", "HC", "17456", P, [U, R, R])],  # IK5*Q: status unknown
        {"ACK_STRUCTURE", "ACK_VALUE_INVALID", "ACK_TOO_MANY_ELEMENTS", "ACK_CODE_INVALID", "ACK_INCONSISTENT"},
    ),
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_acknowledgments_give_findings(name):
    reports = read_acks(corpus_path("x12", "malformed", name))
    expected, codes = MALFORMED[name]
    assert [summary(r) for r in reports] == expected
    assert {f.code for r in reports for f in r.findings if f.code.startswith("ACK_")} == codes
    for f in reports.findings:
        assert f.message and f.interchange == 0


@pytest.mark.corpus
def test_malformed_999_order():
    [report] = read_acks(corpus_path("x12", "malformed", "staedi_999_wrong-order_bad-se-count.edi"))
    messages = [f.message for f in report.findings]
    assert "IK5 outside an AK2 loop; ignored" in messages
    assert "IK501 'Q' is not a valid code" in messages
    assert any(f.code == "SE01_COUNT" for f in report.findings)  # the reader's envelope finding, on its report


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["edifabric_810_invalid-isa-tag-FSA.txt", "imsweb_837_no-isa.txt"])
def test_not_x12(name):
    reports = read_acks(corpus_path("x12", "malformed", name))
    assert reports == [] and reports.not_x12
    assert any(f.code == "NOT_X12" for f in reports.findings)


def test_other_transaction_sets_are_skipped():
    assert read_acks(s.po_file()) == []
    assert read_acks(b"") == [] and read_acks(b"").not_x12


def test_hand_written_acks():
    body = [
        "AK1*PO*1001",
        "AK2*850*0001",
        "AK3*N1*3*N1*2",
        "AK4*2>1*98*7*XX",
        "AK5*E*5",
        "AK2*850*0002",
        "AK5*X",
        "AK2*850*0003",
        "AK5*A",
        "AK9*P*3*3*2*5",
    ]
    data = s.interchange([s.group("FA", "9", "004010", [s.tx("997", "0001", body)])],
                         ta1s=["TA1*000000777*240101*0930*E*020"]).encode()
    ta1, report = read_acks(data)
    assert (ta1.status, ta1.note_code, ta1.note_meaning) == ("accepted_with_errors", "020",
                                                             "Invalid Test Indicator Value")
    assert report.status == PARTIALLY_ACCEPTED
    assert [x.status for x in report.sets] == ["accepted_with_errors", REJECTED, ACCEPTED]
    assert report.sets[1].meaning == "Rejected, Content After Decryption Could Not Be Analyzed"
    assert [(e.code, e.meaning) for e in report.errors] == [
        ("5", "Number of Included Transaction Sets Does Not Match Actual Count")
    ]
    el = report.sets[0].segments[0].elements[0]
    assert (el.element, el.component, el.element_ref, el.bad_value) == (2, 1, "98", "XX")
    assert report.to_json()["sets"][0]["segments"][0]["elements"][0]["meaning"] == "Invalid code value"
    assert ta1.to_json()["note_meaning"] == "Invalid Test Indicator Value"


def test_wrong_segments_in_the_wrong_ack():
    body = ["AK1*PO*1001", "AK2*850*0001", "IK3*N1*3**8", "IK4*2*98*7", "CTX*CLM01>1", "IK5*R*5", "ZZZ*1",
            "AK9*R*1*1*0", "AK9*R*1*1*0"]
    data = s.interchange([s.group("FA", "9", "004010", [s.tx("997", "0001", body)])]).encode()
    [report] = read_acks(data)
    assert report.status == REJECTED
    codes = [f.code for f in report.findings]
    assert codes.count("ACK_UNEXPECTED_SEGMENT") == 5  # IK3, IK4, CTX, IK5 in a 997; ZZZ
    assert "ACK_STRUCTURE" in codes  # the second AK9


# ------------------------------------------------------------------ fuzzing

_TAGS = ["AK1", "AK2", "AK3", "AK4", "AK5", "AK9", "IK3", "IK4", "IK5", "CTX", "TA1", "XYZ"]
_VALUES = st.text(alphabet="ARE0123456789:^ -PXI", max_size=8)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["997", "999"]),
    body=st.lists(st.tuples(st.sampled_from(_TAGS), st.lists(_VALUES, max_size=7)), max_size=25),
)
def test_read_acks_never_raises(kind, body):
    lines = ["*".join([tag, *values]) for tag, values in body]
    data = s.interchange([s.group("FA", "1", "005010X231A1", [s.tx(kind, "0001", lines)])],
                         version="00501", comp=":").encode()
    reports = read_acks(data)
    assert len(reports) == 1
    for r in reports:
        r.to_json()
