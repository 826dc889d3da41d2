"""EDIFACT writer, the mirror of :mod:`hub.edi.edifact.reader`.

Two ways in:

* :func:`write_document` writes what :func:`~hub.edi.edifact.reader.read_document`
  read, element for element: values are kept escaped as read, so they are
  written as they are (trailers as read, so that read -> write -> read keeps
  every element).  ``delimiters=`` re-encodes with other service characters
  (values are unescaped with the old ones and escaped with the new ones).
* :class:`EdifactWriter` builds new interchanges from plain values:
  ``begin_interchange`` / ``begin_group`` / ``write_message`` / ``end_group``
  / ``end_interchange``, with UNA, references and trailer counts done for you.
  A value is a string (a simple element) or a sequence of strings (the
  components of a composite); every service character in a value is released
  with the release character.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from hub.edi.core import Delimiters, Segment
from hub.edi.edifact import syntax as sx
from hub.edi.edifact.model import Document, Interchange, Message

DEFAULT_DELIMITERS = Delimiters(element="+", component=":", segment="'", repetition=None, release="?",
                                decimal=".", segment_suffix="\n")

Value = str | Sequence[str]


class EdifactWriteError(ValueError):
    """A value cannot be written with the interchange's service characters."""


def _errors(encoding: str) -> str:
    return "strict" if encoding.replace("-", "").replace("_", "").lower() in ("latin1", "iso88591") else \
        "surrogateescape"


def una_string(d: Delimiters) -> str:
    """The UNA service string advice for ``d`` (9 characters)."""
    return "UNA" + d.component + d.element + d.decimal + (d.release or " ") + (d.repetition or " ") + d.segment


def needs_una(d: Delimiters, syntax_version: str = "3") -> bool:
    default = sx.DEFAULT_V4 if syntax_version == "4" else sx.DEFAULT
    return (d.component, d.element, d.decimal, d.release, d.repetition, d.segment) != (
        default.component, default.element, default.decimal, default.release, default.repetition, default.segment)


def encode_values(tag: str, values: Sequence[Value | None], d: Delimiters) -> str:
    """One segment as text from plain values (escaped, trailing empty elements dropped)."""
    out = [tag]
    esc = d.escape
    for value in values:
        if value is None:
            out.append("")
        elif isinstance(value, str):
            out.append(esc(value))
        else:
            comps = [esc(c or "") for c in value]
            while comps and comps[-1] == "":
                comps.pop()
            out.append(d.component.join(comps))
    while len(out) > 1 and out[-1] == "":
        out.pop()
    return d.element.join(out) + d.segment + d.segment_suffix


def reencode(seg: Segment, old: Delimiters, new: Delimiters) -> Segment:
    """A read segment (escaped with ``old``) escaped for ``new`` instead."""
    if old == new or (old.element, old.component, old.segment, old.release, old.repetition) == (
            new.element, new.component, new.segment, new.release, new.repetition):
        return seg
    out = Segment([seg[0]])
    for value in seg[1:]:
        reps = old.repetitions(value) if old.repetition else [value]
        new_reps = []
        for rep in reps:
            comps = old.components(rep)
            new_reps.append(new.component.join(new.escape(c) for c in comps))
        if new.repetition:
            out.append(new.repetition.join(new_reps))
        elif len(new_reps) == 1:
            out.append(new_reps[0])
        else:
            raise EdifactWriteError(f"{seg[0]} has a repeated data element but the new service characters "
                                    "have no repetition separator")
    return out


class EdifactWriter:
    """Write segments to a binary stream with one interchange's service characters."""

    def __init__(self, stream: BinaryIO, delimiters: Delimiters = DEFAULT_DELIMITERS, encoding: str = "latin-1"):
        self.stream = stream
        self.delimiters = delimiters
        self.encoding = encoding
        self._errors = _errors(encoding)
        self._count = 0  # messages (or groups) in the interchange
        self._group_msgs = 0
        self._unb_ref: str | None = None
        self._ung_ref: str | None = None
        self._in_group = False
        self._groups = 0

    def _write(self, text: str) -> None:
        self.stream.write(text.encode(self.encoding, self._errors))

    # --------------------------------------------------------------- segments

    def write_raw(self, segments: Iterable[Sequence[str]]) -> None:
        """Write segments whose values are already escaped (as the reader gives them)."""
        d = self.delimiters
        el, end = d.element, d.segment + d.segment_suffix
        self._write("".join(el.join(seg) + end for seg in segments))

    def write_segment(self, tag: str, *values: Value | None) -> None:
        """Write one segment from plain values (escaped here)."""
        self._write(encode_values(tag, values, self.delimiters))

    def write_una(self) -> None:
        self._write(una_string(self.delimiters) + self.delimiters.segment_suffix)

    # -------------------------------------------------------------- envelopes

    def begin_interchange(
        self,
        *,
        sender: str,
        receiver: str,
        control_reference: str | int,
        sender_qualifier: str = "",
        receiver_qualifier: str = "",
        syntax_identifier: str = "UNOC",
        syntax_version: str = "3",
        when: _dt.datetime | None = None,
        application_reference: str = "",
        ack_requested: bool = False,
        test: bool = False,
        una: bool | None = None,
    ) -> None:
        """Write UNA (when the service characters are not the defaults, or ``una=True``) and UNB."""
        when = when or _dt.datetime.now(_dt.UTC)
        d = self.delimiters
        if una or (una is None and needs_una(d, syntax_version)):
            self.write_una()
        date = when.strftime("%Y%m%d" if syntax_version == "4" else "%y%m%d")
        self._unb_ref = str(control_reference)
        self._count = 0
        self._groups = 0
        values: list[Value | None] = [
            [syntax_identifier, syntax_version],
            [sender, sender_qualifier] if sender_qualifier else [sender],
            [receiver, receiver_qualifier] if receiver_qualifier else [receiver],
            [date, when.strftime("%H%M")],
            self._unb_ref,
            None,
            application_reference or None,
            None,
            "1" if ack_requested else None,
            None,
            "1" if test else None,
        ]
        self.write_segment("UNB", *values)

    def begin_group(self, *, group_id: str, sender: str, receiver: str, reference: str | int,
                    version: str = "D", release: str = "96A", agency: str = "UN",
                    when: _dt.datetime | None = None) -> None:
        when = when or _dt.datetime.now(_dt.UTC)
        self._ung_ref = str(reference)
        self._group_msgs = 0
        self._in_group = True
        self._groups += 1
        self.write_segment("UNG", group_id, [sender], [receiver], [when.strftime("%y%m%d"), when.strftime("%H%M")],
                           self._ung_ref, agency, [version, release])

    def write_message(self, msg_type: str, reference: str, body: Iterable[Sequence[Value | None]],
                      version: str = "D", release: str = "96A", agency: str = "UN",
                      association: str | None = None) -> int:
        """Write UNH, ``body`` (``[tag, value, ...]`` with plain values) and UNT; returns the segment count."""
        d = self.delimiters
        s009 = [msg_type, version, release, agency] + ([association] if association else [])
        parts = [encode_values("UNH", [reference, s009], d)]
        for seg in body:
            parts.append(encode_values(seg[0], list(seg[1:]), d))  # type: ignore[arg-type]
        count = len(parts) + 1
        parts.append(encode_values("UNT", [str(count), reference], d))
        self._write("".join(parts))
        if self._in_group:
            self._group_msgs += 1
        else:
            self._count += 1
        return count

    def end_group(self) -> None:
        self.write_segment("UNE", str(self._group_msgs), self._ung_ref or "")
        self._in_group = False
        self._ung_ref = None

    def end_interchange(self) -> None:
        count = self._groups if self._groups else self._count
        self.write_segment("UNZ", str(count), self._unb_ref or "")
        self._unb_ref = None


# ------------------------------------------------------------------ documents


def write_interchange(writer: EdifactWriter, ic: Interchange, messages: list[Message],
                      source: Delimiters | None = None) -> None:
    """Write one interchange as read: UNA (if it had one, or if the delimiters need one), UNB, groups, trailers."""
    d = writer.delimiters
    old = source or ic.delimiters

    def conv(segs: Iterable[Segment]) -> list[Segment]:
        return [reencode(s, old, d) for s in segs]

    version = ic.syntax_version
    if ic.una is not None and source is None:
        writer._write(ic.una + ic.una_suffix)
    elif ic.una is not None or needs_una(d, version):
        writer.write_una()
    writer.write_raw(conv([ic.unb]))
    by_group: dict[int, list[Message]] = {}
    for m in messages:
        by_group.setdefault(m.group.index, []).append(m)
    for group in ic.groups:
        if group.ung is not None:
            writer.write_raw(conv([group.ung]))
        for m in by_group.get(group.index, []):
            writer.write_raw(conv(m.segments))
        if group.une is not None:
            writer.write_raw(conv([group.une]))
    if ic.unz is not None:
        writer.write_raw(conv([ic.unz]))


def write_document(doc: Document, stream: BinaryIO | None = None, *, delimiters: Delimiters | None = None) -> bytes:
    """Write a read document back out; returns the bytes when no stream is given.

    Each interchange keeps its own service characters and character set unless
    ``delimiters`` forces others (then a UNA announces them and every value is
    re-escaped).
    """
    out = stream if stream is not None else io.BytesIO()
    if doc.leading:
        out.write(doc.leading.encode("latin-1"))
    for ic in doc.interchanges:
        if delimiters is None:
            writer = EdifactWriter(out, ic.delimiters, encoding=ic.encoding)
            write_interchange(writer, ic, [m for m in doc.messages if m.interchange is ic])
        else:
            writer = EdifactWriter(out, delimiters, encoding=ic.encoding)
            write_interchange(writer, ic, [m for m in doc.messages if m.interchange is ic], source=ic.delimiters)
    if stream is None:
        assert isinstance(out, io.BytesIO)
        return out.getvalue()
    return b""


def segments_to_text(segments: Iterable[Segment], delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """Render (escaped) segments as text."""
    d = delimiters
    return "".join(d.element.join(s) + d.segment + d.segment_suffix for s in segments)
