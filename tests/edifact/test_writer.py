"""The EDIFACT writer: escaping, UNA, envelopes with counts, round trips."""

from __future__ import annotations

import datetime as dt
import io

from hub.edi.core import Delimiters
from hub.edi.edifact import read_document
from hub.edi.edifact.writer import EdifactWriter, encode_values, una_string, write_document

WHEN = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)


def build(delims: Delimiters, **kw) -> bytes:
    out = io.BytesIO()
    w = EdifactWriter(out, delims, encoding=kw.pop("encoding", "latin-1"))
    w.begin_interchange(sender="SENDER", sender_qualifier="14", receiver="RECEIVER", receiver_qualifier="14",
                        control_reference="42",
                        when=WHEN, **kw)
    w.write_message("ORDERS", "M1", [["BGM", "220", "PO+1:2'3?", "9"], ["DTM", ["137", "20240115", "102"]],
                                     ["FTX", "AAI", None, None, ["line one", "a:b"]]])
    w.end_interchange()
    return out.getvalue()


def test_escaping_and_counts():
    data = build(Delimiters(element="+", component=":", segment="'", release="?", segment_suffix=""))
    text = data.decode()
    assert text.startswith("UNB+UNOC:3+SENDER:14+RECEIVER:14+240115:1200+42'UNH+M1+ORDERS:D:96A:UN'")
    assert "BGM+220+PO?+1?:2?'3??+9'" in text
    assert "FTX+AAI+++line one:a?:b'" in text
    assert text.endswith("UNT+5+M1'UNZ+1+42'")
    doc = read_document(data)
    assert not doc.findings
    d = doc.interchanges[0].delimiters
    assert d.unescape(doc.messages[0].segments[1][2]) == "PO+1:2'3?"
    assert d.components(doc.messages[0].segments[3][4]) == ["line one", "a:b"]


def test_una_written_for_other_service_characters():
    d = Delimiters(element="*", component="^", segment="~", release="!", decimal=",", segment_suffix="\r\n")
    data = build(d)
    assert data.startswith(b"UNA^*,! ~\r\nUNB*UNOC^3*")
    doc = read_document(data)
    assert not doc.findings
    assert doc.interchanges[0].delimiters.segment_suffix == "\r\n"
    assert d.unescape(doc.messages[0].segments[1][2]) == "PO+1:2'3?"


def test_syntax4_dates_and_groups():
    out = io.BytesIO()
    w = EdifactWriter(out, Delimiters(element="+", component=":", segment="'", release="?", repetition="*"))
    w.begin_interchange(sender="S", receiver="R", control_reference="1", syntax_version="4", when=WHEN)
    w.begin_group(group_id="ORDERS", sender="S", receiver="R", reference="G1", when=WHEN)
    w.write_message("ORDERS", "1", [["BGM", "220"]])
    w.write_message("ORDERS", "2", [["BGM", "220"]])
    w.end_group()
    w.end_interchange()
    text = out.getvalue().decode()
    assert "+20240115:1200+" in text and "UNE+2+G1'" in text and text.endswith("UNZ+1+1'")
    doc = read_document(out.getvalue())
    assert not doc.findings, doc.findings
    assert len(doc.interchanges[0].groups[0].transactions) == 2


def test_encode_values_drops_trailing_empties():
    d = Delimiters(element="+", component=":", segment="'", release="?")
    assert encode_values("NAD", ["BY", ["123", "", ""], None, ""], d) == "NAD+BY+123'"
    assert una_string(Delimiters(element="+", component=":", segment="'", release="?", repetition="*")) == "UNA:+.?*'"


def test_write_document_with_new_delimiters():
    data = build(Delimiters(element="+", component=":", segment="'", release="?"))
    doc = read_document(data)
    new = Delimiters(element="|", component="^", segment="~", release="\\", segment_suffix="\n")
    out = write_document(doc, delimiters=new)
    assert out.startswith(b"UNA^|.\\ ~\n")
    again = read_document(out)
    assert not again.findings
    old_d, new_d = doc.interchanges[0].delimiters, again.interchanges[0].delimiters
    for a, b in zip(doc.messages[0].segments, again.messages[0].segments, strict=True):
        assert [old_d.components(v) for v in a[1:]] == [new_d.components(v) for v in b[1:]]


def test_character_set_on_write():
    data = build(Delimiters(element="+", component=":", segment="'", release="?"), syntax_identifier="UNOW",
                 encoding="utf-8")
    assert read_document(data).interchanges[0].encoding == "utf-8"


def test_delimiters_escape_unescape_components():
    d = Delimiters(element="+", component=":", segment="'", release="?", repetition="*")
    raw = d.escape("a+b:c'd?e*f")
    assert raw == "a?+b?:c?'d??e?*f"
    assert d.unescape(raw) == "a+b:c'd?e*f"
    assert d.components(raw + ":x") == ["a+b:c'd?e*f", "x"]
    assert d.repetitions("1*2?*3") == ["1", "2?*3"]
    x12 = Delimiters(element="*", component=">", segment="~")
    assert x12.components("a>b") == ["a", "b"] and x12.escape("a*b") == "a*b" and x12.unescape("a?b") == "a?b"
