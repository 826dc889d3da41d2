"""The machinery under the canonical documents: dataclasses <-> JSON <-> JSON Schema.

Every canonical class is a keyword-only dataclass deriving from :class:`Model`.
The type hints alone decide the JSON form and the JSON Schema, so the two cannot
drift.  The JSON form is canonical: ``None`` and empty optional lists are left
out, decimals are strings (never floats), dates ``YYYY-MM-DD``, times
``HH:MM:SS``.  Because the schema forbids ``null`` and empty optional lists,
every valid document round-trips exactly (``to_json(from_json(d)) == d``).
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import MISSING, field, fields
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

DECIMAL_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
# Python's $ also matches before a final newline; the loader must not (JSON Schema's $ does not either).
_DECIMAL_RE = re.compile(DECIMAL_PATTERN.removesuffix("$") + r"\Z")
_DATE_RE = re.compile(DATE_PATTERN.removesuffix("$") + r"\Z")
_TIME_RE = re.compile(TIME_PATTERN.removesuffix("$") + r"\Z")


class Constraint(typing.NamedTuple):
    """Extra JSON Schema keywords of a constrained type (``Annotated[str, constraint(pattern=...)]``)."""

    items: tuple[tuple[str, Any], ...]


def constraint(**keywords: Any) -> Constraint:
    return Constraint(tuple(keywords.items()))


# Constrained strings and integers (the keywords go into the JSON Schema, hence into validation).
Currency = Annotated[str, constraint(pattern="^[A-Z]{3}$")]
Country = Annotated[str, constraint(pattern="^[A-Z]{2}$")]
Sscc = Annotated[str, constraint(pattern="^[0-9]{18}$")]
Count = Annotated[int, constraint(minimum=0)]
Position = Annotated[int, constraint(minimum=1)]


class CanonicalError(ValueError):
    """A value that is not a valid canonical document (or part of one)."""


class DocumentError(CanonicalError):
    """A document failed validation; ``errors`` holds every message."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def req(description: str) -> Any:
    return field(metadata={"description": description})


def opt(description: str) -> Any:
    return field(default=None, metadata={"description": description})


def many(description: str) -> Any:
    return field(default_factory=list, metadata={"description": description})


# ----------------------------------------------------------------- type hints


def _split(hint: Any) -> tuple[Any, dict[str, Any]]:
    """(base type, schema extras) of a hint, with Annotated and ``X | None`` removed."""
    extra: dict[str, Any] = {}
    while True:
        origin = get_origin(hint)
        if origin is Annotated:
            args = get_args(hint)
            hint = args[0]
            for meta in args[1:]:
                if isinstance(meta, Constraint):
                    extra.update(meta.items)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(hint) if a is not type(None)]
            if len(args) != 1:
                raise TypeError(f"unsupported union {hint!r}")
            hint = args[0]
        else:
            return hint, extra


class FieldInfo(typing.NamedTuple):
    name: str
    hint: Any
    required: bool
    is_list: bool
    description: str


# ---------------------------------------------------------------- the model


class Model:
    """Base of every canonical class (used with ``@dataclass(kw_only=True)``)."""

    #: JSON keys computed from the object (name -> type hint), emitted after the fields.
    __derived__: ClassVar[dict[str, Any]] = {}

    @classmethod
    @cache
    def _fields(cls) -> tuple[FieldInfo, ...]:
        hints = get_type_hints(cls, include_extras=True)
        out = []
        for f in fields(cls):  # type: ignore[arg-type]
            hint = hints[f.name]
            base, _ = _split(hint)
            required = f.default is MISSING and f.default_factory is MISSING
            out.append(FieldInfo(f.name, hint, required, get_origin(base) is list, f.metadata.get("description", "")))
        return tuple(out)

    # ---- to JSON

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for info in self._fields():
            value = getattr(self, info.name)
            if value is None or (info.is_list and not info.required and not value):
                continue
            out[info.name] = _dump(value, info.hint, info.name)
        for name, hint in self.__derived__.items():
            out[name] = _dump(getattr(self, name), hint, name)
        return out

    # ---- from JSON

    @classmethod
    def from_json(cls, data: Any) -> Any:
        return cls._from_dict(data, cls.__name__)

    @classmethod
    def _from_dict(cls, data: Any, path: str) -> Any:
        if not isinstance(data, dict):
            raise CanonicalError(f"{path}: expected an object, got {_jsontype(data)}")
        infos = {i.name: i for i in cls._fields()}
        unknown = [k for k in data if k not in infos and k not in cls.__derived__]
        if unknown:
            raise CanonicalError(f"{path}: unknown key(s) {', '.join(map(repr, sorted(unknown)))}")
        kwargs = {}
        for name, info in infos.items():
            if name not in data:
                if info.required:
                    raise CanonicalError(f"{path}: missing required key {name!r}")
                continue
            kwargs[name] = _load(data[name], info.hint, f"{path}.{name}")
        obj = cls(**kwargs)
        for name, hint in cls.__derived__.items():
            if name not in data:
                raise CanonicalError(f"{path}: missing required key {name!r}")
            if _dump(getattr(obj, name), hint, name) != data[name]:
                raise CanonicalError(f"{path}.{name}: does not match the rest of the document")
        return obj

    # ---- JSON Schema

    @classmethod
    def _object_schema(cls, defs: dict[str, Any]) -> dict[str, Any]:
        props: dict[str, Any] = {}
        required = []
        for info in cls._fields():
            prop = _schema(info.hint, defs)
            if info.is_list and not info.required:
                prop["minItems"] = 1
            if info.description:
                prop["description"] = info.description
            props[info.name] = prop
            if info.required:
                required.append(info.name)
        for name, hint in cls.__derived__.items():
            props[name] = _schema(hint, defs)
            required.append(name)
        schema: dict[str, Any] = {"type": "object"}
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith(cls.__name__ + "("):
            schema["description"] = " ".join(doc.split())
        schema["properties"] = props
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


def _jsontype(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


_SHAPES: dict[int, tuple[Any, tuple[Any, Any, tuple[Any, ...], bool]]] = {}


def _shape(hint: Any) -> tuple[Any, Any, tuple[Any, ...], bool]:
    """(base type, its origin, its args, is a Model) of a hint, computed once per hint object: loading and
    dumping a document asks it for every value, and ``typing``'s introspection (even hashing an Annotated
    hint) is slow.  Keyed by identity; the hint is kept in the entry so that its id stays its own."""
    entry = _SHAPES.get(id(hint))
    if entry is not None and entry[0] is hint:
        return entry[1]
    base, _ = _split(hint)
    shape = (base, get_origin(base), get_args(base), isinstance(base, type) and issubclass(base, Model))
    _SHAPES[id(hint)] = (hint, shape)
    return shape


def _dump(value: Any, hint: Any, path: str) -> Any:
    base, origin, args, is_model = _shape(hint)
    if origin is list:
        (item,) = args
        return [_dump(v, item, path) for v in value]
    if is_model:
        return value.to_json()
    if base is Decimal:
        if not isinstance(value, Decimal) or not value.is_finite():
            raise CanonicalError(f"{path}: {value!r} is not a finite Decimal")
        return format(value, "f")
    if base is date:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise CanonicalError(f"{path}: {value!r} is not a date")
        return value.isoformat()
    if base is time:
        if not isinstance(value, time) or value.microsecond or value.tzinfo:
            raise CanonicalError(f"{path}: {value!r} is not a time in whole seconds without zone")
        return value.isoformat()
    return value


def _load(raw: Any, hint: Any, path: str) -> Any:
    base, origin, args, is_model = _shape(hint)
    if origin is list:
        if not isinstance(raw, list):
            raise CanonicalError(f"{path}: expected an array, got {_jsontype(raw)}")
        (item,) = args
        return [_load(v, item, f"{path}[{i}]") for i, v in enumerate(raw)]
    if is_model:
        return base._from_dict(raw, path)
    if origin is Literal:
        if raw not in args or not isinstance(raw, str):
            raise CanonicalError(f"{path}: {raw!r} is not one of {', '.join(args)}")
        return raw
    if base is bool:
        if not isinstance(raw, bool):
            raise CanonicalError(f"{path}: expected a boolean, got {_jsontype(raw)}")
        return raw
    if base is int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise CanonicalError(f"{path}: expected an integer, got {_jsontype(raw)}")
        return raw
    if not isinstance(raw, str):
        raise CanonicalError(f"{path}: expected a string, got {_jsontype(raw)}")
    if base is str:
        return raw
    if base is Decimal:
        if not _DECIMAL_RE.match(raw):
            raise CanonicalError(f"{path}: {raw!r} is not a decimal string")
        try:
            return Decimal(raw)
        except InvalidOperation as exc:  # pragma: no cover - the pattern excludes it
            raise CanonicalError(f"{path}: {raw!r} is not a decimal") from exc
    if base is date:
        try:
            if not _DATE_RE.match(raw):
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise CanonicalError(f"{path}: {raw!r} is not a date YYYY-MM-DD") from exc
    if base is time:
        if not _TIME_RE.match(raw):
            raise CanonicalError(f"{path}: {raw!r} is not a time HH:MM:SS")
        return time.fromisoformat(raw)
    raise TypeError(f"unsupported type {base!r}")  # pragma: no cover


def _schema(hint: Any, defs: dict[str, Any]) -> dict[str, Any]:
    base, extra = _split(hint)
    origin = get_origin(base)
    if origin is list:
        (item,) = get_args(base)
        schema: dict[str, Any] = {"type": "array", "items": _schema(item, defs)}
    elif isinstance(base, type) and issubclass(base, Model):
        name = base.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = base._object_schema(defs)
        schema = {"$ref": f"#/$defs/{name}"}
    elif origin is Literal:
        schema = {"type": "string", "enum": list(get_args(base))}
    elif base is bool:
        schema = {"type": "boolean"}
    elif base is int:
        schema = {"type": "integer"}
    elif base is str:
        schema = {"type": "string", "minLength": 1}
    elif base is Decimal:
        schema = {"type": "string", "pattern": DECIMAL_PATTERN}
    elif base is date:
        schema = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    elif base is time:
        schema = {"type": "string", "pattern": TIME_PATTERN}
    else:  # pragma: no cover
        raise TypeError(f"unsupported type {base!r}")
    schema.update(extra)
    return schema
