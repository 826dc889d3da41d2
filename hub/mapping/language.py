"""The mapping language: YAML text -> checked :class:`Mapping` (see ``hub/mapping/README.md``).

Everything that can be checked without a file is checked here, when the
mapping is loaded: every segment, element, loop and qualifier against the X12
or EDIFACT structure of the message (through :mod:`hub.mapping.grammar`), every field path against the canonical
dataclasses, every table name and every table/constant value against the
field's closed list of values.  Each error names ``file:line: key``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from hub.canonical import DOCUMENT_CLASSES
from hub.canonical.model import Model, _split
from hub.edi.x12.schema import Loop, SegNode
from hub.mapping.grammar import Grammar, X12Grammar, grammar_for

TYPES = ("string", "decimal", "integer", "date", "time", "boolean") + tuple(f"N{i}" for i in range(10))
ENVELOPE = X12Grammar.envelope  # X12 envelope segments readable from the header: element count
STANDARDS = ("x12", "edifact")
FALLBACK = "*"  # table key used for any code not listed
PASS = "="  # a fallback value meaning: keep the code as received


class MappingError(ValueError):
    """A mapping that cannot be loaded (``errors``: every ``file:line: key: problem``) or applied."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


# ------------------------------------------------------------------ locations

_ELEMENT_RE = re.compile(r"([A-Z][A-Z0-9]{1,2}?)(\d{2})(?:-(\d{1,2}))?\Z")
_GROUP_RE = re.compile(r"SG\d{1,3}\Z")
_SEGSPEC_RE = re.compile(r"(SG\d{1,3}|[A-Z][A-Z0-9]{1,2})(?:\[([^\]]*)\])?(?:#(\d+))?\Z")


@dataclass(frozen=True, slots=True)
class ElementRef:
    """``BEG03`` (element 3 of BEG) or ``MEA04-01`` (component 1 of composite element 4)."""

    tag: str
    pos: int
    component: int | None = None

    def __str__(self) -> str:
        return f"{self.tag}{self.pos:02d}" + (f"-{self.component:02d}" if self.component else "")


@dataclass(frozen=True, slots=True)
class Condition:
    """``REF01=DP|IA``: the element holds one of ``values``; ``RFF01-01!=ON|CO`` (``negate``): it holds a value
    that is none of them."""

    element: ElementRef
    values: tuple[str, ...]
    negate: bool = False

    def holds(self, value: str) -> bool:
        if self.negate:
            return value != "" and value not in self.values
        return value in self.values

    def rank(self, value: str) -> int:
        """The place of ``value`` among the listed values (``QTY01-01=47|12|46``: 47 is 0): lower is preferred."""
        if self.negate or value not in self.values:
            return 0
        return self.values.index(value)

    def __str__(self) -> str:
        return f"{self.element}{'!=' if self.negate else '='}{'|'.join(self.values)}"


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """``REF[REF01=DP]#2``: the 2nd REF of the scope whose REF01 is DP."""

    tag: str
    conditions: tuple[Condition, ...] = ()
    occurrence: int = 1

    def __str__(self) -> str:
        text = self.tag
        if self.conditions:
            text += "[" + ",".join(str(c) for c in self.conditions) + "]"
        return text + (f"#{self.occurrence}" if self.occurrence != 1 else "")

    @property
    def negative(self) -> bool:
        return any(c.negate for c in self.conditions)

    @property
    def ranked(self) -> bool:
        """Whether a condition lists several values, so that the matches are ordered by the listed order."""
        return any(len(c.values) > 1 and not c.negate for c in self.conditions)


def best_first(items: list[Any], spec: SegmentSpec, value: Any) -> list[Any]:
    """``items`` (all meeting ``spec``) ordered by the listed order of the conditions' values, message order
    within one rank: ``QTY[QTY01-01=47|12|46]`` prefers a QTY 47 to an earlier QTY 12.  ``value(item, ref)``
    reads an element of an item."""
    if not spec.ranked or len(items) < 2:
        return items
    return sorted(items, key=lambda it: tuple(c.rank(value(it, c.element)) for c in spec.conditions))


@dataclass(frozen=True, slots=True)
class Location:
    """Where a rule's value sits: an element of a segment of the scope, or ``$n`` of a pair group."""

    segment: SegmentSpec | None
    element: ElementRef | None
    pair_item: int | None = None  # 1 or 2 for ``$1``/``$2`` inside a ``pairs`` group
    text: str = ""
    loops: tuple[SegmentSpec, ...] = ()  # ``PID/PID05``: first matching iteration of child loop PID

    def __str__(self) -> str:
        return self.text


def parse_element(text: str) -> ElementRef:
    m = _ELEMENT_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an element reference such as BEG03 or MEA04-01")
    tag, pos, comp = m.groups()
    return ElementRef(tag, int(pos), int(comp) if comp else None)


def parse_segment(text: str) -> SegmentSpec:
    m = _SEGSPEC_RE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a segment such as N1, REF[REF01=DP] or N3#2")
    tag, conds, occ = m.groups()
    conditions = []
    for part in (conds or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"condition {part!r} must be ELEMENT=VALUE[|VALUE...] or ELEMENT!=VALUE[|VALUE...]")
        left, right = part.split("=", 1)
        negate = left.endswith("!")
        ref = parse_element(left.removesuffix("!").strip())
        if ref.tag != tag and not _GROUP_RE.match(tag):  # an EDIFACT group SGn tests its trigger segment
            raise ValueError(f"condition {part!r} does not test an element of {tag}")
        values = tuple(v.strip() for v in right.split("|"))
        if not all(values):
            raise ValueError(f"condition {part!r} has an empty value")
        conditions.append(Condition(ref, values, negate))
    occurrence = int(occ) if occ else 1
    if occurrence < 1:
        raise ValueError(f"{text!r}: occurrences count from #1")
    return SegmentSpec(tag, tuple(conditions), occurrence)


def parse_location(text: str) -> Location:
    text = text.strip()
    if "/" in text:
        *loop_texts, rest = text.split("/")
        inner = parse_location(rest)
        if inner.pair_item is not None:
            raise ValueError(f"{text!r}: $1/$2 take no loop prefix")
        loops = tuple(parse_segment(t) for t in loop_texts)
        return Location(inner.segment, inner.element, None, text, loops)
    if text in ("$1", "$2"):
        return Location(None, None, int(text[1]), text)
    if "." in text:
        seg_text, _, el_text = text.rpartition(".")
        seg = parse_segment(seg_text)
        el = parse_element(el_text)
        if el.tag != seg.tag:
            raise ValueError(f"{el_text!r} is not an element of {seg.tag}")
        return Location(seg, el, None, text)
    el = parse_element(text)
    return Location(SegmentSpec(el.tag), el, None, text)


# ------------------------------------------------------------------ field paths

_STEP_RE = re.compile(r"([a-z_][a-z0-9_]*)(?:\[(\d+|[a-z_][a-z0-9_]*=[^\]]+)\])?\Z")


@dataclass(frozen=True, slots=True)
class FieldStep:
    name: str
    index: int | None = None
    select: tuple[str, str] | None = None  # (key, value): the list item whose key holds value


@dataclass(frozen=True, slots=True)
class FieldPath:
    steps: tuple[FieldStep, ...]
    text: str

    def __str__(self) -> str:
        return self.text


SELF = "."  # the field of the one rule of a group over a list of values (strings...): the item itself


def parse_field(text: str) -> FieldPath:
    if text.strip() == SELF:
        return FieldPath((), SELF)
    steps = []
    for part in text.strip().split("."):
        m = _STEP_RE.match(part)
        if not m:
            raise ValueError(f"{text!r}: {part!r} is not a field name, name[0] or name[key=value]")
        name, sel = m.groups()
        if sel is None:
            steps.append(FieldStep(name))
        elif sel.isdigit():
            steps.append(FieldStep(name, index=int(sel)))
        else:
            key, _, value = sel.partition("=")
            steps.append(FieldStep(name, select=(key, value)))
    return FieldPath(tuple(steps), text.strip())


def _field_hint(cls: type[Model], name: str) -> Any:
    for info in cls._fields():
        if info.name == name:
            return info.hint
    return None


def resolve_field(cls: type[Model], path: FieldPath, *, want_list: bool = False) -> Any:
    """The base type hint at the end of ``path`` from ``cls``; ``ValueError`` naming the bad step."""
    current: Any = cls
    for n, step in enumerate(path.steps):
        last = n == len(path.steps) - 1
        if not (isinstance(current, type) and issubclass(current, Model)):
            raise ValueError(f"{path}: {step.name!r} is below a value that has no fields")
        hint = _field_hint(current, step.name)
        if hint is None:
            known = ", ".join(i.name for i in current._fields())
            raise ValueError(f"{path}: {current.__name__} has no field {step.name!r} (fields: {known})")
        base, _ = _split(hint)
        if get_origin(base) is list:
            (item,) = get_args(base)
            item, _ = _split(item)
            if step.index is None and step.select is None:
                if last and want_list:
                    return item
                raise ValueError(f"{path}: {step.name!r} is a list; write {step.name}[0] or {step.name}[key=value]")
            if step.select is not None:
                key, value = step.select
                if not (isinstance(item, type) and issubclass(item, Model)) or _field_hint(item, key) is None:
                    raise ValueError(f"{path}: the items of {step.name!r} have no field {key!r}")
                check_value(_split(_field_hint(item, key))[0], value, f"{path}: {key}")
            current = item
        else:
            if step.index is not None or step.select is not None:
                raise ValueError(f"{path}: {step.name!r} is not a list")
            current = base
    if want_list:
        raise ValueError(f"{path}: a group's field must be a list")
    if isinstance(current, type) and issubclass(current, Model):
        raise ValueError(f"{path}: {current.__name__} is an object; map its fields ({path}.<field>)")
    return current


def check_value(base: Any, value: Any, what: str) -> None:
    """``ValueError`` when ``value`` (text from the YAML) cannot go into a field of type ``base``."""
    if get_origin(base) is Literal:
        if value not in get_args(base):
            raise ValueError(f"{what}: {value!r} is not one of {', '.join(get_args(base))}")
    elif base is bool and value not in ("true", "false"):
        raise ValueError(f"{what}: {value!r} is not true or false")


def default_type(base: Any, element_type: str | None) -> str:
    """The conversion used when a rule names none: from the canonical type, then the X12 element type."""
    if base is Decimal:
        if element_type and element_type[0] == "N" and element_type[1:].isdigit():
            return element_type
        return "decimal"
    if base is date:
        return "date"
    if base is time:
        return "time"
    if base is int:
        return "integer"
    if base is bool:
        return "boolean"
    return "string"


# ------------------------------------------------------------------ rules and groups


@dataclass(slots=True)
class Rule:
    """One EDI location <-> one canonical field, with an optional table, conversion, default or constant.

    ``field`` is empty (``FieldPath((), "")``) for a fixed code: ``{edi: BGM01-01, const: "351"}`` writes 351
    and reads nothing.  ``locations`` lists every location of ``edi: [A, B]`` (``edi`` is the first: inbound the
    first that has a value wins, outbound ``edi`` is written).  ``required``: the item holding the field exists
    only with it (see :attr:`item_prefix`).
    """

    field: FieldPath
    edi: Location | None
    type: str | None = None
    table: str | None = None
    default: str | None = None
    const: str | None = None
    where: str = ""
    remove: bool = False
    required: bool = False
    locations: tuple[Location, ...] = ()
    # filled in by checking
    conversion: str = "string"
    target: Any = str

    def __post_init__(self) -> None:
        if self.edi is not None and not self.locations:
            self.locations = (self.edi,)

    @property
    def fixed(self) -> bool:
        """A fixed code: an EDI location and a constant, no canonical field."""
        return not self.field.text and self.const is not None

    @property
    def key(self) -> str:
        """What identifies the rule in its scope (for ``extends`` and duplicates): its field, or for a fixed code
        its location."""
        return self.field.text or f"@{self.edi}"

    @property
    def item_prefix(self) -> tuple[FieldStep, ...]:
        """The steps of the innermost list item holding the field (``product_ids[0]`` for
        ``product_ids[0].value``); empty when that is the item of the rule's group (``value``, ``quantity.value``)."""
        steps = self.field.steps
        for n in range(len(steps) - 2, -1, -1):
            if steps[n].index is not None or steps[n].select is not None:
                return steps[: n + 1]
        return ()

    def under(self, prefixes: list[tuple[FieldStep, ...]]) -> bool:
        return any(self.field.steps[: len(p)] == p for p in prefixes)


@dataclass(slots=True)
class Group:
    """A list field filled with one item per loop iteration, per segment occurrence or per element pair."""

    field: FieldPath
    loop: SegmentSpec | None = None  # the loop's ID with conditions on its first segment
    segment: SegmentSpec | None = None
    pairs: tuple[tuple[ElementRef, ElementRef], ...] = ()
    rules: list[Rule] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    where: str = ""
    remove: bool = False
    start: int = 0  # outbound: the first list item this group writes (``start: 1`` after a rule wrote item [0])
    hierarchy: SegmentSpec | None = None  # a ``hierarchy:`` group: the HL loop, its ``levels`` below
    levels: list[Group] = field(default_factory=list)  # one loop group HL[HL03=code] per level, outermost first
    # filled in by checking
    schema_loop: Loop | None = None
    item: Any = None

    @property
    def kind(self) -> str:
        if self.hierarchy:
            return "hierarchy"
        return "loop" if self.loop else "pairs" if self.pairs else "segment" if self.segment else "root"


@dataclass(slots=True)
class Mapping:
    """A loaded, checked mapping: ``to_canonical`` reads a transaction set, ``to_edi`` writes one."""

    name: str
    path: str
    document: str
    standard: str
    transaction: str
    version: str
    tables: dict[str, dict[str, str]]
    root: Group
    extends: str | None = None
    grammar: Grammar | None = None
    chain: tuple[str, ...] = ()

    @property
    def schema(self) -> Any:
        """The X12 transaction schema (``None`` for EDIFACT mappings)."""
        return self.grammar.schema if isinstance(self.grammar, X12Grammar) else None

    def to_canonical(self, tx: Any) -> dict[str, Any]:
        from hub.mapping.inbound import to_canonical

        return to_canonical(self, tx)

    def to_edi(self, document: dict[str, Any], delimiters: Any = None) -> list[list[str]]:
        """The transaction body (segments between ST and SE) for a canonical document: the rules read backwards."""
        from hub.mapping.outbound import to_edi

        return to_edi(self, document, delimiters)


# ------------------------------------------------------------------ YAML with lines


def _compose(text: str, name: str) -> tuple[Any, dict[tuple, int]]:
    """The YAML as plain dicts/lists/strings (no implicit typing: ``002`` stays ``"002"``) and key lines."""
    lines: dict[tuple, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.BaseLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise MappingError(f"{name}:{line}: YAML syntax: {exc.problem or exc}") from exc
    if node is None:
        raise MappingError(f"{name}:1: the file is empty")

    errors: list[str] = []

    def build(n: yaml.Node, path: tuple, line: int) -> Any:
        lines.setdefault(path, line)
        if isinstance(n, yaml.MappingNode):
            out: dict[str, Any] = {}
            for k, v in n.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark)
                kline = k.start_mark.line + 1
                if key in out:
                    errors.append(f"{name}:{kline}: {_fmt(path + (key,))}: duplicate key")
                    continue
                out[key] = build(v, path + (key,), kline)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(v, path + (i,), v.start_mark.line + 1) for i, v in enumerate(n.value)]
        return n.value

    data = build(node, (), node.start_mark.line + 1)
    if errors:
        raise MappingError(errors)
    return data, lines


def _fmt(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top)"


# ------------------------------------------------------------------ parsing one file

TOP_KEYS = {"document", "standard", "transaction", "version", "extends", "description", "tables", "header", "groups",
            "lines", "hierarchy"}
RULE_KEYS = {"edi", "field", "type", "table", "default", "const", "remove", "description", "required"}
GROUP_KEYS = {"field", "loop", "segment", "pairs", "rules", "groups", "remove", "description", "start"}
HIERARCHY_KEYS = {"loop", "levels", "description"}
LEVEL_KEYS = {"level", "field", "rules", "groups", "description"}
HL = "HL"  # the X12 hierarchical level segment/loop a hierarchy is built from


@dataclass(slots=True)
class _Raw:
    name: str
    path: str
    top: dict[str, Any]
    tables: dict[str, dict[str, str]]
    root: Group


class _Parser:
    def __init__(self, name: str, path: str, lines: dict[tuple, int]) -> None:
        self.name, self.path, self.lines, self.errors = name, path, lines, []

    def where(self, key: tuple) -> str:
        line = self.lines.get(key)
        while line is None and key:
            key = key[:-1]
            line = self.lines.get(key)
        return f"{self.path}:{line or 1}"

    def error(self, key: tuple, message: str) -> None:
        self.errors.append(f"{self.where(key)}: {_fmt(key)}: {message}")

    def rule(self, data: Any, key: tuple) -> Rule | None:
        if not isinstance(data, dict):
            self.error(key, "a rule is a mapping such as {edi: BEG03, field: number}")
            return None
        for k in data:
            if k not in RULE_KEYS:
                self.error(key + (k,), f"unknown key (allowed: {', '.join(sorted(RULE_KEYS))})")
        remove = data.get("remove") == "true"
        if "field" not in data:
            if "edi" not in data or ("const" not in data and not remove):
                self.error(key, "a rule needs field: <canonical field path> (or, for a fixed code, edi and const)")
                return None
            fpath = FieldPath((), "")
        elif not isinstance(data["field"], str):
            self.error(key, "a rule needs field: <canonical field path>")
            return None
        else:
            try:
                fpath = parse_field(data["field"])
            except ValueError as exc:
                self.error(key + ("field",), str(exc))
                return None
        locations: tuple[Location, ...] = ()
        if "edi" in data:
            texts = data["edi"] if isinstance(data["edi"], list) else [data["edi"]]
            if not texts or not all(isinstance(t, str) for t in texts):
                self.error(key + ("edi",), "edi: a location, or a list of locations (the first found is read)")
                return None
            try:
                locations = tuple(parse_location(t) for t in texts)
            except ValueError as exc:
                self.error(key + ("edi",), str(exc))
                return None
            if len(locations) > 1 and any(loc.pair_item is not None for loc in locations):
                self.error(key + ("edi",), "$1/$2 take no fallback locations")
                return None
        elif "const" not in data and not remove:
            self.error(key, "a rule needs edi: <location> or const: <value>")
            return None
        if "const" in data and ("table" in data or "default" in data):
            self.error(key + ("const",), "a constant takes no table or default")
        for k in ("type", "table", "default", "const", "required"):
            if k in data and not isinstance(data[k], str):
                self.error(key + (k,), "must be a single value")
                return None
        if "type" in data and data["type"] not in TYPES:
            self.error(key + ("type",), f"unknown type {data['type']!r} (known: {', '.join(TYPES)})")
        required = data.get("required", "false")
        if required not in ("true", "false"):
            self.error(key + ("required",), "required: true or false")
        elif required == "true" and ("const" in data or "default" in data):
            self.error(key + ("required",), "a required value comes from the EDI: no const or default")
        if not fpath.text and "const" in data and len(locations) > 1:
            self.error(key + ("edi",), "a fixed code is written to one location")
        return Rule(
            field=fpath,
            edi=locations[0] if locations else None,
            type=data.get("type"),
            table=data.get("table"),
            default=data.get("default"),
            const=data.get("const"),
            where=f"{self.where(key)}: {_fmt(key)}",
            remove=remove,
            required=required == "true",
            locations=locations,
        )

    def rules(self, data: Any, key: tuple) -> list[Rule]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.error(key, "must be a list of rules")
            return []
        return [r for i, item in enumerate(data) if (r := self.rule(item, key + (i,))) is not None]

    def group(self, data: Any, key: tuple) -> Group | None:
        if not isinstance(data, dict):
            self.error(key, "a group is a mapping with field, loop/segment/pairs and rules")
            return None
        for k in data:
            if k not in GROUP_KEYS:
                self.error(key + (k,), f"unknown key (allowed: {', '.join(sorted(GROUP_KEYS))})")
        if not isinstance(data.get("field"), str):
            self.error(key, "a group needs field: <list field>")
            return None
        try:
            fpath = parse_field(data["field"])
        except ValueError as exc:
            self.error(key + ("field",), str(exc))
            return None
        g = Group(field=fpath, where=f"{self.where(key)}: {_fmt(key)}", remove=data.get("remove") == "true")
        kinds = [k for k in ("loop", "segment", "pairs") if k in data]
        if kinds == ["segment", "pairs"]:  # pairs in the segments meeting the conditions: PIA[PIA01=1]
            kinds = ["pairs", "segment"]
        elif len(kinds) > 1:
            self.error(key, f"a group takes one of loop, segment or pairs, not {' and '.join(kinds)}")
        try:
            if "loop" in data:
                g.loop = parse_segment(str(data["loop"]))
            if "segment" in data:
                g.segment = parse_segment(str(data["segment"]))
        except ValueError as exc:
            self.error(key + (kinds[0],), str(exc))
        if "pairs" in data:
            pairs = data["pairs"]
            ok = isinstance(pairs, list) and pairs and all(isinstance(p, list) and len(p) == 2 for p in pairs)
            if not ok:
                self.error(key + ("pairs",), "pairs: a list of [qualifier, value] elements, e.g. [PO106, PO107]")
            else:
                try:
                    g.pairs = tuple((parse_element(a), parse_element(b)) for a, b in pairs)
                except ValueError as exc:
                    self.error(key + ("pairs",), str(exc))
        if "start" in data:
            if not (isinstance(data["start"], str) and data["start"].isdigit()):
                self.error(key + ("start",), "start: the index of the first list item the group writes (0, 1...)")
            else:
                g.start = int(data["start"])
        g.rules = self.rules(data.get("rules"), key + ("rules",))
        g.groups = self.groups(data.get("groups"), key + ("groups",))
        return g

    def hierarchy(self, data: Any, key: tuple) -> Group | None:
        """``hierarchy: {loop: HL, levels: [{level: S, rules, groups}, {level: O, field: orders, ...}, ...]}``."""
        if not isinstance(data, dict):
            self.error(key, "a hierarchy is a mapping with loop: HL and levels: [...]")
            return None
        for k in data:
            if k not in HIERARCHY_KEYS:
                self.error(key + (k,), f"unknown key (allowed: {', '.join(sorted(HIERARCHY_KEYS))})")
        if str(data.get("loop", HL)) != HL:
            self.error(key + ("loop",), f"a hierarchy is built from the {HL} loop")
        g = Group(field=FieldPath((), ""), where=f"{self.where(key)}: {_fmt(key)}", hierarchy=SegmentSpec(HL))
        levels = data.get("levels")
        if not isinstance(levels, list) or not levels:
            self.error(key + ("levels",), "levels: a list of {level: CODE, field: LIST, rules, groups}, outer first")
            return g
        for i, lv in enumerate(levels):
            lkey = key + ("levels", i)
            if not isinstance(lv, dict):
                self.error(lkey, "a level is a mapping {level: CODE, field: LIST, rules, groups}")
                continue
            for k in lv:
                if k not in LEVEL_KEYS:
                    self.error(lkey + (k,), f"unknown key (allowed: {', '.join(sorted(LEVEL_KEYS))})")
            code = lv.get("level")
            if not isinstance(code, str) or not code.strip():
                self.error(lkey, "a level needs level: <HL03 code>[|<code>...]")
                continue
            codes = tuple(c.strip() for c in code.split("|"))
            fpath = FieldPath((), "")
            if "field" in lv:
                try:
                    fpath = parse_field(str(lv["field"]))
                except ValueError as exc:
                    self.error(lkey + ("field",), str(exc))
                    continue
            elif i:
                self.error(lkey, "a level below the first needs field: <list field of the level above>")
                continue
            spec = SegmentSpec(HL, (Condition(ElementRef(HL, 3), codes),))
            level = Group(field=fpath, loop=spec, where=f"{self.where(lkey)}: {_fmt(lkey)}")
            level.rules = self.rules(lv.get("rules"), lkey + ("rules",))
            level.groups = self.groups(lv.get("groups"), lkey + ("groups",))
            g.levels.append(level)
        return g

    def groups(self, data: Any, key: tuple) -> list[Group]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.error(key, "must be a list of groups")
            return []
        return [g for i, item in enumerate(data) if (g := self.group(item, key + (i,))) is not None]

    def tables(self, data: Any) -> dict[str, dict[str, str]]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.error(("tables",), "must map table names to {code: value}")
            return {}
        out = {}
        for name, table in data.items():
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                self.error(("tables", name), "a table maps codes to single values")
                continue
            out[name] = dict(table)
        return out


def _parse_file(name: str, path: Path) -> _Raw:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"{path}:1: cannot read the mapping: {exc}") from exc
    data, lines = _compose(text, str(path))
    p = _Parser(name, str(path), lines)
    if not isinstance(data, dict):
        raise MappingError(f"{path}:1: the top level must be a mapping (document, transaction, header...)")
    for k in data:
        if k not in TOP_KEYS:
            p.error((k,), f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
    root = Group(field=FieldPath((), ""), where=f"{path}:1")
    root.rules = p.rules(data.get("header"), ("header",))
    root.groups = p.groups(data.get("groups"), ("groups",))
    if "lines" in data:
        lines_group = p.group(data["lines"], ("lines",))
        if lines_group is not None:
            root.groups.append(lines_group)
    if "hierarchy" in data:
        hier = p.hierarchy(data["hierarchy"], ("hierarchy",))
        if hier is not None:
            root.groups.append(hier)
    tables = p.tables(data.get("tables"))
    if p.errors:
        raise MappingError(p.errors)
    top = {k: data[k] for k in ("document", "standard", "transaction", "version", "extends") if k in data}
    for k, v in top.items():
        if not isinstance(v, str):
            raise MappingError(f"{p.where((k,))}: {k}: must be a single value")
    return _Raw(name, str(path), top, tables, root)


# ------------------------------------------------------------------ extends: merging


def _key(item: Rule | Group) -> str:
    return item.key if isinstance(item, Rule) else item.field.text


def _merge_by_field(base: list, child: list, combine) -> list:
    """``base`` overridden by ``child``, item by item matched on ``field`` (a fixed code: on its location):
    ``remove`` drops, new ones append, a match becomes ``combine(old, new)``."""
    out = list(base)
    for item in child:
        idx = next((i for i, b in enumerate(out) if _key(b) == _key(item)), None)
        if item.remove:
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(item)
        else:
            out[idx] = combine(out[idx], item)
    return out


def _merge_rules(base: list[Rule], child: list[Rule]) -> list[Rule]:
    return _merge_by_field(base, child, lambda old, new: new)


def _merge_groups(base: list[Group], child: list[Group]) -> list[Group]:
    return _merge_by_field(base, child, _merge_group)


def _merge_group(b: Group, g: Group) -> Group:
    """A group overridden by a child group of the same field: rules, subgroups and hierarchy levels merge."""
    merged = replace(b, rules=_merge_rules(b.rules, g.rules), groups=_merge_groups(b.groups, g.groups))
    if b.hierarchy or g.hierarchy:  # levels merge by their HL03 codes
        levels = list(b.levels)
        for lv in g.levels:
            at = next((i for i, x in enumerate(levels) if x.loop == lv.loop), None)
            if at is None:
                levels.append(lv)
            else:
                x = levels[at]
                levels[at] = replace(x, rules=_merge_rules(x.rules, lv.rules),
                                     groups=_merge_groups(x.groups, lv.groups))
        merged.levels, merged.hierarchy = levels, b.hierarchy or g.hierarchy
    if g.loop or g.segment or g.pairs:  # the child re-anchors the group
        merged.loop, merged.segment, merged.pairs, merged.where = g.loop, g.segment, g.pairs, g.where
    return merged


# ------------------------------------------------------------------ checking against schema and canonical


class _Checker:
    def __init__(self, mapping: Mapping) -> None:
        self.m = mapping
        self.errors: list[str] = []
        assert mapping.grammar is not None
        self.schema = mapping.grammar
        self.envelope = mapping.grammar.envelope

    def err(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def element_type(self, ref: ElementRef, where: str) -> str | None:
        """Checks ``ref`` against the directory; returns the element's type (X12 ``N2``, ``R``; EDIFACT ``n..15``)."""
        if ref.tag in self.envelope and (self.m.standard == "x12" or ref.tag not in self.schema.segments):
            if not 1 <= ref.pos <= self.envelope[ref.tag] or (ref.component and self.m.standard == "x12"):
                self.err(where, f"{ref}: {ref.tag} has elements 01 to {self.envelope[ref.tag]:02d}")
            return None
        try:
            return self.schema.element_type(ref.tag, ref.pos, ref.component)
        except ValueError as exc:
            self.err(where, f"{ref}: {exc}")
            return None

    def segment_in(self, spec: SegmentSpec, loop: Loop, where: str, header: bool) -> None:
        if header and spec.tag in self.envelope:
            pass
        else:
            nodes = [n for n in loop.body if isinstance(n, SegNode) and n.tag == spec.tag]
            if not nodes:
                here = f"loop {loop.id}" if loop.id else f"the {self.schema.id} header (outside loops)"
                tags = sorted({n.tag for n in loop.body if isinstance(n, SegNode)})
                self.err(where, f"segment {spec.tag} is not in {here} (there: {', '.join(tags)})")
                return
            mx = max((n.max for n in nodes), key=lambda v: v or 10**9)
            if mx and spec.occurrence > mx:
                self.err(where, f"{spec}: {spec.tag} occurs at most {mx} time(s) there")
        for c in spec.conditions:
            self.element_type(c.element, where)

    def location(self, r: Rule, loc: Location, group: Group, loop: Loop, header: bool) -> str | None:
        """Checks one location of ``r``; returns the type of its element."""
        if loc.pair_item is not None:
            if group.kind != "pairs":
                self.err(r.where, f"{loc}: $1/$2 only make sense inside a pairs group")
            elif group.pairs:
                return self.element_type(group.pairs[0][loc.pair_item - 1], r.where)
            return None
        assert loc.segment is not None and loc.element is not None
        if any(spec.negative for spec in (*loc.loops, loc.segment)):
            self.err(r.where, f"{loc}: a negative condition (!=) chooses the items of a group; a rule's location "
                              f"needs conditions it can write (=)")
        if group.kind == "segment" and group.segment is not None:
            if loc.loops or loc.segment.tag != group.segment.tag:
                self.err(r.where, f"{loc}: this group reads one {group.segment.tag} segment at a time")
        elif group.kind == "pairs":
            self.err(r.where, f"{loc}: inside a pairs group, read $1 (qualifier) or $2 (value)")
        else:
            target = loop
            for spec in loc.loops:
                found = [c for c in target.body if isinstance(c, Loop) and c.id == spec.tag]
                if not found:
                    self.err(r.where, f"{loc}: no loop {spec.tag} in {target.id or 'the header'}")
                    return None
                target = found[0]
                for c in spec.conditions:
                    if c.element.tag != target.trigger.tag:
                        self.err(r.where, f"{loc}: conditions on {spec.tag} test its first segment "
                                          f"{target.trigger.tag}")
                    self.element_type(c.element, r.where)
            self.segment_in(loc.segment, target, r.where, header and not loc.loops)
        return self.element_type(loc.element, r.where)

    def rule(self, r: Rule, cls: Any, group: Group, loop: Loop, header: bool) -> None:
        if r.fixed:
            base: Any = str
            if r.edi is None or r.edi.pair_item is not None:
                self.err(r.where, "a fixed code (const without field) is written to an element: edi: BGM01-01")
                return
            if r.type is not None:
                self.err(r.where, "type: a fixed code is written as given")
        elif r.field.text == SELF:
            if isinstance(cls, type) and issubclass(cls, Model) or group.kind == "root":
                self.err(r.where, f"field {SELF!r} (the item itself) is only for a group over a list of values")
                return
            base = cls
        else:
            try:
                base = resolve_field(cls, r.field)
            except ValueError as exc:
                self.err(r.where, str(exc))
                return
        r.target = base
        el_type = None
        for n, loc in enumerate(r.locations):
            found = self.location(r, loc, group, loop, header)
            if n == 0:
                el_type = found
        if r.fixed:
            assert r.edi is not None and r.edi.element is not None and r.const is not None
            ref = r.edi.element
            longest = self.schema.max_length(ref.tag, ref.pos, ref.component) if el_type else None
            if longest and len(r.const) > longest:
                self.err(r.where, f"const: {r.const!r} is longer than {ref} holds ({longest})")
            r.conversion = "string"
            return
        if r.required and not r.item_prefix and group.kind == "root":
            self.err(r.where, f"required: {r.field} belongs to the document itself, which cannot be dropped "
                              f"(required drops the list item holding the field, e.g. product_ids[0].value)")
        if r.table is not None:
            table = self.m.tables.get(r.table)
            if table is None:
                known = ", ".join(sorted(self.m.tables)) or "none"
                self.err(r.where, f"table: unknown table {r.table!r} (tables: {known})")
            else:
                for code, value in table.items():
                    if code == FALLBACK and value == PASS:
                        continue
                    try:
                        check_value(base, value, f"table {r.table} [{code}]")
                    except ValueError as exc:
                        self.err(r.where, f"{exc} (field {r.field})")
        for key in ("const", "default"):
            value = getattr(r, key)
            if value is not None:
                try:
                    check_value(base, value, f"{key}")
                except ValueError as exc:
                    self.err(r.where, f"{exc} (field {r.field})")
        r.conversion = r.type or default_type(base, el_type)
        if r.conversion == "boolean" and r.table is None and r.const is None and r.edi is not None:
            self.err(r.where, f"{r.field} is true/false: give a table from the codes (e.g. {{T: 'true', P: 'false'}})")

    def hierarchy(self, g: Group, cls: Any, loop: Loop) -> None:
        found = [c for c in loop.body if isinstance(c, Loop) and c.id == HL]
        if not found:
            self.err(g.where, f"hierarchy: no {HL} loop in {loop.id or 'the ' + self.schema.id + ' header'}")
            return
        hl = found[0]
        item = cls
        for level in g.levels:
            for r in level.rules:
                if r.required and not r.item_prefix:
                    self.err(r.where, f"required: {r.field} belongs to the level's item, which cannot be dropped "
                                      f"(the HL levels are linked)")
        for n, level in enumerate(g.levels):
            if n == 0 and not level.field.steps:  # the first level fills the object the hierarchy is in
                level.item, level.schema_loop = item, hl
                self.scope(level, item, hl, False)
            else:
                level.item = None
                self.group(level, item, loop, False)
                if level.item is None:
                    return
            item = level.item

    def group(self, g: Group, cls: Any, loop: Loop, header: bool) -> None:
        if g.kind == "hierarchy":
            self.hierarchy(g, cls, loop)
            return
        if g.kind == "root":
            item, inner_loop, inner_header = cls, loop, header
        else:
            try:
                item = resolve_field(cls, g.field, want_list=True)
            except ValueError as exc:
                self.err(g.where, str(exc))
                return
            if not (isinstance(item, type) and issubclass(item, Model)):
                values = [r for r in g.rules if r.field.text == SELF]
                others = [r for r in g.rules if r.field.text != SELF and not r.fixed]
                if g.pairs or g.hierarchy or len(values) != 1 or others or g.groups:
                    self.err(g.where, f"{g.field}: a list of values ({getattr(item, '__name__', item)}) is filled by "
                                      f"a loop or segment group with one rule whose field is {SELF!r} (the item "
                                      f"itself), e.g. {{edi: REF02, field: {SELF!r}}}")
                    return
            inner_loop, inner_header = loop, False
            if g.loop is not None:
                found = [c for c in loop.body if isinstance(c, Loop) and c.id == g.loop.tag]
                if not found:
                    ids = sorted({c.id for c in loop.body if isinstance(c, Loop) and c.id})
                    here = f"loop {loop.id}" if loop.id else f"the {self.schema.id} header"
                    self.err(g.where, f"loop: no loop {g.loop.tag} in {here} (loops there: {', '.join(ids)})")
                    return
                inner_loop = found[0]
                g.schema_loop = inner_loop
                for c in g.loop.conditions:
                    if c.element.tag != inner_loop.trigger.tag:
                        self.err(g.where, f"loop: conditions test the loop's first segment {inner_loop.trigger.tag}")
                    self.element_type(c.element, g.where)
            elif g.pairs:
                tags = {ref.tag for pair in g.pairs for ref in pair}
                if len(tags) != 1:
                    self.err(g.where, "pairs: every element must be of one segment")
                elif g.segment is not None and g.segment.tag not in tags:
                    self.err(g.where, f"segment: {g.segment} is not the segment of the pairs ({tags.pop()})")
                elif g.segment is not None and g.segment.negative:
                    self.err(g.where, f"segment: {g.segment}: the pairs' segment is written with its conditions, "
                                      f"so they cannot be negative (!=)")
                else:
                    self.segment_in(g.segment or SegmentSpec(tags.pop()), loop, g.where, header)
            elif g.segment is not None:
                self.segment_in(g.segment, loop, g.where, header)
                for pair in g.pairs:
                    for ref in pair:
                        self.element_type(ref, g.where)
            else:
                self.err(g.where, "a group needs loop:, segment: or pairs:")
                return
        g.item = item
        self.scope(g, item, inner_loop, inner_header)

    def scope(self, g: Group, item: Any, inner_loop: Loop, inner_header: bool) -> None:
        for r in g.rules:
            self.rule(r, item, g, inner_loop, inner_header)
        for sub in g.groups:
            if g.kind in ("segment", "pairs"):
                self.err(sub.where, f"a {g.kind} group cannot hold groups")
                continue
            if sub.kind == "hierarchy" and g.kind != "root":
                self.err(sub.where, "a hierarchy is given at the top level of the mapping")
                continue
            self.group(sub, item, inner_loop, inner_header)
        seen: dict[str, str] = {}
        for r in g.rules:
            if r.key in seen:
                what = f"field {r.field}" if r.field.text else f"the fixed code of {r.edi}"
                self.err(r.where, f"{what} is already mapped at {seen[r.key]}")
            seen[r.key] = r.where


# ------------------------------------------------------------------ loading


def find_mapping_file(name: str, search_path: list[str] | tuple[str, ...]) -> Path:
    for folder in search_path:
        candidate = Path(folder) / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    raise MappingError(f"no mapping {name!r} ({name}.yaml) under {', '.join(map(str, search_path))}")


def _load_raw(name: str, search_path: list[str] | tuple[str, ...], seen: tuple[str, ...]) -> tuple[_Raw, tuple]:
    if name in seen:
        raise MappingError(f"mapping {name!r} extends itself through {' -> '.join(seen + (name,))}")
    raw = _parse_file(name, find_mapping_file(name, search_path))
    base_name = raw.top.get("extends")
    if not base_name:
        return raw, (name,)
    base, chain = _load_raw(base_name, search_path, seen + (name,))
    top = {**base.top, **{k: v for k, v in raw.top.items() if k != "extends"}}
    top["extends"] = base_name
    tables = {k: dict(v) for k, v in base.tables.items()}
    for tname, table in raw.tables.items():
        tables[tname] = {**tables.get(tname, {}), **table}
    root = replace(
        base.root,
        rules=_merge_rules(base.root.rules, raw.root.rules),
        groups=_merge_groups(base.root.groups, raw.root.groups),
    )
    return _Raw(name, raw.path, top, tables, root), (name, *chain)


def common_mapping_name(standard: str, transaction: str, version: str,
                        search_path: list[str] | tuple[str, ...] = ("mappings",)) -> str:
    """The common mapping for a set or message: ``common/850.004010`` (X12 version family), or for EDIFACT
    ``common/ORDERS.D96A``: the message's own directory when a mapping for it exists, else D96A for the
    D.9x directories and D01B for D.00A onwards (element formats change little; group numbers changed in 2000)."""
    if standard != "edifact":
        from hub.edi.x12.schema import resolve_version

        return f"common/{transaction}.{resolve_version(version)}"
    directory = version.upper()
    for folder in search_path:
        if (Path(folder) / "common" / f"{transaction}.{directory}.yaml").is_file():
            return f"common/{transaction}.{directory}"
    release = directory[1:]
    nearest = "D96A" if release[:2].isdigit() and int(release[:2]) >= 90 else "D01B"
    return f"common/{transaction}.{nearest}"


def load_mapping(name: str, search_path: list[str] | tuple[str, ...] = ("mappings",)) -> Mapping:
    """Load ``<search dir>/<name>.yaml`` (and what it extends), checked; :class:`MappingError` lists every problem."""
    raw, chain = _load_raw(name, search_path, ())
    where = raw.path
    errors = []
    for key in ("document", "standard", "transaction", "version"):
        if key not in raw.top:
            errors.append(f"{where}:1: {key}: missing (here or in the mapping it extends)")
    if errors:
        raise MappingError(errors)
    top = raw.top
    if top["standard"] not in STANDARDS:
        raise MappingError(f"{where}:1: standard: {top['standard']!r} is not one of {', '.join(STANDARDS)}")
    if top["document"] not in DOCUMENT_CLASSES:
        raise MappingError(f"{where}:1: document: {top['document']!r} is not one of {', '.join(DOCUMENT_CLASSES)}")
    grammar = grammar_for(top["standard"], top["transaction"], top["version"])
    if grammar is None:
        std = "X12" if top["standard"] == "x12" else "EDIFACT"
        raise MappingError(f"{where}:1: transaction: no {std} schema for {top['transaction']} {top['version']}")
    if top["standard"] == "edifact" and raw.root.groups and any(g.kind == "hierarchy" for g in raw.root.groups):
        raise MappingError(f"{where}:1: hierarchy: the HL hierarchy is X12; EDIFACT nests segment groups instead")
    mapping = Mapping(
        name=name,
        path=where,
        document=top["document"],
        standard=top["standard"],
        transaction=top["transaction"],
        version=top["version"],
        tables=raw.tables,
        root=raw.root,
        extends=top.get("extends"),
        grammar=grammar,
        chain=chain,
    )
    checker = _Checker(mapping)
    checker.group(mapping.root, DOCUMENT_CLASSES[mapping.document], grammar.root, True)
    if checker.errors:
        raise MappingError(checker.errors)
    return mapping
