"""X12 schemas: loading the JSON data files and compiling them for validation.

The data lives in ``hub/edi/x12/schemas/`` (package data):

* ``dictionary.<version>.json`` -- the element dictionary (``elements``: reference
  number -> type, min/max length, code list, ``open`` when the list is known to be
  incomplete), composites (``composites``: components with M/O/X and syntax notes)
  and segments (``segments``: element sequence ``[ref, requirement, repeat?]`` and
  syntax notes such as ``"P0405"``; ``elements: null`` when a segment's elements
  were not transcribed, so that only its position and use are checked).  A
  dictionary may ``extend`` another and list only what differs.
* ``<set>.<version>.json`` -- one transaction set: ``structure`` is a list whose
  items are segment positions written ``"020 BEG M 1"`` (position, segment ID,
  requirement, maximum use, ``>1`` for unbounded) or loops
  ``{"loop": "N1", "req": "O", "repeat": 200, "body": [...]}``.  The loop ID is
  what 997 AK303 / 999 IK303 report.  A set may ``extend`` another set file
  (same structure) and name its own ``dictionary``.  ``hierarchy`` describes HL
  parent rules (856).

Version rule (:func:`resolve_version`): the governing version is ST03 when
present, else GS08, else ISA12.  Its first six characters are read as a
number: 005000 and above (``005010``, ``005010X222A1``, ``006020``,
``008020`` ...) use the 005010 schemas, everything below (``004010VICS``,
``004010UCS``, ``004030VICS``, ``004060``, ``003040``, ``002040`` ...) the
004010 ones, the nearest we have.  A version that is not numeric falls back
to 004010.  When a set has no file for the resolved version, the other
version of the same set is used.

Compiling happens once per (set, version) for the structure (a lazily filled
``(state, segment ID) -> transition`` table) and once per (set, version,
component separator, repetition separator) for the element checkers:
generated Python functions, one per segment and element count, doing only
C-level checks (``len``, ``in`` a frozenset, ``str.isprintable``, set caches of
values already found valid).  A checker that returns ``False`` sends the
segment to the slow path in :mod:`hub.edi.x12.validate`, which builds the
findings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from importlib import resources
from typing import Any

SCHEMA_PACKAGE = "hub.edi.x12"
SCHEMA_DIR = "schemas"
VERSIONS = ("004010", "005010")

CACHE_LIMIT = 50_000  # values kept per verdict cache

# ------------------------------------------------------------------ data types

SIMPLE_TYPES = ("AN", "ID", "DT", "TM", "R", "B") + tuple(f"N{i}" for i in range(10)) + ("N",)


@dataclass(frozen=True, slots=True)
class ElementDef:
    ref: str
    name: str
    type: str
    min: int
    max: int
    codes: frozenset[str] | None = None
    open: bool = False

    @property
    def decimals(self) -> int | None:
        if self.type.startswith("N"):
            return int(self.type[1:] or 0)
        return None


@dataclass(frozen=True, slots=True)
class Note:
    """An X12 syntax note: ``kind`` is P, R, E, C or L; positions are 1-based."""

    kind: str
    positions: tuple[int, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Note:
        kind, digits = text[0], text[1:]
        if kind not in "PRECL" or len(digits) < 4 or len(digits) % 2 or not digits.isdigit():
            raise ValueError(f"bad syntax note {text!r}")
        return cls(kind, tuple(int(digits[i : i + 2]) for i in range(0, len(digits), 2)), text)

    def violation(self, present: Any) -> tuple[str, int, int | None] | None:
        """``None`` when satisfied, else ``(kind, position to report, trigger position)``.

        ``present(i)`` tells whether position ``i`` holds a value.
        """
        pos = self.positions
        have = [p for p in pos if present(p)]
        if self.kind == "P":
            if have and len(have) != len(pos):
                missing = next(p for p in pos if p not in have)
                return ("missing", missing, have[0])
        elif self.kind == "R":
            if not have:
                return ("missing", pos[0], None)
        elif self.kind == "E":
            if len(have) > 1:
                return ("exclusion", have[1], have[0])
        elif self.kind == "C":
            if pos[0] in have:
                for p in pos[1:]:
                    if p not in have:
                        return ("missing", p, pos[0])
        elif self.kind == "L" and pos[0] in have and not any(p in have for p in pos[1:]):
            return ("missing", pos[1], pos[0])
        return None


@dataclass(frozen=True, slots=True)
class CompositeDef:
    ref: str
    name: str
    components: tuple[tuple[ElementDef, str], ...]
    syntax: tuple[Note, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """One element position of a segment."""

    pos: int
    definition: ElementDef | CompositeDef
    req: str  # M, O or X
    repeat: int = 1

    @property
    def ref(self) -> str:
        return self.definition.ref

    @property
    def composite(self) -> bool:
        return isinstance(self.definition, CompositeDef)


@dataclass(frozen=True, slots=True)
class SegmentDef:
    tag: str
    name: str
    elements: tuple[Usage, ...] | None  # None: not transcribed, elements unchecked
    syntax: tuple[Note, ...] = ()


@dataclass(slots=True)
class Dictionary:
    version: str
    elements: dict[str, ElementDef]
    composites: dict[str, CompositeDef]
    segments: dict[str, SegmentDef]
    known_segments: frozenset[str]

    @property
    def real_exponent(self) -> bool:
        """005010 lets R values carry an exponent (``1.5E3``)."""
        return self.version >= "005010"


# ------------------------------------------------------------------ loading


def _read_json(name: str) -> dict[str, Any] | None:
    res = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR, name)
    if not res.is_file():
        return None
    return json.loads(res.read_text(encoding="utf-8"))


@cache
def _raw_dictionary(version: str) -> dict[str, Any]:
    data = _read_json(f"dictionary.{version}.json")
    if data is None:
        raise KeyError(f"no X12 dictionary for version {version}")
    base = data.get("extends")
    if not base:
        return data
    merged = _raw_dictionary(base)
    out = {"version": data["version"]}
    for key in ("elements", "composites", "segments"):
        out[key] = {**merged.get(key, {}), **data.get(key, {})}
    out["known_segments"] = sorted(set(merged.get("known_segments", [])) | set(data.get("known_segments", [])))
    return out


@cache
def load_dictionary(version: str) -> Dictionary:
    """The element/segment dictionary of ``version`` (``"004010"`` or ``"005010"``)."""
    raw = _raw_dictionary(version)
    elements: dict[str, ElementDef] = {}
    for ref, e in raw["elements"].items():
        if e["type"] not in SIMPLE_TYPES:
            raise ValueError(f"element {ref}: unknown type {e['type']!r}")
        codes = e.get("codes")
        elements[ref] = ElementDef(
            ref=ref,
            name=e["name"],
            type="N0" if e["type"] == "N" else e["type"],
            min=int(e["min"]),
            max=int(e["max"]),
            codes=frozenset(codes) if codes is not None else None,
            open=bool(e.get("open", False)),
        )
    composites: dict[str, CompositeDef] = {}
    for ref, c in raw["composites"].items():
        comps = tuple((elements[item[0]], item[1]) for item in c["components"])
        composites[ref] = CompositeDef(ref, c["name"], comps, tuple(Note.parse(n) for n in c.get("syntax", ())))
    segments: dict[str, SegmentDef] = {}
    for tag, s in raw["segments"].items():
        usages: tuple[Usage, ...] | None = None
        if s.get("elements") is not None:
            items = []
            for pos, item in enumerate(s["elements"], start=1):
                ref, req = item[0], item[1]
                repeat = int(item[2]) if len(item) > 2 else 1
                definition = composites[ref] if ref in composites else elements[ref]
                items.append(Usage(pos, definition, req, repeat))
            usages = tuple(items)
        segments[tag] = SegmentDef(tag, s["name"], usages, tuple(Note.parse(n) for n in s.get("syntax", ())))
    known = frozenset(raw.get("known_segments", ())) | frozenset(segments)
    return Dictionary(raw["version"], elements, composites, segments, known)


@cache
def _raw_set(name: str) -> dict[str, Any] | None:
    data = _read_json(f"{name}.json")
    if data is None:
        return None
    base = data.get("extends")
    if base:
        parent = _raw_set(base)
        if parent is None:
            raise KeyError(f"{name}: extends unknown schema {base}")
        data = {**parent, **{k: v for k, v in data.items() if k != "extends"}}
    return data


def available() -> list[tuple[str, str]]:
    """``(transaction set, version)`` pairs that have a schema file."""
    out = []
    for res in resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_DIR).iterdir():
        name = res.name
        if name.endswith(".json") and not name.startswith("dictionary."):
            tx, _, rest = name.partition(".")
            out.append((tx, rest[: -len(".json")]))
    return sorted(out)


def resolve_version(version: str | None) -> str:
    """Map a GS08/ST03/ISA12 version string to the schema version used (see module doc)."""
    v = (version or "").strip()
    digits = v[:6]
    if len(digits) == 5 and digits.isdigit():  # ISA12 style: 00401, 00501
        digits = digits + "0"
    if len(digits) == 6 and digits.isdigit():
        return "005010" if int(digits) >= 5000 else "004010"
    return "004010"


# ------------------------------------------------------------------ structure


@dataclass(eq=False, slots=True)
class Loop:
    index: int
    id: str | None  # None for the transaction set itself
    req: str
    repeat: int  # 0: unbounded
    parent: Loop | None
    pos: int  # position in the parent's body
    body: list[SegNode | Loop] = field(default_factory=list)
    name: str | None = None

    @property
    def trigger(self) -> SegNode:
        first = self.body[0]
        assert isinstance(first, SegNode)
        return first


@dataclass(eq=False, slots=True)
class SegNode:
    index: int  # state number (1-based; 0 is "before ST")
    tag: str
    req: str
    max: int  # 0: unbounded
    label: str  # position number from the standard's table, e.g. "020"
    loop: Loop
    pos: int  # position in the loop's body

    @property
    def loop_id(self) -> str | None:
        return self.loop.id


# Transition kinds
REPEAT = 0  # the same position again
MOVE = 1  # another position, nothing else to do
COMPLEX = 2  # missing mandatory segments and/or HL, maybe with a loop entry/iteration
ERROR = 3  # the segment does not fit here; state unchanged
ENTER = 4  # first segment of a loop entered from outside (arg: the loop)
ITERATE = 5  # first segment of the loop's next iteration (arg: the loop)


@dataclass(frozen=True, slots=True)
class Step:
    """Details of a COMPLEX transition."""

    missing: tuple[SegNode | Loop, ...]  # mandatory positions skipped
    loop: Loop | None  # loop entered or iterated
    reset: bool  # True: entered from outside (count = 1); False: next iteration
    node: SegNode | None  # target (None for the end of the set)
    hl: bool = False


@dataclass(frozen=True, slots=True)
class Misfit:
    """Details of an ERROR transition."""

    code: str
    ack: str
    why: str


SEGMENT_ACK = {
    "SEGMENT_UNRECOGNIZED": "1",
    "SEGMENT_UNEXPECTED": "2",
    "SEGMENT_MISSING": "3",
    "LOOP_OVER_MAX": "4",
    "SEGMENT_OVER_MAX_USE": "5",
    "SEGMENT_NOT_IN_SET": "6",
    "SEGMENT_OUT_OF_ORDER": "7",
}

_TAG_RE = re.compile(r"[A-Z0-9]{2,3}\Z")


def valid_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag)) and tag.isascii()


@dataclass(frozen=True, slots=True)
class Hierarchy:
    segment: str
    levels: dict[str, int]
    top: frozenset[str]


class TransactionSchema:
    """One transaction set's structure, compiled to a lazily filled state machine."""

    def __init__(self, raw: dict[str, Any], dictionary: Dictionary) -> None:
        self.id: str = raw["id"]
        self.name: str = raw.get("name", "")
        self.version: str = raw["version"]
        self.functional_group: str | None = raw.get("functional_group")
        self.dictionary = dictionary
        self.nodes: list[SegNode | None] = [None]  # state 0: before ST
        self.loops: list[Loop] = []
        self.root = Loop(index=-1, id=None, req="M", repeat=1, parent=None, pos=0)
        self._build(raw["structure"], self.root)
        self.tags: frozenset[str] = frozenset(n.tag for n in self.nodes if n is not None)
        hier = raw.get("hierarchy")
        self.hierarchy = (
            Hierarchy(hier["segment"], dict(hier["levels"]), frozenset(hier.get("top", ())))
            if hier
            else None
        )
        missing = sorted(t for t in self.tags if t not in dictionary.segments)
        if missing:
            raise ValueError(f"{self.id}/{self.version}: segments missing from the dictionary: {missing}")
        # state -> {tag: (next state, kind, arg)}; filled on demand
        self.table: list[dict[str, tuple[int, int, Any]]] = [{} for _ in self.nodes]
        self.structure_re = re.compile(_structure_pattern(self.root.body))


    def __repr__(self) -> str:
        return f"<TransactionSchema {self.id} {self.version}>"

    def structure_ok(self, tags: tuple[str, ...] | list[str]) -> bool:
        """True when the segment IDs ``tags`` (ST..SE) fit the structure pattern: the walk would find no
        structural problem (see :func:`_structure_pattern`; False may still be clean)."""
        seq = ",".join(tags) + ","
        return seq.count(",") == len(tags) and self.structure_re.fullmatch(seq) is not None

    # -- building
    def _build(self, items: list[Any], loop: Loop) -> None:
        for item in items:
            pos = len(loop.body)
            if isinstance(item, str):
                label, tag, req, mx = item.split()
                node = SegNode(len(self.nodes), tag, req, 0 if mx == ">1" else int(mx), label, loop, pos)
                self.nodes.append(node)
                loop.body.append(node)
            else:
                repeat = item.get("repeat")
                child = Loop(
                    index=len(self.loops),
                    id=item["loop"],
                    req=item.get("req", "O"),
                    repeat=0 if repeat in (None, ">1") else int(repeat),
                    parent=loop,
                    pos=pos,
                    name=item.get("name"),
                )
                self.loops.append(child)
                loop.body.append(child)
                self._build(item["body"], child)
                if not child.body or not isinstance(child.body[0], SegNode):
                    raise ValueError(f"loop {child.id} must start with a segment")

    # -- resolution
    def transition(self, state: int, tag: str) -> tuple[int, int, Any]:
        """``(next state, kind, arg)`` for segment ``tag`` met in ``state`` (memoized)."""
        row = self.table[state]
        t = row.get(tag)
        if t is None:
            t = self._resolve(state, tag)
            if tag in self.tags or len(row) < 256:
                row[tag] = t
        return t

    def end(self, state: int) -> Step:
        """The mandatory positions still missing when the set ends in ``state`` (SE excluded)."""
        nxt, kind, arg = self._resolve(state, "SE")
        if kind == COMPLEX:
            return arg
        return Step((), None, False, None)

    def _resolve(self, state: int, tag: str) -> tuple[int, int, Any]:
        node = self.nodes[state]
        hl = self.hierarchy is not None and tag == self.hierarchy.segment
        if node is None:
            loop, pos = self.root, -1
        else:
            loop, pos = node.loop, node.pos
            if node.tag == tag:
                if loop is not self.root and pos == 0:  # the trigger again: next iteration
                    missing = tuple(c for c in loop.body[1:] if c.req == "M")
                    return self._step(node, missing, loop, False, hl)
                return (state, REPEAT, node.max)
        missing: list[SegNode | Loop] = []
        while True:
            for child in loop.body[pos + 1 :]:
                if isinstance(child, SegNode):
                    if child.tag == tag:
                        return self._step(child, tuple(missing), None, False, hl)
                elif child.trigger.tag == tag:
                    return self._step(child.trigger, tuple(missing), child, True, hl)
                if child.req == "M":
                    missing.append(child)
            if loop is self.root:
                break
            if loop.trigger.tag == tag:
                return self._step(loop.trigger, tuple(missing), loop, False, hl)
            pos, loop = loop.pos, loop.parent  # type: ignore[assignment]
        return (state, ERROR, self._misfit(node, tag))

    def _step(
        self, node: SegNode, missing: tuple, loop: Loop | None, reset: bool, hl: bool
    ) -> tuple[int, int, Any]:
        if not missing and not hl:
            if loop is None:
                return (node.index, MOVE, node.max)
            return (node.index, ENTER if reset else ITERATE, loop)
        return (node.index, COMPLEX, Step(missing, loop, reset, node, hl))

    def _misfit(self, node: SegNode | None, tag: str) -> Misfit:
        if not valid_tag(tag) or tag not in self.dictionary.known_segments:
            return Misfit("SEGMENT_UNRECOGNIZED", "1", "is not a known X12 segment ID")
        if tag not in self.tags:
            return Misfit("SEGMENT_NOT_IN_SET", "6", f"is not used in transaction set {self.id}")
        here = node.index if node is not None else 0
        if any(n is not None and n.tag == tag and n.index <= here for n in self.nodes):
            return Misfit("SEGMENT_OUT_OF_ORDER", "7", "is out of sequence (its position is earlier in the set)")
        return Misfit("SEGMENT_UNEXPECTED", "2", "is not expected here (it belongs to a loop that has not started)")


def _structure_pattern(body: list[SegNode | Loop], loop_body: bool = False) -> str:
    """A regular expression over ``"TAG,TAG,...,"`` that matches the structurally clean sets.

    Every quantifier is possessive: segments are taken by the earliest
    position that accepts them and never given back, as the walk in
    :mod:`hub.edi.x12.validate` assigns them, so matching never backtracks.
    A loop iteration starts with its trigger segment exactly once, whatever
    the trigger's own requirement says (the walk enters and repeats a loop
    only through it).  The pattern may refuse a set the walk would accept
    (that set then simply takes the walk), but never accepts one the walk
    would fault.
    """
    parts = []
    for n, child in enumerate(body):
        if isinstance(child, SegNode):
            if loop_body and n == 0:
                parts.append(re.escape(child.tag) + ",")
                continue
            inner, low, high = re.escape(child.tag) + ",", child.req == "M", child.max
        else:
            inner, low, high = _structure_pattern(child.body, loop_body=True), child.req == "M", child.repeat
        parts.append(f"(?:{inner}){{{int(low)},{high or ''}}}+")
    return "".join(parts)


@lru_cache(maxsize=64)
def load_schema(tx_type: str, version: str) -> TransactionSchema | None:
    """The schema for ``tx_type`` at the *resolved* ``version`` (``004010``/``005010``), or None."""
    raw = _raw_set(f"{tx_type}.{version}")
    if raw is None:
        other = [v for v in VERSIONS if v != version]
        for v in other:
            raw = _raw_set(f"{tx_type}.{v}")
            if raw is not None:
                break
    if raw is None or "structure" not in raw:
        return None
    return TransactionSchema(raw, load_dictionary(raw.get("dictionary", raw["version"])))


@lru_cache(maxsize=1024)
def schema_for(tx_type: str, version: str | None) -> TransactionSchema | None:
    """The schema used for transaction set ``tx_type`` in ``version`` (any GS08/ST03 spelling)."""
    if not tx_type or not tx_type.isalnum():
        return None
    return load_schema(tx_type, resolve_version(version))


# ------------------------------------------------------------------ value checks
#
# These return an error code (ELEMENT_...) or None.  They are shared by the
# generated fast checkers (through the verdict caches) and the slow path.

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUMERIC_RE = re.compile(r"-?[0-9]+\Z")
_REAL_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_REAL_EXP_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:E-?[0-9]+)?\Z")


def has_control(value: str) -> bool:
    return _CONTROL_RE.search(value) is not None


def significant_length(defn: ElementDef, value: str) -> int:
    """Length as X12 counts it: minus sign and decimal point (and exponent) do not count for N and R."""
    if defn.type == "R" or defn.type.startswith("N"):
        mantissa = value.split("E", 1)[0]
        return sum(ch.isdigit() for ch in mantissa)
    return len(value)


def valid_date(value: str) -> bool:
    if not (value.isascii() and value.isdigit()):
        return False
    if len(value) == 8:
        year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
    elif len(value) == 6:
        yy = int(value[:2])
        year, month, day = (2000 + yy if yy < 50 else 1900 + yy), int(value[2:4]), int(value[4:])
    else:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def valid_time(value: str) -> bool:
    if not (value.isascii() and value.isdigit()) or len(value) not in (4, 6, 7, 8):
        return False
    if int(value[:2]) > 23 or int(value[2:4]) > 59:
        return False
    return len(value) < 6 or int(value[4:6]) <= 59


def value_errors(defn: ElementDef, value: str, real_exponent: bool = False) -> list[str]:
    """Error codes for a non-empty simple value (separators already handled by the caller).

    ``ELEMENT_UNKNOWN_CODE`` is returned (alone) for a well-formed value missing
    from an open code list: the caller turns it into a warning.
    """
    out: list[str] = []
    t = defn.type
    if t in ("DT", "TM"):
        if not (value.isascii() and value.isdigit()):
            return ["ELEMENT_INVALID_DATE" if t == "DT" else "ELEMENT_INVALID_TIME"]
        n = len(value)
        if n < defn.min:
            return ["ELEMENT_TOO_SHORT"]
        if n > defn.max:
            return ["ELEMENT_TOO_LONG"]
        if t == "DT" and not valid_date(value):
            return ["ELEMENT_INVALID_DATE"]
        if t == "TM" and not valid_time(value):
            return ["ELEMENT_INVALID_TIME"]
        return out
    if t == "B":
        return out
    if has_control(value):
        out.append("ELEMENT_INVALID_CHARACTER")
    if t == "R":
        if not (_REAL_EXP_RE if real_exponent else _REAL_RE).match(value):
            return ["ELEMENT_INVALID_CHARACTER"]
    elif t.startswith("N") and not _NUMERIC_RE.match(value):
        return ["ELEMENT_INVALID_CHARACTER"]
    n = significant_length(defn, value)
    if n < defn.min:
        out.append("ELEMENT_TOO_SHORT")
    elif n > defn.max:
        out.append("ELEMENT_TOO_LONG")
    if t == "ID" and defn.codes is not None and value not in defn.codes:
        if defn.open and not out:
            out.append("ELEMENT_UNKNOWN_CODE")
        else:
            out.append("ELEMENT_INVALID_CODE")
    return out


# ------------------------------------------------------------------ fast checkers


class Checkers:
    """Generated element checkers of one schema dictionary for one delimiter set.

    ``get(tag)`` returns a list indexed by ``len(segment)`` (tag included) of
    functions ``f(segment) -> bool``, generated on first use; ``True`` means
    the segment has no element finding at all (not even a warning).  A
    segment longer than the list (more elements than defined) raises
    ``IndexError`` there: the caller takes the slow path.
    """

    def __init__(self, dictionary: Dictionary, component: str, repetition: str | None, skip: frozenset[str]):
        self.dictionary = dictionary
        self.component = component
        self.repetition = repetition
        self.skip = skip
        self.by_tag: dict[str, list[Any]] = {}
        self._caches: dict[tuple, set[str]] = {}
        self._bodies: dict[tuple[str, int], list[str] | None] = {}
        self.env: dict[str, Any] = {"C": component, "R": repetition}

    def get(self, tag: str) -> list[Any]:
        fns = self.by_tag.get(tag)
        if fns is None:
            seg = self.dictionary.segments.get(tag)
            if seg is None:
                size = 0
            elif seg.elements is None or tag in self.skip:
                size = 256
            else:
                size = len(seg.elements) + 2
            fns = self.by_tag[tag] = [_always_false] + [self._stub(tag, n) for n in range(1, size)]
        return fns

    def _stub(self, tag: str, n: int) -> Any:
        def stub(s: Any) -> bool:
            return self.function(tag, n)(s)

        return stub

    def function(self, tag: str, n: int) -> Any:
        """The fast checker for segment ``tag`` with ``n`` items (tag included), generated and stored."""
        seg = self.dictionary.segments.get(tag)
        if seg is None:
            return _always_false
        if seg.elements is None or tag in self.skip:
            fn = _always_true
        elif n - 1 > len(seg.elements):
            fn = _always_false  # too many elements: always the slow path
        else:
            fn = self._generate(seg, n - 1)
        fns = self.get(tag)
        if n < len(fns):
            fns[n] = fn
        return fn

    # -- generation
    def _cache(self, key: tuple, optional: bool) -> set[str]:
        c = self._caches.get((key, optional))
        if c is None:
            c = self._caches[(key, optional)] = {""} if optional else set()
        return c

    def _value_checker(self, defn: ElementDef, cache: set[str]) -> Any:
        comp, rep = self.component, self.repetition
        real_exp = self.dictionary.real_exponent
        optional = "" in cache

        def check(value: str) -> bool:
            if comp in value or (rep is not None and rep in value):
                return False
            if value_errors(defn, value, real_exp):
                return False
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
                if optional:
                    cache.add("")
            cache.add(value)
            return True

        return check

    def _body(self, seg: SegmentDef, k: int) -> list[str] | None:
        """Source lines checking elements a1..ak of ``seg`` (``None``: never valid at this length).

        Constants go into the namespace ``self.env`` under names unique to
        (segment, length, position).
        """
        key = (seg.tag, k)
        cached = self._bodies.get(key)
        if cached is not None or key in self._bodies:
            return cached
        assert seg.elements is not None
        env = self.env
        lines: list[str] = []
        prefix = f"{seg.tag}_{k}_"
        for u in seg.elements:
            if u.pos > k:
                if u.req == "M":
                    self._bodies[key] = None
                    return None
                continue
            a = f"a{u.pos}"
            mandatory = u.req == "M"
            if u.composite or u.repeat > 1:
                fn_name = f"F_{prefix}{u.pos}"
                env[fn_name] = self._slow_bool(seg, u)
                if mandatory:
                    lines.append(f"if not {a} or not {fn_name}({a}): return False")
                else:
                    lines.append(f"if {a} and not {fn_name}({a}): return False")
                continue
            d = u.definition
            assert isinstance(d, ElementDef)
            line = self._simple_line(a, d, mandatory, prefix + str(u.pos), env)
            if line:
                lines.append(line)
        for note in seg.syntax:
            line = _note_line(note, k)
            if line:
                lines.append(line)
        self._bodies[key] = lines
        return lines

    def _generate(self, seg: SegmentDef, k: int) -> Any:
        lines = self._body(seg, k)
        if lines is None:
            return _always_false
        names = ["_"] + [f"a{i}" for i in range(1, k + 1)]
        src = (
            f"def f(s, len=len):\n    {', '.join(names)}{',' if k == 0 else ''} = s\n"
            + "".join(f"    {ln}\n" for ln in lines)
            + "    return True\n"
        )
        return self._compile(src, f"{seg.tag}/{k}")

    def _compile(self, src: str, name: str) -> Any:
        code = compile(src, f"<x12 checker {name}>", "exec")
        scope: dict[str, Any] = {}
        exec(code, self.env, scope)  # noqa: S102 - source generated from our own schema data
        return scope["f"]

    def _simple_line(self, a: str, d: ElementDef, mandatory: bool, name: str, env: dict[str, Any]) -> str | None:
        rep = self.repetition is not None
        if d.type == "ID" and d.codes is not None:
            kname = f"K_{name}"
            env[kname] = frozenset(d.codes) if mandatory else frozenset(d.codes | {""})
            return f"if {a} not in {kname}: return False"
        if d.type == "AN":
            extra = f" or not {a}.isprintable() or C in {a}" + (f" or R in {a}" if rep else "")
            if mandatory:
                return f"if not {d.min} <= len({a}) <= {d.max}{extra}: return False"
            if d.min <= 1:  # empty optional elements are common: one test for them
                return f"if {a} and (len({a}) > {d.max}{extra}): return False"
            return f"if {a} and (not {d.min} <= len({a}) <= {d.max}{extra}): return False"
        if d.type == "B":
            return None
        if d.type == "R" or d.type.startswith("N"):
            # plain digits are the common case (C-level isdigit and len); signs
            # and decimal points go through _real_ok/_numeric_ok, which accept
            # exactly what value_errors accepts (an exponent: the slow path)
            other = "_real_ok" if d.type == "R" else "_numeric_ok"
            env[other] = _real_ok if d.type == "R" else _numeric_ok
            test = (
                f"({a}.isdigit() and {a}.isascii() and {d.min} <= len({a}) <= {d.max})"
                f" or {other}({a}, {d.min}, {d.max})"
            )
            if mandatory:
                return f"if not ({test}): return False"
            return f"if {a} and not ({test}): return False"
        # ID without a code list, DT, TM: a cache of values already found valid
        cache = self._cache((d.ref, d.type, d.min, d.max), not mandatory)
        kname, vname = f"K_{name}", f"V_{name}"
        env[kname] = cache
        env[vname] = self._value_checker(d, cache)
        return f"if {a} not in {kname} and not {vname}({a}): return False"

    def _slow_bool(self, seg: SegmentDef, u: Usage) -> Any:
        from hub.edi.x12.validate import element_problems  # local: validate imports this module

        dictionary, comp, rep = self.dictionary, self.component, self.repetition

        def check(value: str) -> bool:
            return not element_problems(seg, u, value, comp, rep, dictionary.real_exponent)

        return check


def _real_ok(value: str, low: int, high: int) -> bool:
    """An R value with an optional minus sign and decimal point, ``low``..``high`` digits."""
    body = value[1:] if value[:1] == "-" else value
    digits = body.replace(".", "", 1)
    return digits.isdigit() and digits.isascii() and low <= len(digits) <= high


def _numeric_ok(value: str, low: int, high: int) -> bool:
    """An Nn value with an optional minus sign, ``low``..``high`` digits."""
    body = value[1:] if value[:1] == "-" else value
    return body.isdigit() and body.isascii() and low <= len(body) <= high


def _always_true(s: Any) -> bool:
    return True


def _always_false(s: Any) -> bool:
    return False


def _note_line(note: Note, k: int) -> str | None:
    """Source for one syntax note over elements a1..ak (positions beyond k are absent)."""
    inside = [p for p in note.positions if p <= k]
    kind = note.kind
    if kind == "P":
        if not inside:
            return None
        if len(inside) < len(note.positions):  # some cannot be present: none may be
            return f"if {' or '.join(f'a{p}' for p in inside)}: return False"
        chain = " == ".join(f'(a{p} == "")' for p in inside)
        return f"if not ({chain}): return False"
    if kind == "R":
        if not inside:
            return "return False"
        return f"if not ({' or '.join(f'a{p}' for p in inside)}): return False"
    if kind == "E":
        if len(inside) < 2:
            return None
        total = " + ".join(f'(a{p} != "")' for p in inside)
        return f"if {total} > 1: return False"
    first, rest = note.positions[0], note.positions[1:]
    if first > k:
        return None
    rest_in = [p for p in rest if p <= k]
    if kind == "C":
        if len(rest_in) < len(rest):
            return f"if a{first}: return False"
        return f"if a{first} and not ({' and '.join(f'a{p}' for p in rest_in)}): return False"
    # L
    if not rest_in:
        return f"if a{first}: return False"
    return f"if a{first} and not ({' or '.join(f'a{p}' for p in rest_in)}): return False"


@lru_cache(maxsize=128)
def checkers_for(dictionary_version: str, component: str, repetition: str | None) -> Checkers:
    """Element checkers of a dictionary for one delimiter set (cached)."""
    return Checkers(load_dictionary(dictionary_version), component, repetition, frozenset({"ST", "SE"}))
