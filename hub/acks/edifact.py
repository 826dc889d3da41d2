"""CONTRL: build the syntax and service report for inbound EDIFACT, and read inbound CONTRL.

Building (:func:`acknowledge`, :func:`build_contrl`): one CONTRL interchange per
inbound interchange, addressed back to its sender, with

* UCI for the interchange (0083 action 7 acknowledged / 4 rejected, 0085 the
  interchange-level error code, 0013 the service segment at fault),
* UCF for each UNG group (when the interchange used groups),
* UCM for every message (or only the rejected ones), with
* UCS (segment position in the message, UNH = 1) for every segment finding and
  UCD (element and component position) for every element finding.

Syntax version 3 interchanges are answered with CONTRL 2:2, syntax 4 with
CONTRL 4:1.  Findings come from :func:`hub.edi.edifact.analyse.analyse`; their
``ack_code`` is the UN/ECE 0085 code.

Reading (:func:`read_contrl`): inbound CONTRL messages become
:class:`ContrlReport` objects, the way the X12 997/999 reader gives functional
ack results.
"""

from __future__ import annotations

import datetime as _dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hub.edi.core import ERROR, Delimiters, Finding, element
from hub.edi.edifact import syntax as sx
from hub.edi.edifact.analyse import analyse
from hub.edi.edifact.model import Interchange, Message
from hub.edi.edifact.reader import EdifactReader, Source
from hub.edi.edifact.writer import EdifactWriter

ACKNOWLEDGED = "7"
REJECTED = "4"
RECEIVED = "8"
ACTIONS = {ACKNOWLEDGED: "acknowledged", REJECTED: "rejected", RECEIVED: "received"}

MAX_UCS = 999
MAX_UCD = 99
ENVELOPE_SEGMENTS = ("UNA", "UNB", "UNZ", "UNG", "UNE", "UNH", "UNT")


# ------------------------------------------------------------------ building


@dataclass
class _MessageInfo:
    reference: str
    s009: list[str]
    group: int
    index: int
    findings: list[Finding] = field(default_factory=list)


@dataclass
class ContrlResult:
    """What :func:`acknowledge` returns (the mirror of the X12 ``AckResult``).

    ``data`` holds the CONTRL interchanges (empty when the source is not
    EDIFACT); ``findings`` every finding about the inbound source, in file
    order; ``acks`` one dict per CONTRL written (see :meth:`describe`).
    """

    data: bytes
    findings: list[Finding]
    not_edifact: bool
    acks: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = "latin-1"

    @property
    def interchanges(self) -> int:
        return len(self.acks)

    @property
    def messages(self) -> int:
        return sum(a["messages"] for a in self.acks)

    @property
    def rejected_messages(self) -> int:
        return sum(a["rejected_messages"] for a in self.acks)

    @property
    def rejected_interchanges(self) -> int:
        return sum(1 for a in self.acks if a["status"] == "rejected")

    def describe(self) -> str:
        if self.not_edifact:
            return "not EDIFACT: no CONTRL"
        if not self.acks:
            return "nothing to acknowledge"
        parts = []
        for a in self.acks:
            code = f" [{a['code']}: {sx.CODE_TEXT.get(a['code'], '?')}]" if a["code"] else ""
            parts.append(f"CONTRL {a['version']} {a['status']}{code} for interchange {a['interchange']}: "
                         f"{a['messages'] - a['rejected_messages']} of {a['messages']} message(s) acknowledged")
        return "; ".join(parts)


def _code(f: Finding) -> str:
    return f.ack_code or sx.E_UNSPECIFIED


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]


def contrl_segments(
    ic: Interchange,
    messages: list[_MessageInfo],
    findings: list[Finding],
    *,
    only_rejected: bool = False,
) -> tuple[list[list[Any]], bool, int]:
    """The body of one CONTRL message (UCI..), whether the interchange is rejected, and rejected messages."""
    ic_errors = [f for f in _errors(findings) if f.transaction is None and f.ack_level == "interchange"]
    rejected_ic = bool(ic_errors)
    body: list[list[Any]] = []
    uci: list[Any] = ["UCI", ic.control_number, [ic.sender, ic.sender_qualifier], [ic.receiver, ic.receiver_qualifier],
                      REJECTED if rejected_ic else ACKNOWLEDGED]
    if ic_errors:
        first = ic_errors[0]
        uci.append(_code(first))
        seg_tag = first.segment_id if first.segment_id in ENVELOPE_SEGMENTS else None
        uci.append(seg_tag)
        if first.element is not None:
            uci.append([str(first.element)] + ([str(first.component)] if first.component else []))
    body.append(uci)
    groups_used = any(not g.implicit for g in ic.groups)
    rejected_msgs = 0
    by_group: dict[int, list[_MessageInfo]] = {}
    for m in messages:
        by_group.setdefault(m.group, []).append(m)
    for group in ic.groups:
        if groups_used and not group.implicit:
            g_errors = [f for f in _errors(findings)
                        if f.group == group.index and f.transaction is None and f.ack_level == "group"]
            ucf: list[Any] = ["UCF", group.control_number, [group.sender], [group.receiver],
                              REJECTED if g_errors else ACKNOWLEDGED]
            if g_errors:
                ucf.append(_code(g_errors[0]))
                ucf.append(g_errors[0].segment_id if g_errors[0].segment_id in ENVELOPE_SEGMENTS else None)
            body.append(ucf)
        for m in by_group.get(group.index, []):
            errs = _errors(m.findings)
            if only_rejected and not errs:
                continue
            if errs:
                rejected_msgs += 1
            body.extend(_ucm(m, errs))
    return body, rejected_ic, rejected_msgs


def _ucm(m: _MessageInfo, errs: list[Finding]) -> list[list[Any]]:
    out: list[list[Any]] = []
    ucm: list[Any] = ["UCM", m.reference, m.s009, REJECTED if errs else ACKNOWLEDGED]
    msg_level = [f for f in errs if f.ack_level in ("transaction", None) or f.segment is None]
    seg_level = [f for f in errs if f not in msg_level]
    if msg_level or (errs and not seg_level):
        first = (msg_level or errs)[0]
        ucm.append(_code(first))
        seg_tag = first.segment_id if first.segment_id in ENVELOPE_SEGMENTS else None
        ucm.append(seg_tag)
        if first.element is not None and seg_tag is not None:
            ucm.append([str(first.element)] + ([str(first.component)] if first.component else []))
    out.append(ucm)
    # UCS per segment, UCD per element finding, in segment order
    by_seg: dict[int, list[Finding]] = {}
    for f in seg_level:
        by_seg.setdefault(f.segment or 0, []).append(f)
    for pos in sorted(by_seg)[:MAX_UCS]:
        fs = by_seg[pos]
        seg_codes = [f for f in fs if f.ack_level == "segment" or f.element is None]
        ucs: list[Any] = ["UCS", str(pos)]
        if seg_codes:
            ucs.append(_code(seg_codes[0]))
        out.append(ucs)
        for f in [f for f in fs if f.ack_level == "element" and f.element is not None][:MAX_UCD]:
            s011 = [str(f.element)] + ([str(f.component)] if f.component else [])
            out.append(["UCD", _code(f), s011])
    return out


def build_contrl(
    ic: Interchange,
    messages: list[_MessageInfo],
    findings: list[Finding],
    *,
    control_reference: str | None = None,
    when: _dt.datetime | None = None,
    only_rejected: bool = False,
    delimiters: Delimiters | None = None,
) -> tuple[bytes, bool, int]:
    """One CONTRL interchange answering ``ic``; returns (bytes, interchange rejected, messages rejected)."""
    version = ic.syntax_version if ic.syntax_version in ("3", "4") else "3"
    syntax_id = ic.syntax_identifier if ic.syntax_identifier in sx.SYNTAX_CODECS else "UNOC"
    d = delimiters or (sx.DEFAULT_V4 if version == "4" else sx.DEFAULT)
    d = Delimiters(element=d.element, component=d.component, segment=d.segment, repetition=d.repetition,
                   release=d.release, decimal=d.decimal, segment_suffix="\n")
    codec = sx.SYNTAX_CODECS[syntax_id][0]
    out = io.BytesIO()
    w = EdifactWriter(out, d, encoding=codec)
    ref = control_reference or f"C{ic.control_number}"[:14]
    w.begin_interchange(sender=ic.receiver, sender_qualifier=ic.receiver_qualifier, receiver=ic.sender,
                        receiver_qualifier=ic.sender_qualifier, control_reference=ref, syntax_identifier=syntax_id,
                        syntax_version=version, when=when)
    body, rejected_ic, rejected_msgs = contrl_segments(ic, messages, findings, only_rejected=only_rejected)
    mversion, mrelease = ("4", "1") if version == "4" else ("2", "2")
    w.write_message("CONTRL", "1", body, version=mversion, release=mrelease, agency="UN")
    w.end_interchange()
    return out.getvalue(), rejected_ic, rejected_msgs


def acknowledge(
    source: Source,
    *,
    when: _dt.datetime | None = None,
    only_rejected: bool = False,
    finding_filter: Callable[[Iterable[Finding]], list[Finding]] | None = None,
    **reader_options,
) -> ContrlResult:
    """Read and validate ``source`` and build a CONTRL for each of its interchanges.

    ``finding_filter`` passes every finding first (a partner's leniency), so that the CONTRL and the findings
    returned agree with what the partner is allowed to send.
    """
    infos: dict[int, list[_MessageInfo]] = {}

    def lenient(items: Iterable[Finding]) -> list[Finding]:
        return list(items) if finding_filter is None else finding_filter(items)

    def keep(msg: Message, extra: list[Finding]) -> None:
        d = msg.delimiters
        s009 = d.components(element(msg.unh, 2))
        infos.setdefault(msg.interchange.index, []).append(
            _MessageInfo(msg.control_number, s009, msg.group.index, msg.index, lenient(msg.findings)))

    result = analyse(source, on_transaction=keep, **reader_options)
    out = ContrlResult(b"", lenient(result.findings), result.not_edifact, encoding=result.encoding)
    if result.not_edifact:
        return out
    chunks = []
    for ic in result.interchanges:
        mine = [f for f in out.findings if f.interchange == ic.index]
        msgs = infos.get(ic.index, [])
        data, rejected_ic, rejected = build_contrl(ic, msgs, mine, when=when, only_rejected=only_rejected)
        chunks.append(data)
        codes = [_code(f) for f in mine if f.severity == ERROR and f.transaction is None
                 and f.ack_level == "interchange"]
        out.acks.append({
            "kind": "CONTRL",
            "version": "4:1" if ic.syntax_version == "4" else "2:2",
            "interchange": ic.control_number,
            "status": "rejected" if rejected_ic else ("partially_accepted" if rejected else "accepted"),
            "code": codes[0] if codes else None,
            "messages": len(msgs),
            "rejected_messages": rejected,
        })
    out.data = b"".join(chunks)
    return out


# ------------------------------------------------------------------- reading


@dataclass
class ElementError:
    position: int | None
    component: int | None
    code: str

    def to_json(self) -> dict:
        return {"position": self.position, "component": self.component, "code": self.code,
                "meaning": sx.CODE_TEXT.get(self.code)}


@dataclass
class SegmentError:
    position: int | None
    code: str | None
    elements: list[ElementError] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"position": self.position, "code": self.code, "meaning": sx.CODE_TEXT.get(self.code or ""),
                "elements": [e.to_json() for e in self.elements]}


def _status(action: str, children: list | None = None) -> str:
    if action == REJECTED:
        return "rejected"
    if action == RECEIVED:
        return "received"
    if action == ACKNOWLEDGED:
        if children and any(c.action == REJECTED for c in children):
            return "partially_accepted"
        return "accepted"
    return "unknown"


@dataclass
class MessageReport:
    reference: str
    type: str
    version: str
    action: str
    code: str | None = None
    service_segment: str | None = None
    segments: list[SegmentError] = field(default_factory=list)
    group_reference: str | None = None

    @property
    def accepted(self) -> bool:
        return self.action != REJECTED

    @property
    def status(self) -> str:
        return _status(self.action)

    def to_json(self) -> dict:
        return {"reference": self.reference, "type": self.type, "version": self.version,
                "action": ACTIONS.get(self.action, self.action), "status": self.status,
                "accepted": self.accepted, "code": self.code,
                "meaning": sx.CODE_TEXT.get(self.code or ""), "service_segment": self.service_segment,
                "group_reference": self.group_reference, "segments": [s.to_json() for s in self.segments]}


@dataclass
class GroupReport:
    reference: str
    action: str
    code: str | None = None

    @property
    def accepted(self) -> bool:
        return self.action != REJECTED

    def to_json(self) -> dict:
        return {"reference": self.reference, "action": ACTIONS.get(self.action, self.action),
                "accepted": self.accepted, "code": self.code}


@dataclass
class ContrlReport:
    """One inbound CONTRL message: what the partner said about one of our interchanges."""

    interchange_reference: str
    sender: str
    recipient: str
    action: str
    code: str | None = None
    service_segment: str | None = None
    groups: list[GroupReport] = field(default_factory=list)
    messages: list[MessageReport] = field(default_factory=list)
    contrl_reference: str = ""  # UNH 0062 of the CONTRL itself
    findings: list[Finding] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        """The interchange was not rejected (some of its messages may have been)."""
        return self.action != REJECTED

    @property
    def status(self) -> str:
        """``accepted``, ``partially_accepted``, ``rejected``, ``received`` or ``unknown`` (as the X12 reports)."""
        return _status(self.action, [*self.groups, *self.messages])

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "received")

    @property
    def received_only(self) -> bool:
        return self.action == RECEIVED

    def to_json(self) -> dict:
        return {"kind": "CONTRL", "interchange_reference": self.interchange_reference, "sender": self.sender,
                "recipient": self.recipient, "action": ACTIONS.get(self.action, self.action),
                "status": self.status, "accepted": self.accepted, "code": self.code,
                "meaning": sx.CODE_TEXT.get(self.code or ""),
                "service_segment": self.service_segment, "groups": [g.to_json() for g in self.groups],
                "messages": [m.to_json() for m in self.messages]}


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def parse_contrl(msg: Message) -> ContrlReport | None:
    """The report in one CONTRL message (None when it has no UCI)."""
    d = msg.delimiters
    report: ContrlReport | None = None
    group_ref: str | None = None
    current: MessageReport | None = None
    seg_err: SegmentError | None = None
    for seg in msg.body():
        tag = seg[0]
        if tag == "UCI":
            c2 = d.components(element(seg, 2))
            c3 = d.components(element(seg, 3))
            report = ContrlReport(d.unescape(element(seg, 1)), c2[0], c3[0], element(seg, 4),
                                  element(seg, 5) or None, element(seg, 6) or None,
                                  contrl_reference=msg.control_number)
        elif report is None:
            continue
        elif tag == "UCF":
            group_ref = d.unescape(element(seg, 1))
            report.groups.append(GroupReport(group_ref, element(seg, 4), element(seg, 5) or None))
            current = None
        elif tag == "UCM":
            s009 = d.components(element(seg, 2))
            current = MessageReport(d.unescape(element(seg, 1)), s009[0] if s009 else "",
                                    ":".join(s009[1:3]) if len(s009) > 2 else "", element(seg, 3),
                                    element(seg, 4) or None, element(seg, 5) or None, group_reference=group_ref)
            report.messages.append(current)
            seg_err = None
        elif tag == "UCS" and current is not None:
            seg_err = SegmentError(_int(element(seg, 1)), element(seg, 2) or None)
            current.segments.append(seg_err)
        elif tag == "UCD" and seg_err is not None:
            s011 = d.components(element(seg, 2))
            seg_err.elements.append(ElementError(_int(s011[0]) if s011 else None,
                                                 _int(s011[1]) if len(s011) > 1 else None, element(seg, 1)))
    if report is not None:
        report.findings = list(msg.findings)
    return report


class ContrlReports(list):
    """What :func:`read_contrl` returns: a ``list[ContrlReport]`` that also carries
    every finding of the file and whether it was EDIFACT at all (as ``AckReports``)."""

    def __init__(self, reports=(), findings: list[Finding] | None = None, not_edifact: bool = False):
        super().__init__(reports)
        self.findings: list[Finding] = findings if findings is not None else []
        self.not_edifact = not_edifact


def read_contrl(source: Source, **reader_options) -> ContrlReports:
    """Every CONTRL report in ``source``; other messages are skipped.  Never raises on bad input."""
    reader = EdifactReader(source, **reader_options)
    reports = ContrlReports()
    for item in reader:
        if isinstance(item, Message) and item.type == "CONTRL":
            r = parse_contrl(item)
            if r is not None:
                reports.append(r)
    reports.findings = reader.findings
    reports.not_edifact = reader.not_edifact
    return reports
