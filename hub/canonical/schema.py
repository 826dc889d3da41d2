"""JSON Schemas of the canonical documents: built from the code, shipped as files, used to validate.

The files in ``hub/canonical/schemas/`` are generated from the dataclasses;
regenerate them after changing a document with::

    python -m hub.canonical

A test fails when the shipped files differ from the code.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from hub.canonical.documents import DOCUMENT_CLASSES, Document
from hub.canonical.fastcheck import compile_schema
from hub.canonical.model import CanonicalError, DocumentError

SCHEMA_DIR = Path(__file__).with_name("schemas")


def names() -> list[str]:
    """The canonical document names: purchase_order, purchase_order_ack, ship_notice, invoice, functional_ack."""
    return list(DOCUMENT_CLASSES)


def _check_name(name: str) -> type[Document]:
    try:
        return DOCUMENT_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown canonical document {name!r} (known: {', '.join(names())})") from None


def build_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of ``name`` as the code defines it."""
    return _check_name(name).json_schema()


def render_schema(name: str) -> str:
    """The exact text of the shipped schema file for ``name``."""
    return json.dumps(build_schema(name), indent=2, ensure_ascii=False) + "\n"


@cache
def _shipped(name: str) -> dict[str, Any]:
    _check_name(name)
    text = resources.files("hub.canonical.schemas").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of ``name`` (a copy of the shipped file); ``KeyError`` for an unknown name."""
    return copy.deepcopy(_shipped(name))


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(_shipped(name), format_checker=FormatChecker())


def _where(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@cache
def _fast_check(name: str) -> Callable[[Any], bool]:
    """The compiled "valid or not" check of the shipped schema ``name`` (see :mod:`hub.canonical.fastcheck`)."""
    return compile_schema(_shipped(name))


def _schema_errors(kind: str, data: dict[str, Any]) -> list[str]:
    """jsonschema's messages for ``data`` (empty when valid), sorted by path then message."""
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]


def _check(data: Any) -> tuple[list[str], Document | None]:
    """(every problem of ``data``, the document object when there is none)."""
    if not isinstance(data, dict):
        return ["$: a canonical document must be a JSON object"], None
    kind = data.get("document_type")
    if kind not in DOCUMENT_CLASSES:
        return [f"$.document_type: {kind!r} is not one of {', '.join(names())}"], None
    try:  # the compiled check answers "valid" for valid documents, fast; jsonschema has the messages
        valid = _fast_check(kind)(data)
    except Exception:  # an input the compiled check cannot judge: let jsonschema do it, as always
        valid = False
    if not valid:
        messages = _schema_errors(kind, data)
        if messages:
            return messages, None
    try:  # what a schema cannot say: derived parts (ship notice lines) agree with the rest
        document = DOCUMENT_CLASSES[kind]._from_document(data)
    except CanonicalError as exc:
        return [f"$: {exc}"], None
    return [], document


def validate_document(data: Any) -> list[str]:
    """Every problem of ``data`` as a canonical document (empty when valid), each as ``path: message``."""
    return _check(data)[0]


def load_document(data: Any) -> Document:
    """The document object for ``data``, its class chosen by ``document_type``; ``DocumentError`` when invalid."""
    errors, document = _check(data)
    if errors:
        raise DocumentError(errors)
    assert document is not None
    return document


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Writes every schema file from the code; returns the paths written."""
    written = []
    for name in names():
        path = directory / f"{name}.json"
        path.write_text(render_schema(name), encoding="utf-8")
        written.append(path)
    return written
