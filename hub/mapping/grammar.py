"""What the mapping language needs to know of a standard: X12 or EDIFACT.

The language itself (locations, groups, tables, both directions) is the same
for both standards; a :class:`Grammar` answers the standard-specific questions:

* the message structure as a tree of :class:`~hub.edi.x12.schema.Loop` and
  :class:`~hub.edi.x12.schema.SegNode` (an EDIFACT segment group ``SG25`` is a
  loop whose ID is ``SG25``, its trigger the group's first segment);
* an element's type and maximum length, or why a reference is wrong;
* the envelope segments a header rule may read (ISA/GS, UNB/UNG) and the
  segments the body never writes (ST/SE, UNH/UNT);
* how segments received are sorted into loop iterations (``build_tree``).

Element references are positional in both standards: ``BEG03``; ``NAD02-01``
is component 1 of the 2nd data element of NAD (EDIFACT composites have
components, simple data elements have none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hub.edi.x12.schema import Loop, SegNode, TransactionSchema, load_schema, resolve_version


class Grammar:
    standard: str = ""
    envelope: dict[str, int] = {}  # envelope segments a header rule may read: tag -> element count
    not_written: frozenset[str] = frozenset()  # written by the envelope, not by the body rules
    root: Loop
    id: str

    def element_type(self, tag: str, pos: int, component: int | None) -> str | None:
        """The element's type (X12 ``N2``, ``R``, ``DT``...; EDIFACT ``an..35``, ``n..15``); ``ValueError`` when
        the reference does not exist.  ``None``: unknown but allowed (a segment checked for position only)."""
        raise NotImplementedError

    def max_length(self, tag: str, pos: int, component: int | None) -> int | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


# ------------------------------------------------------------------ X12


class X12Grammar(Grammar):
    standard = "x12"
    envelope = {"ISA": 16, "GS": 8}
    not_written = frozenset({"ISA", "GS", "ST", "SE"})

    def __init__(self, schema: TransactionSchema) -> None:
        self.schema = schema
        self.dictionary = schema.dictionary
        self.root = schema.root
        self.id = schema.id

    def describe(self) -> str:
        return f"the X12 {self.dictionary.version} dictionary"

    def element_type(self, tag: str, pos: int, component: int | None) -> str | None:
        seg = self.dictionary.segments.get(tag)
        if seg is None:
            raise ValueError(f"unknown segment {tag!r} in {self.describe()}")
        if seg.elements is None:
            return None
        if not 1 <= pos <= len(seg.elements):
            raise ValueError(f"{tag} has elements 01 to {len(seg.elements):02d}")
        usage = seg.elements[pos - 1]
        if usage.composite:
            comps = usage.definition.components  # type: ignore[union-attr]
            if component is None:
                raise ValueError(f"{tag}{pos:02d} is a composite; name a component ({tag}{pos:02d}-01)")
            if not 1 <= component <= len(comps):
                raise ValueError(f"composite {usage.ref} has components 01 to {len(comps):02d}")
            return comps[component - 1][0].type
        if component is not None:
            raise ValueError(f"{tag}{pos:02d} is not a composite")
        return usage.definition.type  # type: ignore[union-attr]

    def max_length(self, tag: str, pos: int, component: int | None) -> int | None:
        seg = self.dictionary.segments.get(tag)
        if seg is None or seg.elements is None or component is not None or pos > len(seg.elements):
            return None
        usage = seg.elements[pos - 1]
        return None if usage.composite else usage.definition.max  # type: ignore[union-attr]


@cache
def x12_grammar(transaction: str, version: str) -> X12Grammar | None:
    schema = load_schema(transaction, resolve_version(version))
    return None if schema is None else X12Grammar(schema)


# ------------------------------------------------------------------ EDIFACT


class EdifactGrammar(Grammar):
    """A UN/EDIFACT message structure (``hub/edi/edifact/schemas``) seen as loops and segment positions."""

    standard = "edifact"
    envelope = {"UNB": 11, "UNG": 8}
    not_written = frozenset({"UNB", "UNG", "UNH", "UNT", "UNS"})

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self.directory = compiled.directory
        self.segments = compiled.segments
        self.id = f"{compiled.type} {compiled.directory}"
        self.root = Loop(0, None, "M", 1, None, 0)
        counter = [0]
        self._convert(compiled.root, self.root, counter)
        self.mandatory_uns = any(isinstance(n, SegNode) and n.tag == "UNS" for n in self.root.body)

    def _convert(self, entry: Any, loop: Loop, counter: list[int]) -> None:
        for pos, child in enumerate(entry.children):
            req = "M" if child.mandatory else "O"
            if child.is_group:
                sub = Loop(child.id, child.name, req, child.max, loop, pos)
                loop.body.append(sub)
                self._convert(child, sub, counter)
            else:
                counter[0] += 1
                loop.body.append(SegNode(counter[0], child.name, req, child.max, "", loop, pos))

    def describe(self) -> str:
        return f"the EDIFACT {self.directory} directory"

    def _constituent(self, tag: str, pos: int) -> Any:
        if tag not in self.segments:
            raise ValueError(f"unknown segment {tag!r} in {self.describe()}")
        cons = self.segments[tag]
        if cons is None:
            return None
        if not 1 <= pos <= len(cons):
            raise ValueError(f"{tag} has data elements 01 to {len(cons):02d}")
        return cons[pos - 1]

    def element_type(self, tag: str, pos: int, component: int | None) -> str | None:
        c = self._constituent(tag, pos)
        if c is None:
            return None
        if c.components is not None:
            if component is None:
                raise ValueError(f"{tag}{pos:02d} is composite {c.id}; name a component ({tag}{pos:02d}-01)")
            if not 1 <= component <= len(c.components):
                raise ValueError(f"composite {c.id} has components 01 to {len(c.components):02d}")
            return c.components[component - 1][0].format
        if component is not None:
            raise ValueError(f"{tag}{pos:02d} is simple data element {c.id}, not a composite")
        return c.element.format

    def max_length(self, tag: str, pos: int, component: int | None) -> int | None:
        try:
            c = self._constituent(tag, pos)
        except ValueError:
            return None
        if c is None:
            return None
        if c.components is not None:
            if component is None or not 1 <= component <= len(c.components):
                return None
            return c.components[component - 1][0].max
        return c.element.max

    def composites(self, tag: str) -> set[int]:
        """Positions (1-based) of the composite data elements of ``tag``."""
        cons = self.segments.get(tag) or ()
        return {i + 1 for i, c in enumerate(cons) if c.components is not None}


@cache
def edifact_grammar(message: str, directory: str) -> EdifactGrammar | None:
    from hub.edi.edifact.schema import compile_message

    compiled = compile_message(directory, message)
    return None if compiled is None else EdifactGrammar(compiled)


def grammar_for(standard: str, transaction: str, version: str) -> Grammar | None:
    if standard == "edifact":
        return edifact_grammar(transaction, version)
    return x12_grammar(transaction, version)


# ------------------------------------------------------------------ sorting received segments into loops


@dataclass(eq=False, slots=True)
class Instance:
    """One iteration of a loop (or the whole set for the root): its own segments and its child loops."""

    loop: Loop
    segments: list[list[str]] = field(default_factory=list)
    children: list[Instance] = field(default_factory=list)


def build_tree_x12(schema: TransactionSchema, segments: list[list[str]]) -> Instance:
    """Sorts the segments into loop iterations the way the X12 validator's walk does."""
    from hub.edi.x12.schema import COMPLEX, ENTER, ERROR, ITERATE

    root = Instance(schema.root)
    stack = [root]
    state = 0
    for seg in segments:
        nxt, kind, arg = schema.transition(state, seg[0])
        if kind == ERROR:
            stack[-1].segments.append(seg)  # misplaced: kept where it was met
            continue
        state = nxt
        node = schema.nodes[nxt]
        loop = arg if kind in (ENTER, ITERATE) else (arg.loop if kind == COMPLEX else None)
        if loop is not None:
            while len(stack) > 1 and stack[-1].loop is not loop.parent:
                stack.pop()
            inst = Instance(loop)
            stack[-1].children.append(inst)
            stack.append(inst)
        else:
            while len(stack) > 1 and stack[-1].loop is not node.loop:
                stack.pop()
        stack[-1].segments.append(seg)
    return root


def build_tree_forward(root_loop: Loop, segments: list[list[str]]) -> Instance:
    """Sorts EDIFACT segments into segment-group iterations.

    The usual EDIFACT reading: a segment belongs at the first position, at or
    after the current one, of the innermost group that has it; a group's
    trigger segment met at the group's own position in its parent starts the
    next iteration.  Mandatory positions may be skipped (the validator reports
    that); a segment that fits nowhere is kept in the iteration where it was met.
    """
    root = Instance(root_loop)
    stack: list[tuple[Instance, int]] = [(root, 0)]
    for seg in segments:
        tag = seg[0]
        placed = False
        for depth in range(len(stack) - 1, -1, -1):
            inst, pos = stack[depth]
            body = inst.loop.body
            # a group's trigger starts a new iteration (found in the parent), never repeats inside one
            for i in range(max(pos, 1) if depth else pos, len(body)):
                node = body[i]
                if isinstance(node, SegNode):
                    if node.tag == tag:
                        del stack[depth + 1:]
                        stack[depth] = (inst, i)
                        inst.segments.append(seg)
                        placed = True
                        break
                elif node.trigger.tag == tag:
                    del stack[depth + 1:]
                    stack[depth] = (inst, i)
                    child = Instance(node)
                    child.segments.append(seg)
                    inst.children.append(child)
                    stack.append((child, 0))
                    placed = True
                    break
            if placed:
                break
        if not placed:
            stack[-1][0].segments.append(seg)
    return root


def build_tree(grammar: Grammar, segments: list[list[str]]) -> Instance:
    if isinstance(grammar, X12Grammar):
        return build_tree_x12(grammar.schema, segments)
    return build_tree_forward(grammar.root, segments)
