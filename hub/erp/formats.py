"""How a canonical document is rendered for an ERP that reads files: JSON, XML or CSV.

JSON is the canonical form itself.  XML and CSV exist because many ERPs import
only those; both are mechanical renderings of the JSON, so that nothing is
invented here and the ERP-side import can be written against a rule rather
than against examples.

**XML** (written with lxml, UTF-8, with an XML declaration) — a faithful,
reversible mapping; :func:`from_xml` is its mirror and ``from_xml(to_xml(d)) == d``
for every JSON document whose keys are XML names:

* the root element is named after ``document_type`` (``<purchase_order>``) and
  holds one child element per top-level key, ``document_type`` included;
* an object becomes an element with one child element per key, in order
  (an empty object is marked ``type="object"``);
* a list becomes an element marked ``type="list"`` whose members are repeated
  ``<item>`` child elements, each mapped by these same rules — so ``lines``
  becomes ``<lines type="list"><item>…</item><item>…</item></lines>``;
* a string is the element's text (no attribute); numbers, booleans and null are
  text marked ``type="number"`` / ``type="boolean"`` (``true``/``false``) /
  ``type="null"`` (empty), so that a reader can restore the JSON type.

Canonical amounts and quantities are decimal *strings*, so in practice only a
few flags carry a ``type`` attribute.

**CSV** (written with pandas, UTF-8, comma-separated, with a header row) — one
row per document line, lossy by design (a flat table):

* every row repeats the header fields (everything except ``lines``), then the
  fields of its line;
* nested fields are flattened into dotted column names: objects by key, lists
  by zero-based index — ``sender.id``, ``parties.0.name``,
  ``lines.quantity.value``, ``lines.product_ids.1.value``;
* header columns come first in document order, then line columns in order of
  first appearance; a cell a line does not have is empty;
* booleans are ``true``/``false``, null is empty; empty lists and objects add no
  column; a document without lines is a single row of header fields.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
from lxml import etree

from hub.errors import TerminalError

FORMATS = ("json", "xml", "csv")
EXTENSIONS = {"json": ".json", "xml": ".xml", "csv": ".csv"}
ITEM = "item"

_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def to_json(document: dict[str, Any]) -> bytes:
    """Canonical JSON as UTF-8 text, indented for people, ending with a newline."""
    try:
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TerminalError(f"document is not JSON-serialisable: {exc}") from exc


# ------------------------------------------------------------------------ XML


def _xml_name(name: Any, where: str) -> str:
    text = str(name)
    if not _XML_NAME.match(text) or text.lower().startswith("xml"):
        raise TerminalError(f"{where}: {text!r} cannot be an XML element name")
    return text


def _fill(element: etree._Element, value: Any, where: str) -> None:
    if isinstance(value, dict):
        if not value:
            element.set("type", "object")
        for key, child in value.items():
            _fill(etree.SubElement(element, _xml_name(key, where)), child, f"{where}.{key}")
    elif isinstance(value, list):
        element.set("type", "list")
        for index, child in enumerate(value):
            _fill(etree.SubElement(element, ITEM), child, f"{where}[{index}]")
    elif value is None:
        element.set("type", "null")
    elif isinstance(value, bool):
        element.set("type", "boolean")
        element.text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        element.set("type", "number")
        element.text = json.dumps(value)
    elif isinstance(value, str):
        element.text = value
    else:
        raise TerminalError(f"{where}: {type(value).__name__} is not a JSON value")


def to_xml(document: dict[str, Any]) -> bytes:
    """The XML rendering described in the module docstring; :class:`TerminalError` when it cannot be made."""
    if not isinstance(document, dict):
        raise TerminalError("a canonical document must be a JSON object")
    root = etree.Element(_xml_name(document.get("document_type") or "document", "document_type"))
    try:
        for key, value in document.items():
            _fill(etree.SubElement(root, _xml_name(key, "$")), value, f"$.{key}")
    except ValueError as exc:  # lxml refuses control characters and the like in text
        raise TerminalError(f"document cannot be written as XML: {exc}") from exc
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _read(element: etree._Element) -> Any:
    kind = element.get("type")
    children = [c for c in element if isinstance(c.tag, str)]
    text = element.text or ""
    if kind == "list":
        return [_read(child) for child in children]
    if kind == "null":
        return None
    if kind == "boolean":
        return text.strip() == "true"
    if kind == "number":
        return json.loads(text)
    if kind == "object" or children:
        return {child.tag: _read(child) for child in children}
    return text


def from_xml(data: bytes) -> dict[str, Any]:
    """The mirror of :func:`to_xml`: the JSON document an XML rendering stands for."""
    root = etree.fromstring(data)
    return {child.tag: _read(child) for child in root if isinstance(child.tag, str)}


# ------------------------------------------------------------------------ CSV


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted name, text)`` pairs for every scalar in ``value``: objects by key, lists by index."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from flatten(child, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from flatten(child, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, _scalar(value)


def to_frame(document: dict[str, Any]) -> pd.DataFrame:
    """The CSV table as a DataFrame (all cells text): one row per line, header fields repeated."""
    if not isinstance(document, dict):
        raise TerminalError("a canonical document must be a JSON object")
    header = dict(flatten({k: v for k, v in document.items() if k != "lines"}))
    lines = document.get("lines") or []
    if not isinstance(lines, list):
        raise TerminalError("$.lines: expected a list")
    columns = list(header)
    seen = set(columns)
    rows: list[dict[str, str]] = []
    for line in lines or [None]:
        row = dict(header)
        if line is not None:
            for name, text in flatten(line, "lines"):
                if name not in seen:
                    seen.add(name)
                    columns.append(name)
                row[name] = text
        rows.append(row)
    return pd.DataFrame(rows, columns=columns, dtype=object).fillna("")


def to_csv(document: dict[str, Any]) -> bytes:
    """The CSV rendering described in the module docstring."""
    buffer = io.StringIO()
    to_frame(document).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def render(document: dict[str, Any], fmt: str) -> bytes:
    """``document`` as the bytes of a ``fmt`` file (json, xml or csv)."""
    if fmt == "json":
        return to_json(document)
    if fmt == "xml":
        return to_xml(document)
    if fmt == "csv":
        return to_csv(document)
    raise ValueError(f"unknown ERP file format {fmt!r} (known: {', '.join(FORMATS)})")
