"""Schema validation of X12 transaction sets.

:class:`X12Validator` checks one :class:`~hub.edi.x12.model.Transaction` at a
time against the schema of its set and version (:func:`schema_for`, see
:mod:`hub.edi.x12.schema` for the version rule) and returns
:class:`~hub.edi.core.Finding` objects; it never raises on bad data and never
changes the transaction.  Envelope checks (ST/SE control numbers and counts)
belong to the reader and are not repeated here; ST and SE only take part in
the segment sequence.

Finding codes (layer ``schema``; ``ack_code`` is the 997 code, AK304 for
segment-level findings, AK403 for element-level ones; where the 999 code
differs it is in ``extra["ik"]``):

=============================  ======  ==========================================
code                           ack     meaning
=============================  ======  ==========================================
SEGMENT_UNRECOGNIZED           1       not an X12 segment ID we know
SEGMENT_UNEXPECTED             2       in the set, but not reachable from here
SEGMENT_MISSING                3       a mandatory segment (or loop) is absent
LOOP_OVER_MAX                  4       a loop repeats more often than allowed
SEGMENT_OVER_MAX_USE           5       a segment repeats more often than allowed
SEGMENT_NOT_IN_SET             6       a known segment that this set does not use
SEGMENT_OUT_OF_ORDER           7       its position is earlier in the set
ELEMENT_MISSING                1       mandatory element (or component) empty
ELEMENT_CONDITIONAL_MISSING    2       required by a syntax note (P, R, C, L)
TOO_MANY_ELEMENTS              3       more elements than the segment defines
ELEMENT_TOO_SHORT              4
ELEMENT_TOO_LONG               5
ELEMENT_INVALID_CHARACTER      6       control character; bad N/R number
ELEMENT_INVALID_CODE           7       not in the code list
ELEMENT_UNKNOWN_CODE           7       warning: not in an *open* (incomplete) list
ELEMENT_INVALID_DATE           8       DT: CCYYMMDD/YYMMDD, a real calendar date
ELEMENT_INVALID_TIME           9       TM: HHMM[SS[d[d]]]
ELEMENT_EXCLUSION              10      E syntax note violated
TOO_MANY_REPETITIONS           3       999 IK403 12 in extra["ik"]
TOO_MANY_COMPONENTS            3       999 IK403 13 in extra["ik"]
HL_ID_SEQUENCE                 7       HL01 not 1, 2, 3 ... (unique, increasing)
HL_PARENT_UNKNOWN              7       HL02 names no earlier HL01
HL_PARENT_MISSING              2       HL02 empty below the top level
HL_LEVEL_ORDER                 7       HL03 level not below its parent's level
=============================  ======  ==========================================

How it stays fast: a schema compiles (once, see :mod:`hub.edi.x12.schema`)
to a ``(state, segment ID) -> transition`` table and to generated element
checkers per segment and element count.  A clean segment costs one dict
lookup, one tuple unpack and one call of a generated function that does only
C-level tests; anything else falls into the slow path that builds the
findings.  Each validator also remembers segment-ID sequences whose walk
found no structural problem (sets without an HL hierarchy): a set with a
known sequence runs only the element checkers.

Sets without a schema get syntax-only checks (layer ``syntax``):
``SEGMENT_TAG_INVALID`` (segment ID not 2-3 upper-case letters/digits, ack 1)
and ``ELEMENT_CONTROL_CHARACTER`` (ack 6).

Conditional and exclusion findings carry the 999 CTX context in
``extra["ctx"]``, a list of dicts (the shape :mod:`hub.acks.x12_build`
writes as CTX segments): ``{"name": "SITUATIONAL TRIGGER", "segment_id",
"segment", "loop_id", "element", "component", "element_ref"}`` naming the
element that triggered the condition.  HL_LEVEL_ORDER findings carry the
parent: ``{"name": "HL01", "reference": parent ID}`` plus a trigger pointing
at the parent HL, and ``extra["parent"]`` = ``{"id", "level", "segment"}``.
"""

from __future__ import annotations

from itertools import compress
from operator import itemgetter
from typing import Any

from hub.edi.core import ERROR, SCHEMA, SYNTAX, WARNING, Finding, Segment
from hub.edi.x12 import accel
from hub.edi.x12.model import Interchange, Transaction
from hub.edi.x12.schema import (
    COMPLEX,
    ENTER,
    SEGMENT_ACK,
    Checkers,
    CompositeDef,
    ElementDef,
    Loop,
    SegmentDef,
    SegNode,
    Step,
    TransactionSchema,
    Usage,
    checkers_for,
    has_control,
    load_dictionary,
    resolve_version,
    schema_for,
    significant_length,
    valid_tag,
    value_errors,
)
from hub.edi.x12.schema import ERROR as T_ERROR

__all__ = ["X12Validator", "schema_for", "element_problems", "ELEMENT_ACK", "SEGMENT_ACK"]

ELEMENT_ACK = {
    "ELEMENT_MISSING": "1",
    "ELEMENT_CONDITIONAL_MISSING": "2",
    "TOO_MANY_ELEMENTS": "3",
    "ELEMENT_TOO_SHORT": "4",
    "ELEMENT_TOO_LONG": "5",
    "ELEMENT_INVALID_CHARACTER": "6",
    "ELEMENT_INVALID_CODE": "7",
    "ELEMENT_UNKNOWN_CODE": "7",
    "ELEMENT_INVALID_DATE": "8",
    "ELEMENT_INVALID_TIME": "9",
    "ELEMENT_EXCLUSION": "10",
    "TOO_MANY_REPETITIONS": "3",
    "TOO_MANY_COMPONENTS": "3",
    "HL_ID_SEQUENCE": "7",
    "HL_PARENT_UNKNOWN": "7",
    "HL_PARENT_MISSING": "2",
    "HL_LEVEL_ORDER": "7",
    "ELEMENT_CONTROL_CHARACTER": "6",
}
IK_DIFFERS = {"TOO_MANY_REPETITIONS": "12", "TOO_MANY_COMPONENTS": "13"}

# ------------------------------------------------------------------ element problems


class Problem(tuple):
    """``(code, element, component, repetition, ref, bad_value, detail, extra)``."""

    __slots__ = ()


def _problem(code, element, component, repetition, ref, bad, detail, extra=None) -> Problem:
    return Problem((code, element, component, repetition, ref, bad, detail, extra))


def _label(tag: str, element: int, component: int | None = None) -> str:
    text = f"{tag}{element:02d}"
    if component is not None:
        text += f"-{component:02d}"
    return text


def _simple_detail(code: str, defn: ElementDef, value: str) -> str:
    if code == "ELEMENT_TOO_SHORT":
        n = significant_length(defn, value)
        unit = "digits" if defn.type == "R" or defn.type.startswith("N") else "characters"
        return f"is {n} {unit}, at least {defn.min} required"
    if code == "ELEMENT_TOO_LONG":
        n = significant_length(defn, value)
        unit = "digits" if defn.type == "R" or defn.type.startswith("N") else "characters"
        return f"is {n} {unit}, at most {defn.max} allowed"
    if code == "ELEMENT_INVALID_CHARACTER":
        if has_control(value):
            return f"{value!r} contains a control character"
        if defn.type.startswith("N"):
            places = int(defn.type[1:] or 0)
            kind = "an integer" if not places else f"a number with {places} implied decimal places"
            return f"{value!r} is not {kind} (digits, optional leading minus, no decimal point)"
        return f"{value!r} is not a decimal number"
    if code == "ELEMENT_INVALID_CODE":
        return f"{value!r} is not a valid code"
    if code == "ELEMENT_UNKNOWN_CODE":
        return f"{value!r} is not in the known (incomplete) code list"
    if code == "ELEMENT_INVALID_DATE":
        return f"{value!r} is not a valid date (CCYYMMDD or YYMMDD)"
    if code == "ELEMENT_INVALID_TIME":
        return f"{value!r} is not a valid time (HHMM, HHMMSS, HHMMSSD or HHMMSSDD)"
    return f"{value!r} is invalid"


def _check_simple(
    defn: ElementDef,
    value: str,
    element: int,
    component: int | None,
    repetition: int | None,
    comp: str,
    rep: str | None,
    real_exp: bool,
    out: list[Problem],
) -> None:
    if comp in value:
        parts = value.split(comp)
        out.append(
            _problem(
                "TOO_MANY_COMPONENTS", element, component or 2, repetition, defn.ref, value,
                f"contains the component separator {comp!r} ({len(parts)} components) but is not a composite",
            )
        )
        value = parts[0]
        if not value:
            return
    for code in value_errors(defn, value, real_exp):
        out.append(
            _problem(code, element, component, repetition, defn.ref, value, _simple_detail(code, defn, value))
        )


def _note_problems(notes, present, element_of, ref_of, tag):
    out = []
    for note in notes:
        v = note.violation(present)
        if v is None:
            continue
        what, at, trigger = v
        if what == "exclusion":
            code = "ELEMENT_EXCLUSION"
            detail = f"may not be used together with {_label(tag, *element_of(trigger))} (syntax note {note.text})"
        else:
            code = "ELEMENT_CONDITIONAL_MISSING"
            if trigger is None:
                others = ", ".join(_label(tag, *element_of(p)) for p in note.positions)
                detail = f"at least one of {others} is required (syntax note {note.text})"
            else:
                detail = f"is required when {_label(tag, *element_of(trigger))} is present (syntax note {note.text})"
        extra = None
        if trigger is not None:
            t_el, t_comp = element_of(trigger)
            item = {"name": "SITUATIONAL TRIGGER", "segment_id": tag, "element": t_el, "element_ref": ref_of(trigger)}
            if t_comp is not None:
                item["component"] = t_comp
            extra = {"ctx": [item]}
        el, comp_no = element_of(at)
        out.append(_problem(code, el, comp_no, None, ref_of(at), None, detail, extra))
    return out


def element_problems(
    seg: SegmentDef, u: Usage, raw: str, comp: str, rep: str | None, real_exp: bool
) -> list[Problem]:
    """Problems of one non-empty element occurrence ``raw`` at usage ``u`` of segment ``seg``."""
    out: list[Problem] = []
    tag = seg.tag
    if rep is not None and rep in raw:
        reps = raw.split(rep)
        if len(reps) > u.repeat:
            out.append(
                _problem(
                    "TOO_MANY_REPETITIONS", u.pos, None, u.repeat + 1, u.ref, raw,
                    f"has {len(reps)} repetitions, "
                    + ("repetition is not allowed" if u.repeat == 1 else f"at most {u.repeat} allowed"),
                    {"ik": "12"},
                )
            )
    else:
        reps = [raw]
    multi = len(reps) > 1
    for r, value in enumerate(reps, start=1):
        rno = r if multi else None
        if not value:
            if u.req == "M" and multi:
                out.append(_problem("ELEMENT_MISSING", u.pos, None, rno, u.ref, None, "is mandatory and missing"))
            continue
        d = u.definition
        if isinstance(d, ElementDef):
            _check_simple(d, value, u.pos, None, rno, comp, rep, real_exp, out)
            continue
        assert isinstance(d, CompositeDef)
        parts = value.split(comp)
        if len(parts) > len(d.components):
            out.append(
                _problem(
                    "TOO_MANY_COMPONENTS", u.pos, len(d.components) + 1, rno, d.ref, value,
                    f"has {len(parts)} components, at most {len(d.components)} defined",
                    {"ik": "13"},
                )
            )
            parts = parts[: len(d.components)]
        for j, (cdef, creq) in enumerate(d.components, start=1):
            cval = parts[j - 1] if j <= len(parts) else ""
            if not cval:
                if creq == "M":
                    out.append(_problem("ELEMENT_MISSING", u.pos, j, rno, cdef.ref, None, "is mandatory and missing"))
                continue
            _check_simple(cdef, cval, u.pos, j, rno, comp, rep, real_exp, out)
        if d.syntax:
            out.extend(
                _note_problems(
                    d.syntax,
                    lambda p, parts=parts: p <= len(parts) and parts[p - 1] != "",
                    lambda p, pos=u.pos: (pos, p),
                    lambda p, d=d: d.components[p - 1][0].ref if p <= len(d.components) else None,
                    tag,
                )
            )
    return out


def segment_problems(seg_def: SegmentDef, seg: Segment, comp: str, rep: str | None, real_exp: bool) -> list[Problem]:
    """Every element problem of one segment (the slow path)."""
    usages = seg_def.elements
    out: list[Problem] = []
    if usages is None:
        return out
    tag = seg_def.tag
    k = len(seg) - 1
    if k > len(usages):
        first_extra = len(usages) + 1
        out.append(
            _problem(
                "TOO_MANY_ELEMENTS", first_extra, None, None, None, seg[first_extra],
                f"{tag} has {k} data elements, {len(usages)} are defined",
            )
        )
    for u in usages:
        raw = seg[u.pos] if u.pos <= k else ""
        if not raw:
            if u.req == "M":
                out.append(_problem("ELEMENT_MISSING", u.pos, None, None, u.ref, None, "is mandatory and missing"))
            continue
        out.extend(element_problems(seg_def, u, raw, comp, rep, real_exp))
    if seg_def.syntax:
        out.extend(
            _note_problems(
                seg_def.syntax,
                lambda p: p <= k and seg[p] != "",
                lambda p: (p, None),
                lambda p: usages[p - 1].ref if p <= len(usages) else None,
                tag,
            )
        )
    return out


# ------------------------------------------------------------------ the validator


class _Machine:
    """A schema's transitions joined with the element checkers of one delimiter set.

    ``table[state]`` maps a segment ID to ``(next state, kind, arg, checkers
    by segment length, table[next state])``.  ``shapes`` remembers segment-ID
    sequences whose walk found no structural problem: for those only the
    element checkers run (sets with an HL hierarchy always take the walk).
    """

    __slots__ = ("schema", "checkers", "table", "shapes", "use_shapes", "rules")

    SHAPES = 4096  # remembered segment-ID sequences per machine

    def __init__(self, schema: TransactionSchema, checkers: Checkers) -> None:
        self.schema = schema
        self.checkers = checkers
        self.table: list[dict[str, tuple]] = [{} for _ in schema.nodes]
        self.shapes: dict[tuple[str, ...], tuple[list[Any], ...]] = {}  # tags -> checker lists
        self.use_shapes = schema.hierarchy is None
        self.rules = accel.rules_for(schema, checkers)  # compiled element checks, or None

    def step(self, state: int, tag: str) -> tuple:
        nxt, kind, arg = self.schema.transition(state, tag)
        chk = self.checkers.get(tag) if kind != T_ERROR else None
        if kind == ENTER:
            arg = arg.index
        t = (nxt, kind, arg, chk, self.table[nxt])
        row = self.table[state]
        if tag in self.schema.tags or len(row) < 256:
            row[tag] = t
        return t

    def remember(self, tags: tuple[str, ...]) -> None:
        if len(self.shapes) >= self.SHAPES:
            self.shapes.clear()
        get = self.checkers.get
        self.shapes[tags] = tuple(get(tag) for tag in tags)


_first = itemgetter(0)


def _hl_links_clean(segs: list[Segment], tags: tuple[str, ...], h: Any) -> bool:
    """True when every HL of the set is in order (the fast path; any doubt: False, and the walk reports)."""
    levels, top = h.levels, h.top
    ids: dict[str, str] = {}
    last = 0
    for i in compress(range(len(tags)), map(h.segment.__eq__, tags)):
        seg = segs[i]
        n = len(seg)
        hid = seg[1] if n > 1 else ""
        parent = seg[2] if n > 2 else ""
        level = seg[3] if n > 3 else ""
        if not (hid.isascii() and hid.isdigit()) or hid in ids:
            return False
        number = int(hid)
        if number <= last or (last == 0 and number != 1):
            return False
        last = number
        if parent:
            plevel = ids.get(parent)
            if plevel is None:
                return False
            if level in levels and plevel in levels and levels[level] <= levels[plevel]:
                return False
        elif level in levels and level not in top:
            return False
        ids[hid] = level
    return True


class _Context:
    """Position fields shared by every finding of one transaction set."""

    __slots__ = ("interchange", "group", "transaction", "layer")

    def __init__(self, tx: Transaction | None, layer: str = SCHEMA, interchange: int | None = None) -> None:
        self.layer = layer
        if tx is None:
            self.interchange, self.group, self.transaction = interchange, None, None
        else:
            self.interchange = tx.interchange.index if tx.interchange is not None else None
            self.group = tx.group.index if tx.group is not None else None
            self.transaction = tx.index


class _Hierarchy:
    __slots__ = ("ids", "last")

    def __init__(self) -> None:
        self.ids: dict[str, tuple[str, int]] = {}
        self.last: int | None = None


class X12Validator:
    """Validate transaction sets against the bundled X12 schemas.

    ``open_codes_warn`` (default True) reports values missing from an open
    (incomplete) code list as warnings; False drops those warnings.
    """

    def __init__(self, *, open_codes_warn: bool = True) -> None:
        self.open_codes_warn = open_codes_warn
        self._machines: dict[tuple, _Machine] = {}

    # -- public API
    def schema_for(self, tx_type: str, version: str | None) -> TransactionSchema | None:
        return schema_for(tx_type, version)

    def validate(self, tx: Transaction) -> list[Finding]:
        """Findings for one transaction set (an empty list when it is clean)."""
        segs = tx.segments
        if not segs:
            return []
        d = tx.interchange.delimiters
        key = (tx.type, tx.version, d.component, d.repetition)
        m = self._machines.get(key)
        if m is None:
            schema = schema_for(tx.type, tx.version)
            if schema is None:
                return self._syntax_only(tx)
            checkers = checkers_for(schema.dictionary.version, d.component, d.repetition)
            m = _Machine(schema, checkers)
            if len(self._machines) > 256:
                self._machines.clear()
            self._machines[key] = m
        if m.rules is not None:
            return self._validate_compiled(tx, m, segs, d)
        tags = tuple(map(_first, segs))
        if m.use_shapes:
            fls = m.shapes.get(tags)
            if fls is not None:
                try:
                    for fl, seg in zip(fls, segs):  # noqa: B905 - same length by construction
                        if not fl[len(seg)](seg):
                            break
                    else:
                        return []
                except IndexError:
                    pass
                return self._run(tx, m, segs, None)
        # A set of a shape not seen yet: the structure regex decides in C whether
        # the walk can be skipped; then only element checks (and HL links) run.
        if m.schema.structure_ok(tags):
            by_tag = m.checkers.by_tag
            fls = list(map(by_tag.get, tags))
            if None in fls:
                get = m.checkers.get
                fls = [fl if fl is not None else get(tag) for fl, tag in zip(fls, tags)]  # noqa: B905
            try:
                for fl, seg in zip(fls, segs):  # noqa: B905 - same length by construction
                    if not fl[len(seg)](seg):
                        break
                else:
                    hierarchy = m.schema.hierarchy
                    if hierarchy is None:
                        if m.use_shapes:
                            m.remember(tags)
                        return []
                    if _hl_links_clean(segs, tags, hierarchy):
                        return []
            except IndexError:
                pass
        return self._run(tx, m, segs, tags if m.use_shapes else None)

    def _validate_compiled(self, tx: Transaction, m: _Machine, segs: list[Segment], d: Any) -> list[Finding]:
        """:meth:`validate` with the element checks and the segment walk in C (:mod:`hub.edi.x12.accel`); the
        same findings.  Any doubt -- an element, the structure, an HL link -- and :meth:`_run` says what."""
        tags = tuple(map(_first, segs)) if m.use_shapes else None
        try:
            clean = accel.first_unclean(segs, m.rules, d.component, d.repetition) < 0
            if clean and not (tags is not None and tags in m.shapes):
                # a set ended by its SE: the walk's SE step reports what is missing at the end
                clean = (tx.complete and segs[-1][0] == "SE"
                         and accel.walk_clean(segs, m.table, m.step, len(m.schema.loops)))
                hierarchy = m.schema.hierarchy
                if clean and hierarchy is not None:
                    clean = accel.hl_links_clean(segs, hierarchy.segment, hierarchy.levels, hierarchy.top)
                elif clean and tags is not None:
                    m.remember(tags)
        except TypeError:  # not a reader's segments (lists of str): the Python path decides
            clean = False
        return [] if clean else self._run(tx, m, segs, tags)

    def validate_ta1(
        self,
        seg: Segment,
        *,
        interchange: Interchange | None = None,
        version: str | None = None,
        position: int | None = None,
    ) -> list[Finding]:
        """Element checks of a TA1 segment (read between ISA and GS, see ``Interchange.ta1s``)."""
        if version is None and interchange is not None:
            version = interchange.version
        dictionary = load_dictionary(resolve_version(version))
        d = interchange.delimiters if interchange is not None else None
        comp = d.component if d is not None else ":"
        rep = d.repetition if d is not None else None
        ctx = _Context(None, interchange=interchange.index if interchange is not None else None)
        seg_def = dictionary.segments["TA1"]
        out: list[Finding] = []
        for p in segment_problems(seg_def, seg, comp, rep, dictionary.real_exponent):
            f = self._element_finding(ctx, p, position, "TA1", None)
            if f is not None:
                out.append(f)
        return out

    def validate_ta1s(self, interchange: Interchange) -> list[Finding]:
        out: list[Finding] = []
        for seg in interchange.ta1s:
            out.extend(self.validate_ta1(seg, interchange=interchange))
        return out

    # -- the walk
    def _run(self, tx: Transaction, m: _Machine, segs: list[Segment], tags: tuple | None) -> list[Finding]:
        findings: list[Finding] = []
        structural = 0
        table = m.table
        row = table[0]
        step = m.step
        lc = [0] * len(m.schema.loops)
        ctx = None
        state = 0
        count = 0
        pos = 0
        hier = None
        for pos, seg in enumerate(segs, 1):  # noqa: B007 - pos is used after the loop
            tag = seg[0]
            t = row.get(tag)
            if t is None:
                t = step(state, tag)
            nxt, kind, arg, chk, nrow = t
            if kind == 1:  # MOVE
                count = 1
            elif kind == 4:  # ENTER
                count = 1
                lc[arg] = 1
            elif kind == 5:  # ITERATE
                count = 1
                n = lc[arg.index] = lc[arg.index] + 1
                if arg.repeat and n > arg.repeat:
                    structural += 1
                    ctx = ctx or _Context(tx)
                    findings.append(self._loop_over(ctx, arg, tag, pos, n))
            elif kind == 0:  # REPEAT
                count += 1
                if arg and count > arg:
                    structural += 1
                    ctx = ctx or _Context(tx)
                    node = m.schema.nodes[nxt]
                    findings.append(
                        self._segment_finding(
                            ctx, "SEGMENT_OVER_MAX_USE",
                            f"segment {tag} at position {pos} is used {count} times here, at most {arg} allowed",
                            pos, tag, node.loop_id, None,
                        )
                    )
            elif kind == COMPLEX:
                count = 1
                structural += 1  # missing segments, or HL (never remembered)
                ctx = ctx or _Context(tx)
                if arg.hl and hier is None:
                    hier = _Hierarchy()
                self._complex(ctx, arg, seg, pos, lc, hier, m.schema, findings)
            else:
                structural += 1
                ctx = ctx or _Context(tx)
                findings.append(
                    self._segment_finding(
                        ctx, arg.code, f"segment {tag[:10]} at position {pos} {arg.why}", pos, tag[:10],
                        m.schema.nodes[state].loop_id if state else None, None,
                    )
                )
                continue
            state = nxt
            row = nrow
            try:
                ok = chk[len(seg)](seg)
            except IndexError:
                ok = False
            if not ok:
                ctx = ctx or _Context(tx)
                self._slow(ctx, m, seg, pos, m.schema.nodes[nxt], findings)
        if not (tx.complete and segs[-1][0] == "SE"):
            end = m.schema.end(state)
            if end.missing:
                structural += 1
                self._missing(ctx or _Context(tx), end.missing, pos, findings)
        if tags is not None and not structural:
            m.remember(tags)
        return findings

    def _loop_over(self, ctx: _Context, loop: Loop, tag: str, pos: int, n: int) -> Finding:
        return self._segment_finding(
            ctx, "LOOP_OVER_MAX",
            f"loop {loop.id} (segment {tag} at position {pos}) occurs {n} times, at most {loop.repeat} allowed",
            pos, tag, loop.id, None,
        )

    def _complex(
        self,
        ctx: _Context,
        st: Step,
        seg: Segment,
        pos: int,
        lc: list[int],
        hier: _Hierarchy | None,
        schema: TransactionSchema,
        findings: list[Finding],
    ) -> None:
        if st.missing:
            self._missing(ctx, st.missing, pos, findings)
        loop = st.loop
        if loop is not None:
            if st.reset:
                lc[loop.index] = 1
            else:
                n = lc[loop.index] = lc[loop.index] + 1
                if loop.repeat and n > loop.repeat:
                    findings.append(self._loop_over(ctx, loop, seg[0], pos, n))
        if st.hl and hier is not None and schema.hierarchy is not None:
            self._hl(ctx, seg, pos, hier, schema, findings)

    def _missing(self, ctx: _Context, missing: tuple, pos: int, findings: list[Finding]) -> None:
        for item in missing:
            if isinstance(item, Loop):
                tag, loop_id = item.trigger.tag, item.id
                msg = f"mandatory loop {item.id} (segment {tag}) is missing before position {pos}"
            else:
                assert isinstance(item, SegNode)
                tag, loop_id = item.tag, item.loop_id
                where = f" in loop {loop_id}" if loop_id else ""
                msg = f"mandatory segment {tag} (table position {item.label}){where} is missing before position {pos}"
            findings.append(self._segment_finding(ctx, "SEGMENT_MISSING", msg, pos, tag, loop_id, None))

    def _hl(
        self, ctx: _Context, seg: Segment, pos: int, hier: _Hierarchy, schema: TransactionSchema, out: list[Finding]
    ) -> None:
        h = schema.hierarchy
        assert h is not None
        tag = seg[0]
        n = len(seg)
        hid, parent, level = (seg[i] if i < n else "" for i in (1, 2, 3))
        levels = h.levels

        def add(code: str, element: int, ref: str, bad: str | None, msg: str, extra: dict | None = None) -> None:
            out.append(
                Finding(
                    code=code, severity=ERROR, layer=ctx.layer, message=msg,
                    interchange=ctx.interchange, group=ctx.group, transaction=ctx.transaction,
                    segment=pos, segment_id=tag, element=element, element_ref=ref, loop_id=tag,
                    bad_value=bad, ack_level="element", ack_code=ELEMENT_ACK[code], extra=extra or {},
                )
            )

        if hid:
            number = int(hid) if hid.isascii() and hid.isdigit() else None
            if hid in hier.ids:
                first = hier.ids[hid][1]
                add("HL_ID_SEQUENCE", 1, "628", hid,
                    f"HL01 (628) {hid!r} at position {pos} repeats the HL at position {first}; HL IDs must be unique")
            elif number is None:
                add("HL_ID_SEQUENCE", 1, "628", hid,
                    f"HL01 (628) {hid!r} at position {pos} is not a number; HL IDs run 1, 2, 3 ...")
            elif hier.last is None and number != 1:
                add("HL_ID_SEQUENCE", 1, "628", hid,
                    f"HL01 (628) of the first HL at position {pos} is {hid!r}; HL IDs start at 1")
            elif hier.last is not None and number <= hier.last:
                add("HL_ID_SEQUENCE", 1, "628", hid,
                    f"HL01 (628) {hid!r} at position {pos} does not increase (previous HL01 was {hier.last})")
            if number is not None:
                hier.last = number  # compare the next HL01 with this one: one finding per break
        if parent:
            known = hier.ids.get(parent)
            if known is None:
                add("HL_PARENT_UNKNOWN", 2, "734", parent,
                    f"HL02 (734) {parent!r} at position {pos} does not name an earlier HL01")
            else:
                plevel, ppos = known
                ctx_extra = {
                    "ctx": [
                        {"name": "HL01", "reference": parent},
                        {"name": "SITUATIONAL TRIGGER", "segment_id": tag, "segment": ppos, "loop_id": tag,
                         "element": 3, "element_ref": "735"},
                    ],
                    "parent": {"id": parent, "level": plevel, "segment": ppos},
                }
                if level in levels and plevel in levels and levels[level] <= levels[plevel]:
                    add("HL_LEVEL_ORDER", 3, "735", level,
                        f"HL03 (735) level {level!r} at position {pos} cannot be a child of level {plevel!r} "
                        f"(HL {parent} at position {ppos})", ctx_extra)
        elif level in levels and level not in h.top:
            add("HL_PARENT_MISSING", 2, "734", None,
                f"HL02 (734) is missing at position {pos}: level {level!r} must have a parent HL")
        if hid and hid not in hier.ids:
            hier.ids[hid] = (level, pos)

    def _slow(self, ctx: _Context, m: _Machine, seg: Segment, pos: int, node: SegNode, out: list[Finding]) -> None:
        checkers = m.checkers
        seg_def = checkers.dictionary.segments.get(seg[0])
        if seg_def is None:
            return
        problems = segment_problems(
            seg_def, seg, checkers.component, checkers.repetition, checkers.dictionary.real_exponent
        )
        for p in problems:
            f = self._element_finding(ctx, p, pos, seg[0], node.loop_id)
            if f is not None:
                out.append(f)

    # -- findings
    def _segment_finding(
        self, ctx: _Context, code: str, message: str, pos: int, tag: str, loop_id: str | None, extra: dict | None
    ) -> Finding:
        return Finding(
            code=code, severity=ERROR, layer=ctx.layer, message=message,
            interchange=ctx.interchange, group=ctx.group, transaction=ctx.transaction,
            segment=pos, segment_id=tag, loop_id=loop_id,
            ack_level="segment", ack_code=SEGMENT_ACK[code], extra=extra or {},
        )

    def _element_finding(
        self, ctx: _Context, p: Problem, pos: int | None, tag: str, loop_id: str | None
    ) -> Finding | None:
        code, element, component, repetition, ref, bad, detail, extra = p
        severity = ERROR
        if code == "ELEMENT_UNKNOWN_CODE":
            if not self.open_codes_warn:
                return None
            severity = WARNING
        label = _label(tag, element, component)
        where = f" at position {pos}" if pos is not None else ""
        if code == "TOO_MANY_ELEMENTS":
            message = f"{detail}{where}"
        elif code == "ELEMENT_CONDITIONAL_MISSING" and detail.startswith("at least one"):
            message = f"{tag}{where}: {detail}"
        else:
            message = f"{label}{f' ({ref})' if ref else ''}{where} {detail}"
        if repetition is not None and code != "TOO_MANY_REPETITIONS":
            message += f" (repetition {repetition})"
        ex: dict[str, Any] = dict(extra) if extra else {}
        if "ctx" in ex:
            ex["ctx"] = [{**item, "segment": pos, "loop_id": loop_id} for item in ex["ctx"]]
        if code in IK_DIFFERS:
            ex["ik"] = IK_DIFFERS[code]
        return Finding(
            code=code, severity=severity, layer=ctx.layer, message=message,
            interchange=ctx.interchange, group=ctx.group, transaction=ctx.transaction,
            segment=pos, segment_id=tag, element=element, component=component, repetition=repetition,
            element_ref=ref, loop_id=loop_id, bad_value=bad,
            ack_level="element", ack_code=ELEMENT_ACK[code], extra=ex,
        )

    # -- sets without a schema
    def _syntax_only(self, tx: Transaction) -> list[Finding]:
        out: list[Finding] = []
        ctx = None
        for pos, seg in enumerate(tx.segments, start=1):
            tag = seg[0]
            if not valid_tag(tag):
                ctx = ctx or _Context(tx, SYNTAX)
                out.append(
                    Finding(
                        code="SEGMENT_TAG_INVALID", severity=ERROR, layer=SYNTAX,
                        message=f"segment ID {tag[:10]!r} at position {pos} is not 2-3 upper-case letters or digits",
                        interchange=ctx.interchange, group=ctx.group, transaction=ctx.transaction,
                        segment=pos, segment_id=tag[:10], ack_level="segment", ack_code="1",
                    )
                )
            for i in range(1, len(seg)):
                v = seg[i]
                if not v.isprintable() and has_control(v):
                    ctx = ctx or _Context(tx, SYNTAX)
                    out.append(
                        Finding(
                            code="ELEMENT_CONTROL_CHARACTER", severity=ERROR, layer=SYNTAX,
                            message=f"{_label(tag[:10], i)} at position {pos} contains a control character",
                            interchange=ctx.interchange, group=ctx.group, transaction=ctx.transaction,
                            segment=pos, segment_id=tag[:10], element=i, bad_value=v,
                            ack_level="element", ack_code="6",
                        )
                    )
        return out
