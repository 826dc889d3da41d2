"""X12Writer builds interchanges and refuses what X12 cannot carry, naming the place."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from hub.edi.core import Delimiters
from hub.edi.x12 import read_document
from hub.edi.x12.writer import X12WriteError, X12Writer

WHEN = dt.datetime(2026, 11, 26, 9, 30)
PIPE = Delimiters(element="|", component=":", segment="\x1c", repetition="^", segment_suffix="")


def _writer(delims=PIPE, encoding="latin-1"):
    out = io.BytesIO()
    return out, X12Writer(out, delims, encoding=encoding)


def test_built_interchange_reads_back_clean_with_its_delimiters():
    out, w = _writer()
    w.begin_interchange(sender_qualifier="ZZ", sender="ME", receiver_qualifier="01", receiver="123456789",
                        control_number=42, version="00501", ack_requested=True, usage="T", when=WHEN)
    w.begin_group(functional_id="PO", sender="ME", receiver="YOU", control_number=7, version="005010", when=WHEN)
    count = w.write_transaction("850", "0001", [["BEG", "00", "SA", "PO-1", "", "20261126"], ["CTT", "0"]])
    w.end_group()
    w.end_interchange()
    data = out.getvalue()
    assert len(data.split(b"\x1c")[0]) == 105  # ISA is fixed width (terminator not counted)
    doc = read_document(data)
    assert doc.findings == []
    ic = doc.interchanges[0]
    assert ic.delimiters == PIPE
    assert (ic.control_number, ic.ack_requested, ic.usage, ic.version) == ("000000042", True, "T", "00501")
    (tx,) = doc.transactions
    assert count == tx.segment_count == 4
    assert tx.segments[1] == ["BEG", "00", "SA", "PO-1", "", "20261126"]


@pytest.mark.parametrize(("value", "what"), [("A|B", "BEG03"), ("A\x1cB", "BEG03")])
def test_a_delimiter_inside_a_value_is_refused_with_its_position(value, what):
    _, w = _writer()
    with pytest.raises(X12WriteError, match=what):
        w.write_segment(["BEG", "00", "SA", value])


def test_an_isa_value_longer_than_its_width_is_refused():
    _, w = _writer()
    with pytest.raises(X12WriteError, match="ISA06"):
        w.begin_interchange(sender_qualifier="ZZ", sender="X" * 16, receiver_qualifier="ZZ", receiver="R",
                            control_number=1, when=WHEN)


def test_text_the_encoding_cannot_carry_is_refused():
    _, w = _writer(encoding="ascii")
    with pytest.raises(X12WriteError, match="cannot be written in ascii"):
        w.write_segment(["N1", "ST", "CAFÉ"])


def test_trailing_empty_elements_are_dropped_when_building():
    out, w = _writer()
    w.write_segment(["REF", "DP", "", ""])
    assert out.getvalue() == b"REF|DP\x1c"
