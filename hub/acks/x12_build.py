"""Build the acknowledgments of an inbound X12 source: 997, 999 and TA1.

:func:`acknowledge` reads the source once (streaming, with
:class:`~hub.edi.x12.reader.X12Reader`), validates each transaction set with
the schema validator, and writes for every inbound interchange one
acknowledgment interchange:

* a **TA1** when ISA14 asks for one, or whenever the interchange envelope is
  broken (an ``interchange``-level error finding).  TA104 is ``A`` (no
  interchange finding), ``E`` (only warnings that carry a TA105 code) or
  ``R``; TA105 is the first such code, ``000`` when there is none.  A
  rejected interchange gets its TA1 only: its groups are not acknowledged.
* per functional group, a **997** when GS08 is below 005010 (a missing or
  malformed GS08 falls back to ISA12 < 00501), else a **999**.  Groups of
  functional acknowledgments (GS01 ``FA``) are not acknowledged, and an
  interchange holding only TA1 segments gets no TA1 (``ack_acks=True``
  changes both).

The acknowledgment interchange swaps the inbound sender and receiver (ISA and
GS), uses the inbound delimiters (a repetition separator is picked when the
inbound had none: ``^`` or the first unused of ``{}|!`~\\``), ISA12 from the
inbound interchange, or ``00501`` when it carries a 999 (whose GS08 and ST03
are ``005010X231A1``; a 997's GS08 is ``004010``), ISA14 ``0`` and the
inbound ISA15.  997s go into one FA group and 999s into another (one per
inbound GS02/GS03 pair).

How findings become acknowledgment segments (see :class:`hub.edi.core.Finding`):

* ``transaction`` findings: their codes go into AK502.. / IK502.. (up to 5),
  followed by ``5`` (``I5`` in a 999 when every segment note is an
  implementation code) when segments are in error;
* ``segment`` findings: one AK3 / IK3 per segment (AK304 / IK304 = the
  first error's code, else ``8`` "segment has data element errors");
* ``element`` findings: AK4 / IK4 under their segment's AK3 / IK3: position
  ``element[:component[:repetition (999 only)]]``, data element number, code,
  a copy of the bad value without delimiters or characters outside the X12
  extended character set, at most 99 characters, trailing blanks
  suppressed (X12.6);
* ``extra["ctx"]`` on a segment or element finding (a list of dicts with
  ``name``, ``reference``, ``segment_id``, ``segment``, ``loop_id``,
  ``element``, ``component``, ``repetition``, ``element_ref``) becomes CTX
  segments in a 999: ``name`` "SITUATIONAL TRIGGER" is a segment context
  (needs ``segment_id`` and ``segment``; up to 9 after IK3, 10 after IK4),
  any other name a business unit (``name`` / ``reference``, e.g. CLM01 and
  the claim number; one per IK3);
* ``group`` findings: AK905.. codes.

A set is ``R`` when any of its findings is an error, ``E`` (accepted, errors
noted) when it only has warnings that carry codes, else ``A``.  A group is
``R`` when it has a group-level error (AK904 is then 0) or when every set was
rejected, ``P`` when some were, ``E`` when some set or the group has noted
errors, else ``A``.  A 999 uses ``extra["ik"]`` (the implementation code) when
a finding has one; a 997 (version 004010) uses ``ack_code``, mapping
implementation-only and newer codes to the nearest 004010 code (or leaving
them out when AK502/AK905 have none: the status still says it all).  Limits:
999 AK3/IK3 per set, 99 AK4/IK4 per AK3/IK3, 5 codes in AK5/IK5 and AK9
(a note ``ACK_TRUNCATED`` says when something was left out).

TA101..TA103 echo ISA13, ISA09 and ISA10 when they are valid; when one is
not (TA105 then says so) zeros / our own date and time take its place, since
an echo would make the TA1 itself invalid (X12 RFI 2102: defaults are a
matter of trading partner agreement).

Control numbers come from ``control_numbers``, a callable
``(kind, inbound) -> int | str`` called with ``"interchange"`` (inbound
ISA13), then per FA group ``"group"`` (GS06 of the first group it
acknowledges) and per acknowledgment ``"transaction"`` (GS06 of the group
acknowledged).  The default, :class:`DerivedControlNumbers`, is
deterministic: the ack's ISA13 is the inbound ISA13, its GS06 the first
acknowledged GS06 (both bumped to the next unused number if already used in
this run), and its ST02 count 0001, 0002 ... within each FA group.  That
needs no state and makes an ack easy to match to its source, but it is only
unique as long as the partner's numbers are; the hub passes its stored
counters (:class:`SequentialControlNumbers` is an in-memory one).
"""

from __future__ import annotations

import datetime as _dt
import io
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from hub.acks.x12_read import (
    AK901_CODES,
    AK905_CODES,
    CODES_004010,
    TA104_CODES,
    TA105_CODES,
    meaning,
)
from hub.edi.core import ERROR, WARNING, Delimiters, Finding
from hub.edi.x12.model import FunctionalGroup, Interchange, Transaction
from hub.edi.x12.reader import GroupEnd, InterchangeEnd, Source, X12Reader
from hub.edi.x12.validate import X12Validator
from hub.edi.x12.writer import DEFAULT_DELIMITERS, X12Writer

VERSION_997 = "004010"
VERSION_999 = "005010X231A1"
ISA_VERSION_999 = "00501"

MAX_SEGMENT_NOTES = 999  # AK3 / IK3 per AK2
MAX_ELEMENT_NOTES = 99  # AK4 / IK4 per AK3 / IK3
MAX_CODES = 5  # AK502..AK506, AK905..AK909
MAX_SEGMENT_CTX = 9
MAX_ELEMENT_CTX = 10
MAX_DESCRIBED_SETS = 100  # sets not accepted, listed in AckResult.acks per group
MAX_FINDINGS = 10_000
SPOOL_MEMORY = 4 << 20  # AK2 loops of one interchange kept in memory up to this size, then on disk

REPETITION_CHOICES = "^{}|!`~\\"

# X12 extended character set (basic + lower case ...), and what 00501 added;
# data outside it is dropped from the values we copy (bad data, IDs).
_X12_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"&'()*+,-./:;?= "
    "abcdefghijklmnopqrstuvwxyz%~@[]_{}\\|<>#$"
)
_X12_CHARS_00501 = _X12_CHARS | {"^", "`"}

# Implementation (999) and post-004010 codes -> the nearest 004010 code for a 997.
_AK304_FALLBACK = {"I4": "2", "I9": "2", "I6": "3", "I7": "3", "I8": "3"}
_AK403_FALLBACK = {"12": "3", "13": "3", "I10": "10", "I13": "10", "I11": "1", "I9": "2", "I12": "6", "I6": "7"}
_AK502_FALLBACK = {"I5": "5", "I6": "1"}

ControlNumbers = Callable[[str, str], "int | str"]


# ----------------------------------------------------------- control numbers


class DerivedControlNumbers:
    """The default: derived from the inbound numbers (see the module docstring)."""

    def __init__(self) -> None:
        self._interchanges: set[int] = set()
        self._groups: set[int] = set()
        self._transaction = 0

    @staticmethod
    def _free(wanted: str, used: set[int]) -> int:
        value = wanted.strip()
        n = int(value) if value.isdigit() and 1 <= len(value) <= 9 and int(value) > 0 else 1
        while n in used:
            n = n % 999_999_999 + 1
        used.add(n)
        return n

    def __call__(self, kind: str, inbound: str) -> int:
        if kind == "interchange":
            self._groups = set()
            return self._free(inbound, self._interchanges)
        if kind == "group":
            self._transaction = 0
            return self._free(inbound, self._groups)
        self._transaction += 1
        return self._transaction


class SequentialControlNumbers:
    """Plain counters, one per kind (an in-memory stand-in for the store's)."""

    def __init__(self, interchange: int = 1, group: int = 1, transaction: int = 1) -> None:
        self.next = {"interchange": interchange, "group": group, "transaction": transaction}

    def __call__(self, kind: str, inbound: str) -> int:
        n = self.next[kind]
        self.next[kind] = n + 1
        return n


# ------------------------------------------------------------------- result


@dataclass
class AckResult:
    """What :func:`acknowledge` returns.

    ``data`` holds the acknowledgment interchanges (empty when an ``output``
    stream was given, or when there was nothing to acknowledge);
    ``findings`` every finding about the inbound source, in file order;
    ``acks`` one dict per TA1 / 997 / 999 written (see :meth:`describe`).
    """

    data: bytes
    findings: list[Finding]
    not_x12: bool
    acks: list[dict[str, Any]] = field(default_factory=list)
    encoding: str = "latin-1"

    def describe(self) -> str:
        if self.not_x12:
            return "not X12: no acknowledgment"
        if not self.acks:
            return "nothing to acknowledge"
        parts = []
        for a in self.acks:
            if a["kind"] == "TA1":
                note = "" if a["note_code"] == "000" else f" {a['note_code']} ({a['note']})"
                parts.append(f"TA1 {a['status']}{note} for interchange {a['interchange']}")
            else:
                codes = f" [{', '.join(a['codes'])}]" if a["codes"] else ""
                parts.append(
                    f"{a['kind']} {a['status']}{codes} for group {a['functional_id']} {a['group_control_number']}"
                    f" of interchange {a['interchange']}: {a['accepted']} of {a['received']} set(s) accepted"
                )
        return "; ".join(parts)


# ------------------------------------------------------------------ helpers


def _el(seg: list[str], index: int) -> str:
    return seg[index] if 0 < index < len(seg) else ""


def _is_999(gs08: str, isa12: str) -> bool:
    v = gs08.strip()[:6]
    if len(v) == 6 and v.isdigit():
        return v >= "005010"
    return isa12.isdigit() and isa12 >= ISA_VERSION_999


def _usable(ch: str | None) -> bool:
    return ch is not None and len(ch) == 1 and not ch.isalnum() and ch != " "


def _ack_delimiters(inbound: Delimiters, override: Delimiters | None, encoding: str) -> Delimiters:
    base = override or inbound
    chars = [base.element, base.component, base.segment]
    if not (all(_usable(c) for c in chars) and len(set(chars)) == 3):
        base = DEFAULT_DELIMITERS
        chars = [base.element, base.component, base.segment]
    rep = base.repetition
    if not (_usable(rep) and rep not in chars):
        rep = None
        for c in REPETITION_CHOICES:
            if c in chars:
                continue
            try:
                c.encode(encoding)
            except (UnicodeEncodeError, LookupError):
                continue
            rep = c
            break
    return Delimiters(
        element=base.element,
        component=base.component,
        segment=base.segment,
        repetition=rep,
        segment_suffix=base.segment_suffix,
    )


class _Cleaner:
    """Make values safe to write: no delimiters, X12 extended character set only,
    at most ``limit`` characters, no trailing spaces (X12.6: suppressed unless
    needed for the minimum length, so an all-blank value keeps one)."""

    def __init__(self, d: Delimiters, version: str = "00401") -> None:
        banned = {d.element, d.component, d.segment, d.repetition} - {None}
        self.allowed = (_X12_CHARS_00501 if version >= "00501" else _X12_CHARS) - banned

    def __call__(self, value: object, limit: int | None = None) -> str:
        text = "" if value is None else str(value)
        allowed = self.allowed
        out = "".join(c for c in text if c in allowed)
        if limit is not None:
            out = out[:limit]
        return out.rstrip(" ") or out[:1]


def _trim(seg: list[str]) -> list[str]:
    end = len(seg)
    while end > 1 and seg[end - 1] == "":
        end -= 1
    return seg[:end]


def _code_for(f: Finding, kind: str, field_name: str) -> str | None:
    """The code to write for finding ``f`` in a 997 (``field_name`` AK304, AK403, AK502, AK905) or a 999."""
    ik = f.extra.get("ik") if f.extra else None
    if kind == "999":
        return str(ik or f.ack_code or "") or None
    valid = CODES_004010[field_name]
    fallback = {"AK304": _AK304_FALLBACK, "AK403": _AK403_FALLBACK, "AK502": _AK502_FALLBACK}.get(field_name, {})
    for candidate in (f.ack_code, ik):
        if not candidate:
            continue
        candidate = str(candidate)
        if candidate in valid:
            return candidate
        if candidate in fallback:
            return fallback[candidate]
    return None


def _add_code(codes: list[str], code: str | None) -> None:
    if code and code not in codes and len(codes) < MAX_CODES:
        codes.append(code)


def _status_of(findings: Iterable[Finding]) -> str:
    status = "A"
    for f in findings:
        if f.severity == ERROR:
            return "R"
        if f.severity == WARNING:
            status = "E"
    return status


def _num(value: int | None, limit: int = 999_999) -> str:
    return "" if value is None else str(min(max(value, 0), limit))


# -------------------------------------------------------------- set loops


_LEVELS = ("transaction", "segment", "element")


TRIGGER = "SITUATIONAL TRIGGER"


def _ctx_segments(items: object, clean: _Cleaner, d: Delimiters) -> tuple[list[list[str]], list[list[str]]]:
    """CTX segments from a finding's ``extra["ctx"]`` (999 only): (segment contexts, business units).

    A segment context (name ``SITUATIONAL TRIGGER``) needs the segment it
    points at (CTX02, CTX03); a business unit (any other name, e.g. ``CLM01``)
    needs its reference and carries nothing else.  Others are dropped.
    """
    triggers: list[list[str]] = []
    units: list[list[str]] = []
    if not isinstance(items, (list, tuple)):
        return triggers, units
    comp = d.component
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = clean(item["name"], 35)
        ref = clean(item.get("reference"), 35)
        if name.upper() != TRIGGER:
            if name and ref:
                units.append(["CTX", name + comp + ref])
            continue
        segment_id = clean(item.get("segment_id"), 3)
        position = item.get("segment")
        if not segment_id or not isinstance(position, int) or position < 1:
            continue
        seg = ["CTX", TRIGGER + (comp + ref if ref else ""), segment_id, _num(position), clean(item.get("loop_id"), 4)]
        where = ""
        if isinstance(item.get("element"), int) and item["element"] > 0:
            parts = [_num(item.get("element"), 99), _num(item.get("component"), 99), _num(item.get("repetition"), 9999)]
            where = comp.join(_trim(["", *parts])[1:])
        ref_number = str(item.get("element_ref") or "")
        seg += [where, ref_number if ref_number.isdigit() and len(ref_number) <= 4 else ""]
        triggers.append(_trim(seg))
    return triggers, units


def _unique(segments: Iterable[list[str]], limit: int) -> list[list[str]]:
    out: list[list[str]] = []
    for seg in segments:
        if seg not in out:
            out.append(seg)
            if len(out) == limit:
                break
    return out


def _set_loop(
    tx: Transaction,
    schema: list[Finding],
    kind: str,
    clean: _Cleaner,
    d: Delimiters,
    notes: list[Finding],
) -> tuple[list[list[str]], str, list[str]]:
    """The AK2 .. AK5 / IK5 segments of one set, its status letter and its AK502 codes."""
    relevant = [
        f for f in (*tx.findings, *schema) if f.ack_level in _LEVELS and (f.ack_code or (f.extra and f.extra.get("ik")))
    ]
    status = _status_of(relevant)
    codes: list[str] = []
    for f in relevant:
        if f.ack_level == "transaction" and f.severity == ERROR:
            _add_code(codes, _code_for(f, kind, "AK502"))
    for f in relevant:
        if f.ack_level == "transaction" and f.severity != ERROR:
            _add_code(codes, _code_for(f, kind, "AK502"))

    # segment notes, keyed by (position, segment id)
    fallback_position = tx.segment_count
    by_segment: dict[tuple[int, str], tuple[list[Finding], list[Finding]]] = {}
    for f in relevant:
        if f.ack_level not in ("segment", "element"):
            continue
        key = (f.segment if f.segment is not None else fallback_position, f.segment_id or "")
        seg_level, el_level = by_segment.setdefault(key, ([], []))
        (seg_level if f.ack_level == "segment" else el_level).append(f)

    seg_tag, el_tag, end_tag = ("IK3", "IK4", "IK5") if kind == "999" else ("AK3", "AK4", "AK5")
    body: list[list[str]] = []
    implementation_only = True
    keys = sorted(by_segment, key=lambda k: k[0])
    if len(keys) > MAX_SEGMENT_NOTES:
        notes.append(_note(tx, f"{len(keys)} segments in error; the {kind} lists the first {MAX_SEGMENT_NOTES}"))
        keys = keys[:MAX_SEGMENT_NOTES]
    comp = d.component
    for position, segment_id in keys:
        seg_level, el_level = by_segment[(position, segment_id)]
        seg_level.sort(key=lambda f: f.severity != ERROR)  # errors first
        code = None
        for f in seg_level:
            code = _code_for(f, kind, "AK304")
            if code:
                break
        if code is None and (el_level or kind == "999"):
            code = "8"
        if not (code or "").startswith("I"):
            implementation_only = False
        loop_id = next((f.loop_id for f in (*seg_level, *el_level) if f.loop_id), "")
        sid = clean(segment_id, 3)
        if not sid and 0 < position <= len(tx.segments):
            sid = clean(tx.segments[position - 1][0], 3)
        if not sid:
            continue  # no segment ID to put in AK301; the status and AK502 code 5 still say it
        body.append(_trim([seg_tag, sid, _num(max(position, 1)), clean(loop_id, 4), code or ""]))
        if kind == "999":
            triggers: list[list[str]] = []
            units: list[list[str]] = []
            for f in (*seg_level, *el_level):
                t, u = _ctx_segments(f.extra.get("ctx"), clean, d)
                if f.ack_level == "segment":
                    triggers += t
                units += u  # one business unit per IK3, wherever it was given
            body.extend(_unique(triggers, MAX_SEGMENT_CTX))
            body.extend(_unique(units, 1))
        seen: set[tuple] = set()
        elements = sorted(
            (f for f in el_level if f.element is not None),
            key=lambda f: (f.element, f.component or 0, f.repetition or 0, f.severity != ERROR),
        )
        written = 0
        for f in elements:
            el_code = _code_for(f, kind, "AK403")
            if el_code is None:
                continue
            if not el_code.startswith("I"):
                implementation_only = False
            ident = (f.element, f.component, f.repetition, el_code)
            if ident in seen:
                continue
            seen.add(ident)
            if written == MAX_ELEMENT_NOTES:
                notes.append(_note(tx, f"segment {segment_id} at {position} has more than {MAX_ELEMENT_NOTES} "
                                   f"element errors; the {kind} lists the first {MAX_ELEMENT_NOTES}"))
                break
            written += 1
            parts = [_num(f.element, 99), _num(f.component, 99)]
            if kind == "999":
                parts.append(_num(f.repetition, 9999))
            position_text = comp.join(_trim(["", *parts])[1:])
            ref = str(f.element_ref or "")
            bad = clean(f.bad_value, 99) if f.bad_value is not None else ""
            body.append(_trim([el_tag, position_text, ref if ref.isdigit() and len(ref) <= 4 else "", el_code, bad]))
            if kind == "999" and f.extra.get("ctx"):
                body.extend(_unique(_ctx_segments(f.extra.get("ctx"), clean, d)[0], MAX_ELEMENT_CTX))
    if keys:
        _add_code(codes, "I5" if kind == "999" and implementation_only else "5")
    head = ["AK2", clean(tx.type, 3), clean(tx.control_number, 9)]
    if kind == "999":
        head.append(clean(tx.implementation, 35))
    return [_trim(head), *body, [end_tag, status, *codes]], status, codes


def _identifiable(tx: Transaction, clean: _Cleaner) -> bool:
    """Can ST01 / ST02 be copied into AK201 (ID 3) and AK202 (AN 4-9) as they are?"""
    kind, control = tx.type, tx.control_number
    return (
        len(kind) == 3 and kind.isalnum() and clean(kind) == kind
        and 4 <= len(control) <= 9 and clean(control) == control
    )


def _note(tx: Transaction, message: str, code: str = "ACK_TRUNCATED") -> Finding:
    return Finding(
        code=code,
        severity=WARNING,
        layer="envelope",
        message=message,
        interchange=tx.interchange.index,
        group=tx.group.index if tx.group is not None else None,
        transaction=tx.index,
    )


# ------------------------------------------------------------- per group


@dataclass(eq=False)
class _GroupAck:
    group: FunctionalGroup
    kind: str  # "997" | "999"
    start: int
    end: int = -1
    body_segments: int = 0
    received: int = 0
    accepted: int = 0
    with_errors: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    status: str = "A"
    included: int | None = None
    codes: list[str] = field(default_factory=list)
    lenient: Callable[[Iterable[Finding]], list[Finding]] = list

    def finish(self) -> None:
        g = self.group
        ge01 = _el(g.ge, 1) if g.ge is not None else ""
        self.included = int(ge01) if ge01.isdigit() else self.received
        found = [f for f in self.lenient(g.findings) if f.ack_level == "group" and f.ack_code]
        errors = [f for f in found if f.severity == ERROR]
        for f in (*errors, *(f for f in found if f.severity != ERROR)):
            code = str(f.ack_code)
            if self.kind == "997" and code not in CODES_004010["AK905"]:
                continue
            _add_code(self.codes, code)
        if errors or (self.received and self.rejected == self.received):
            self.status = "R"
        elif self.rejected:
            self.status = "P"
        elif self.with_errors or found:
            self.status = "E"
        else:
            self.status = "A"

    @property
    def accepted_count(self) -> int:
        return 0 if self.status == "R" else self.accepted + self.with_errors


@dataclass(eq=False)
class _InterchangeAck:
    ic: Interchange
    delimiters: Delimiters
    encoding: str
    spool: Any = None
    encoder: X12Writer | None = None
    groups: list[_GroupAck] = field(default_factory=list)
    current: _GroupAck | None = None
    extra_findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the ack is 00501 when the inbound is (or when it carries a 999): the
        # 00501 characters are only used when that is known from the start
        version = self.ic.version.strip()
        self.clean = _Cleaner(self.delimiters, version if version.isdigit() else "00401")

    def _write(self, segments: list[list[str]]) -> None:
        if self.spool is None:
            self.spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - closed in close()
            self.encoder = X12Writer(self.spool, self.delimiters, self.encoding)
        assert self.encoder is not None
        for seg in segments:
            self.encoder.write_segment(seg)

    def _offset(self) -> int:
        return self.spool.tell() if self.spool is not None else 0

    def accept(self, tx: Transaction) -> bool:
        """Acknowledge a set without findings as accepted, if its ST01/ST02(/ST03) go into AK2 as they are.

        The short form of what :func:`_set_loop` and :func:`_identifiable` do
        for such a set; False (nothing written) sends the set the long way.
        """
        g = self.current
        assert g is not None
        kind, control = tx.type, tx.control_number
        allowed = self.clean.allowed
        if not (len(kind) == 3 and kind.isalnum() and 4 <= len(control) <= 9 and allowed.issuperset(kind)
                and allowed.issuperset(control) and control[-1] != " "):
            return False
        d = self.delimiters
        el, end = d.element, d.segment + d.segment_suffix
        if g.kind == "999":
            impl = tx.implementation
            if len(impl) > 35 or not allowed.issuperset(impl) or impl[-1:] == " ":
                return False
            head = f"AK2{el}{kind}{el}{control}" + (f"{el}{impl}" if impl else "")
            text = f"{head}{end}IK5{el}A{end}"
        else:
            text = f"AK2{el}{kind}{el}{control}{end}AK5{el}A{end}"
        if self.spool is None:
            self._write([])
        self.spool.write(text.encode(self.encoding))
        g.body_segments += 2
        g.received += 1
        g.accepted += 1
        return True

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


# ----------------------------------------------------------------- writing


def _isa13(value: int | str) -> str:
    text = str(value).strip()
    return text.zfill(9) if text.isdigit() else text


def _valid_date(value: str) -> bool:
    try:
        _dt.datetime.strptime(value, "%y%m%d")
    except ValueError:
        return False
    return len(value) == 6 and value.isdigit()


def _valid_time(value: str) -> bool:
    return len(value) == 4 and value.isdigit() and int(value[:2]) < 24 and int(value[2:]) < 60


def _ta1_echo(ic: Interchange, when: _dt.datetime) -> list[str]:
    """TA101..TA103: the inbound ISA13, ISA09 and ISA10, as long as they are valid.

    When one is not (which is what TA105 then reports), echoing it would make
    the TA1 itself invalid; X12's answer (RFI 2102) is that no proper TA1 can
    be built and defaults are a matter of agreement.  We send zeros for a bad
    control number and our own date / time for a bad date / time.
    """
    control = ic.control_number.strip()
    if not (control.isdigit() and len(control) <= 9):
        control = "0"
    date = ic.date.strip()
    time = ic.time.strip()
    return [
        control.zfill(9),
        date if _valid_date(date) else when.strftime("%y%m%d"),
        time if _valid_time(time) else when.strftime("%H%M"),
    ]


def _write_interchange(
    out: BinaryIO,
    state: _InterchangeAck,
    *,
    ta1: tuple[str, str] | None,
    groups: list[_GroupAck],
    control_numbers: ControlNumbers,
    when: _dt.datetime,
    usage_override: str | None,
) -> list[dict[str, Any]]:
    ic = state.ic
    d = state.delimiters
    clean = state.clean
    has_999 = any(g.kind == "999" for g in groups)
    inbound_version = ic.version.strip()
    if has_999:
        version = ISA_VERSION_999
    elif len(inbound_version) == 5 and inbound_version.isdigit():
        version = inbound_version
    else:
        version = "00401"
    usage = usage_override or (ic.usage if ic.usage in ("P", "T", "I") else "P")
    isa13 = _isa13(control_numbers("interchange", ic.control_number))
    writer = X12Writer(out, d, state.encoding)
    writer.begin_interchange(
        sender_qualifier=clean(ic.receiver_qualifier, 2) or "ZZ",
        sender=clean(ic.receiver, 15),
        receiver_qualifier=clean(ic.sender_qualifier, 2) or "ZZ",
        receiver=clean(ic.sender, 15),
        control_number=isa13,
        version=version,
        ack_requested=False,
        usage=usage,
        when=when,
    )
    described: list[dict[str, Any]] = []
    inbound_isa13 = ic.control_number
    if ta1 is not None:
        status, note = ta1
        writer.write_segment(["TA1", *_ta1_echo(ic, when), status, note])
        described.append({
            "kind": "TA1",
            "interchange": inbound_isa13,
            "status": status,
            "meaning": TA104_CODES[status],
            "note_code": note,
            "note": TA105_CODES.get(note, ""),
            "ack_interchange": isa13,
        })
    # FA groups: 997s and 999s apart, one per inbound application sender/receiver pair
    buckets: dict[tuple[str, str, str], list[_GroupAck]] = {}
    for g in groups:
        gs = g.group
        app_sender, app_receiver = clean(gs.receiver, 15), clean(gs.sender, 15)
        key = (
            g.kind,
            app_sender if len(app_sender) >= 2 else clean(ic.receiver, 15),
            app_receiver if len(app_receiver) >= 2 else clean(ic.sender, 15),
        )
        buckets.setdefault(key, []).append(g)
    n_groups = 0
    for (kind, app_sender, app_receiver), members in buckets.items():
        gs06 = str(control_numbers("group", members[0].group.control_number)).strip()
        n_groups += 1
        writer.write_segment(["GS", "FA", app_sender, app_receiver, when.strftime("%Y%m%d"), when.strftime("%H%M"),
                              gs06, "X", VERSION_999 if kind == "999" else VERSION_997])
        for g in members:
            gs = g.group
            number = control_numbers("transaction", gs.control_number)
            st02 = f"{number:04d}" if isinstance(number, int) else str(number).strip()
            st = ["ST", kind, st02] + ([VERSION_999] if kind == "999" else [])
            ak1 = ["AK1", clean(gs.functional_id, 2), clean(gs.control_number, 9)]
            if kind == "999":
                ak1.append(clean(gs.version, 12))
            writer.write_segment(st)
            writer.write_segment(_trim(ak1))
            if state.spool is not None and g.end > g.start:
                state.spool.seek(g.start)
                left = g.end - g.start
                while left:
                    chunk = state.spool.read(min(left, 1 << 20))
                    if not chunk:  # pragma: no cover - the spool is ours
                        break
                    out.write(chunk)
                    left -= len(chunk)
            ak9 = ["AK9", g.status, _num(g.included), _num(g.received), _num(g.accepted_count), *g.codes]
            writer.write_segment(ak9)
            writer.write_segment(["SE", str(g.body_segments + 4), st02])
            described.append({
                "kind": kind,
                "interchange": inbound_isa13,
                "functional_id": gs.functional_id,
                "group_control_number": gs.control_number,
                "version": gs.version,
                "status": g.status,
                "meaning": AK901_CODES[g.status],
                "included": g.included,
                "received": g.received,
                "accepted": g.accepted_count,
                "codes": list(g.codes),
                "code_meanings": [meaning(AK905_CODES, c) for c in g.codes],
                "not_accepted": list(g.problems),
                "ack_interchange": isa13,
                "ack_group": gs06,
                "ack_control_number": st02,
            })
        writer.write_segment(["GE", str(len(members)), gs06])
    writer.write_segment(["IEA", str(n_groups), isa13])
    return described


# ---------------------------------------------------------------- the API


def acknowledge(
    source: Source,
    *,
    validator: Callable[[Transaction], list[Finding]] | None = None,
    validate: bool = True,
    control_numbers: ControlNumbers | None = None,
    when: _dt.datetime | None = None,
    delimiters: Delimiters | None = None,
    output: BinaryIO | None = None,
    ta1: str = "auto",
    functional_acks: bool = True,
    ack_acks: bool = False,
    usage: str | None = None,
    max_findings: int = MAX_FINDINGS,
    reader_options: dict[str, Any] | None = None,
    finding_filter: Callable[[Iterable[Finding]], list[Finding]] | None = None,
    **more_reader_options: Any,
) -> AckResult:
    """Acknowledge every interchange and functional group of ``source``.

    ``validator`` checks one transaction set (default: the schema validator,
    :class:`hub.edi.x12.validate.X12Validator`, when it is installed;
    ``validate=False`` acknowledges on envelope findings only).
    ``control_numbers`` hands out the acknowledgments' own control numbers
    (default :class:`DerivedControlNumbers`, see the module docstring);
    ``when`` dates them (default: now, UTC); ``delimiters`` replaces the
    inbound ones; ``output`` receives the bytes instead of
    :attr:`AckResult.data`; ``ta1`` is ``"auto"`` (when requested or when the
    envelope is broken), ``"always"`` or ``"never"``; ``functional_acks=False``
    writes TA1s only; ``usage`` forces ISA15.  ``reader_options`` (a dict)
    and any other keyword arguments go to
    :class:`~hub.edi.x12.reader.X12Reader`.  ``finding_filter`` passes every
    finding first (a partner's leniency: :func:`hub.partners.apply_leniency`),
    so that a code the partner may send is acknowledged as accepted (dropped)
    or accepted with errors (made a warning), and the findings returned agree.

    One pass over the source; what is kept per interchange is a summary per
    group and the acknowledgment's AK2 loops (spooled to disk past a few MB).
    """
    if ta1 not in ("auto", "always", "never"):
        raise ValueError(f"ta1 must be 'auto', 'always' or 'never', not {ta1!r}")
    check = validator if validator is not None else (X12Validator().validate if validate else None)
    numbers = control_numbers if control_numbers is not None else DerivedControlNumbers()
    when = when or _dt.datetime.now(_dt.UTC)
    # the ack needs per-group counts, not a summary per set: keep memory flat
    reader = X12Reader(source, **{"keep_summaries": False, **(reader_options or {}), **more_reader_options})
    out = output if output is not None else io.BytesIO()
    findings: list[Finding] = []
    dropped = 0
    routed: dict[int, list[Finding]] = {}
    acks: list[dict[str, Any]] = []
    seen = 0

    def lenient(items: Iterable[Finding]) -> list[Finding]:
        return list(items) if finding_filter is None else finding_filter(items)

    def keep(items: Iterable[Finding]) -> None:
        nonlocal dropped
        for f in lenient(items):
            if len(findings) < max_findings:
                findings.append(f)
            else:
                dropped += 1

    def route(new: list[Finding]) -> None:
        new = lenient(new)
        keep(new)
        for f in new:
            if f.ack_level == "interchange" and f.interchange is not None:
                routed.setdefault(f.interchange, []).append(f)

    def finalize(state: _InterchangeAck) -> None:
        ic = state.ic
        try:
            ic_findings = lenient(ic.findings)
            own = {id(f) for f in ic_findings}
            level = [f for f in ic_findings if f.ack_level == "interchange" and f.ack_code]
            level += [f for f in routed.pop(ic.index, []) if id(f) not in own and f.ack_code]
            errors = [f for f in level if f.severity == ERROR]
            warnings = [f for f in level if f.severity != ERROR]
            rejected = bool(errors)
            only_ta1s = bool(ic.ta1s) and not ic.groups and not ack_acks
            if ta1 == "always":
                want_ta1 = True
            elif ta1 == "never":
                want_ta1 = False
            else:
                want_ta1 = (ic.ack_requested or rejected) and not only_ta1s
            status = "R" if errors else ("E" if warnings else "A")
            first = (errors or warnings)
            note = str(first[0].ack_code) if first else "000"
            if note not in TA105_CODES:
                note = "022" if errors else "000"
            groups = [] if rejected else [g for g in state.groups if g.end >= 0]
            if not want_ta1 and not groups:
                return
            acks.extend(
                _write_interchange(
                    out,
                    state,
                    ta1=(status, note) if want_ta1 else None,
                    groups=groups,
                    control_numbers=numbers,
                    when=when,
                    usage_override=usage,
                )
            )
        finally:
            state.close()

    active: _InterchangeAck | None = None
    pending: _InterchangeAck | None = None
    try:
        for item in reader:
            route(reader.findings[seen:])
            seen = len(reader.findings)
            if isinstance(item, Interchange):
                if pending is not None:
                    finalize(pending)
                    pending = None
                enc = reader.encoding or "latin-1"
                active = _InterchangeAck(item, _ack_delimiters(item.delimiters, delimiters, enc), enc)
            elif isinstance(item, FunctionalGroup):
                if active is None:  # pragma: no cover - the reader always opens an interchange first
                    continue
                active.current = None
                g = item
                if not functional_acks or (g.functional_id == "FA" and not ack_acks):
                    continue
                fid, gcn = g.functional_id, g.control_number
                if not (len(fid) == 2 and fid.isalnum() and gcn.isdigit() and len(gcn) <= 9):
                    keep([Finding(
                        code="ACK_GROUP_UNIDENTIFIED",
                        severity=WARNING,
                        layer="envelope",
                        message=f"functional group GS01 {fid!r} GS06 {gcn!r} cannot be named in AK101 (ID 2) and "
                        "AK102 (1-9 digits); it is not acknowledged",
                        interchange=g.interchange.index,
                        group=g.index,
                        segment_id="GS",
                    )])
                    continue
                kind = "999" if _is_999(g.version, g.interchange.version) else "997"
                active.current = _GroupAck(group=g, kind=kind, start=active._offset(), lenient=lenient)
                active.groups.append(active.current)
            elif isinstance(item, Transaction):
                schema = lenient(check(item)) if check is not None else []
                if not schema and not item.findings and active is not None and active.current is not None \
                        and item.group is active.current.group and active.accept(item):
                    continue  # a clean set: AK2 + AK5 A written, counted (the common case, kept short)
                keep(schema)
                if finding_filter is not None:
                    item.findings = lenient(item.findings)
                if active is None or active.current is None or item.group is not active.current.group:
                    continue
                g_ack = active.current
                notes: list[Finding] = []
                segments, status, codes = _set_loop(item, schema, g_ack.kind, active.clean, active.delimiters, notes)
                if _identifiable(item, active.clean):
                    active._write(segments)
                    g_ack.body_segments += len(segments)
                else:
                    status = "R"
                    notes.append(_note(item, f"transaction set {item.type!r} {item.control_number!r}: ST01 or ST02 "
                                       f"cannot be copied into a valid AK2; it is counted as received and rejected "
                                       f"in AK9 but has no AK2 loop", code="ACK_SET_UNIDENTIFIED"))
                keep(notes)
                g_ack.received += 1
                if status == "A":
                    g_ack.accepted += 1
                elif status == "E":
                    g_ack.with_errors += 1
                else:
                    g_ack.rejected += 1
                if status != "A" and len(g_ack.problems) < MAX_DESCRIBED_SETS:
                    g_ack.problems.append(
                        {"type": item.type, "control_number": item.control_number, "status": status, "codes": codes}
                    )
            elif isinstance(item, GroupEnd):
                if active is not None and active.current is not None and active.current.group is item.group:
                    active.current.end = active._offset()
                    active.current.finish()
                    active.current = None
            elif isinstance(item, InterchangeEnd):
                pending, active = active, None
        route(reader.findings[seen:])
        if pending is not None:
            finalize(pending)
            pending = None
    finally:
        for state in (active, pending):
            if state is not None:
                state.close()
    if dropped:
        findings.append(Finding(code="FINDINGS_TRUNCATED", severity=WARNING, layer="envelope",
                                message=f"{dropped} further findings were not recorded"))
    data = out.getvalue() if output is None else b""
    return AckResult(
        data=data,
        findings=findings,
        not_x12=reader.not_x12,
        acks=acks,
        encoding=reader.encoding or "latin-1",
    )
