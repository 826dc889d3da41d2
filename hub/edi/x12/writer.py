"""X12 writer, the mirror of :mod:`hub.edi.x12.reader`.

Two ways in:

* :func:`write_document` writes what :func:`~hub.edi.x12.reader.read_document`
  read, element for element (trailers as they were read, so that a
  read -> write -> read round trip keeps every element).
* :class:`X12Writer` builds new interchanges: ``begin_interchange`` /
  ``begin_group`` / ``write_transaction`` / ``end_group`` /
  ``end_interchange`` with ISA padding, control numbers and trailer counts
  computed for you.

X12 has no release character, so a value that contains a delimiter cannot be
written: :class:`X12WriteError` names the segment and element.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from hub.edi.core import Delimiters
from hub.edi.x12.model import Document, FunctionalGroup, Interchange, Transaction
from hub.edi.x12.reader import ISA_WIDTHS, GroupEnd, InterchangeEnd

DEFAULT_DELIMITERS = Delimiters(element="*", component=">", segment="~", repetition="^", segment_suffix="\n")


def _errors(encoding: str) -> str:
    """UTF-8 text read with surrogateescape keeps undecodable bytes; write them back the same way."""
    return "surrogateescape" if encoding.replace("_", "-").lower().startswith("utf") else "strict"


class X12WriteError(ValueError):
    """A value cannot be written with the interchange's delimiters or encoding."""


def _encode(text: str, encoding: str, what: str) -> bytes:
    try:
        return text.encode(encoding, errors=_errors(encoding))
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise X12WriteError(f"{what}: {bad!r} cannot be written in {encoding}") from exc


def _check(seg: Sequence[str], delims: Delimiters) -> None:
    bad = {delims.element, delims.segment}
    for i, value in enumerate(seg):
        for ch in bad:
            if ch in value:
                name = "segment tag" if i == 0 else f"{seg[0]}{i:02d}"
                raise X12WriteError(f"{name} {value!r} contains the delimiter {ch!r}")


def _isa_fields(values: Sequence[str]) -> list[str]:
    """Pad ISA01..ISA16 to their fixed widths (IDs left-justified, numbers as given)."""
    out = []
    for n, (value, width) in enumerate(zip(values, ISA_WIDTHS, strict=True), start=1):
        value = str(value)
        if len(value) > width:
            raise X12WriteError(f"ISA{n:02d} {value!r} is longer than its fixed width {width}")
        if n == 13:
            value = value.rjust(width, "0")
        out.append(value.ljust(width))
    return out


class X12Writer:
    """Write segments to a binary stream with one interchange's delimiters."""

    def __init__(self, stream: BinaryIO, delimiters: Delimiters = DEFAULT_DELIMITERS, encoding: str = "latin-1"):
        self.stream = stream
        self.delimiters = delimiters
        self.encoding = encoding
        self._group_count = 0
        self._tx_count = 0
        self._isa13: str | None = None
        self._gs06: str | None = None
        self._check = True

    # --------------------------------------------------------------- segments

    def encode_segment(self, seg: Sequence[str]) -> bytes:
        d = self.delimiters
        if self._check:
            _check(seg, d)
        # trailing empty elements are not written (X12 syntax)
        end = len(seg)
        while end > 1 and seg[end - 1] == "":
            end -= 1
        text = d.element.join(seg[:end]) + d.segment + d.segment_suffix
        return _encode(text, self.encoding, seg[0])

    def write_segment(self, seg: Sequence[str]) -> None:
        self.stream.write(self.encode_segment(seg))

    def write_segments(self, segments: Iterable[Sequence[str]]) -> None:
        d = self.delimiters
        enc = self.encoding
        parts = []
        el, term = d.element, d.segment + d.segment_suffix
        for seg in segments:
            _check(seg, d)
            parts.append(el.join(seg) + term)
        self.stream.write(_encode("".join(parts), enc, "segment"))

    def write_isa(self, fields: Sequence[str]) -> None:
        """Write an ISA as given (fields ISA01..ISA16), with the writer's delimiters."""
        d = self.delimiters
        fields = list(fields)
        fields[15] = d.component
        if d.repetition and fields[11] >= "00402":
            fields[10] = d.repetition
        text = "ISA" + d.element + d.element.join(fields) + d.segment + d.segment_suffix
        self.stream.write(text.encode(self.encoding, errors=_errors(self.encoding)))

    # -------------------------------------------------------------- envelopes

    def begin_interchange(
        self,
        *,
        sender_qualifier: str,
        sender: str,
        receiver_qualifier: str,
        receiver: str,
        control_number: int | str,
        version: str = "00401",
        ack_requested: bool = False,
        usage: str = "P",
        when: _dt.datetime | None = None,
        authorization: tuple[str, str] = ("00", ""),
        security: tuple[str, str] = ("00", ""),
    ) -> None:
        when = when or _dt.datetime.now(_dt.UTC)
        rep = self.delimiters.repetition if (version >= "00402" and self.delimiters.repetition) else "U"
        fields = _isa_fields(
            [
                authorization[0],
                authorization[1],
                security[0],
                security[1],
                sender_qualifier,
                sender,
                receiver_qualifier,
                receiver,
                when.strftime("%y%m%d"),
                when.strftime("%H%M"),
                rep,
                version,
                str(control_number),
                "1" if ack_requested else "0",
                usage,
                self.delimiters.component,
            ]
        )
        self._isa13 = fields[12]
        self._group_count = 0
        self.write_isa(fields)

    def begin_group(
        self,
        *,
        functional_id: str,
        sender: str,
        receiver: str,
        control_number: int | str,
        version: str = "004010",
        when: _dt.datetime | None = None,
        agency: str = "X",
    ) -> None:
        when = when or _dt.datetime.now(_dt.UTC)
        self._gs06 = str(control_number)
        self._tx_count = 0
        self._group_count += 1
        self.write_segment(
            [
                "GS",
                functional_id,
                sender,
                receiver,
                when.strftime("%Y%m%d"),
                when.strftime("%H%M"),
                self._gs06,
                agency,
                version,
            ]
        )

    def write_transaction(
        self, tx_type: str, control_number: str, body: Iterable[Sequence[str]], implementation: str | None = None
    ) -> int:
        """Write ST, ``body`` and an SE with the right count; returns the segment count."""
        st = ["ST", tx_type, control_number] + ([implementation] if implementation else [])
        segments = [st, *body]
        segments.append(["SE", str(len(segments) + 1), control_number])
        self.write_segments(segments)
        self._tx_count += 1
        return len(segments)

    def end_group(self) -> None:
        self.write_segment(["GE", str(self._tx_count), self._gs06 or ""])
        self._gs06 = None

    def end_interchange(self) -> None:
        self.write_segment(["IEA", str(self._group_count), self._isa13 or ""])
        self._isa13 = None


# ------------------------------------------------------------------ documents


def write_document(doc: Document, stream: BinaryIO | None = None, *, delimiters: Delimiters | None = None) -> bytes:
    """Write a read document back out, in the order it was read; returns the bytes when no stream is given.

    Envelope segments are written as read (trailers included, even wrong
    ones), so that read -> write -> read keeps every element.  Each
    interchange keeps its own delimiters unless ``delimiters`` forces others
    (then ISA11/ISA16 follow the new ones).  Segments that were outside any
    transaction set are findings of the read, not part of the document, and
    are not written.
    """
    out = stream if stream is not None else io.BytesIO()
    if doc.leading:
        out.write(doc.leading.encode(doc.encoding, errors=_errors(doc.encoding)))
    writer: X12Writer | None = None
    for item in doc.events:
        if isinstance(item, Interchange):
            writer = X12Writer(out, delimiters or item.delimiters, encoding=doc.encoding)
            writer.write_isa(item.isa[1:])
            writer.write_segments(item.ta1s)
            continue
        assert writer is not None
        if isinstance(item, FunctionalGroup):
            writer.write_segments([item.gs])
        elif isinstance(item, Transaction):
            writer.write_segments(item.segments)
        elif isinstance(item, GroupEnd):
            if item.group.ge is not None:
                writer.write_segments([item.group.ge])
        elif isinstance(item, InterchangeEnd) and item.interchange.iea is not None:
            writer.write_segments([item.interchange.iea])
    if stream is None:
        assert isinstance(out, io.BytesIO)
        return out.getvalue()
    return b""
