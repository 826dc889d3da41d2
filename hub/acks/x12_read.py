"""Read inbound X12 acknowledgments (997, 999, TA1) into structured reports.

:func:`read_acks` streams over a source once and returns one
:class:`AckReport` per acknowledged functional group (one per 997/999
transaction set: AK1 .. AK9) and one per TA1 segment, in file order.  Every
code carries its meaning from the code lists below, so that a person (or the
reconciliation step) never needs the X12 dictionary at hand.

Malformed acknowledgments never raise: what cannot be understood becomes a
:class:`~hub.edi.core.Finding` on the report it concerns (and on the list
returned, :attr:`AckReports.findings`), and the report's status is
``unknown`` when the trailer that carries it (AK5/IK5, AK9, TA104) is
missing or invalid.

The code tables are also what :mod:`hub.acks.x12_build` writes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.edi.core import ERROR, SCHEMA, SYNTAX, WARNING, Delimiters, Finding, Segment
from hub.edi.x12.model import Interchange, Transaction
from hub.edi.x12.reader import Source, X12Reader

# ---------------------------------------------------------------- code lists

#: TA104 (I17) Interchange Acknowledgment Code.
TA104_CODES = {
    "A": "The transmitted interchange control structure header and trailer have been received and have no errors",
    "E": "The transmitted interchange control structure header and trailer have been received and are accepted "
    "but errors are noted; the sender must not resend this data",
    "R": "The transmitted interchange control structure header and trailer are rejected because of errors",
}

#: TA105 (I18) Interchange Note Code.
TA105_CODES = {
    "000": "No error",
    "001": "The Interchange Control Number in the Header and Trailer Do Not Match; the value from the header is "
    "used in the acknowledgment",
    "002": "This Standard as Noted in the Control Standards Identifier is Not Supported",
    "003": "This Version of the Controls is Not Supported",
    "004": "The Segment Terminator is Invalid",
    "005": "Invalid Interchange ID Qualifier for Sender",
    "006": "Invalid Interchange Sender ID",
    "007": "Invalid Interchange ID Qualifier for Receiver",
    "008": "Invalid Interchange Receiver ID",
    "009": "Unknown Interchange Receiver ID",
    "010": "Invalid Authorization Information Qualifier Value",
    "011": "Invalid Authorization Information Value",
    "012": "Invalid Security Information Qualifier Value",
    "013": "Invalid Security Information Value",
    "014": "Invalid Interchange Date Value",
    "015": "Invalid Interchange Time Value",
    "016": "Invalid Interchange Standards Identifier Value",
    "017": "Invalid Interchange Version ID Value",
    "018": "Invalid Interchange Control Number Value",
    "019": "Invalid Acknowledgment Requested Value",
    "020": "Invalid Test Indicator Value",
    "021": "Invalid Number of Included Groups Value",
    "022": "Invalid Control Structure",
    "023": "Improper (Premature) End-of-File (Transmission)",
    "024": "Invalid Interchange Content (e.g., Invalid GS Segment)",
    "025": "Duplicate Interchange Control Number",
    "026": "Invalid Data Element Separator",
    "027": "Invalid Component Element Separator",
    "028": "Invalid Delivery Date in Deferred Delivery Request",
    "029": "Invalid Delivery Time in Deferred Delivery Request",
    "030": "Invalid Delivery Time Code in Deferred Delivery Request",
    "031": "Invalid Grade of Service Code",
}

#: AK901 (715) Functional Group Acknowledge Code.
AK901_CODES = {
    "A": "Accepted",
    "E": "Accepted, But Errors Were Noted",
    "M": "Rejected, Message Authentication Code (MAC) Failed",
    "P": "Partially Accepted, At Least One Transaction Set Was Rejected",
    "R": "Rejected",
    "W": "Rejected, Assurance Failed Validity Tests",
    "X": "Rejected, Content After Decryption Could Not Be Analyzed",
}

#: AK501 / IK501 (717) Transaction Set Acknowledgment Code.
AK501_CODES = {k: v for k, v in AK901_CODES.items() if k != "P"}
AK501_CODES["E"] = "Accepted But Errors Were Noted"

#: AK905.. (716) Functional Group Syntax Error Code (19 from 005010 on).
AK905_CODES = {
    "1": "Functional Group Not Supported",
    "2": "Functional Group Version Not Supported",
    "3": "Functional Group Trailer Missing",
    "4": "Group Control Number in the Functional Group Header and Trailer Do Not Agree",
    "5": "Number of Included Transaction Sets Does Not Match Actual Count",
    "6": "Group Control Number Violates Syntax",
    "10": "Authentication Key Name Unknown",
    "11": "Encryption Key Name Unknown",
    "12": "Requested Service (Authentication or Encryption) Not Available",
    "13": "Unknown Security Recipient",
    "14": "Unknown Security Originator",
    "15": "Syntax Error in Decrypted Text",
    "16": "Security Not Supported",
    "17": "Incorrect Message Length (Encryption Only)",
    "18": "Message Authentication Code Failed",
    "19": "Functional Group Control Number not Unique within Interchange",
    "23": "S3E Security End Segment Missing for S3S Security Start Segment",
    "24": "S3S Security Start Segment Missing for S3E Security End Segment",
    "25": "S4E Security End Segment Missing for S4S Security Start Segment",
    "26": "S4S Security Start Segment Missing for S4E Security End Segment",
}

#: AK502.. (718) Transaction Set Syntax Error Code (18 and 19 from 005010 on).
AK502_CODES = {
    "1": "Transaction Set Not Supported",
    "2": "Transaction Set Trailer Missing",
    "3": "Transaction Set Control Number in Header and Trailer Do Not Match",
    "4": "Number of Included Segments Does Not Match Actual Count",
    "5": "One or More Segments in Error",
    "6": "Missing or Invalid Transaction Set Identifier",
    "7": "Missing or Invalid Transaction Set Control Number",
    "8": "Authentication Key Name Unknown",
    "9": "Encryption Key Name Unknown",
    "10": "Requested Service (Authentication or Encrypted) Not Available",
    "11": "Unknown Security Recipient",
    "12": "Incorrect Message Length (Encryption Only)",
    "13": "Message Authentication Code Failed",
    "15": "Unknown Security Originator",
    "16": "Syntax Error in Decrypted Text",
    "17": "Security Not Supported",
    "18": "Transaction Set not in Functional Group",
    "19": "Invalid Transaction Set Implementation Convention Reference",
    "23": "Transaction Set Control Number Not Unique within the Functional Group",
    "24": "S3E Security End Segment Missing for S3S Security Start Segment",
    "25": "S3S Security Start Segment Missing for S3E Security End Segment",
    "26": "S4E Security End Segment Missing for S4S Security Start Segment",
    "27": "S4S Security Start Segment Missing for S4E Security End Segment",
}

#: IK502.. (618) Implementation Transaction Set Syntax Error Code (999).
IK502_CODES = {
    **AK502_CODES,
    "I5": "Implementation One or More Segments in Error",
    "I6": "Implementation Convention Not Supported",
}

#: AK304 (720) Segment Syntax Error Code.
AK304_CODES = {
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Mandatory (required) segment missing",
    "4": "Loop Occurs Over Maximum Times",
    "5": "Segment Exceeds Maximum Use",
    "6": "Segment Not in Defined Transaction Set",
    "7": "Segment Not in Proper Sequence",
    "8": "Segment Has Data Element Errors",
}

#: IK304 (620) Implementation Segment Syntax Error Code (999).
IK304_CODES = {
    **AK304_CODES,
    "I4": 'Implementation "Not Used" Segment Present',
    "I6": "Implementation Dependent Segment Missing",
    "I7": "Implementation Loop Occurs Under Minimum Times",
    "I8": "Implementation Segment Below Minimum Use",
    "I9": 'Implementation Dependent "Not Used" Segment Present',
}

#: AK403 (723) Data Element Syntax Error Code (12 and 13 from 005010 on).
AK403_CODES = {
    "1": "Mandatory (required) data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid Date",
    "9": "Invalid Time",
    "10": "Exclusion Condition Violated",
    "12": "Too Many Repetitions",
    "13": "Too Many Components",
}

#: IK403 (621) Implementation Data Element Syntax Error Code (999).
IK403_CODES = {
    **AK403_CODES,
    "I10": 'Implementation "Not Used" Data Element Present',
    "I11": "Implementation Too Few Repetitions",
    "I12": "Implementation Pattern Match Failure",
    "I13": 'Implementation Dependent "Not Used" Data Element Present',
    "I6": "Code Value Not Used in Implementation",
    "I9": "Implementation Dependent Data Element Missing",
}

#: The codes a 004010 997 may carry (the lists above grew in later versions).
CODES_004010 = {
    "AK905": frozenset(c for c in AK905_CODES if c != "19"),
    "AK502": frozenset(c for c in AK502_CODES if c not in ("18", "19")),
    "AK304": frozenset(AK304_CODES),
    "AK403": frozenset(c for c in AK403_CODES if c not in ("12", "13")),
}

# --------------------------------------------------------------- statuses

ACCEPTED = "accepted"
ACCEPTED_WITH_ERRORS = "accepted_with_errors"
PARTIALLY_ACCEPTED = "partially_accepted"
REJECTED = "rejected"
UNKNOWN = "unknown"

STATUS_OF_CODE = {
    "A": ACCEPTED,
    "E": ACCEPTED_WITH_ERRORS,
    "P": PARTIALLY_ACCEPTED,
    "R": REJECTED,
    "M": REJECTED,
    "W": REJECTED,
    "X": REJECTED,
}


def meaning(table: dict[str, str], code: str | None) -> str:
    """The meaning of ``code`` in ``table``, or a note that it is not in the list."""
    if code is None or code == "":
        return ""
    return table.get(code, f"unknown code {code!r}")


# ------------------------------------------------------------------ reports


@dataclass(slots=True)
class CodeNote:
    """One code with its meaning (AK502.., AK905.., TA105)."""

    code: str
    meaning: str

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "meaning": self.meaning}


@dataclass(slots=True)
class ContextNote:
    """A 999 CTX segment: business unit (``name``/``reference``, e.g. CLM01 / claim number)
    or segment context (``name`` "SITUATIONAL TRIGGER" with the segment it points at)."""

    names: list[tuple[str, str | None]]  # CTX01 (repeatable): (context name, context reference)
    segment_id: str | None = None  # CTX02
    segment: int | None = None  # CTX03
    loop_id: str | None = None  # CTX04
    element: int | None = None  # CTX05-1
    component: int | None = None  # CTX05-2
    repetition: int | None = None  # CTX05-3
    element_ref: str | None = None  # CTX06-1

    @property
    def name(self) -> str:
        return self.names[0][0] if self.names else ""

    @property
    def reference(self) -> str | None:
        return self.names[0][1] if self.names else None

    def to_json(self) -> dict[str, Any]:
        return {
            "names": [{"name": n, "reference": r} for n, r in self.names],
            "segment_id": self.segment_id,
            "segment": self.segment,
            "loop_id": self.loop_id,
            "element": self.element,
            "component": self.component,
            "repetition": self.repetition,
            "element_ref": self.element_ref,
        }


@dataclass(slots=True)
class ElementNote:
    """AK4 / IK4: one data element in error."""

    element: int | None
    component: int | None
    repetition: int | None
    element_ref: str | None
    code: str
    meaning: str
    bad_value: str | None = None
    context: list[ContextNote] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "component": self.component,
            "repetition": self.repetition,
            "element_ref": self.element_ref,
            "code": self.code,
            "meaning": self.meaning,
            "bad_value": self.bad_value,
            "context": [c.to_json() for c in self.context],
        }


@dataclass(slots=True)
class SegmentNote:
    """AK3 / IK3: one segment in error, with its element notes."""

    segment_id: str
    position: int | None
    loop_id: str | None
    code: str | None
    meaning: str
    elements: list[ElementNote] = field(default_factory=list)
    context: list[ContextNote] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "position": self.position,
            "loop_id": self.loop_id,
            "code": self.code,
            "meaning": self.meaning,
            "elements": [e.to_json() for e in self.elements],
            "context": [c.to_json() for c in self.context],
        }


@dataclass(slots=True)
class SetAck:
    """AK2 .. AK5 (IK5): the acknowledgment of one transaction set."""

    type: str
    control_number: str
    implementation: str | None = None  # AK203 (999)
    status: str = UNKNOWN
    code: str | None = None  # AK501 / IK501
    meaning: str = ""
    errors: list[CodeNote] = field(default_factory=list)  # AK502.. / IK502..
    segments: list[SegmentNote] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "control_number": self.control_number,
            "implementation": self.implementation,
            "status": self.status,
            "code": self.code,
            "meaning": self.meaning,
            "errors": [e.to_json() for e in self.errors],
            "segments": [s.to_json() for s in self.segments],
        }


@dataclass(slots=True)
class AckReport:
    """One acknowledgment read from a file.

    ``kind`` is ``"997"`` or ``"999"`` for the acknowledgment of one functional
    group (AK1 .. AK9; the group fields are set), or ``"TA1"`` for an
    interchange acknowledgment (the ``interchange_*`` / ``note_*`` fields are
    set).  ``status`` is one of ``accepted``, ``accepted_with_errors``,
    ``partially_accepted``, ``rejected`` or ``unknown`` (trailer missing or
    invalid); ``code`` is the letter it came from (AK901 / TA104).

    ``ack_*`` describe the envelope the acknowledgment itself came in, for
    reconciliation: who sent it and under which control numbers.
    """

    kind: str
    status: str = UNKNOWN
    code: str | None = None
    meaning: str = ""
    # 997 / 999: the group acknowledged (AK1) and the AK9 trailer
    functional_id: str | None = None
    group_control_number: str | None = None
    version: str | None = None  # AK103 (999, 005010 997)
    included: int | None = None  # AK902
    received: int | None = None  # AK903
    accepted: int | None = None  # AK904
    errors: list[CodeNote] = field(default_factory=list)  # AK905.. (group) / TA105 (interchange, when not 000)
    sets: list[SetAck] = field(default_factory=list)
    # TA1: the interchange acknowledged
    interchange_control_number: str | None = None  # TA101
    interchange_date: str | None = None  # TA102
    interchange_time: str | None = None  # TA103
    note_code: str | None = None  # TA105
    note_meaning: str | None = None
    # the acknowledgment's own envelope
    ack_sender: str | None = None  # ISA06 (stripped)
    ack_receiver: str | None = None  # ISA08 (stripped)
    ack_interchange: str | None = None  # ISA13
    ack_group: str | None = None  # GS06 (997/999)
    ack_control_number: str | None = None  # ST02 (997/999)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Accepted (with or without noted errors)."""
        return self.status in (ACCEPTED, ACCEPTED_WITH_ERRORS)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "status": self.status,
            "code": self.code,
            "meaning": self.meaning,
            "ack": {
                "sender": self.ack_sender,
                "receiver": self.ack_receiver,
                "interchange": self.ack_interchange,
                "group": self.ack_group,
                "control_number": self.ack_control_number,
            },
            "findings": [f.to_json() for f in self.findings],
        }
        if self.kind == "TA1":
            out.update(
                interchange_control_number=self.interchange_control_number,
                interchange_date=self.interchange_date,
                interchange_time=self.interchange_time,
                note_code=self.note_code,
                note_meaning=self.note_meaning,
            )
        else:
            out.update(
                functional_id=self.functional_id,
                group_control_number=self.group_control_number,
                version=self.version,
                included=self.included,
                received=self.received,
                accepted=self.accepted,
                errors=[e.to_json() for e in self.errors],
                sets=[s.to_json() for s in self.sets],
            )
        return out


class AckReports(list):
    """What :func:`read_acks` returns: a ``list[AckReport]`` that also carries
    every finding of the file (envelope findings of the reader and problems
    of the acknowledgments, in file order) and whether it was X12 at all."""

    def __init__(self, reports=(), findings: list[Finding] | None = None, not_x12: bool = False):
        super().__init__(reports)
        self.findings: list[Finding] = findings if findings is not None else []
        self.not_x12 = not_x12


# ------------------------------------------------------------------ parsing


def _el(seg: list[str], index: int) -> str:
    """Element ``index`` (1-based, as in ``AK304``) of a segment, ``""`` when absent."""
    return seg[index] if 0 < index < len(seg) else ""


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() else None


class _SetParser:
    """Parse the segments of one 997/999 transaction set into an AckReport."""

    def __init__(self, tx: Transaction, report: AckReport, sink: list[Finding]):
        self.tx = tx
        self.kind = report.kind
        self.report = report
        self.sink = sink
        self.d: Delimiters = tx.delimiters
        self.pos = 0
        self.seg: Segment | None = None
        self.have_ak1 = False
        self.have_ak9 = False
        self.set: SetAck | None = None
        self.set_closed = True
        self.segnote: SegmentNote | None = None
        self.elnote: ElementNote | None = None

    # findings
    def _finding(self, code: str, message: str, *, severity: str = ERROR, layer: str = SCHEMA, element=None, **kw):
        tx = self.tx
        seg = self.seg
        f = Finding(
            code=code,
            severity=severity,
            layer=layer,
            message=message,
            interchange=tx.interchange.index,
            group=tx.group.index if tx.group is not None else None,
            transaction=tx.index,
            segment=self.pos or None,
            element=element,
            segment_id=seg[0][:10] if seg else None,
            **kw,
        )
        self.report.findings.append(f)
        self.sink.append(f)
        return f

    def _code(self, table: dict[str, str], value: str, name: str, element: int) -> str:
        value = value.strip()
        if value not in table:
            self._finding(
                "ACK_CODE_INVALID",
                f"{name} {value!r} is not a valid code" + (" (missing)" if not value else ""),
                element=element,
                bad_value=value,
            )
        return value

    def _number(self, value: str, name: str, element: int, *, required: bool = True) -> int | None:
        n = _int(value)
        if n is None and (required or value.strip()):
            self._finding(
                "ACK_VALUE_INVALID",
                f"{name} {value!r} is not a number",
                element=element,
                bad_value=value,
            )
        return n

    def _positions(self, value: str, name: str, element: int) -> tuple[int | None, int | None, int | None]:
        parts = self.d.components(value) if value else [""]
        nums: list[int | None] = []
        for i, part in enumerate(parts[:3]):
            if part == "" and i > 0:
                nums.append(None)
                continue
            nums.append(self._number(part, f"{name}-{i + 1}", element))
        if len(parts) > 3:
            self._finding("ACK_VALUE_INVALID", f"{name} {value!r} has more than 3 components", element=element)
        while len(nums) < 3:
            nums.append(None)
        return nums[0], nums[1], nums[2]

    def _check_arity(self, seg: Segment, maximum: int) -> None:
        if len(seg) - 1 > maximum:
            self._finding(
                "ACK_TOO_MANY_ELEMENTS",
                f"{seg[0]} has {len(seg) - 1} elements, at most {maximum} are defined",
                element=maximum + 1,
            )

    def _no_repetition(self, seg: Segment, *elements: int) -> None:
        rep = self.d.repetition
        if not rep:
            return
        for n in elements:
            if rep in _el(seg, n):
                self._finding(
                    "ACK_REPETITION_NOT_ALLOWED",
                    f"{seg[0]}{n:02d} {_el(seg, n)!r} contains the repetition separator {rep!r}; it does not repeat",
                    element=n,
                    bad_value=_el(seg, n),
                )

    # structure
    def _close_set(self, why: str | None) -> None:
        s = self.set
        if s is not None and not self.set_closed and why:
            self._finding(
                "ACK_STRUCTURE",
                f"AK2 {s.type} {s.control_number} has no {self._trailer()} before {why}",
                layer=SYNTAX,
            )
        self.set_closed = True
        self.segnote = None
        self.elnote = None

    def _trailer(self) -> str:
        return "IK5" if self.kind == "999" else "AK5"

    def parse(self) -> None:
        segments = self.tx.segments
        body_end = len(segments) - 1 if self.tx.se is not None else len(segments)
        for i in range(1, body_end):
            self.pos = i + 1
            self.seg = seg = segments[i]
            tag = seg[0]
            handler = getattr(self, "_seg_" + tag, None)
            if handler is None:
                self._finding(
                    "ACK_UNEXPECTED_SEGMENT",
                    f"segment {tag[:10]!r} does not belong in a {self.kind}",
                    layer=SYNTAX,
                )
                continue
            handler(seg)
        self.pos = len(segments) if self.tx.se is not None else 0
        self.seg = self.tx.se
        self._close_set("SE")
        if not self.have_ak1:
            self._finding("ACK_STRUCTURE", f"the {self.kind} has no AK1 segment", layer=SYNTAX)
        if not self.have_ak9:
            self._finding("ACK_STRUCTURE", f"the {self.kind} has no AK9 segment", layer=SYNTAX)

    def _seg_AK1(self, seg: Segment) -> None:
        r = self.report
        if self.have_ak1:
            self._finding("ACK_STRUCTURE", "a second AK1 in the same acknowledgment; ignored", layer=SYNTAX)
            return
        if r.sets:
            self._finding("ACK_STRUCTURE", "AK1 comes after AK2 loops", layer=SYNTAX)
        self.have_ak1 = True
        self._check_arity(seg, 3)
        r.functional_id = _el(seg, 1).strip()
        r.group_control_number = _el(seg, 2).strip()
        r.version = _el(seg, 3).strip() or None
        fid = _el(seg, 1)
        if not (len(fid) == 2 and fid.isalnum()):
            self._finding("ACK_VALUE_INVALID", f"AK101 functional identifier {fid!r} is not a 2-character code",
                          element=1, bad_value=fid)
        gcn = _el(seg, 2)
        if not (gcn.isdigit() and 1 <= len(gcn) <= 9):
            self._finding("ACK_VALUE_INVALID", f"AK102 group control number {gcn!r} must be 1-9 digits",
                          element=2, bad_value=gcn)
        if self.kind == "999" and not r.version:
            self._finding("ACK_VALUE_INVALID", "AK103 (version of the acknowledged group) is required in a 999",
                          element=3, severity=WARNING)

    def _seg_AK2(self, seg: Segment) -> None:
        self._close_set("the next AK2")
        if not self.have_ak1:
            self._finding("ACK_STRUCTURE", "AK2 before AK1", layer=SYNTAX)
        if self.have_ak9:
            self._finding("ACK_STRUCTURE", "AK2 after AK9", layer=SYNTAX)
        self._check_arity(seg, 3)
        s = SetAck(
            type=_el(seg, 1).strip(), control_number=_el(seg, 2).strip(), implementation=_el(seg, 3).strip() or None
        )
        if not (len(s.type) == 3 and s.type.isalnum()):
            self._finding("ACK_VALUE_INVALID", f"AK201 transaction set identifier {_el(seg, 1)!r} is not 3 characters",
                          element=1, bad_value=_el(seg, 1))
        if not 4 <= len(s.control_number) <= 9:
            self._finding("ACK_VALUE_INVALID", f"AK202 control number {_el(seg, 2)!r} must be 4-9 characters",
                          element=2, bad_value=_el(seg, 2))
        self.report.sets.append(s)
        self.set = s
        self.set_closed = False

    def _open_set(self, tag: str) -> SetAck | None:
        if self.set is None or self.set_closed:
            self._finding("ACK_STRUCTURE", f"{tag} outside an AK2 loop; ignored", layer=SYNTAX)
            return None
        return self.set

    def _segment_note(self, seg: Segment, table: dict[str, str]) -> None:
        tag = seg[0]
        s = self._open_set(tag)
        if s is None:
            return
        self._check_arity(seg, 4)
        self._no_repetition(seg, 1, 2, 3, 4)
        sid = _el(seg, 1).strip()
        if not (2 <= len(sid) <= 3 and sid.isalnum()):
            self._finding("ACK_VALUE_INVALID", f"{tag}01 segment ID {_el(seg, 1)!r} is not 2-3 characters",
                          element=1, bad_value=_el(seg, 1))
        position = self._number(_el(seg, 2), f"{tag}02 segment position", 2)
        code = _el(seg, 4).strip() or None
        if code is not None:
            self._code(table, code, f"{tag}04", 4)
        note = SegmentNote(
            segment_id=sid,
            position=position,
            loop_id=_el(seg, 3).strip() or None,
            code=code,
            meaning=meaning(table, code),
        )
        s.segments.append(note)
        self.segnote = note
        self.elnote = None

    def _element_note(self, seg: Segment, table: dict[str, str]) -> None:
        tag = seg[0]
        if self._open_set(tag) is None:
            return
        if self.segnote is None:
            self._finding("ACK_STRUCTURE", f"{tag} without a preceding {'IK3' if tag == 'IK4' else 'AK3'}; ignored",
                          layer=SYNTAX)
            return
        self._check_arity(seg, 4)
        self._no_repetition(seg, 1, 2, 3, 4)
        element, component, repetition = self._positions(_el(seg, 1), f"{tag}01", 1)
        ref = _el(seg, 2).strip() or None
        if ref is not None and not (ref.isdigit() and len(ref) <= 4):
            self._finding("ACK_VALUE_INVALID", f"{tag}02 data element reference {_el(seg, 2)!r} is not a number of "
                          "1-4 digits", element=2, bad_value=_el(seg, 2))
        code = self._code(table, _el(seg, 3), f"{tag}03", 3)
        note = ElementNote(
            element=element,
            component=component,
            repetition=repetition,
            element_ref=ref,
            code=code,
            meaning=meaning(table, code) if code else "",
            bad_value=_el(seg, 4) if len(seg) > 4 else None,
        )
        self.segnote.elements.append(note)
        self.elnote = note

    def _seg_AK3(self, seg: Segment) -> None:
        if self.kind == "999":
            self._finding("ACK_UNEXPECTED_SEGMENT", "AK3 in a 999 (a 999 uses IK3)", severity=WARNING, layer=SYNTAX)
        self._segment_note(seg, AK304_CODES)

    def _seg_IK3(self, seg: Segment) -> None:
        if self.kind == "997":
            self._finding("ACK_UNEXPECTED_SEGMENT", "IK3 in a 997 (a 997 uses AK3)", severity=WARNING, layer=SYNTAX)
        self._segment_note(seg, IK304_CODES)

    def _seg_AK4(self, seg: Segment) -> None:
        if self.kind == "999":
            self._finding("ACK_UNEXPECTED_SEGMENT", "AK4 in a 999 (a 999 uses IK4)", severity=WARNING, layer=SYNTAX)
        self._element_note(seg, AK403_CODES)

    def _seg_IK4(self, seg: Segment) -> None:
        if self.kind == "997":
            self._finding("ACK_UNEXPECTED_SEGMENT", "IK4 in a 997 (a 997 uses AK4)", severity=WARNING, layer=SYNTAX)
        self._element_note(seg, IK403_CODES)

    def _seg_CTX(self, seg: Segment) -> None:
        if self.kind == "997":
            self._finding("ACK_UNEXPECTED_SEGMENT", "CTX in a 997 (only a 999 has CTX)", severity=WARNING,
                          layer=SYNTAX)
        if self._open_set("CTX") is None:
            return
        if self.segnote is None:
            self._finding("ACK_STRUCTURE", "CTX without a preceding IK3; ignored", layer=SYNTAX)
            return
        self._check_arity(seg, 6)
        d = self.d
        names: list[tuple[str, str | None]] = []
        for occurrence in d.repetitions(_el(seg, 1)):
            parts = d.components(occurrence)
            names.append((parts[0], parts[1] if len(parts) > 1 and parts[1] != "" else None))
        if not names or not names[0][0]:
            self._finding("ACK_VALUE_INVALID", "CTX01 context name is missing", element=1)
        ctx = ContextNote(names=names)
        if _el(seg, 2) or _el(seg, 3):
            ctx.segment_id = _el(seg, 2).strip() or None
            ctx.segment = self._number(_el(seg, 3), "CTX03 segment position", 3)
            ctx.loop_id = _el(seg, 4).strip() or None
        if _el(seg, 5):
            ctx.element, ctx.component, ctx.repetition = self._positions(_el(seg, 5), "CTX05", 5)
        if _el(seg, 6):
            first = d.components(_el(seg, 6))[0]
            if not (first.isdigit() and len(first) <= 4):
                self._finding("ACK_VALUE_INVALID", f"CTX06-1 data element reference {first!r} is not a number of "
                              "1-4 digits", element=6, bad_value=_el(seg, 6))
            ctx.element_ref = first or None
        (self.elnote or self.segnote).context.append(ctx)

    def _set_trailer(self, seg: Segment) -> None:
        tag = seg[0]
        s = self._open_set(tag)
        if s is None:
            return
        table = IK502_CODES if tag == "IK5" else AK502_CODES
        self._check_arity(seg, 6)
        code = self._code(AK501_CODES, _el(seg, 1), f"{tag}01", 1)
        s.code = code or None
        s.status = STATUS_OF_CODE.get(code, UNKNOWN)
        s.meaning = meaning(AK501_CODES, code) if code else ""
        for n in range(2, min(len(seg), 7)):
            value = _el(seg, n).strip()
            if value:
                self._code(table, value, f"{tag}{n:02d}", n)
                s.errors.append(CodeNote(value, meaning(table, value)))
        if s.status == ACCEPTED and s.segments:
            self._finding("ACK_INCONSISTENT", f"{tag}01 is A (accepted) but segment errors are listed",
                          severity=WARNING, element=1)
        self._close_set(None)

    def _seg_AK5(self, seg: Segment) -> None:
        if self.kind == "999":
            self._finding("ACK_UNEXPECTED_SEGMENT", "AK5 in a 999 (a 999 uses IK5)", severity=WARNING, layer=SYNTAX)
        self._set_trailer(seg)

    def _seg_IK5(self, seg: Segment) -> None:
        if self.kind == "997":
            self._finding("ACK_UNEXPECTED_SEGMENT", "IK5 in a 997 (a 997 uses AK5)", severity=WARNING, layer=SYNTAX)
        self._set_trailer(seg)

    def _seg_AK9(self, seg: Segment) -> None:
        self._close_set("AK9")
        r = self.report
        if self.have_ak9:
            self._finding("ACK_STRUCTURE", "a second AK9; ignored", layer=SYNTAX)
            return
        if not self.have_ak1:
            self._finding("ACK_STRUCTURE", "AK9 without AK1", layer=SYNTAX)
        self.have_ak9 = True
        self._check_arity(seg, 9)
        code = self._code(AK901_CODES, _el(seg, 1), "AK901", 1)
        r.code = code or None
        r.status = STATUS_OF_CODE.get(code, UNKNOWN)
        r.meaning = meaning(AK901_CODES, code) if code else ""
        r.included = self._number(_el(seg, 2), "AK902 number of transaction sets included", 2)
        r.received = self._number(_el(seg, 3), "AK903 number of received transaction sets", 3)
        r.accepted = self._number(_el(seg, 4), "AK904 number of accepted transaction sets", 4)
        for n in range(5, min(len(seg), 10)):
            value = _el(seg, n).strip()
            if value:
                self._code(AK905_CODES, value, f"AK9{n:02d}", n)
                r.errors.append(CodeNote(value, meaning(AK905_CODES, value)))
        if r.received is not None and r.accepted is not None and r.accepted > r.received:
            self._finding("ACK_INCONSISTENT", f"AK904 says {r.accepted} sets accepted of {r.received} received",
                          severity=WARNING, element=4)
        if r.sets and r.received is not None and len(r.sets) == r.received and r.accepted is not None:
            ok = sum(1 for s in r.sets if s.status in (ACCEPTED, ACCEPTED_WITH_ERRORS))
            if ok != r.accepted and code not in ("R", "M", "W", "X"):
                self._finding("ACK_INCONSISTENT", f"AK904 says {r.accepted} sets accepted, the AK5/IK5 segments "
                              f"accept {ok}", severity=WARNING, element=4)


def _ta1_report(ic: Interchange, seg: Segment, sink: list[Finding], position: int | None) -> AckReport:
    r = AckReport(kind="TA1")
    _envelope(r, ic)

    def finding(code: str, message: str, element: int | None = None, bad_value: str | None = None,
                severity: str = ERROR) -> None:
        f = Finding(code=code, severity=severity, layer=SCHEMA, message=message, interchange=ic.index,
                    segment=position, segment_id="TA1", element=element, bad_value=bad_value)
        r.findings.append(f)
        sink.append(f)

    if len(seg) - 1 > 5:
        finding("ACK_TOO_MANY_ELEMENTS", f"TA1 has {len(seg) - 1} elements, 5 are defined", element=6)
    r.interchange_control_number = _el(seg, 1).strip()
    r.interchange_date = _el(seg, 2).strip()
    r.interchange_time = _el(seg, 3).strip()
    if not (len(r.interchange_control_number) == 9 and r.interchange_control_number.isdigit()):
        finding("ACK_VALUE_INVALID", f"TA101 interchange control number {_el(seg, 1)!r} is not 9 digits", 1,
                _el(seg, 1), WARNING)
    if not (len(r.interchange_date) == 6 and r.interchange_date.isdigit()):
        finding("ACK_VALUE_INVALID", f"TA102 interchange date {_el(seg, 2)!r} is not YYMMDD", 2, _el(seg, 2), WARNING)
    if not (len(r.interchange_time) == 4 and r.interchange_time.isdigit()):
        finding("ACK_VALUE_INVALID", f"TA103 interchange time {_el(seg, 3)!r} is not HHMM", 3, _el(seg, 3), WARNING)
    code = _el(seg, 4).strip()
    if code not in TA104_CODES:
        finding("ACK_CODE_INVALID", f"TA104 acknowledgment code {_el(seg, 4)!r} is not A, E or R", 4, _el(seg, 4))
    r.code = code or None
    r.status = STATUS_OF_CODE.get(code, UNKNOWN) if code in TA104_CODES else UNKNOWN
    r.meaning = meaning(TA104_CODES, code) if code else ""
    note = _el(seg, 5).strip()
    if note not in TA105_CODES:
        finding("ACK_CODE_INVALID", f"TA105 note code {_el(seg, 5)!r} is not a valid code", 5, _el(seg, 5))
    r.note_code = note or None
    r.note_meaning = meaning(TA105_CODES, note) if note else None
    if note and note != "000":
        r.errors.append(CodeNote(note, meaning(TA105_CODES, note)))
    if code == "A" and note and note != "000":
        finding("ACK_INCONSISTENT", f"TA104 is A (accepted) but TA105 is {note}", 5, note, WARNING)
    if code == "R" and note == "000":
        finding("ACK_INCONSISTENT", "TA104 is R (rejected) but TA105 is 000 (no error)", 5, note, WARNING)
    return r


def _envelope(r: AckReport, ic: Interchange) -> None:
    r.ack_sender = ic.sender
    r.ack_receiver = ic.receiver
    r.ack_interchange = ic.control_number


ACK_TYPES = frozenset({"997", "999"})


def read_acks(source: Source, reader_options: dict[str, Any] | None = None, **more_reader_options: Any) -> AckReports:
    """Read every 997, 999 and TA1 in ``source`` (a path, bytes or binary stream).

    Other transaction sets are skipped.  Never raises on malformed input: the
    problems are findings (``report.findings`` and the returned list's
    ``findings``).  Reader options (``encoding``, ``chunk_size`` ..., as a
    ``reader_options`` dict or keywords) are passed to
    :class:`~hub.edi.x12.reader.X12Reader`.
    """
    reader = X12Reader(source, **{**(reader_options or {}), **more_reader_options})
    reports = AckReports()
    findings = reports.findings
    seen = 0
    ta1_done: dict[int, int] = {}  # interchange index -> TA1 segments already reported

    def take_ta1s(ic: Interchange) -> None:
        done = ta1_done.get(ic.index, 0)
        for seg in ic.ta1s[done:]:
            reports.append(_ta1_report(ic, seg, findings, None))
        ta1_done[ic.index] = len(ic.ta1s)

    for item in reader:
        findings.extend(reader.findings[seen:])
        seen = len(reader.findings)
        ic = getattr(item, "interchange", None)
        if isinstance(item, Interchange):
            ic = item
        if ic is not None:
            take_ta1s(ic)
        if not isinstance(item, Transaction) or item.type not in ACK_TYPES:
            continue
        tx = item
        report = AckReport(kind=tx.type)
        _envelope(report, tx.interchange)
        report.ack_group = tx.group.control_number if tx.group is not None else None
        report.ack_control_number = tx.control_number
        report.findings.extend(tx.findings)
        if tx.group is not None and tx.group.functional_id != "FA":
            f = Finding(
                code="ACK_GROUP_NOT_FA",
                severity=WARNING,
                layer=SCHEMA,
                message=f"a {tx.type} in a group with GS01 {tx.group.functional_id!r} "
                "(acknowledgments go in FA groups)",
                interchange=tx.interchange.index,
                group=tx.group.index,
                transaction=tx.index,
                segment_id="GS",
            )
            report.findings.append(f)
            findings.append(f)
        _SetParser(tx, report, findings).parse()
        reports.append(report)
    findings.extend(reader.findings[seen:])
    reports.not_x12 = reader.not_x12
    return reports
