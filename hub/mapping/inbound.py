"""Inbound: one X12 transaction set or EDIFACT message -> one canonical document dict, following a :class:`Mapping`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.canonical import DOCUMENT_CLASSES, load_document
from hub.canonical.documents import SCHEMA_VERSION
from hub.canonical.model import CanonicalError, DocumentError, _dump, _load
from hub.edi.core import Delimiters
from hub.mapping.grammar import Instance, build_tree
from hub.mapping.language import (
    FALLBACK,
    PASS,
    SELF,
    ElementRef,
    FieldPath,
    FieldStep,
    Group,
    Location,
    Mapping,
    MappingError,
    Rule,
    SegmentSpec,
    best_first,
)

_DROPPED = None  # what apply_rules returns for an item a required rule found no value for


class _Context:
    def __init__(self, mapping: Mapping, tx: Any) -> None:
        self.mapping = mapping
        self.tx = tx
        self.delimiters: Delimiters = tx.delimiters
        self.edifact = mapping.standard == "edifact"
        if self.edifact:
            self.envelope = {"UNB": tx.interchange.unb, "UNG": tx.group.ung if tx.group.ung is not None else ["UNG"]}
            self.label = f"message {tx.type} {tx.control_number!r} (message {tx.index + 1})"
            self.decimal_mark = self.delimiters.decimal if self.delimiters.decimal != "." else None
        else:
            self.envelope = {"ISA": tx.interchange.isa, "GS": tx.group.gs if tx.group is not None else ["GS"]}
            self.label = f"transaction set {tx.type} {tx.control_number!r} (set {tx.index + 1})"
            self.decimal_mark = None

    def fail(self, rule: Rule, message: str) -> MappingError:
        return MappingError(f"{self.mapping.name}: {self.label}: {rule.where}: {rule.field}: {message}")

    def value(self, seg: list[str], ref: ElementRef) -> str:
        raw = seg[ref.pos] if ref.pos < len(seg) else ""
        if ref.component is not None:
            comps = self.delimiters.components(raw)
            raw = comps[ref.component - 1] if ref.component <= len(comps) else ""
        elif self.edifact:
            raw = self.delimiters.unescape(raw)
        return raw.strip()

    def matches(self, seg: list[str], spec: SegmentSpec) -> bool:
        return seg[0] == spec.tag and self.opens(seg, spec)

    def opens(self, seg: list[str], spec: SegmentSpec) -> bool:
        """Whether ``seg``, the first segment of a loop iteration, meets the conditions of the loop ``spec``
        (``N1[N101=ST]``, ``SG2[NAD01=BY]``: an EDIFACT group is named SGn, its conditions test its trigger)."""
        return all(c.holds(self.value(seg, c.element)) for c in spec.conditions)

    def find(self, segments: list[list[str]], spec: SegmentSpec) -> list[str] | None:
        """The ``spec.occurrence``-th segment meeting ``spec``; with several values listed in a condition, those
        holding an earlier listed value come first (``QTY[QTY01-01=47|12]``: a QTY 47, else a QTY 12)."""
        if spec.tag in self.envelope and not any(s[0] == spec.tag for s in segments):
            seg = self.envelope[spec.tag]
            return seg if self.matches(seg, spec) else None
        found = best_first([seg for seg in segments if self.matches(seg, spec)], spec, self.value)
        return found[spec.occurrence - 1] if len(found) >= spec.occurrence else None

    def iteration(self, inst: Instance, spec: SegmentSpec) -> Instance | None:
        """The child iteration of loop ``spec`` (``SG1[RFF01-01=ON|CO]``) a location descends into: the first
        meeting the conditions, by the listed order of their values."""
        kids = [c for c in inst.children if c.loop.id == spec.tag and c.segments and self.opens(c.segments[0], spec)]
        kids = best_first(kids, spec, lambda c, ref: self.value(c.segments[0], ref))
        return kids[0] if kids else None

    def read(self, inst: Instance, loc: Location) -> str | None:
        """The raw text at ``loc`` in ``inst`` (None when the segment is not there)."""
        here: Instance | None = inst
        for spec in loc.loops:
            here = self.iteration(here, spec)
            if here is None:
                return None
        assert loc.segment is not None and loc.element is not None
        seg = self.find(here.segments, loc.segment)
        return None if seg is None else self.value(seg, loc.element)


def convert(kind: str, value: str, decimal_mark: str | None = None) -> Any:
    """EDI text -> canonical JSON value; ``ValueError`` when the text does not fit ``kind``.

    ``date`` reads CCYYMMDD, YYMMDD, or CCYYMMDDHHMM[SS] (EDIFACT format 203/204; the time is dropped).
    ``decimal_mark``: the EDIFACT decimal notation (UNA) when it is not ``.``; ``.`` is read as well.
    """
    if kind == "string":
        return value
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise ValueError("not true/false")
        return value == "true"
    if kind == "date":
        if len(value) == 6 and value.isdigit():
            yy = int(value[:2])
            value = f"{20 if yy < 50 else 19}{value}"
        elif len(value) in (12, 14) and value.isdigit():
            value = value[:8]
        if len(value) != 8 or not value.isdigit():
            raise ValueError("not a date CCYYMMDD or YYMMDD")
        return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    if kind == "time":
        if len(value) not in (4, 6, 7, 8) or not value.isdigit():
            raise ValueError("not a time HHMM or HHMMSS[d[d]]")
        hh, mm, ss = int(value[:2]), int(value[2:4]), int(value[4:6] or 0)
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError("not a time of day")
        return f"{hh:02d}:{mm:02d}:{ss:02d}"
    if decimal_mark and decimal_mark in value:
        value = value.replace(decimal_mark, ".")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not number.is_finite() or value.strip() != value:
        raise ValueError("not a number")
    if kind[0] == "N":
        if "." in value:
            raise ValueError(f"not an implied-decimal number ({kind})")
        number = number.scaleb(-int(kind[1:]))
    text = format(number, "f")
    if text.startswith("-") and text.lstrip("-0.") == "":
        text = text[1:]
    return text


def _step_into(obj: dict[str, Any], step: Any) -> dict[str, Any]:
    """The object one step down (created): ``name``, ``name[0]`` or ``name[key=value]``."""
    if step.index is None and step.select is None:
        return obj.setdefault(step.name, {})
    items = obj.setdefault(step.name, [])
    if step.select is not None:
        key, want = step.select
        found = next((i for i in items if isinstance(i, dict) and i.get(key) == want), None)
        if found is None:
            found = {key: want}
            items.append(found)
        return found
    while len(items) <= step.index:
        items.append({})
    return items[step.index]


def _put(obj: dict[str, Any], path: FieldPath, value: Any) -> None:
    *steps, last = path.steps
    for step in steps:
        obj = _step_into(obj, step)
    if last.index is None:  # (a path cannot end in name[key=value]: the loader refuses it)
        obj[last.name] = value
    else:
        items = obj.setdefault(last.name, [])
        if last.index < len(items):
            items[last.index] = value
        else:
            items.append(value)


def _list_at(obj: dict[str, Any], path: FieldPath) -> list[Any]:
    """The list at ``path`` (created), walking ``name``, ``name[0]`` and ``name[key=value]`` steps on the way."""
    for step in path.steps[:-1]:
        obj = _step_into(obj, step)
    return obj.setdefault(path.steps[-1].name, [])


class _Applier:
    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx

    def rule_value(self, r: Rule, raw: str | None) -> Any:
        ctx = self.ctx
        if r.const is not None:
            raw_value = r.const
            kind = "boolean" if r.conversion == "boolean" else r.conversion
            return convert(kind, raw_value) if kind in ("boolean", "integer") else raw_value
        if not raw:
            if r.default is None:
                return None
            raw = r.default
            if r.conversion in ("boolean", "integer"):
                return convert(r.conversion, raw)
            return raw
        if r.table is not None:
            table = ctx.mapping.tables[r.table]
            if raw in table:
                raw = table[raw]
            elif FALLBACK in table:
                raw = raw if table[FALLBACK] == PASS else table[FALLBACK]
            else:
                raise ctx.fail(r, f"{r.edi} {raw!r} is not in table {r.table} (add it, or a '{FALLBACK}' entry)")
            if r.conversion in ("boolean", "integer"):
                try:
                    return convert(r.conversion, raw)
                except ValueError as exc:
                    raise ctx.fail(r, f"table {r.table} gives {raw!r}: {exc}") from None
            return raw
        try:
            return convert(r.conversion, raw, ctx.decimal_mark)
        except ValueError as exc:
            raise ctx.fail(r, f"{r.edi} {raw!r}: {exc}") from None

    def apply_rules(self, rules: list[Rule], out: dict[str, Any], lookup,
                    dropped: list[tuple[FieldStep, ...]] | None = None) -> bool | None:
        """Applies ``rules``; ``lookup(rule)`` gives the raw EDI text.  True when any EDI value was found;
        ``None`` (``_DROPPED``) when a ``required`` rule of the item itself found nothing: the item is not kept.
        The items a required rule drops (``product_ids[0]``) are added to ``dropped``."""
        found = False
        pending_consts = []
        raws: list[tuple[Rule, str | None]] = []
        gone: list[tuple[FieldStep, ...]] = [] if dropped is None else dropped
        for r in rules:
            if r.fixed:
                continue  # a fixed code is written, not read
            if r.edi is None:
                pending_consts.append(r)
                continue
            raw = lookup(r)
            if r.required and not raw:
                if not r.item_prefix:
                    return _DROPPED
                gone.append(r.item_prefix)
            raws.append((r, raw))
        for r, raw in raws:
            if r.under(gone):
                continue
            if raw:
                found = True
            value = self.rule_value(r, raw)
            if value is not None:
                _put(out, r.field, value)
        for r in pending_consts:
            if not r.under(gone):
                _put(out, r.field, self.rule_value(r, None))
        return found

    def scope(self, g: Group, inst: Instance, out: dict[str, Any]) -> bool | None:
        ctx = self.ctx

        def lookup(r: Rule) -> str | None:
            for loc in r.locations:  # fallback locations: the first with a value
                raw = ctx.read(inst, loc)
                if raw:
                    return raw
            return None

        dropped: list[tuple[FieldStep, ...]] = []
        found = self.apply_rules(g.rules, out, lookup, dropped)
        if found is _DROPPED:
            return _DROPPED
        for sub in g.groups:
            if sub.field.steps and any(sub.field.steps[: len(p)] == p for p in dropped):
                continue
            found = self.fill(sub, inst, out) or found
        return found

    def hierarchy(self, g: Group, inst: Instance, out: dict[str, Any]) -> bool:
        """Rebuilds the levels (shipment -> orders -> packs -> items) from the HL01/HL02 links."""
        ctx = self.ctx
        hls = [c for c in inst.children if c.loop is g.levels[0].schema_loop and c.segments]
        ids = {ctx.value(h.segments[0], ElementRef("HL", 1)) for h in hls}
        kids: dict[str, list[Instance]] = {}
        for h in hls:
            parent = ctx.value(h.segments[0], ElementRef("HL", 2))
            if parent and parent not in ids:
                raise MappingError(
                    f"{ctx.mapping.name}: {ctx.label}: {g.where}: HL*{ctx.value(h.segments[0], ElementRef('HL', 1))}: "
                    f"HL02 {parent!r} names no HL01 of the set"
                )
            kids.setdefault(parent, []).append(h)
        implicit: dict[tuple[int, int], dict[str, Any]] = {}

        def level_of(h: Instance) -> int | None:
            return next((n for n, lv in enumerate(g.levels) if ctx.matches(h.segments[0], lv.loop)), None)

        def add(parent: dict[str, Any], n: int, item: dict[str, Any]) -> dict[str, Any]:
            if n == 0 and not g.levels[0].field.steps:
                return parent  # the first level is the object the hierarchy is in
            target = parent
            steps = g.levels[n].field.steps
            for step in steps[:-1]:
                target = target.setdefault(step.name, {})
            target.setdefault(steps[-1].name, []).append(item)
            return item

        def place(item: dict[str, Any], k: int, children: list[Instance]) -> bool:
            found = False
            for h in children:
                j = level_of(h)
                hid = ctx.value(h.segments[0], ElementRef("HL", 1))
                if j is None or j <= k:  # a level the mapping does not know (e.g. T, tare): transparent
                    found = place(item, k, kids.get(hid, [])) or found
                    continue
                if j > k + 1:  # a level skipped (items right under the order): one implicit item in between
                    key = (id(item), k + 1)
                    if key not in implicit:
                        implicit[key] = add(item, k + 1, {})
                    found = place(implicit[key], k + 1, [h]) or found
                    continue
                new: dict[str, Any] = {} if j or g.levels[0].field.steps else item
                got = self.scope(g.levels[j], h, new)
                got = place(new, j, kids.get(hid, [])) or got
                if got and new is not item:
                    add(item, j, new)
                found = found or got
            return found

        return place(out, -1, kids.get("", []))

    def fill(self, g: Group, inst: Instance, out: dict[str, Any]) -> bool:
        ctx = self.ctx
        items: list[dict[str, Any]] = []
        if g.hierarchy is not None:
            return self.hierarchy(g, inst, out)
        value_rule = next((r for r in g.rules if r.field.text == SELF), None)
        if value_rule is not None:  # a list of values: one per iteration / segment
            return self.fill_values(g, value_rule, inst, out)
        if g.loop is not None:
            for child in inst.children:
                if child.loop is g.schema_loop and child.segments and ctx.opens(child.segments[0], g.loop):
                    item: dict[str, Any] = {}
                    if self.scope(g, child, item):
                        items.append(item)
        elif g.pairs:
            tag = g.pairs[0][0].tag
            for seg in inst.segments:
                if seg[0] != tag or (g.segment is not None and not ctx.matches(seg, g.segment)):
                    continue
                for pair in g.pairs:
                    values = (ctx.value(seg, pair[0]), ctx.value(seg, pair[1]))
                    if not values[0] and not values[1]:
                        continue
                    item = {}
                    if self.apply_rules(g.rules, item, lambda r, v=values: v[r.edi.pair_item - 1]):
                        items.append(item)
        elif g.segment is not None:
            spec = SegmentSpec(g.segment.tag, g.segment.conditions)
            for seg in inst.segments:
                if ctx.matches(seg, spec):
                    item = {}

                    def seg_lookup(r: Rule, seg: list[str] = seg) -> str | None:
                        for loc in r.locations:
                            raw = ctx.value(seg, loc.element) if ctx.matches(seg, loc.segment) else None
                            if raw:
                                return raw
                        return None

                    if self.apply_rules(g.rules, item, seg_lookup):
                        items.append(item)
        if items:
            _list_at(out, g.field).extend(items)
        return bool(items)

    def fill_values(self, g: Group, r: Rule, inst: Instance, out: dict[str, Any]) -> bool:
        """A group over a list of values (``tracking_numbers``): the rule ``{edi: ..., field: .}`` read in each loop
        iteration or segment meeting the group's conditions; empty values are not kept."""
        ctx = self.ctx
        values = []
        if g.loop is not None:
            for child in inst.children:
                if child.loop is g.schema_loop and child.segments and ctx.opens(child.segments[0], g.loop):
                    raw = next((v for loc in r.locations if (v := ctx.read(child, loc))), None)
                    values.append(self.rule_value(r, raw))
        elif g.segment is not None:
            spec = SegmentSpec(g.segment.tag, g.segment.conditions)
            for seg in inst.segments:
                if ctx.matches(seg, spec):
                    raw = next((v for loc in r.locations
                                if ctx.matches(seg, loc.segment) and (v := ctx.value(seg, loc.element))), None)
                    values.append(self.rule_value(r, raw))
        values = [v for v in values if v is not None and v != ""]
        if values:
            _list_at(out, g.field).extend(values)
        return bool(values)


def _derive(doc: dict[str, Any]) -> None:
    """Adds the derived fields (a ship notice's flattened ``lines``) computed from the mapped document."""
    cls = DOCUMENT_CLASSES.get(doc["document_type"])
    if cls is None or not cls.__derived__:
        return
    infos = {i.name: i for i in cls._fields()}
    try:
        kwargs = {k: _load(v, infos[k].hint, k) for k, v in doc.items() if k in infos}
        obj = cls(**kwargs)
    except (CanonicalError, TypeError, ValueError):
        return  # load_document reports what is wrong
    for name, hint in cls.__derived__.items():
        doc[name] = _dump(getattr(obj, name), hint, name)


def to_canonical(mapping: Mapping, tx: Any) -> dict[str, Any]:
    """The canonical document for ``tx``, validated; :class:`MappingError` naming the set and the field."""
    ctx = _Context(mapping, tx)
    if tx.type != mapping.transaction:
        raise MappingError(f"{mapping.name}: {ctx.label}: this mapping reads {mapping.transaction}, not {tx.type}")
    assert mapping.grammar is not None
    segments = tx.segments[:-1] if tx.se is not None else tx.segments
    tree = build_tree(mapping.grammar, segments)
    body: dict[str, Any] = {}
    _Applier(ctx).scope(mapping.root, tree, body)
    doc = {"document_type": mapping.document, "schema_version": SCHEMA_VERSION, **body}
    _derive(doc)
    try:
        return load_document(doc).to_json()
    except DocumentError as exc:
        problems = "; ".join(exc.errors)
        raise MappingError(f"{mapping.name}: {ctx.label}: the mapped document is not valid: {problems}") from None
