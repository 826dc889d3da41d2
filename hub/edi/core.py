"""Types shared by the X12 and EDIFACT engines.

Nothing here does I/O.  A segment is a list of decoded element strings whose
item 0 is the segment tag, so that ``seg[1]`` is the first element (``BEG01``,
``UNB`` S001 ...), the same numbering the standards use; ``seg[0]`` is the tag.  Composite and
repeated elements stay as one string; :meth:`Delimiters.components` and
:meth:`Delimiters.repetitions` split them on demand, which keeps the hot path
(tokenizing) to two C-level ``str.split`` calls per segment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"

ENVELOPE = "envelope"
SYNTAX = "syntax"
SCHEMA = "schema"

LAYERS = (ENVELOPE, SYNTAX, SCHEMA)
SEVERITIES = (ERROR, WARNING)


Segment = list
"""One segment: a plain ``list`` of strings ``[tag, element1, element2, ...]``.

Deliberately not a subclass: building a subclass instance per segment costs a
fifth of the tokenizer's time.  Use :func:`element` for a possibly absent
element.
"""


def element(seg: list[str], index: int, default: str = "") -> str:
    """Element ``index`` of ``seg`` (1-based, as in ``BEG03``), or ``default`` when absent."""
    return seg[index] if 0 < index < len(seg) else default


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The service characters of one interchange, read from ISA or UNA.

    ``segment_suffix`` is what follows each terminator when writing (for
    example ``"\\r\\n"``); it is not part of the data.  ``release`` and
    ``decimal`` only exist in EDIFACT; ``repetition`` is ``None`` where the
    version has none (X12 before 00402, EDIFACT syntax 3 without UNA).
    """

    element: str = "*"
    component: str = ":"
    segment: str = "~"
    repetition: str | None = None
    release: str | None = None
    decimal: str = "."
    segment_suffix: str = ""

    def components(self, value: str) -> list[str]:
        """Split a composite element into its components.

        With a release character (EDIFACT) the element is in its escaped form
        as read; released separators do not split, and the components come
        back unescaped.
        """
        rel = self.release
        if rel is None or rel not in value:
            return value.split(self.component)
        return [self.unescape(c) for c in split_released(value, self.component, rel)]

    def repetitions(self, value: str) -> list[str]:
        """Split a repeated element into its occurrences (escaped form kept)."""
        if self.repetition is None:
            return [value]
        rel = self.release
        if rel is None or rel not in value:
            return value.split(self.repetition)
        return split_released(value, self.repetition, rel)

    def unescape(self, value: str) -> str:
        """Remove release characters (EDIFACT): ``?+`` -> ``+``, ``??`` -> ``?``."""
        rel = self.release
        if rel is None or rel not in value:
            return value
        out = []
        i = 0
        n = len(value)
        while i < n:
            ch = value[i]
            if ch == rel and i + 1 < n:
                out.append(value[i + 1])
                i += 2
                continue
            if ch != rel:
                out.append(ch)
            i += 1
        return "".join(out)

    def escape(self, value: str) -> str:
        """Put the release character before every service character in ``value`` (EDIFACT)."""
        rel = self.release
        if rel is None:
            return value
        specials = [rel, self.element, self.component, self.segment]
        if self.repetition:
            specials.append(self.repetition)
        for ch in specials:
            if ch in value:
                break
        else:
            return value
        if rel in value:
            value = value.replace(rel, rel + rel)
        for ch in specials[1:]:
            if ch in value:
                value = value.replace(ch, rel + ch)
        return value

    def service_characters(self) -> set[str]:
        chars = {self.element, self.component, self.segment}
        if self.repetition:
            chars.add(self.repetition)
        if self.release:
            chars.add(self.release)
        return chars


def split_released(text: str, sep: str, rel: str) -> list[str]:
    """``text.split(sep)``, except where ``sep`` is preceded by an odd run of ``rel``.

    The parts keep their release characters (escaped form).  The C-level split
    does the work; only parts ending in ``rel`` are looked at again.
    """
    parts = text.split(sep)
    if rel not in text:
        return parts
    out: list[str] = []
    pending: str | None = None
    for part in parts:
        if pending is not None:
            part = pending + sep + part
            pending = None
        if part.endswith(rel) and (len(part) - len(part.rstrip(rel))) % 2 == 1:
            pending = part
            continue
        out.append(part)
    if pending is not None:
        out.append(pending)
    return out


@dataclass(slots=True)
class Finding:
    """A problem found while reading or validating.

    Position indexes: ``interchange``, ``group`` and ``transaction`` are
    0-based ordinals (interchange in the file, group in its interchange,
    transaction in its group).  ``segment`` is the 1-based position of the
    segment inside its transaction set (ST/UNH = 1, as reported in 997 AK302,
    999 IK302 and CONTRL UCS01) when ``transaction`` is set, otherwise the
    1-based position of the segment in the interchange (ISA/UNB = 1), or in the
    file when no interchange could be read.  ``element`` is the 1-based element
    position in its segment (AK401 / IK401 / UCD01), ``component`` the 1-based
    component position, ``repetition`` the 1-based occurrence.

    ``ack_code`` carries the standard's error code at the finding's level:
    TA105 (interchange), AK905/IK9 (group), AK502/IK502 (transaction set),
    AK304/IK304 (segment), AK403/IK403 (element) for X12; UN/ECE 0085 for
    EDIFACT.  ``ack_level`` names that level: ``interchange``, ``group``,
    ``transaction``, ``segment`` or ``element``.
    """

    code: str
    severity: str
    layer: str
    message: str
    interchange: int | None = None
    group: int | None = None
    transaction: int | None = None
    segment: int | None = None
    element: int | None = None
    component: int | None = None
    repetition: int | None = None
    segment_id: str | None = None
    element_ref: str | None = None
    loop_id: str | None = None
    ack_level: str | None = None
    ack_code: str | None = None
    bad_value: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape (the CLI's ``findings`` entries)."""
        return {
            "severity": self.severity,
            "layer": self.layer,
            "code": self.code,
            "message": self.message,
            "interchange": self.interchange,
            "group": self.group,
            "transaction": self.transaction,
            "segment": self.segment,
            "element": self.element,
        }

    def to_dict(self) -> dict[str, Any]:
        """Every field, for storage and debugging."""
        return asdict(self)

    def where(self) -> str:
        """A short human-readable position, e.g. ``interchange 1, group 1, set 2, segment 5 (BEG), element 3``."""
        parts = []
        if self.interchange is not None:
            parts.append(f"interchange {self.interchange + 1}")
        if self.group is not None:
            parts.append(f"group {self.group + 1}")
        if self.transaction is not None:
            parts.append(f"transaction {self.transaction + 1}")
        if self.segment is not None:
            seg = f"segment {self.segment}"
            if self.segment_id:
                seg += f" ({self.segment_id})"
            parts.append(seg)
        elif self.segment_id:
            parts.append(f"segment {self.segment_id}")
        if self.element is not None:
            el = f"element {self.element}"
            if self.component is not None:
                el += f".{self.component}"
            parts.append(el)
        return ", ".join(parts) if parts else "file"


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
