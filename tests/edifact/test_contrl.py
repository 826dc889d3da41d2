"""CONTRL: built for syntax 3 and 4 with UCI/UCF/UCM/UCS/UCD, valid against its own schema, read back."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.acks.edifact import acknowledge, read_contrl
from hub.edi.edifact import read_document
from hub.edi.edifact.analyse import analyse
from tests.conftest import corpus_path

WHEN = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)
GOOD = ("UNB+UNOC:3+SENDER:14+RECEIVER:14+240115:1200+REF1'"
        "UNH+M1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240115:102'UNS+S'UNT+5+M1'"
        "UNH+M2+ORDERS:D:96A:UN'BGM+220+PO2+9'DTM+137:20240115:102'QTY+21:x'UNS+S'UNT+6+M2'"
        "UNZ+2+REF1'")


def segments(data: bytes) -> list[list[str]]:
    doc = read_document(data)
    assert not doc.findings, doc.findings
    return [s for m in doc.messages for s in m.segments]


def test_contrl_syntax3():
    result = acknowledge(GOOD.encode(), when=WHEN)
    text = result.data.decode()
    assert text.startswith("UNB+UNOC:3+RECEIVER:14+SENDER:14+240115:1200+CREF1'\nUNH+1+CONTRL:2:2:UN'\n")
    segs = segments(result.data)
    tags = [s[0] for s in segs]
    assert tags == ["UNH", "UCI", "UCM", "UCM", "UCS", "UNT"]
    assert segs[1] == ["UCI", "REF1", "SENDER:14", "RECEIVER:14", "7"]
    assert segs[2] == ["UCM", "M1", "ORDERS:D:96A:UN", "7"]
    assert segs[3] == ["UCM", "M2", "ORDERS:D:96A:UN", "4"]
    assert segs[4] == ["UCS", "4", "15"]  # QTY not allowed there
    assert segs[-1] == ["UNT", "6", "1"]
    assert result.messages == 2 and result.rejected_messages == 1 and result.rejected_interchanges == 0
    assert result.describe() == "CONTRL 2:2 partially_accepted for interchange REF1: 1 of 2 message(s) acknowledged"
    assert result.acks[0]["status"] == "partially_accepted"


def test_contrl_element_errors_give_ucd():
    data = GOOD.replace("QTY+21:x'", "").replace("DTM+137:20240115:102'UNS+S'UNT+6+M2'",
                                                 "DTM+1377:20240115:102'UNS+S'UNT+5+M2'")
    segs = segments(acknowledge(data.encode(), when=WHEN).data)
    assert ["UCS", "3"] in segs
    assert ["UCD", "39", "1:1"] in segs


def test_contrl_syntax4_and_envelope_errors():
    data = GOOD.replace("UNOC:3", "UNOC:4").replace("240115:1200", "20240115:1200").replace("UNT+5+M1", "UNT+9+M1")
    data = data.replace("UNZ+2+REF1", "UNZ+2+REF9")
    result = acknowledge(data.encode(), when=WHEN)
    segs = segments(result.data)
    assert segs[0] == ["UNH", "1", "CONTRL:4:1:UN"]
    assert segs[1] == ["UCI", "REF1", "SENDER:14", "RECEIVER:14", "4", "28", "UNZ", "2"]
    assert ["UCM", "M1", "ORDERS:D:96A:UN", "4", "29", "UNT", "1"] in segs
    assert result.rejected_interchanges == 1


def test_contrl_for_groups():
    data = ("UNB+UNOC:3+S+R+240115:1200+R1'UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'"
            "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240115:102'UNS+S'UNT+5+1'UNE+2+G1'UNZ+1+R1'")
    segs = segments(acknowledge(data.encode(), when=WHEN).data)
    assert [s[0] for s in segs] == ["UNH", "UCI", "UCF", "UCM", "UNT"]
    assert segs[2] == ["UCF", "G1", "S", "R", "4", "29", "UNE"]


def test_message_without_schema_is_acknowledged():
    data = ("UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+PAYMUL:D:96A:UN'BGM+1'UNT+3+1'UNZ+1+R1'")
    segs = segments(acknowledge(data.encode(), when=WHEN).data)
    assert ["UCM", "1", "PAYMUL:D:96A:UN", "7"] in segs


def test_only_rejected():
    segs = segments(acknowledge(GOOD.encode(), when=WHEN, only_rejected=True).data)
    assert [s[1] for s in segs if s[0] == "UCM"] == ["M2"]


def test_contrl_is_valid_against_the_contrl_schema():
    data = GOOD.replace("UNZ+2+REF1", "UNZ+2+REF9")
    result = analyse(acknowledge(data.encode(), when=WHEN).data)
    assert result.findings == []
    assert result.extra["without_schema"] == {}


def test_not_edifact():
    result = acknowledge(b"hello")
    assert result.not_edifact and result.data == b""


def test_read_contrl_round_trip():
    data = GOOD.replace("UNZ+2+REF1", "UNZ+3+REF1")
    contrl = acknowledge(data.encode(), when=WHEN).data
    reports = read_contrl(contrl)
    assert reports.findings == [] and not reports.not_edifact
    (r,) = reports
    assert r.status == "rejected" and not r.ok
    assert (r.interchange_reference, r.sender, r.recipient, r.accepted, r.code) == ("REF1", "SENDER", "RECEIVER",
                                                                                   False, "29")
    assert [(m.reference, m.type, m.version, m.accepted) for m in r.messages] == [
        ("M1", "ORDERS", "D:96A", True), ("M2", "ORDERS", "D:96A", False)]
    (seg,) = r.messages[1].segments
    assert (seg.position, seg.code) == (4, "15")
    js = r.to_json()
    assert js["action"] == "rejected" and js["messages"][1]["segments"][0]["meaning"]


def test_read_inbound_contrl_with_ucd():
    text = ("UNB+UNOC:3+R+S+240115:1200+C1'UNH+1+CONTRL:2:2:UN'UCI+REF1+S+R+7'UCM+M2+ORDERS:D:96A:UN+4'"
            "UCS+4'UCD+37+1:2'UCD+39+2'UNT+6+1'UNZ+1+C1'")
    (r,) = read_contrl(text.encode())
    assert r.accepted and r.status == "partially_accepted"
    (m,) = r.messages
    assert not m.accepted
    assert [(e.position, e.component, e.code) for e in m.segments[0].elements] == [(1, 2, "37"), (2, None, "39")]


@pytest.mark.corpus
def test_corpus_aperak_contrl():
    result = acknowledge(corpus_path("edifact", "aperak/pydifact_aperak_d96a_rejected.edi"), when=WHEN)
    segs = segments(result.data)
    assert ["UCM", "1", "APERAK:D:96A:UN", "4", "29", "UNT", "1"] in segs
