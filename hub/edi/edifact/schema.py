"""EDIFACT schemas: loading the JSON data files and compiling them.

A directory file (``schemas/D96A.json`` ...) holds simple data elements,
composites, segments and message structures (see its ``about``).  Compiling a
message structure gives a :class:`CompiledMessage`: every segment position and
segment group becomes an :class:`Entry`, and the validator walks them with a
dict-driven state machine whose transitions are computed once per
``(position, tag)`` and cached (see :mod:`hub.edi.edifact.validate`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).with_name("schemas")

_FORMAT = re.compile(r"^(an|a|n)(\.\.)?(\d+)$")
_STATUS = re.compile(r"^([A-Z0-9]{3}|SG\d+) ([MC])(\d+)$")


class SchemaError(ValueError):
    """A schema data file is malformed."""


@dataclass(frozen=True, slots=True)
class ElementSpec:
    id: str
    kind: str  # "an", "a" or "n"
    min: int
    max: int

    @property
    def format(self) -> str:
        return f"{self.kind}{'' if self.min == self.max else '..'}{self.max}"


@dataclass(frozen=True, slots=True)
class Constituent:
    """A data element of a segment: simple (``components`` None) or composite."""

    id: str
    mandatory: bool
    element: ElementSpec | None = None
    components: tuple[tuple[ElementSpec, bool], ...] | None = None


@dataclass(eq=False, slots=True)
class Entry:
    """A segment position or a segment group in a message structure."""

    id: int
    name: str  # segment tag, or group name ("SG25")
    mandatory: bool
    max: int
    parent: Entry | None
    is_group: bool = False
    children: list[Entry] = field(default_factory=list)
    index: int = 0  # position among the parent's children

    @property
    def tag(self) -> str:
        """The segment tag (for a group: the tag of its trigger segment)."""
        return self.children[0].tag if self.is_group else self.name

    @property
    def loop_id(self) -> str | None:
        e = self if self.is_group else self.parent
        return e.name if e is not None and e.parent is not None else None

    def describe(self) -> str:
        if self.is_group:
            return f"segment group {self.name} (starting with {self.tag})"
        return f"segment {self.name}"


@dataclass(eq=False, slots=True)
class CompiledMessage:
    type: str
    directory: str
    root: Entry
    entries: list[Entry]
    segments: dict[str, tuple[Constituent, ...] | None]  # tag -> constituents (None: position only)
    tags: frozenset[str]


@dataclass(eq=False, slots=True)
class Directory:
    name: str
    elements: dict[str, ElementSpec]
    composites: dict[str, tuple[tuple[ElementSpec, bool], ...]]
    segments: dict[str, tuple[Constituent, ...] | None]
    structures: dict[str, list]
    versions: dict[str, list[tuple[str, str]]]


def _parse_format(element_id: str, text: str) -> ElementSpec:
    m = _FORMAT.match(text)
    if m is None:
        raise SchemaError(f"element {element_id}: bad format {text!r}")
    kind, dots, n = m.groups()
    size = int(n)
    return ElementSpec(element_id, kind, 1 if dots else size, size)


def _items(text: str) -> list[tuple[str, bool]]:
    return [(t.rstrip("!"), t.endswith("!")) for t in text.split()]


def _raw(name: str) -> dict:
    path = SCHEMA_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(path)
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@cache
def load_directory(name: str) -> Directory:
    """Load (and merge with its ``base``) one directory file."""
    data = _raw(name)
    chain = [data]
    while "base" in chain[-1]:
        chain.append(_raw(chain[-1]["base"]))
    elements_raw: dict[str, str] = {}
    composites_raw: dict[str, str] = {}
    segments_raw: dict[str, str | None] = {}
    for d in reversed(chain):
        elements_raw.update(d.get("elements", {}))
        elements_raw.update(d.get("extra_elements", {}))
        composites_raw.update(d.get("composites", {}))
        composites_raw.update(d.get("extra_composites", {}))
        segments_raw.update(d.get("segments", {}))
    elements = {k: _parse_format(k, v) for k, v in elements_raw.items()}
    composites: dict[str, tuple[tuple[ElementSpec, bool], ...]] = {}
    for cid, text in composites_raw.items():
        comps = []
        for eid, mand in _items(text):
            if eid not in elements:
                raise SchemaError(f"{name}: composite {cid} uses unknown element {eid}")
            comps.append((elements[eid], mand))
        composites[cid] = tuple(comps)
    segments: dict[str, tuple[Constituent, ...] | None] = {}
    for tag, text in segments_raw.items():
        if text is None:
            segments[tag] = None
            continue
        cons = []
        for cid, mand in _items(text):
            if cid in composites:
                cons.append(Constituent(cid, mand, components=composites[cid]))
            elif cid in elements:
                cons.append(Constituent(cid, mand, element=elements[cid]))
            else:
                raise SchemaError(f"{name}: segment {tag} uses unknown element or composite {cid}")
        segments[tag] = tuple(cons)
    structures = dict(data.get("messages", {}))
    for msg, other in data.get("same_structure_as", {}).items():
        structures.setdefault(msg, _raw(other)["messages"][msg])
    versions = {k: [tuple(v) for v in vs] for k, vs in data.get("versions", {}).items()}
    return Directory(name, elements, composites, segments, structures, versions)  # type: ignore[arg-type]


def _build(items: list, parent: Entry, entries: list[Entry], tags: set[str]) -> None:
    for i, item in enumerate(items):
        if isinstance(item, list):
            head = item[0]
            m = _STATUS.match(head)
            if m is None or not m.group(1).startswith("SG"):
                raise SchemaError(f"bad group header {head!r}")
            g = Entry(len(entries), m.group(1), m.group(2) == "M", int(m.group(3)), parent, is_group=True, index=i)
            entries.append(g)
            parent.children.append(g)
            _build(item[1:], g, entries, tags)
            if not g.children or g.children[0].is_group:
                raise SchemaError(f"group {g.name} must start with a segment")
        else:
            m = _STATUS.match(item)
            if m is None:
                raise SchemaError(f"bad segment entry {item!r}")
            e = Entry(len(entries), m.group(1), m.group(2) == "M", int(m.group(3)), parent, index=i)
            entries.append(e)
            parent.children.append(e)
            tags.add(e.name)


@cache
def compile_message(directory: str, msg_type: str) -> CompiledMessage | None:
    try:
        d = load_directory(directory)
    except FileNotFoundError:
        return None
    structure = d.structures.get(msg_type)
    if structure is None:
        return None
    root = Entry(-1, msg_type, True, 1, None, is_group=True)
    entries: list[Entry] = []
    tags: set[str] = set()
    _build(structure, root, entries, tags)
    for tag in tags:
        if tag not in d.segments:
            raise SchemaError(f"{directory} {msg_type}: segment {tag} is not in the segment directory")
    return CompiledMessage(msg_type, directory, root, entries, d.segments, frozenset(tags))


def available() -> list[tuple[str, str]]:
    """``(directory, message type)`` pairs that have a schema."""
    out = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        d = load_directory(path.stem)
        out.extend((d.name, m) for m in sorted(d.structures))
    return out


def find_schema(msg_type: str, version: str, release: str, agency: str = "UN") -> CompiledMessage | None:
    """The compiled schema for a message identified by UNH S009, or ``None``."""
    service = load_directory("SERVICE")
    if msg_type in service.structures:
        if (version, release) in service.versions.get(msg_type, []) or not version:
            return compile_message("SERVICE", msg_type)
        return None
    if version != "D" or not (release.isascii() and release.isalnum() and len(release) == 3):
        return None
    name = f"D{release.upper()}"
    if not (SCHEMA_DIR / f"{name}.json").is_file():
        return None
    return compile_message(name, msg_type)


def nearest_directory(version: str, release: str) -> str | None:
    """The directory whose segment definitions stand in for a UN directory we have no file for.

    Element formats change little between directories, so a D.97B message is
    checked element by element against D.96A (and D.00A onwards against
    D.01B), without its structure; findings say so.
    """
    if version != "D" or len(release) != 3 or not release[:2].isdigit() or not release.isascii():
        return None
    year = int(release[:2])
    return "D96A" if year >= 90 else "D01B"
