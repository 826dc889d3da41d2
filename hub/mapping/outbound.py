"""Outbound: one canonical document dict -> X12 or EDIFACT segments (``to_edi``) or a whole interchange (``render``).

The rules of a :class:`~hub.mapping.language.Mapping` are read backwards (see
``hub/mapping/README.md``, "Outbound"):

* a rule ``{edi, field, type?, table?}`` writes the field's value into its
  element, converted back (ISO date -> CCYYMMDD, ``HH:MM:SS`` -> HHMM[SS],
  decimals as given, ``N2`` -> implied decimals);
* segment conditions (``REF[REF01=DP].REF02``) find the segment of the scope
  holding those qualifiers, or create it with the first listed value of each
  (the loop's own first segment is qualified, never created twice);
* tables are inverted: the first code listed for a canonical value wins; a
  value listed nowhere goes out as is when the table has ``"*": "="``;
  an element also written by a rule without a table (the kept ``code`` field)
  takes that rule's value instead;
* ``loop`` groups emit one loop iteration per list item, ``segment`` groups one
  segment per item (with conditions, only the items written meeting them:
  ``SG1[RFF01-01!=ON]``), ``pairs`` groups fill the pairs in order; an item
  lacking a ``required`` value is not written; a group over a list of values
  writes each value with its ``.`` rule;
* fixed codes (``{edi: BGM01-01, const: "351"}``) are written when nothing else
  fills their element; ``const`` rules with a field and envelope rules (ISA, GS,
  ST) are not written here;
* CTT01 (number of lines) and CTT02 (hash total of the lines' quantities) are
  computed when the mapping maps them, and TDS01 (810 total) when the document has none;
* a ``hierarchy`` group writes one HL per level item, HL01/HL02/HL04 computed;
* segments come out in the order of the transaction set's X12 structure,
  trailing empty elements dropped;
* EDIFACT: the same rules over segment groups; values are plain (the writer
  escapes them with the release character), a composite comes out as a list of
  its components, ``UNS+S`` is written where the message has its section
  control, and ``CNT[CNT01-01=2].CNT01-02`` is computed (the number of LIN).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from hub.canonical import load_document
from hub.canonical.model import DocumentError
from hub.edi.core import Delimiters
from hub.edi.x12.schema import Loop, SegNode
from hub.mapping.grammar import EdifactGrammar
from hub.mapping.language import (
    FALLBACK,
    PASS,
    SELF,
    Condition,
    ElementRef,
    FieldPath,
    Group,
    Mapping,
    MappingError,
    Rule,
    SegmentSpec,
    best_first,
    load_mapping,
)

SET_OF_DOCUMENT = {
    "purchase_order": "850",
    "purchase_order_ack": "855",
    "ship_notice": "856",
    "invoice": "810",
    "functional_ack": "997",
}
MESSAGE_OF_DOCUMENT = {
    "purchase_order": "ORDERS",
    "purchase_order_ack": "ORDRSP",
    "ship_notice": "DESADV",
    "invoice": "INVOIC",
    "functional_ack": "CONTRL",
}
FUNCTIONAL_IDS = {"850": "PO", "855": "PR", "856": "SH", "810": "IN", "997": "FA", "999": "FA"}

# priority of what is written into an element: a computed count beats a plain rule (the kept code),
# which beats an inverted table, which beats a qualifier taken from a location's condition, which beats a
# fixed code ({edi: BGM01-01, const: "380"}: written when nothing else fills the element)
_FIXED, _CONDITION, _TABLE, _PLAIN, _COMPUTED = 0, 1, 2, 3, 4


class _Conflict(ValueError):
    """A loop's first segment already holds another qualifier than a location asks for."""


# ------------------------------------------------------------------ the segment tree being built


@dataclass(eq=False, slots=True)
class _Seg:
    tag: str
    values: dict[tuple[int, int | None], tuple[str, int]] = field(default_factory=dict)

    def get(self, ref: ElementRef) -> str:
        return self.values.get((ref.pos, ref.component), ("", 0))[0]

    def priority(self, ref: ElementRef) -> int:
        return self.values.get((ref.pos, ref.component), ("", 0))[1]

    def set(self, ref: ElementRef, value: str, priority: int) -> None:
        key = (ref.pos, ref.component)
        old = self.values.get(key)
        if old is None or not old[0] or priority > old[1]:
            self.values[key] = (value, priority)

    def matches(self, spec: SegmentSpec) -> bool:
        return self.tag == spec.tag and self.opens(spec)

    def opens(self, spec: SegmentSpec) -> bool:
        """As the first segment of a loop iteration: meets the loop's conditions (``SG2[NAD01=BY]``)."""
        return all(c.holds(self.get(c.element)) for c in spec.conditions)

    def qualify(self, spec: SegmentSpec) -> None:
        """Writes the first value of each condition (a negative condition writes nothing: the rules do)."""
        for c in spec.conditions:
            if not c.negate:
                self.set(c.element, c.values[0], _CONDITION)

    def elements(self, component: str | None) -> list[Any]:
        """The segment as ``[tag, element, ...]``; with ``component`` None (EDIFACT) a composite is a list of its
        components, otherwise they are joined with ``component``."""
        if not self.values:
            return [self.tag]
        last = max(pos for pos, _ in self.values)
        out: list[Any] = [self.tag] + [""] * last
        for pos in range(1, last + 1):
            if (pos, None) in self.values:
                out[pos] = self.values[(pos, None)][0]
                continue
            comps = {c: v for (p, c), (v, _) in self.values.items() if p == pos and c is not None and v}
            if comps:
                parts = [comps.get(i, "") for i in range(1, max(comps) + 1)]
                out[pos] = parts if component is None else component.join(parts)
        while len(out) > 1 and out[-1] == "":
            out.pop()
        return out


@dataclass(eq=False, slots=True)
class _Inst:
    loop: Loop
    segments: list[_Seg] = field(default_factory=list)
    children: list[_Inst] = field(default_factory=list)

    def segment(self, spec: SegmentSpec) -> _Seg:
        """The ``spec.occurrence``-th segment matching ``spec``, created (qualified) when missing.

        The loop's own first segment (``PAT[PAT03-03=D]`` in an iteration of the PAT group) is never created
        twice: it is qualified with the conditions, or :class:`_Conflict` when it holds another value there."""
        if self.loop.id is not None and self.segments and spec.tag == self.loop.trigger.tag:
            head = self.segments[0]
            if not head.matches(spec):
                for c in spec.conditions:
                    have = head.get(c.element)
                    if have and not c.holds(have):
                        raise _Conflict(f"the {self.loop.id} iteration's {spec.tag} already has {c.element} {have!r}")
                head.qualify(spec)
            return head
        found = best_first([s for s in self.segments if s.matches(spec)], spec, _Seg.get)
        while len(found) < spec.occurrence:
            seg = _Seg(spec.tag)
            seg.qualify(spec)
            self.segments.append(seg)
            found.append(seg)
        return found[spec.occurrence - 1]

    def child(self, loop: Loop, spec: SegmentSpec | None) -> _Inst:
        """A new iteration of ``loop`` whose first segment holds the conditions of ``spec``."""
        inst = _Inst(loop)
        trigger = _Seg(loop.trigger.tag)
        if spec is not None:
            trigger.qualify(spec)
        inst.segments.append(trigger)
        self.children.append(inst)
        return inst

    def child_matching(self, spec: SegmentSpec) -> _Inst:
        kids = [c for c in self.children if c.loop.id == spec.tag and c.segments and c.segments[0].opens(spec)]
        kids = best_first(kids, spec, lambda c, ref: c.segments[0].get(ref))
        if kids:
            return kids[0]
        loop = next(n for n in self.loop.body if isinstance(n, Loop) and n.id == spec.tag)
        return self.child(loop, spec)


def _serialise(inst: _Inst, component: str | None, out: list[list[Any]], skip: frozenset[str]) -> None:
    emitted: set[int] = set()
    for node in inst.loop.body:
        if isinstance(node, SegNode):
            if node.tag == "UNS" and component is None:
                out.append(["UNS", "S"])  # EDIFACT section control: detail / summary
                continue
            if node.tag in skip:
                continue
            for seg in inst.segments:
                if seg.tag == node.tag and id(seg) not in emitted:
                    emitted.add(id(seg))
                    out.append(seg.elements(component))
        else:
            for child in inst.children:
                if child.loop is node:
                    _serialise(child, component, out, skip)


# ------------------------------------------------------------------ values


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _get(obj: Any, path: FieldPath) -> Any:
    for step in path.steps:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step.name)
        if step.index is not None:
            obj = obj[step.index] if isinstance(obj, list) and step.index < len(obj) else None
        elif step.select is not None:
            key, want = step.select
            items = obj if isinstance(obj, list) else []
            obj = next((i for i in items if isinstance(i, dict) and i.get(key) == want), None)
        if obj is None:
            return None
    return obj


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unconvert(kind: str, value: Any, max_length: int | None = None) -> str:
    """Canonical JSON value -> EDI text, the inverse of :func:`hub.mapping.inbound.convert`."""
    text = _text(value)
    if kind in ("string", "integer", "boolean", "decimal"):
        return text
    if kind == "date":
        try:
            day = _dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO date YYYY-MM-DD") from None
        return day.strftime("%y%m%d" if max_length == 6 else "%Y%m%d")
    if kind == "time":
        try:
            moment = _dt.time.fromisoformat(text)
        except ValueError:
            raise ValueError("not a time HH:MM[:SS]") from None
        return moment.strftime("%H%M%S" if moment.second else "%H%M")
    try:  # N0..N9: implied decimals
        number = Decimal(text).scaleb(int(kind[1:]))
    except (InvalidOperation, ValueError):
        raise ValueError("not a number") from None
    if number != number.to_integral_value():
        raise ValueError(f"has more decimals than {kind} holds")
    return format(number.to_integral_value(), "f")


# ------------------------------------------------------------------ writer


class _Writer:
    def __init__(self, mapping: Mapping, delimiters: Delimiters | None) -> None:
        self.m = mapping
        self.delimiters = delimiters
        self.pending: list[tuple[_Seg, ElementRef, str]] = []  # table misses: fine if a plain rule fills them
        self.prefix = ""  # the list item being written, e.g. "lines[0]." (for error messages)
        self.hl_count = 0  # HL01 of the last HL written
        self.hl_items: list[_Inst] = []  # the HL iterations of the innermost level (the 856 items)
        assert mapping.grammar is not None
        self.grammar = mapping.grammar
        self.not_written = mapping.grammar.not_written
        self.edifact = isinstance(mapping.grammar, EdifactGrammar)

    def fail(self, r: Rule, message: str) -> MappingError:
        return MappingError(f"{self.m.name}: {r.where}: {self.prefix}{r.field}: {message}")

    def max_length(self, ref: ElementRef) -> int | None:
        return self.grammar.max_length(ref.tag, ref.pos, ref.component)

    def encode(self, r: Rule, value: Any, ref: ElementRef) -> tuple[str | None, int]:
        """(EDI text, priority) for ``value``; (None, _) when the table has no code for it."""
        if r.table is not None:
            text = _text(value)
            table = self.m.tables[r.table]
            for code, mapped in table.items():
                if code != FALLBACK and mapped == text:
                    return code, _TABLE
            if table.get(FALLBACK) == PASS:
                return text, _TABLE
            return None, _TABLE
        try:
            return unconvert(r.conversion, value, self.max_length(ref)), _PLAIN
        except ValueError as exc:
            raise self.fail(r, f"{value!r} cannot be written to {r.edi}: {exc}") from None

    def check(self, r: Rule, text: str) -> None:
        d = self.delimiters
        if d is None or self.edifact:  # EDIFACT releases service characters (?+), it need not refuse them
            return
        for name, ch in (("element", d.element), ("segment", d.segment), ("component", d.component),
                         ("repetition", d.repetition)):
            if ch and ch in text:
                raise self.fail(
                    r, f"{text!r} contains the interchange's {name} delimiter {ch!r} and cannot be written to {r.edi}"
                )

    def write(self, r: Rule, value: Any, seg: _Seg, ref: ElementRef) -> None:
        text, priority = self.encode(r, value, ref)
        if text is None:
            self.pending.append((seg, ref, f"{self.fail(r, f'{value!r} has no code in table {r.table}')}"))
            return
        if text == "":
            return
        self.check(r, text)
        seg.set(ref, text, priority)

    def segment_in(self, r: Rule, inst: _Inst, spec: SegmentSpec) -> _Seg:
        try:
            return inst.segment(spec)
        except _Conflict as exc:
            raise self.fail(r, f"cannot be written to {r.edi}: {exc}") from None

    def put(self, r: Rule, value: Any, inst: _Inst) -> None:
        """Writes ``value`` (a fixed code: ``r.const``) at the rule's (first) location in the iteration ``inst``."""
        assert r.edi is not None and r.edi.segment is not None and r.edi.element is not None
        here = inst
        for spec in r.edi.loops:
            here = here.child_matching(spec)
        seg = self.segment_in(r, here, r.edi.segment)
        if r.fixed:
            self.check(r, value)
            seg.set(r.edi.element, value, _FIXED)
        else:
            self.write(r, value, seg, r.edi.element)

    def scope(self, g: Group, inst: _Inst, item: dict[str, Any]) -> None:
        # ``required`` rules: the list items lacking their value (product_ids[0] without value) write nothing
        dropped = [r.item_prefix for r in g.rules if r.required and r.item_prefix and _empty(_get(item, r.field))]
        for r in g.rules:
            if r.edi is None or (r.const is not None and not r.fixed) or r.under(dropped):
                continue
            if r.edi.segment is None or (r.edi.segment.tag in self.not_written and not r.edi.loops):
                continue
            value = r.const if r.fixed else _get(item, r.field)
            if _empty(value):
                continue
            self.put(r, value, inst)
        for sub in g.groups:
            if sub.field.steps and any(sub.field.steps[: len(p)] == p for p in dropped):
                continue
            self.fill(sub, inst, item)

    def keeps(self, g: Group, item: Any) -> bool:
        """Whether a list item is written: every ``required`` rule of the item itself has its value."""
        return not any(r.required and not r.item_prefix and _empty(_get(item, r.field)) for r in g.rules)

    def hierarchy(self, g: Group, inst: _Inst, out: dict[str, Any]) -> None:
        """One HL iteration per level item, depth first: HL01 1, 2, 3 ..., HL02 the parent's HL01, HL03 the level
        code, HL04 1 when the item has children (0 otherwise)."""
        levels = g.levels

        def below(item: dict[str, Any], k: int) -> list[dict[str, Any]]:
            if k + 1 >= len(levels):
                return []
            found = _get(item, levels[k + 1].field)
            return [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []

        def emit(item: dict[str, Any], k: int, parent: str, prefix: str) -> None:
            level = levels[k]
            assert level.schema_loop is not None and level.loop is not None
            hl = inst.child(level.schema_loop, level.loop)
            self.hl_count += 1
            hid = str(self.hl_count)
            head = hl.segments[0]
            head.set(ElementRef("HL", 1), hid, _COMPUTED)
            if parent:
                head.set(ElementRef("HL", 2), parent, _COMPUTED)
            children = below(item, k)
            head.set(ElementRef("HL", 4), "1" if children else "0", _COMPUTED)
            if k == len(levels) - 1:
                self.hl_items.append(hl)
            self.prefix = prefix
            self.scope(level, hl, item)
            for n, child in enumerate(children):
                emit(child, k + 1, hid, f"{prefix}{levels[k + 1].field}[{n}].")

        outer = self.prefix
        if levels[0].field.steps:
            tops = _get(out, levels[0].field)
            for n, item in enumerate(tops if isinstance(tops, list) else []):
                if isinstance(item, dict):
                    emit(item, 0, "", f"{outer}{levels[0].field}[{n}].")
        else:
            emit(out, 0, "", outer)
        self.prefix = outer

    def fill(self, g: Group, inst: _Inst, out: dict[str, Any]) -> None:
        if g.hierarchy is not None:
            self.hierarchy(g, inst, out)
            return
        items = _get(out, g.field)
        if not isinstance(items, list):
            return
        value_rule = next((r for r in g.rules if r.field.text == SELF), None)
        if value_rule is not None:
            self.fill_values(g, value_rule, inst, items[g.start:])
            return
        numbered = [(n, i) for n, i in enumerate(items) if n >= g.start and isinstance(i, dict) and self.keeps(g, i)]
        outer = self.prefix
        if g.loop is not None:
            assert g.schema_loop is not None
            for n, item in numbered:
                self.prefix = f"{outer}{g.field}[{n}]."
                child = inst.child(g.schema_loop, g.loop)
                self.scope(g, child, item)
                if g.loop.conditions and not child.segments[0].opens(g.loop):
                    inst.children.remove(child)  # SG1[RFF01-01!=ON]: only the items written with those qualifiers
        elif g.pairs:
            if not numbered:
                return
            if len(numbered) > len(g.pairs):
                raise MappingError(
                    f"{self.m.name}: {g.where}: {outer}{g.field}: {len(numbered)} items but only {len(g.pairs)} "
                    f"element pairs to write them to"
                )
            seg = inst.segment(g.segment or SegmentSpec(g.pairs[0][0].tag))
            for (n, item), pair in zip(numbered, g.pairs, strict=False):
                self.prefix = f"{outer}{g.field}[{n}]."
                for r in g.rules:
                    if r.edi is None or r.const is not None or r.edi.pair_item is None:
                        continue
                    value = _get(item, r.field)
                    if value is not None and value != "":
                        self.write(r, value, seg, pair[r.edi.pair_item - 1])
        elif g.segment is not None:
            for n, item in numbered:
                self.prefix = f"{outer}{g.field}[{n}]."
                seg = _Seg(g.segment.tag)
                seg.qualify(g.segment)
                inst.segments.append(seg)
                self.write_segment(g, seg, item)
                if g.segment.conditions and not seg.matches(g.segment):
                    inst.segments.remove(seg)  # DTM[DTM01=011]: only the items written with those qualifiers
        self.prefix = outer

    def write_segment(self, g: Group, seg: _Seg, item: Any) -> None:
        """The rules of a segment group for one item (the item itself for a list of values) into ``seg``."""
        for r in g.rules:
            if r.edi is None or (r.const is not None and not r.fixed) or r.edi.element is None:
                continue
            if r.fixed:
                self.check(r, r.const)
                seg.set(r.edi.element, r.const, _FIXED)
                continue
            value = item if r.field.text == SELF else _get(item, r.field)
            if not _empty(value):
                if r.edi.segment is not None:
                    seg.qualify(r.edi.segment)  # PER[PER03=TE].PER04 also writes PER03
                self.write(r, value, seg, r.edi.element)

    def fill_values(self, g: Group, r: Rule, inst: _Inst, values: list[Any]) -> None:
        """A group over a list of values: one loop iteration or segment per value, written by the rule whose
        field is ``.`` (and the group's fixed codes); with conditions, only the values written meeting them."""
        outer = self.prefix
        for n, value in enumerate(values, start=g.start):
            if _empty(value) or isinstance(value, (dict, list)):
                continue
            self.prefix = f"{outer}{g.field}[{n}]."
            if g.loop is not None:
                assert g.schema_loop is not None
                child = inst.child(g.schema_loop, g.loop)
                for rule in g.rules:
                    if rule.edi is not None and rule.edi.segment is not None:
                        self.put(rule, rule.const if rule.fixed else value, child)
                if g.loop.conditions and not child.segments[0].opens(g.loop):
                    inst.children.remove(child)
            elif g.segment is not None:
                seg = _Seg(g.segment.tag)
                seg.qualify(g.segment)
                inst.segments.append(seg)
                self.write_segment(g, seg, value)
                if g.segment.conditions and not seg.matches(g.segment):
                    inst.segments.remove(seg)
        self.prefix = outer


def _total(mapping: Mapping, root: _Inst, doc: dict[str, Any]) -> None:
    """TDS01 (N2), when mapped and not given by the document's totals: the sum of the line amounts (quantity x
    unit price when a line has no amount), plus header charges and taxes, less header allowances."""
    mapped = {(r.edi.element.tag, r.edi.element.pos) for r in mapping.root.rules if r.edi and r.edi.element}
    if ("TDS", 1) not in mapped:
        return
    tds = root.segment(SegmentSpec("TDS"))
    if tds.get(ElementRef("TDS", 1)):
        return
    total = Decimal(0)
    try:
        for line in doc.get("lines") or []:
            if line.get("amount") is not None:
                total += Decimal(line["amount"])
            elif line.get("unit_price"):
                total += Decimal(line["quantity"]["value"]) * Decimal(line["unit_price"]["amount"])
        for ac in doc.get("allowances_charges") or []:
            amount = Decimal(ac.get("amount") or 0)
            total += -amount if ac.get("indicator") == "allowance" else amount
        for tax in doc.get("taxes") or []:
            total += Decimal(tax.get("amount") or 0)
    except (InvalidOperation, KeyError, TypeError):
        return
    cents = total.quantize(Decimal("0.01"))
    tds.set(ElementRef("TDS", 1), format(cents.scaleb(2).to_integral_value(), "f"), _COMPUTED)


def _counts(mapping: Mapping, root: _Inst, hl_items: list[_Inst] | None = None) -> None:
    """CTT01 = number of lines, CTT02 = hash total of the lines' quantities (element 02 of the line segment).

    In a hierarchy (856) the lines are the HL iterations of the innermost level; CTT02 is not computed there.
    """
    mapped = {(r.edi.element.tag, r.edi.element.pos) for r in mapping.root.rules if r.edi and r.edi.element}
    if ("CTT", 1) not in mapped and ("CTT", 2) not in mapped:
        return
    lines_group = next((g for g in mapping.root.groups if g.field.text == "lines" and g.schema_loop), None)
    hierarchy = lines_group is None and any(g.hierarchy for g in mapping.root.groups)
    if lines_group is None and not hierarchy:
        return
    lines = list(hl_items or []) if hierarchy else [c for c in root.children if c.loop is lines_group.schema_loop]
    if any(isinstance(n, Loop) and n.id == "CTT" for n in root.loop.body):
        ctt = root.child_matching(SegmentSpec("CTT")).segment(SegmentSpec("CTT"))
    else:
        ctt = root.segment(SegmentSpec("CTT"))
    if hierarchy:
        mapped.discard(("CTT", 2))
    if ("CTT", 1) in mapped:
        ctt.set(ElementRef("CTT", 1), str(len(lines)), _COMPUTED)
    if ("CTT", 2) in mapped:
        total = Decimal(0)
        for line in lines:
            with contextlib.suppress(InvalidOperation):
                total += Decimal(line.segments[0].get(ElementRef(line.segments[0].tag, 2)) or "0")
        ctt.set(ElementRef("CTT", 2), format(total, "f"), _COMPUTED)


def _count_lines_edifact(mapping: Mapping, root: _Inst) -> None:
    """``CNT[CNT01-01=2].CNT01-02``, when mapped: the number of line items (LIN segments) written."""
    rule = next((r for r in mapping.root.rules if r.edi and r.edi.segment and r.edi.segment.tag == "CNT"
                 and r.edi.element == ElementRef("CNT", 1, 2)
                 and any(c.element == ElementRef("CNT", 1, 1) and "2" in c.values for c in r.edi.segment.conditions)),
                None)
    if rule is None:
        return

    def count(inst: _Inst) -> int:
        return sum(s.tag == "LIN" for s in inst.segments) + sum(count(c) for c in inst.children)

    cnt = root.segment(SegmentSpec("CNT", (Condition(ElementRef("CNT", 1, 1), ("2",)),)))
    cnt.set(ElementRef("CNT", 1, 2), str(count(root)), _COMPUTED)


def _number_packages(root: _Inst) -> None:
    """CPS01 (hierarchical ID of a DESADV packing level) when no rule wrote it: 1, 2, 3... in message order."""
    n = 0

    def walk(inst: _Inst) -> None:
        nonlocal n
        for seg in inst.segments:
            if seg.tag == "CPS":
                n += 1
                if not seg.get(ElementRef("CPS", 1)):
                    seg.set(ElementRef("CPS", 1), str(n), _COMPUTED)
        for child in inst.children:
            walk(child)

    walk(root)


def _unwritten_items(mapping: Mapping, doc: dict[str, Any]) -> None:
    """A list item no rule or group can write is an error, not a silent loss: a DESADV mapping that writes
    ``orders[0]`` refuses a ship notice with two orders.  Checked for the document's own lists."""
    allowed: dict[str, int] = {}
    for path in [r.field for r in mapping.root.rules] + [g.field for g in mapping.root.groups]:
        if not path.steps:  # a fixed code, a hierarchy
            continue
        first = path.steps[0]
        if first.index is not None:
            allowed[first.name] = max(allowed.get(first.name, 0), first.index + 1)
    for name, count in allowed.items():
        items = doc.get(name)
        if isinstance(items, list) and len(items) > count:
            raise MappingError(
                f"{mapping.name}: {name} has {len(items)} items but this mapping writes only "
                f"{', '.join(f'{name}[{i}]' for i in range(count))}"
            )


def to_edi(mapping: Mapping, document: dict[str, Any], delimiters: Delimiters | None = None) -> list[list[Any]]:
    """The transaction body (the segments between ST and SE) for a canonical ``document``.

    With ``delimiters``, a value holding one of them is a :class:`MappingError` naming the field.
    """
    if not isinstance(document, dict):
        raise MappingError(f"{mapping.name}: a canonical document is a JSON object, not {type(document).__name__}")
    if document.get("document_type") != mapping.document:
        raise MappingError(
            f"{mapping.name}: this mapping writes {mapping.document} documents, not {document.get('document_type')!r}"
        )
    try:
        doc = load_document(document).to_json()
    except DocumentError as exc:
        raise MappingError(f"{mapping.name}: the document is not valid: {'; '.join(exc.errors)}") from None
    assert mapping.grammar is not None
    _unwritten_items(mapping, doc)
    writer = _Writer(mapping, delimiters)
    root = _Inst(mapping.grammar.root)
    writer.scope(mapping.root, root, doc)
    if writer.edifact:
        _count_lines_edifact(mapping, root)
        _number_packages(root)
    else:
        _counts(mapping, root, writer.hl_items)
        _total(mapping, root, doc)
    for seg, ref, message in writer.pending:
        if not seg.get(ref) or seg.priority(ref) == _FIXED:  # a fixed code is no code for the value
            raise MappingError(message)
    out: list[list[Any]] = []
    component = None if writer.edifact else (delimiters.component if delimiters else ">")
    _serialise(root, component, out, mapping.grammar.not_written)
    return out


# ------------------------------------------------------------------ a whole interchange


class ControlCounter(Protocol):
    def take(self, kind: str) -> int:
        """The next control number of ``kind``: ``interchange`` (ISA13), ``group`` (GS06), ``transaction`` (ST02)."""
        ...


@dataclass(slots=True)
class ControlNumbers:
    """A simple in-memory counter: each ``take`` returns the current number of that kind, then adds one."""

    interchange: int = 1
    group: int = 1
    transaction: int = 1

    def take(self, kind: str) -> int:
        value = getattr(self, kind)
        setattr(self, kind, value + 1)
        return value


def render(
    document: dict[str, Any],
    profile: Any,
    control_numbers: ControlCounter | None = None,
    *,
    mapping: Mapping | None = None,
    mappings: list[str] | tuple[str, ...] = ("mappings",),
    when: _dt.datetime | None = None,
    test: bool | None = None,
) -> bytes:
    """One canonical document as a whole interchange ISA/GS/ST..SE/GE/IEA for the partner of ``profile``.

    We are the sender: ISA05/ISA06 and GS02 are the profile's receiver identity (us),
    ISA07/ISA08 and GS03 the partner's.  Delimiters and line ending come from the
    profile's X12 syntax; control numbers from ``control_numbers`` (default: a fresh
    :class:`ControlNumbers`, so 1, 1 and 1), formatted to the profile's widths.  The
    mapping is the one the profile names for the outbound document type, unless
    ``mapping`` is given.  ``test`` (default: the document's ``source.test``) sets ISA15 to T.
    """
    doc_type = document.get("document_type") if isinstance(document, dict) else None
    message = MESSAGE_OF_DOCUMENT.get(str(doc_type))
    if (mapping is not None and mapping.standard == "edifact") or (
        mapping is None and message is not None and profile.document(message, "outbound") is not None
    ):
        return _render_edifact(document, profile, control_numbers, mapping, mappings, when, test)
    tx_type = SET_OF_DOCUMENT.get(str(doc_type))
    if tx_type is None:
        raise MappingError(f"no X12 transaction set for document_type {doc_type!r}")
    version = None
    if mapping is None:
        spec = profile.document(tx_type, "outbound")
        if spec is None or not spec.mapping:
            names = " or ".join(n for n in (tx_type, message) if n)
            raise MappingError(f"partner {profile.id!r} has no outbound {names} document with a mapping "
                               f"(for {doc_type} documents)")
        mapping = load_mapping(spec.mapping, mappings)
        version = spec.version
    tx_type = mapping.transaction
    version = version or mapping.version
    ident = profile.identities.x12
    if ident is None:
        raise MappingError(f"partner {profile.id!r} has no X12 identities")
    functional_id = FUNCTIONAL_IDS.get(tx_type)
    if functional_id is None:
        raise MappingError(f"no functional group ID known for transaction set {tx_type}")
    isa_version = version[:5]
    delimiters = profile.syntax.x12.delimiters()
    if isa_version < "00402" and delimiters.repetition:
        delimiters = Delimiters(
            element=delimiters.element,
            component=delimiters.component,
            segment=delimiters.segment,
            repetition=None,
            segment_suffix=delimiters.segment_suffix,
        )
    body = mapping.to_edi(document, delimiters=delimiters)
    counter = control_numbers if control_numbers is not None else ControlNumbers()
    policy = profile.control_numbers
    isa13 = policy.interchange.format(counter.take("interchange"))
    gs06 = policy.group.format(counter.take("group"))
    st02 = policy.transaction.format(counter.take("transaction"))
    if test is None:
        test = bool((document.get("source") or {}).get("test"))
    when = when or _dt.datetime.now(_dt.UTC)
    from hub.edi.x12.writer import X12Writer

    stream = io.BytesIO()
    w = X12Writer(stream, delimiters)
    w.begin_interchange(
        sender_qualifier=ident.receiver.qualifier or "ZZ",
        sender=ident.receiver.id,
        receiver_qualifier=ident.sender.qualifier or "ZZ",
        receiver=ident.sender.id,
        control_number=isa13,
        version=isa_version,
        usage="T" if test else "P",
        when=when,
    )
    w.begin_group(
        functional_id=functional_id,
        sender=ident.application_receiver,
        receiver=ident.application_sender,
        control_number=gs06,
        version=version,
        when=when,
    )
    w.write_transaction(tx_type, st02, body)
    w.end_group()
    w.end_interchange()
    return stream.getvalue()


def _render_edifact(
    document: dict[str, Any],
    profile: Any,
    control_numbers: ControlCounter | None,
    mapping: Mapping | None,
    mappings: list[str] | tuple[str, ...],
    when: _dt.datetime | None,
    test: bool | None,
) -> bytes:
    """One canonical document as a whole EDIFACT interchange: [UNA] UNB, UNH..UNT, UNZ.

    We are the sender: UNB S002 is the profile's receiver identity (us), S003 the partner's.  Service characters,
    UNA and line ending come from the profile's ``syntax.edifact``; UNB S001 is UNOC:3; UNH S009 is the mapping's
    directory (``D96A`` -> D:96A:UN).  UNB 0020 and UNH 0062 come from ``control_numbers`` (``interchange``,
    ``transaction``), formatted to the profile's widths.  UNB 0035 is 1 when ``test``.
    """
    from hub.edi.edifact.writer import EdifactWriter

    doc_type = document.get("document_type")
    message = MESSAGE_OF_DOCUMENT.get(str(doc_type))
    version = None
    if mapping is None:
        spec = profile.document(message, "outbound") if message else None
        if spec is None or not spec.mapping:
            raise MappingError(f"partner {profile.id!r} has no outbound {message} document with a mapping")
        mapping = load_mapping(spec.mapping, mappings)
        version = spec.version
    version = (version or mapping.version).upper()
    ident = profile.identities.edifact
    if ident is None:
        raise MappingError(f"partner {profile.id!r} has no EDIFACT identities")
    if len(version) != 4 or not version.startswith("D"):
        raise MappingError(f"{mapping.name}: version {version!r} is not a UN directory such as D96A")
    delimiters = profile.syntax.edifact.delimiters()
    body = mapping.to_edi(document, delimiters=delimiters)
    counter = control_numbers if control_numbers is not None else ControlNumbers()
    policy = profile.control_numbers
    unb_ref = policy.interchange.format(counter.take("interchange"))
    unh_ref = policy.transaction.format(counter.take("transaction"))
    if test is None:
        test = bool((document.get("source") or {}).get("test"))
    stream = io.BytesIO()
    w = EdifactWriter(stream, delimiters)
    w.begin_interchange(
        sender=ident.receiver.id,
        sender_qualifier=ident.receiver.qualifier or "",
        receiver=ident.sender.id,
        receiver_qualifier=ident.sender.qualifier or "",
        control_reference=unb_ref,
        when=when or _dt.datetime.now(_dt.UTC),
        test=test,
        una=True if profile.syntax.edifact.send_una else None,
    )
    w.write_message(mapping.transaction, unh_ref, body, version="D", release=version[1:])
    w.end_interchange()
    return stream.getvalue()
