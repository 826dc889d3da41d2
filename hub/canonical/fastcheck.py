"""A compiled "valid or not" check for the canonical JSON Schemas.

:func:`compile_schema` turns a JSON Schema (draft 2020-12) into one Python
function ``check(instance) -> bool`` built from nested closures, with no error
collection: it answers only whether the instance is valid, and does so much
faster than :mod:`jsonschema`.  :func:`hub.canonical.schema.validate_document`
runs it first and asks jsonschema for the messages only when it says "invalid".

It knows exactly the subset of JSON Schema that the generated schemas use
(see ``_schema`` / ``_object_schema`` in :mod:`hub.canonical.model`), with the
semantics of jsonschema's ``Draft202012Validator`` with a ``FormatChecker``:

* ``type``: ``object``, ``array``, ``string``, ``integer`` (a float with an
  integral value counts, a boolean does not), ``boolean``;
* ``properties``, ``required``, ``additionalProperties`` (``true``/``false``);
* ``items`` (one schema), ``minItems``;
* ``minLength`` (code points), ``pattern`` (``re.search``), ``format: date``
  (``YYYY-MM-DD`` that is a real calendar date), ``minimum``;
* ``enum`` and ``const`` of strings; ``$ref`` to ``#/$defs/<name>`` (recursion allowed);
* annotations, which do not affect validity: ``description``, ``title``,
  ``$schema`` (must be draft 2020-12), ``$id``, ``$comment``.

Any other keyword, or a known keyword in a form outside that subset, raises
:class:`SchemaCompileError` when compiling, so a future schema change cannot
silently weaken validation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from numbers import Number
from typing import Any

__all__ = ["DRAFT_2020_12", "KEYWORDS", "SchemaCompileError", "compile_schema"]

Check = Callable[[Any], bool]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

#: Keywords that do not change validity (metadata).
ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$comment"})
#: Every keyword the compiler understands.
KEYWORDS = ANNOTATIONS | {
    "$defs",
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "minLength",
    "pattern",
    "format",
    "minimum",
    "enum",
    "const",
}
TYPES = frozenset({"object", "array", "string", "integer", "boolean"})
FORMATS = frozenset({"date"})

_REF = re.compile(r"#/\$defs/([A-Za-z_][A-Za-z0-9_]*)")
# What jsonschema's "date" format checker requires before date.fromisoformat.
_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII).fullmatch


class SchemaCompileError(ValueError):
    """The schema uses a keyword (or a form of one) that the compiler does not know."""


def compile_schema(schema: Any) -> Check:
    """``check(instance) -> bool`` for ``schema``: True exactly when jsonschema finds no error.

    Raises :class:`SchemaCompileError` for anything outside the supported subset.
    """
    return _Compiler(schema).root()


# ----------------------------------------------------------------------------- leaves


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _is_date(value: str) -> bool:
    """jsonschema's ``date`` format: ``\\d{4}-\\d{2}-\\d{2}`` (ASCII digits) and a real calendar date."""
    if _DATE_SHAPE(value) is None:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_integer(value: Any) -> bool:
    """jsonschema's draft 2020-12 ``integer``: an int (not a bool) or a float with an integral value."""
    if isinstance(value, int):
        return not isinstance(value, bool)
    return isinstance(value, float) and value.is_integer()


def _both(first: Check, second: Check) -> Check:
    return lambda v: first(v) and second(v)


def _all(checks: list[Check]) -> Check:
    checks = [c for c in checks if c is not _always]
    if not checks:
        return _always
    if _never in checks:
        return _never
    out = checks[0]
    for more in checks[1:]:
        out = _both(out, more)
    return out


def _string(min_length: int | None, search: Any, is_date: bool, enum: frozenset[str] | None) -> Check:
    """A string with the given constraints (each one optional); fused for the shapes the schemas use."""
    if enum is not None and min_length is None and search is None and not is_date:
        return lambda v: isinstance(v, str) and v in enum
    if min_length is not None and search is None and not is_date and enum is None:
        n = min_length
        return lambda v: isinstance(v, str) and len(v) >= n
    if search is not None and min_length is None and enum is None:
        if not is_date:
            return lambda v: isinstance(v, str) and search(v) is not None

        def date_pattern(v: Any) -> bool:
            return isinstance(v, str) and search(v) is not None and _is_date(v)

        return date_pattern
    if min_length is None and search is None and not is_date and enum is None:
        return lambda v: isinstance(v, str)
    parts = _string_parts(min_length, search, is_date, enum)
    rest = _all(parts)
    return lambda v: isinstance(v, str) and rest(v)


def _string_parts(min_length: int | None, search: Any, is_date: bool, enum: frozenset[str] | None) -> list[Check]:
    """The constraints on a value already known to be a string."""
    parts: list[Check] = []
    if min_length is not None:
        n = min_length
        parts.append(lambda v: len(v) >= n)
    if search is not None:
        parts.append(lambda v: search(v) is not None)
    if is_date:
        parts.append(_is_date)
    if enum is not None:
        parts.append(lambda v: v in enum)
    return parts


def _integer(minimum: int | float | None) -> Check:
    if minimum is None:
        return _is_integer
    m = minimum

    def check(v: Any) -> bool:
        if v.__class__ is int:
            return not v < m
        return _is_integer(v) and not v < m

    return check


def _array(item: Check, min_items: int | None) -> Check:
    n = min_items or 0
    if item is _always:
        return lambda v: isinstance(v, list) and len(v) >= n
    return lambda v: isinstance(v, list) and len(v) >= n and all(map(item, v))


def _object(props: dict[str, Check], required: frozenset[str], closed: bool) -> Check:
    get = props.get
    if closed:

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return False
            for key, value in v.items():
                f = get(key)
                if f is None or not f(value):
                    return False
            return not required or v.keys() >= required

        return check

    def check_open(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        for key, value in v.items():
            f = get(key)
            if f is not None and not f(value):
                return False
        return not required or v.keys() >= required

    return check_open


# ----------------------------------------------------------------------------- compiler


class _Compiler:
    def __init__(self, schema: Any) -> None:
        self.schema = schema
        self.defs: dict[str, Any] = {}
        self.compiled: dict[str, Check | None] = {}  # None while being compiled (a recursive $ref)

    def root(self) -> Check:
        schema = self.schema
        if isinstance(schema, dict):
            if "$schema" in schema and schema["$schema"] != DRAFT_2020_12:
                raise SchemaCompileError(f"#: $schema {schema['$schema']!r} is not {DRAFT_2020_12}")
            defs = schema.get("$defs", {})
            if not isinstance(defs, dict):
                raise SchemaCompileError("#/$defs: must be an object")
            self.defs = defs
        check = self.node(schema, "#", root=True)
        for name in self.defs:  # every definition must compile, referenced or not
            self.ref(f"#/$defs/{name}", f"#/$defs/{name}")
        return check

    def ref(self, ref: Any, where: str) -> Check:
        match = _REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None or match.group(1) not in self.defs:
            raise SchemaCompileError(f"{where}: unsupported $ref {ref!r} (only #/$defs/<name> of this schema)")
        name = match.group(1)
        if name in self.compiled:
            done = self.compiled[name]
            if done is not None:
                return done
            compiled = self.compiled
            return lambda v: compiled[name](v)  # type: ignore[misc]  # recursion: resolved when called
        self.compiled[name] = None
        check = self.node(self.defs[name], f"#/$defs/{name}")
        self.compiled[name] = check
        return check

    def node(self, node: Any, where: str, root: bool = False) -> Check:
        if node is True:
            return _always
        if node is False:
            return _never
        if not isinstance(node, dict):
            raise SchemaCompileError(f"{where}: a schema must be an object or a boolean, not {node!r}")
        unknown = sorted(set(node) - KEYWORDS)
        if unknown:
            raise SchemaCompileError(f"{where}: unsupported keyword(s) {', '.join(map(repr, unknown))}")
        if "$defs" in node and not root:
            raise SchemaCompileError(f"{where}: $defs is only supported at the root")
        if "$schema" in node and not root:
            raise SchemaCompileError(f"{where}: $schema is only supported at the root")

        kind = node.get("type")
        if kind is not None and (not isinstance(kind, str) or kind not in TYPES):
            raise SchemaCompileError(f"{where}: unsupported type {kind!r} (known: {', '.join(sorted(TYPES))})")

        # -- constraints per instance type; each applies only to instances of its type
        min_length = self.count(node, "minLength", where)
        search = None
        if "pattern" in node:
            pattern = node["pattern"]
            if not isinstance(pattern, str):
                raise SchemaCompileError(f"{where}: pattern must be a string")
            try:
                search = re.compile(pattern).search
            except re.error as exc:
                raise SchemaCompileError(f"{where}: bad pattern {pattern!r}: {exc}") from None
        is_date = False
        if "format" in node:
            if node["format"] not in FORMATS:
                raise SchemaCompileError(f"{where}: unsupported format {node['format']!r}")
            is_date = True
        has_string = min_length is not None or search is not None or is_date

        minimum = node.get("minimum")
        if "minimum" in node and (isinstance(minimum, bool) or not isinstance(minimum, int | float)):
            raise SchemaCompileError(f"{where}: minimum must be a number")

        min_items = self.count(node, "minItems", where)
        item = self.node(node["items"], f"{where}/items") if "items" in node else _always
        has_array = min_items is not None or "items" in node

        props: dict[str, Check] = {}
        if "properties" in node:
            if not isinstance(node["properties"], dict):
                raise SchemaCompileError(f"{where}: properties must be an object")
            for key, sub in node["properties"].items():
                props[key] = self.node(sub, f"{where}/properties/{key}")
        required = node.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise SchemaCompileError(f"{where}: required must be a list of strings")
        closed = node.get("additionalProperties", True)
        if not isinstance(closed, bool):
            raise SchemaCompileError(f"{where}: additionalProperties must be true or false")
        closed = not closed
        has_object = "properties" in node or bool(required) or closed

        # -- keywords that apply to every instance
        enum = None
        if "enum" in node:
            values = node["enum"]
            if not isinstance(values, list) or not values or not all(isinstance(e, str) for e in values):
                raise SchemaCompileError(f"{where}: enum must be a non-empty list of strings")
            enum = frozenset(values)
        general: list[Check] = []
        if "const" in node:
            const = node["const"]
            if not isinstance(const, str):
                raise SchemaCompileError(f"{where}: const must be a string")
            general.append(lambda v: v == const)  # jsonschema's equal() when one side is a string
        if "$ref" in node:
            general.append(self.ref(node["$ref"], f"{where}/$ref"))

        # -- the check: the type (with its constraints fused in), then the rest
        checks: list[Check] = []
        if kind == "string":
            checks.append(_string(min_length, search, is_date, enum))
            enum = None
        elif kind == "integer":
            checks.append(_integer(minimum))
            minimum = None
        elif kind == "boolean":
            checks.append(lambda v: isinstance(v, bool))
        elif kind == "array":
            checks.append(_array(item, min_items))
        elif kind == "object":
            checks.append(_object(props, frozenset(required), closed))
        # constraints of the other types: vacuous under a type, guarded without one
        if kind is None:
            if has_string:
                rest = _all(_string_parts(min_length, search, is_date, None))
                checks.append(lambda v: not isinstance(v, str) or rest(v))
            if has_array:
                array = _array(item, min_items)
                checks.append(lambda v: not isinstance(v, list) or array(v))
            if has_object:
                obj = _object(props, frozenset(required), closed)
                checks.append(lambda v: not isinstance(v, dict) or obj(v))
        if minimum is not None and kind is None:
            m = minimum
            checks.append(lambda v: isinstance(v, bool) or not isinstance(v, Number) or not v < m)
        if enum is not None:
            values_set = enum
            checks.append(lambda v: isinstance(v, str) and v in values_set)
        return _all(checks + general)

    @staticmethod
    def count(node: dict[str, Any], keyword: str, where: str) -> int | None:
        if keyword not in node:
            return None
        value = node[keyword]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SchemaCompileError(f"{where}: {keyword} must be a non-negative integer")
        return value
