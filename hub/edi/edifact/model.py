"""The EDIFACT syntax tree: interchanges, (optional) groups, messages.

The mirror of :mod:`hub.edi.x12.model`.  The streaming reader yields these
objects as it meets them; headers are complete when yielded, trailers
(``unz``, ``une``) are filled in later.  A :class:`Message` is yielded complete,
UNH to UNT.  Groups and interchanges keep summaries of their messages, never
the segments, so that reading a large file holds one message at a time.

Element values are kept in their *escaped* form, as they stand in the file
(release characters included, line breaks removed, character set decoded):
writing them back gives the same text.  ``Delimiters.components`` and
``Delimiters.unescape`` (or :meth:`Message.value`) give the plain values.

Messages that are not inside UNG..UNE belong to one implicit group whose
``ung`` is ``None`` (its JSON ``id`` is ``null``), so that an interchange
always looks like X12's: interchanges -> groups -> transactions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.edi.core import Delimiters, Finding, Segment, element
from hub.edi.x12.model import TransactionSummary

__all__ = ["Document", "FunctionalGroup", "Interchange", "Message", "Transaction", "TransactionSummary"]


def _component(delims: Delimiters, value: str, index: int) -> str:
    """Component ``index`` (1-based) of a composite value, unescaped."""
    parts = delims.components(value)
    return parts[index - 1] if 0 < index <= len(parts) else ""


@dataclass(eq=False, slots=True)
class Interchange:
    index: int
    unb: Segment
    delimiters: Delimiters
    una: str | None = None  # the 9 characters "UNA:+.? '" as read, or None
    una_suffix: str = ""  # line break after UNA, kept for exact writing
    encoding: str = "latin-1"
    unz: Segment | None = None
    groups: list[FunctionalGroup] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    segment_count: int = 0  # segments read so far, UNB and UNZ included (UNA not counted)
    message_count: int = 0

    def _c(self, index: int, component: int) -> str:
        return _component(self.delimiters, element(self.unb, index), component)

    @property
    def syntax_identifier(self) -> str:
        return self._c(1, 1)

    @property
    def syntax_version(self) -> str:
        return self._c(1, 2)

    @property
    def sender(self) -> str:
        return self._c(2, 1)

    @property
    def sender_qualifier(self) -> str:
        return self._c(2, 2)

    @property
    def receiver(self) -> str:
        return self._c(3, 1)

    @property
    def receiver_qualifier(self) -> str:
        return self._c(3, 2)

    @property
    def date(self) -> str:
        return self._c(4, 1)

    @property
    def time(self) -> str:
        return self._c(4, 2)

    @property
    def control_number(self) -> str:
        return self.delimiters.unescape(element(self.unb, 5))

    @property
    def application_reference(self) -> str:
        return self.delimiters.unescape(element(self.unb, 7))

    @property
    def ack_requested(self) -> bool:
        return element(self.unb, 9) == "1"

    @property
    def test_indicator(self) -> str:
        return element(self.unb, 11)

    @property
    def version(self) -> str:
        """Syntax identifier and version, e.g. ``UNOC:3``."""
        return f"{self.syntax_identifier}:{self.syntax_version}"

    def to_json(self) -> dict:
        return {
            "sender": self.sender,
            "receiver": self.receiver,
            "control_number": self.control_number,
            "groups": [g.to_json() for g in self.groups],
        }


@dataclass(eq=False, slots=True)
class FunctionalGroup:
    """A UNG..UNE group, or (``ung`` None) the messages sent without one."""

    index: int
    interchange: Interchange
    ung: Segment | None
    une: Segment | None = None
    transactions: list[TransactionSummary] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def implicit(self) -> bool:
        return self.ung is None

    def _c(self, index: int, component: int) -> str:
        if self.ung is None:
            return ""
        return _component(self.interchange.delimiters, element(self.ung, index), component)

    @property
    def functional_id(self) -> str:
        return self._c(1, 1)

    @property
    def sender(self) -> str:
        return self._c(2, 1)

    @property
    def receiver(self) -> str:
        return self._c(3, 1)

    @property
    def control_number(self) -> str:
        return self._c(5, 1)

    @property
    def version(self) -> str:
        """``0052:0054`` of S008 (e.g. ``D:96A``), association code appended when given."""
        if self.ung is None:
            return ""
        parts = self.interchange.delimiters.components(element(self.ung, 7))
        return ":".join(p for p in parts[:3] if p)

    def to_json(self) -> dict:
        return {
            "id": self.functional_id or None if self.ung is not None else None,
            "control_number": (self.control_number or None) if self.ung is not None else None,
            "version": (self.version or None) if self.ung is not None else None,
            "transactions": [t.to_json() for t in self.transactions],
        }


@dataclass(eq=False, slots=True)
class Message:
    """One message, UNH to UNT inclusive (UNT missing if the file lacked it)."""

    index: int  # in its group (0-based)
    interchange: Interchange
    group: FunctionalGroup
    segments: list[Segment]
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True
    dropped_segments: int = 0

    @property
    def unh(self) -> Segment:
        return self.segments[0]

    st = unh  # X12 spelling, so that generic code reads both

    @property
    def unt(self) -> Segment | None:
        last = self.segments[-1]
        return last if self.complete and last[0] == "UNT" else None

    se = unt

    @property
    def delimiters(self) -> Delimiters:
        return self.interchange.delimiters

    def value(self, seg: Segment, index: int, component: int | None = None) -> str:
        """The plain (unescaped) value of an element or one of its components."""
        raw = element(seg, index)
        if component is None:
            return self.delimiters.unescape(raw)
        return _component(self.delimiters, raw, component)

    @property
    def control_number(self) -> str:
        return self.delimiters.unescape(element(self.unh, 1))

    @property
    def type(self) -> str:
        return _component(self.delimiters, element(self.unh, 2), 1)

    @property
    def version_number(self) -> str:
        return _component(self.delimiters, element(self.unh, 2), 2)

    @property
    def release(self) -> str:
        return _component(self.delimiters, element(self.unh, 2), 3)

    @property
    def agency(self) -> str:
        return _component(self.delimiters, element(self.unh, 2), 4)

    @property
    def association(self) -> str:
        return _component(self.delimiters, element(self.unh, 2), 5)

    @property
    def version(self) -> str:
        """Directory of the message, e.g. ``D96A`` (version + release of S009)."""
        return f"{self.version_number}{self.release}"

    @property
    def segment_count(self) -> int:
        return len(self.segments) + self.dropped_segments

    def body(self) -> list[Segment]:
        end = -1 if self.unt is not None else len(self.segments)
        return self.segments[1:end]

    def summary(self) -> TransactionSummary:
        return TransactionSummary(self.type, self.control_number, self.segment_count)


Transaction = Message


@dataclass(eq=False, slots=True)
class Document:
    """A whole file held in memory: what :func:`hub.edi.edifact.read_document` returns."""

    interchanges: list[Interchange]
    messages: list[Message]
    findings: list[Finding]
    encoding: str = "latin-1"
    not_edifact: bool = False
    leading: str = ""
    trailing: str = ""  # text after the last interchange (kept so that writing is exact)

    @property
    def transactions(self) -> list[Message]:
        return self.messages

    def messages_of(self, group: FunctionalGroup) -> list[Message]:
        return [m for m in self.messages if m.group is group]
