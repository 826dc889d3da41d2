"""Schema validation of EDIFACT messages.

The mirror of the X12 validator: ``EdifactValidator().validate(message)``
returns the schema findings of one message.  Each finding carries its
position (segment position in the message, UNH = 1; element and component
positions) and the UN/ECE 0085 code that CONTRL UCS/UCD report.

Speed comes from caches, all bounded:

* the structure is a state machine over :class:`~hub.edi.edifact.schema.Entry`
  positions; the transition for ``(position, tag)`` -- the target position,
  the mandatory positions skipped on the way, the groups entered -- is
  computed once and kept in a dict per position.  Repetition counts need no
  bookkeeping beyond "how many times in a row" because positions only move
  forward inside a group instance.
* the structure verdict depends on the sequence of tags only: a message whose
  tag sequence was found valid before skips the state machine;
* element checks are cached per ``(segment tag, element position, value)``,
  and the text of whole segments found valid is remembered, so that a segment
  seen before costs one join and one set look-up.

Every cache is per schema and per set of service characters (a verdict
depends on the component separator and the release character).
"""

from __future__ import annotations

from hub.edi.core import ERROR, SCHEMA, WARNING, Delimiters, Finding, split_released
from hub.edi.edifact import syntax as sx
from hub.edi.edifact.model import Message
from hub.edi.edifact.schema import (
    CompiledMessage,
    Constituent,
    ElementSpec,
    Entry,
    compile_message,
    find_schema,
    nearest_directory,
)

CACHE_LIMIT = 50_000  # values per element position before the cache is cleared
GOOD_LIMIT = 100_000  # valid whole segments remembered (per schema and service characters)
SHAPE_LIMIT = 10_000  # valid message structures (tag sequences) remembered

# A verdict is a tuple of problems; a problem is (code, ack_code, component, message, bad_value, severity).
_OK: tuple = ()
_MISSING: tuple = (None,)  # cached verdict of an empty mandatory element


def _check_value(spec: ElementSpec, value: str, d: Delimiters) -> tuple[str, str, str] | None:
    """(code, ack code, message) for a plain value that breaks ``spec``, or None."""
    kind = spec.kind
    if kind == "n":
        digits = value
        if digits[:1] == "-":
            digits = digits[1:]
        marks = digits.count(".") + digits.count(",")
        if marks:
            if marks > 1:
                return "INVALID_DECIMAL", sx.E_INVALID_DECIMAL, f"{value!r} has more than one decimal mark"
            if digits[:1] in (".", ","):
                return ("MISSING_DIGIT_BEFORE_DECIMAL", sx.E_MISSING_DIGIT_BEFORE_DECIMAL,
                        f"{value!r} needs a digit before the decimal mark")
            if digits[-1:] in (".", ","):
                return "INVALID_DECIMAL", sx.E_INVALID_DECIMAL, f"{value!r} ends with its decimal mark"
            digits = digits.replace(".", "").replace(",", "")
        if not digits.isdigit() or not digits.isascii():
            return "INVALID_CHARACTER_TYPE", sx.E_INVALID_CHARACTER_TYPE, f"{value!r} is not numeric ({spec.format})"
        length = len(digits)
    else:
        if kind == "a" and any(c.isdigit() for c in value):
            return ("INVALID_CHARACTER_TYPE", sx.E_INVALID_CHARACTER_TYPE,
                    f"{value!r} has digits but is alphabetic ({spec.format})")
        length = len(value)
    if length > spec.max:
        return ("ELEMENT_TOO_LONG", sx.E_TOO_LONG,
                f"{value!r} is {length} characters, at most {spec.max} ({spec.format})")
    if length < spec.min:
        return ("ELEMENT_TOO_SHORT", sx.E_TOO_SHORT,
                f"{value!r} is {length} characters, at least {spec.min} ({spec.format})")
    return None


def _verdict(con: Constituent, raw: str, d: Delimiters) -> tuple:
    """The problems of one data element value (escaped, as read)."""
    problems = []
    comp = d.component
    rel = d.release
    label = con.id
    if con.components is None:
        assert con.element is not None
        if comp in raw and (rel is None or rel not in raw or len(split_released(raw, comp, rel)) > 1):
            problems.append(("TOO_MANY_COMPONENTS", sx.E_TOO_MANY_CONSTITUENTS, 2,
                             f"{label} is a simple data element but {raw!r} has components", raw, ERROR))
            return tuple(problems)
        value = d.unescape(raw) if rel is not None and rel in raw else raw
        bad = _check_value(con.element, value, d)
        if bad is not None:
            problems.append((bad[0], bad[1], None, f"{label}: {bad[2]}", value, ERROR))
        return tuple(problems)
    comps = d.components(raw)
    spec = con.components
    if len(comps) > 1 and comps[-1] == "" and raw.endswith(comp) and not (rel and raw.endswith(rel + comp)):
        problems.append(("TRAILING_SEPARATOR", sx.E_TRAILING_SEPARATOR, len(comps),
                         f"{label} ends with a component separator", raw, WARNING))
    if len(comps) > len(spec):
        problems.append(("TOO_MANY_COMPONENTS", sx.E_TOO_MANY_CONSTITUENTS, len(spec) + 1,
                         f"{label} has {len(comps)} components, at most {len(spec)}", raw, ERROR))
    for j, (value, (element, mandatory)) in enumerate(zip(comps, spec, strict=False), start=1):
        if value == "":
            if mandatory:
                problems.append(("MANDATORY_COMPONENT_MISSING", sx.E_MISSING, j,
                                 f"{label} component {j} ({element.id}) is mandatory", None, ERROR))
            continue
        bad = _check_value(element, value, d)
        if bad is not None:
            problems.append((bad[0], bad[1], j, f"{label} component {j} ({element.id}): {bad[2]}", value, ERROR))
    return tuple(problems)


def _max_of(con: Constituent, component: int | None) -> int:
    if con.components is None:
        return con.element.max if con.element is not None else 0
    if component and component <= len(con.components):
        return con.components[component - 1][0].max
    return 0


class _Transition:
    __slots__ = ("target", "missing", "enters", "same", "max", "simple", "table")

    def __init__(self, target: Entry, missing: tuple[Entry, ...], enters: tuple[tuple[Entry, bool], ...], same: bool):
        self.target = target
        self.missing = missing
        self.enters = enters
        self.same = same
        self.max = target.max
        self.simple = not (same or missing or enters)  # just move on: nothing to count or report
        self.table: dict | None = None  # the target's transition table, set by the validator


def _compute(state: Entry, tag: str) -> _Transition | None:
    missing: list[Entry] = []
    enters: list[tuple[Entry, bool]] = []
    cur = state
    while True:
        g = cur.parent
        assert g is not None
        siblings = g.children
        i = cur.index
        if not cur.is_group and cur.name == tag and not (i == 0 and g.parent is not None):
            return _Transition(cur, tuple(missing), tuple(enters), True)
        for s in siblings[i + 1:]:
            if s.is_group:
                if s.children[0].name == tag:
                    enters.append((s, False))
                    return _Transition(s.children[0], tuple(missing), tuple(enters), False)
            elif s.name == tag:
                return _Transition(s, tuple(missing), tuple(enters), False)
            if s.mandatory:
                missing.append(s)
        if g.parent is None:
            return None
        if g.children[0].name == tag:
            enters.append((g, True))
            return _Transition(g.children[0], tuple(missing), tuple(enters), False)
        cur = g


class _SegmentChecks:
    """One segment's data element checks, with a verdict cache per element position."""

    __slots__ = ("tag", "items", "caches", "size", "last_mandatory")

    def __init__(self, tag: str, spec: tuple[Constituent, ...]) -> None:
        self.tag = tag
        # (value cache, constituent, position) per element position
        self.items = [({}, con, i) for i, con in enumerate(spec, start=1)]
        self.caches = [item[0] for item in self.items]
        for cache, con, _i in self.items:
            cache[""] = _MISSING if con.mandatory else _OK
        self.size = len(spec)
        self.last_mandatory = max((i for i, con in enumerate(spec, start=1) if con.mandatory), default=0)


class _Caches:
    """What one validator remembers for one set of service characters (verdicts depend on them)."""

    __slots__ = ("checks", "good", "shapes")

    def __init__(self, schema: CompiledMessage) -> None:
        self.checks = {tag: _SegmentChecks(tag, spec) for tag, spec in schema.segments.items()
                       if spec is not None and tag != "UNT"}
        self.good: set[str] = set()  # texts of whole segments whose data elements are valid
        self.shapes: set[str] = set()  # tag sequences of messages whose structure is valid

    def remember(self, keys: list[str]) -> None:
        if keys:
            if len(self.good) + len(keys) > GOOD_LIMIT:
                self.good.clear()
            self.good.update(keys)

    def remember_shape(self, shape: str) -> None:
        if len(self.shapes) >= SHAPE_LIMIT:
            self.shapes.clear()
        self.shapes.add(shape)


class CompiledValidator:
    """Validates messages of one compiled schema; keeps the caches between messages."""

    def __init__(self, schema: CompiledMessage, elements_only: bool = False, applies_to: str = "") -> None:
        self.schema = schema
        self.elements_only = elements_only
        self.applies_to = applies_to  # the directory of the messages, when the schema is a stand-in
        self.start = schema.root.children[0]
        # transition tables, one dict per position, indexed by Entry.id
        self._trans: list[dict[str, _Transition | None]] = [{} for _ in schema.entries]
        # Per set of service characters (verdicts depend on them): the element checks with
        # their value caches, and the text of whole segments found valid (one set look-up
        # next time: hashing one joined string is much cheaper than hashing each element).
        self._caches: dict[Delimiters, _Caches] = {}

    def _caches_for(self, d: Delimiters) -> _Caches:
        try:
            return self._caches[d]
        except KeyError:
            cache = self._caches[d] = _Caches(self.schema)
            return cache

    def transition(self, state: Entry, tag: str) -> _Transition | None:
        table = self._trans[state.id]
        try:
            return table[tag]
        except KeyError:
            t = table[tag] = _compute(state, tag)
            if t is not None:
                t.table = self._trans[t.target.id]
            return t

    def validate(self, msg: Message) -> list[Finding]:
        """The schema findings of one message.

        Fast path, taken when the message's sequence of segment tags was seen
        before and found valid (the structure verdict depends on the tags
        only): the data elements of only those segments whose text was not
        seen valid before are checked, through C-level set operations.  Any
        problem sends the message down the full path, which reports it with
        its segment-group context and fills the caches.
        """
        segs = msg.segments
        if not segs or msg.dropped_segments:
            return self._validate_full(msg)
        cache = self._caches_for(msg.delimiters)
        body = segs[1:-1] if segs[-1][0] == "UNT" and msg.unt is not None else segs[1:]
        if not self.elements_only:
            shape = "\x00".join([s[0] for s in segs])
            if shape not in cache.shapes:
                return self._validate_full(msg, cache, shape)
        join = "\x00".join
        good = cache.good
        todo = [(seg, key) for seg in body if (key := join(seg)) not in good]
        if not todo:
            return []
        d = msg.delimiters
        checks = cache.checks
        get = dict.get
        ok = _OK
        fresh = []
        for seg, key in todo:
            chk = checks.get(seg[0])
            if chk is None:
                fresh.append(key)
                continue
            count = len(seg) - 1
            if count > chk.size or count < chk.last_mandatory or seg[count] == "":
                return self._validate_full(msg, cache, None)
            verdicts = list(map(get, chk.caches, seg[1:]))
            if verdicts.count(ok) != len(verdicts):
                for verdict, raw, (c, con, _i) in zip(verdicts, seg[1:], chk.items, strict=False):
                    if verdict is None:
                        verdict = c[raw] = _verdict(con, raw, d)
                        if len(c) >= CACHE_LIMIT:
                            c.clear()
                            c[""] = _MISSING if con.mandatory else _OK
                    if verdict:
                        return self._validate_full(msg, cache, None)
            fresh.append(key)
        cache.remember(fresh)
        return []

    def _validate_full(self, msg: Message, cache: _Caches | None = None, shape: str | None = None) -> list[Finding]:
        findings: list[Finding] = []
        segs = msg.segments
        if not segs:
            return findings
        if cache is None:
            cache = self._caches_for(msg.delimiters)
        d = msg.delimiters
        ic = msg.interchange
        base = {"interchange": ic.index, "group": msg.group.index, "transaction": msg.index}
        schema = self.schema
        trans = self._trans
        checks = cache.checks
        good = cache.good
        fresh: list[str] = []
        join = "\x00".join
        elements_only = self.elements_only
        state = self.start
        table = trans[state.id]
        run = 1
        gruns: dict[int, int] = {}
        last = len(segs) - 1
        n = 1
        get = dict.get
        ok = _OK
        for seg in segs[1:]:
            n += 1
            tag = seg[0]
            if not elements_only:
                t = table.get(tag)
                if t is not None and t.simple:
                    state = t.target
                    table = t.table
                    run = 1
                elif t is not None and t.same and run < t.max:
                    run += 1
                else:
                    if t is None:
                        t = self.transition(state, tag)
                    if t is None:
                        if tag == "UNT" and n - 1 == last:
                            break
                        self._unexpected(findings, tag, n, state, base)
                        continue
                    if t.missing:
                        self._missing(findings, t.missing, n, tag, base)
                    if t.same:
                        run += 1
                        if run > t.max:
                            findings.append(Finding(
                                code="SEGMENT_REPEATS", severity=ERROR, layer=SCHEMA,
                                message=f"segment {tag} repeats {run} times here; at most {t.max}",
                                segment=n, segment_id=tag, loop_id=t.target.loop_id, ack_level="segment",
                                ack_code=sx.E_TOO_MANY_REPETITIONS, **base))
                    else:
                        run = 1
                        for g, again in t.enters:
                            count = gruns[g.id] + 1 if again else 1
                            gruns[g.id] = count
                            if count > g.max:
                                self._group_repeats(findings, g, count, tag, n, base)
                        state = t.target
                        table = t.table
            chk = checks.get(tag)
            if chk is None:
                continue
            key = join(seg)
            if key in good:  # this very segment was checked before and is fine
                continue
            count = len(seg) - 1
            if count > chk.size or count < chk.last_mandatory or seg[count] == "":
                self._shape(findings, seg, chk, n, state, base)
                clean = False
            else:
                clean = True
            verdicts = list(map(get, chk.caches, seg[1:]))
            if verdicts.count(ok) != len(verdicts):
                clean = self._elements(findings, seg, verdicts, chk, n, state, d, base) and clean
            if clean:
                fresh.append(key)
        if msg.unt is None and not msg.dropped_segments and not elements_only:
            t = self.transition(state, "UNT")
            if t is not None and t.missing:
                self._missing(findings, t.missing, len(segs) + 1, "end of message", base)
        cache.remember(fresh)
        if shape is not None and not any(f.ack_level == "segment" for f in findings):
            cache.remember_shape(shape)
        if elements_only and findings:
            # A stand-in directory is older or newer than the message's: data element
            # lengths grew over the years, code qualifiers (an..3) did not; so a value
            # too long for a longer element is only a warning here.
            note = f" (checked against the {schema.directory} segment directory; no {self.applies_to} schema)"
            for f in findings:
                f.message += note
                f.loop_id = None
                if f.code == "ELEMENT_TOO_LONG" and f.extra.get("max", 0) > 3:
                    f.severity = WARNING
        return findings

    # ------------------------------------------------------------ reporting

    def _unexpected(self, findings: list[Finding], tag: str, n: int, state: Entry, base: dict) -> None:
        schema = self.schema
        known = tag in schema.tags
        findings.append(Finding(
            code="SEGMENT_UNEXPECTED" if known else "SEGMENT_NOT_IN_MESSAGE",
            severity=ERROR, layer=SCHEMA,
            message=(f"segment {tag} is not allowed here in {schema.type} ({schema.directory})" if known
                     else f"segment {tag[:10]!r} is not part of {schema.type} ({schema.directory})"),
            segment=n, segment_id=tag[:10], loop_id=state.loop_id, ack_level="segment",
            ack_code=sx.E_NOT_SUPPORTED_IN_POSITION, **base))

    def _group_repeats(self, findings: list[Finding], g: Entry, count: int, tag: str, n: int, base: dict) -> None:
        findings.append(Finding(
            code="GROUP_REPEATS", severity=ERROR, layer=SCHEMA,
            message=f"segment group {g.name} repeats {count} times; at most {g.max}",
            segment=n, segment_id=tag, loop_id=g.name, ack_level="segment",
            ack_code=sx.E_TOO_MANY_GROUP_REPETITIONS, **base))

    def _shape(self, findings: list[Finding], seg: list[str], chk: _SegmentChecks, n: int, state: Entry,
               base: dict) -> None:
        """Too many data elements, a trailing separator, or mandatory elements past the end."""
        tag = chk.tag
        count = len(seg) - 1
        if count > chk.size:
            findings.append(Finding(
                code="TOO_MANY_ELEMENTS", severity=ERROR, layer=SCHEMA,
                message=f"{tag} has {count} data elements, at most {chk.size}",
                segment=n, segment_id=tag, element=chk.size + 1, loop_id=state.loop_id,
                ack_level="element", ack_code=sx.E_TOO_MANY_CONSTITUENTS, **base))
        elif count and seg[count] == "":
            findings.append(Finding(
                code="TRAILING_SEPARATOR", severity=WARNING, layer=SCHEMA,
                message=f"{tag} ends with a data element separator", segment=n, segment_id=tag,
                element=count, loop_id=state.loop_id, ack_level="element",
                ack_code=sx.E_TRAILING_SEPARATOR, **base))
        for _cache, con, i in chk.items[count:]:
            if con.mandatory:
                findings.append(Finding(
                    code="MANDATORY_ELEMENT_MISSING", severity=ERROR, layer=SCHEMA,
                    message=f"{tag} element {i} ({con.id}) is mandatory", segment=n, segment_id=tag,
                    element=i, element_ref=con.id, loop_id=state.loop_id, ack_level="element",
                    ack_code=sx.E_MISSING, **base))

    def _elements(self, findings: list[Finding], seg: list[str], verdicts: list, chk: _SegmentChecks, n: int,
                  state: Entry, d: Delimiters, base: dict) -> None:
        """Report the element problems of one segment, computing the verdicts not cached yet.

        Returns whether the segment's elements are all valid.
        """
        tag = chk.tag
        clean = True
        for verdict, raw, (cache, con, i) in zip(verdicts, seg[1:], chk.items, strict=False):
            if verdict is None:
                verdict = _verdict(con, raw, d)
                if len(cache) >= CACHE_LIMIT:
                    cache.clear()
                    cache[""] = _MISSING if con.mandatory else _OK
                cache[raw] = verdict
            if verdict:
                clean = False
            if verdict is _MISSING:
                findings.append(Finding(
                    code="MANDATORY_ELEMENT_MISSING", severity=ERROR, layer=SCHEMA,
                    message=f"{tag} element {i} ({con.id}) is mandatory", segment=n, segment_id=tag,
                    element=i, element_ref=con.id, loop_id=state.loop_id, ack_level="element",
                    ack_code=sx.E_MISSING, **base))
            elif verdict:
                self._report(findings, verdict, tag, n, i, con, state, base)
        return clean

    def _report(self, findings: list[Finding], verdict: tuple, tag: str, n: int, i: int, con: Constituent,
                state: Entry, base: dict) -> None:
        for code, ack, component, text, bad, severity in verdict:
            f = Finding(
                code=code, severity=severity, layer=SCHEMA, message=f"{tag} element {i}: {text}",
                segment=n, segment_id=tag, element=i, component=component, element_ref=con.id,
                loop_id=state.loop_id, ack_level="element", ack_code=ack, bad_value=bad, **base)
            if code == "ELEMENT_TOO_LONG":
                f.extra["max"] = _max_of(con, component)
            findings.append(f)

    def _missing(self, findings: list[Finding], missing: tuple[Entry, ...], n: int, at: str, base: dict) -> None:
        for e in missing:
            findings.append(Finding(
                code="MANDATORY_SEGMENT_MISSING" if not e.is_group else "MANDATORY_GROUP_MISSING",
                severity=ERROR, layer=SCHEMA,
                message=f"mandatory {e.describe()} is missing before {at}",
                segment=n, segment_id=e.tag, loop_id=e.loop_id, ack_level="segment", ack_code=sx.E_MISSING,
                **base))


class EdifactValidator:
    """Validate any message: picks (and caches) the schema from UNH S009.

    Messages without a schema get no schema findings (they are still
    enveloped and acknowledged); ``unknown`` counts them by type and version.
    """

    def __init__(self) -> None:
        self._validators: dict[tuple[str, str, str, str], CompiledValidator | None] = {}
        self.unknown: dict[str, int] = {}

    def schema_for(self, msg: Message) -> CompiledValidator | None:
        key = (msg.type, msg.version_number, msg.release, msg.agency)
        try:
            return self._validators[key]
        except KeyError:
            pass
        schema = find_schema(*key)
        v: CompiledValidator | None = None
        if schema is not None:
            v = CompiledValidator(schema)
        else:
            nearest = nearest_directory(msg.version_number, msg.release)
            stand_in = compile_message(nearest, msg.type) if nearest else None
            if stand_in is not None:
                v = CompiledValidator(stand_in, elements_only=True, applies_to=f"D{msg.release.upper()}")
        if len(self._validators) >= 1024:  # a file with ever-new message identifiers
            self._validators.clear()
        self._validators[key] = v
        return v

    def validate(self, msg: Message) -> list[Finding]:
        v = self.schema_for(msg)
        if v is None:
            name = f"{msg.type} {msg.version_number}:{msg.release}"
            if name not in self.unknown and len(self.unknown) >= 1000:
                name = "(others)"
            self.unknown[name] = self.unknown.get(name, 0) + 1
            if msg.version_number and msg.version_number not in ("D", "S") and msg.agency == "UN" \
                    and msg.type != "CONTRL":
                return [Finding(
                    code="MESSAGE_VERSION_INVALID", severity=WARNING, layer=SCHEMA,
                    message=f"UNH S009 message version {msg.version_number!r} is not 'D' for a UN directory "
                            f"message; no schema applied", interchange=msg.interchange.index,
                    group=msg.group.index, transaction=msg.index, segment=1, segment_id="UNH", element=2,
                    component=2, bad_value=msg.version_number, ack_level="element", ack_code=sx.E_INVALID_VALUE)]
            return []
        return v.validate(msg)
