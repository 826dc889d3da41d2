"""The X12 syntax tree: interchanges, functional groups, transaction sets.

The streaming reader yields these objects as it meets them; headers are
complete when yielded, trailers (``iea``, ``ge``) are filled in later, when
the reader reaches them.  A :class:`Transaction` is yielded complete, with all
its segments from ST to SE.  Groups and interchanges keep short summaries of
what they contained (``transactions`` / ``groups``), never the segments, so
that reading a large file holds one transaction set at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.edi.core import Delimiters, Finding, Segment, element


@dataclass(slots=True)
class TransactionSummary:
    type: str
    control_number: str
    segment_count: int
    accepted: bool | None = None  # set by validation, if it ran

    def to_json(self) -> dict:
        return {"type": self.type, "control_number": self.control_number, "segment_count": self.segment_count}


@dataclass(eq=False, slots=True)
class Interchange:
    index: int
    isa: Segment
    delimiters: Delimiters
    encoding: str = "latin-1"
    iea: Segment | None = None
    groups: list[FunctionalGroup] = field(default_factory=list)
    ta1s: list[Segment] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    segment_count: int = 0  # segments read so far, ISA and IEA included

    @property
    def sender_qualifier(self) -> str:
        return element(self.isa, 5).strip()

    @property
    def sender(self) -> str:
        return element(self.isa, 6).strip()

    @property
    def receiver_qualifier(self) -> str:
        return element(self.isa, 7).strip()

    @property
    def receiver(self) -> str:
        return element(self.isa, 8).strip()

    @property
    def date(self) -> str:
        return element(self.isa, 9)

    @property
    def time(self) -> str:
        return element(self.isa, 10)

    @property
    def version(self) -> str:
        return element(self.isa, 12)

    @property
    def control_number(self) -> str:
        return element(self.isa, 13).strip()

    @property
    def ack_requested(self) -> bool:
        return element(self.isa, 14).strip() == "1"

    @property
    def usage(self) -> str:
        return element(self.isa, 15).strip()

    def to_json(self) -> dict:
        return {
            "sender": self.sender,
            "receiver": self.receiver,
            "control_number": self.control_number,
            "groups": [g.to_json() for g in self.groups],
        }


@dataclass(eq=False, slots=True)
class FunctionalGroup:
    index: int
    interchange: Interchange
    gs: Segment
    ge: Segment | None = None
    transactions: list[TransactionSummary] = field(default_factory=list)  # empty unless the reader keeps summaries
    findings: list[Finding] = field(default_factory=list)
    transaction_count: int = 0  # transaction sets read in this group

    @property
    def functional_id(self) -> str:
        return element(self.gs, 1)

    @property
    def sender(self) -> str:
        return element(self.gs, 2)

    @property
    def receiver(self) -> str:
        return element(self.gs, 3)

    @property
    def control_number(self) -> str:
        return element(self.gs, 6)

    @property
    def version(self) -> str:
        return element(self.gs, 8)

    def to_json(self) -> dict:
        return {
            "id": self.functional_id or None,
            "control_number": self.control_number or None,
            "version": self.version or None,
            "transactions": [t.to_json() for t in self.transactions],
        }


@dataclass(eq=False, slots=True)
class Transaction:
    """One transaction set, ST to SE inclusive (SE missing if the file lacked it)."""

    index: int
    interchange: Interchange
    group: FunctionalGroup | None
    segments: list[Segment]
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True  # False when SE was missing
    dropped_segments: int = 0  # segments counted but not kept (over the reader's limit)

    @property
    def st(self) -> Segment:
        return self.segments[0]

    @property
    def se(self) -> Segment | None:
        last = self.segments[-1]
        return last if self.complete and last[0] == "SE" else None

    @property
    def type(self) -> str:
        return element(self.st, 1)

    @property
    def control_number(self) -> str:
        return element(self.st, 2)

    @property
    def implementation(self) -> str:
        """ST03, the implementation convention reference (005010 on)."""
        return element(self.st, 3)

    @property
    def version(self) -> str:
        """The version that governs this set: ST03 if present, else GS08, else ISA12."""
        if self.implementation:
            return self.implementation
        if self.group is not None and self.group.version:
            return self.group.version
        return self.interchange.version

    @property
    def segment_count(self) -> int:
        return len(self.segments) + self.dropped_segments

    @property
    def delimiters(self) -> Delimiters:
        return self.interchange.delimiters

    def body(self) -> list[Segment]:
        """Segments between ST and SE."""
        end = -1 if self.se is not None else len(self.segments)
        return self.segments[1:end]

    def summary(self) -> TransactionSummary:
        return TransactionSummary(self.type, self.control_number, self.segment_count)


@dataclass(eq=False, slots=True)
class Document:
    """A whole file held in memory: what :func:`hub.edi.x12.read_document` returns."""

    interchanges: list[Interchange]
    transactions: list[Transaction]  # in file order; each knows its group and interchange
    findings: list[Finding]
    encoding: str = "latin-1"
    not_x12: bool = False
    leading: str = ""  # BOM and whitespace before the first ISA, kept for exact writing
    events: list = field(default_factory=list)  # everything the reader yielded, in file order

    def transactions_of(self, group: FunctionalGroup) -> list[Transaction]:
        return [t for t in self.transactions if t.group is group]
