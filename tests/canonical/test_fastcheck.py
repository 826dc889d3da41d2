"""The compiled schema check (hub.canonical.fastcheck) agrees with jsonschema, and validate_document is unchanged."""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from hub.canonical import DOCUMENT_CLASSES, load_document, schema, validate_document
from hub.canonical.fastcheck import SchemaCompileError, compile_schema
from hub.canonical.model import DATE_PATTERN, DECIMAL_PATTERN, TIME_PATTERN, CanonicalError, DocumentError
from tests.canonical.conftest import EXAMPLE_FILES
from tests.canonical.strategies import documents

schema_module = importlib.import_module("hub.canonical.schema")  # the module; hub.canonical.schema is a function
NAMES = list(DOCUMENT_CLASSES)
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# ----------------------------------------------------------------------------- helpers


def _jsonschema(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name), format_checker=FormatChecker())


VALIDATORS = {name: _jsonschema(name) for name in NAMES}
CHECKS = {name: compile_schema(schema(name)) for name in NAMES}


def _where(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _jsonschema_messages(name: str, data: Any) -> list[str]:
    """What validate_document has always reported for a schema-invalid document, computed directly."""
    errors = sorted(VALIDATORS[name].iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]


def _reference_validate(data: Any) -> list[str]:
    """validate_document as it was before the compiled check: jsonschema every time, then the derived parts."""
    if not isinstance(data, dict):
        return ["$: a canonical document must be a JSON object"]
    kind = data.get("document_type")
    if kind not in DOCUMENT_CLASSES:
        return [f"$.document_type: {kind!r} is not one of {', '.join(NAMES)}"]
    messages = _jsonschema_messages(kind, data)
    if messages:
        return messages
    try:
        DOCUMENT_CLASSES[kind]._from_document(data)
    except CanonicalError as exc:
        return [f"$: {exc}"]
    return []


def _same_as_before(data: Any) -> None:
    """validate_document answers (or raises) exactly what it did before the compiled check."""
    outcomes = []
    for validate in (validate_document, _reference_validate):
        try:
            outcomes.append(("returns", validate(data)))
        except Exception as exc:  # e.g. an unhashable document_type: a TypeError, then as now
            outcomes.append(("raises", type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]


def _agree(name: str, data: Any) -> bool:
    """Asserts the compiled verdict equals jsonschema's; returns it."""
    expected = VALIDATORS[name].is_valid(data)
    got = CHECKS[name](data)
    assert got is expected, f"compiled check says {got}, jsonschema says {expected} for {json.dumps(data)[:2000]}"
    return got


def _golden_documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(GOLDEN.glob("*/*/expected.json")) + sorted(GOLDEN.glob("*/*/input.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for i, doc in enumerate(data if isinstance(data, list) else [data]):
            if isinstance(doc, dict) and doc.get("document_type") in DOCUMENT_CLASSES:
                found.append((f"{path.relative_to(GOLDEN)}[{i}]", doc))
    return found


GOLDEN_DOCS = _golden_documents()
EXAMPLES = [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in EXAMPLE_FILES]

# A valid value for each pattern of the schemas (a new pattern must be added here).
SAMPLES = {
    DECIMAL_PATTERN: "0",
    DATE_PATTERN: "2024-01-01",
    TIME_PATTERN: "00:00:00",
    "^[A-Z]{3}$": "USD",
    "^[A-Z]{2}$": "US",
    "^[0-9]{18}$": "000000000000000000",
}


def _minimal(node: dict, root: dict) -> Any:
    """The smallest valid instance of a schema node: required keys only, shortest values."""
    if "$ref" in node:
        return _minimal(root["$defs"][node["$ref"].rsplit("/", 1)[1]], root)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node["type"]
    if kind == "object":
        return {k: _minimal(node["properties"][k], root) for k in node.get("required", [])}
    if kind == "array":
        return [_minimal(node["items"], root) for _ in range(node.get("minItems", 0))]
    if kind == "string":
        return SAMPLES[node["pattern"]] if "pattern" in node else "x" * node.get("minLength", 0)
    if kind == "integer":
        return node.get("minimum", 0)
    if kind == "boolean":
        return False
    raise AssertionError(node)


def minimal_document(name: str) -> dict:
    root = schema(name)
    return _minimal(root, root)


def _base_documents(name: str) -> list[dict]:
    docs = [minimal_document(name)]
    docs += [d for _, d in GOLDEN_DOCS + EXAMPLES if d.get("document_type") == name]
    return docs


# ----------------------------------------------------------------------------- mutations

OTHER_TYPES: list[Any] = [None, True, False, 0, 1, -1, 2.0, 1.5, "", "x", "1", [], ["x"], {}, {"x": 1}]


def _nodes(data: Any, path: tuple = ()) -> list[tuple[tuple, Any]]:
    """Every (path, value) below the document, the document itself first."""
    out = [(path, data)]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _nodes(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _nodes(v, (*path, i))
    return out


def _set(data: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return data


def _is_decimal(v: Any) -> bool:
    import re

    return isinstance(v, str) and re.fullmatch(DECIMAL_PATTERN, v) is not None


def _is_date(v: Any) -> bool:
    import re

    return isinstance(v, str) and re.fullmatch(DATE_PATTERN, v) is not None


# Each mutation: (which nodes it prefers, what it does to the node); None = any node.
MUTATIONS = {
    "delete a key": (lambda v: isinstance(v, dict) and v, "delete"),
    "add an unknown key": (lambda v: isinstance(v, dict), "add"),
    "another JSON type": (None, "type"),
    "empty string": (lambda v: isinstance(v, str), ""),
    "empty list": (lambda v: isinstance(v, list), []),
    "bad date": (_is_date, "2024-02-30"),
    "bad decimal": (_is_decimal, "1,5"),
    "bad currency": (lambda v: isinstance(v, str) and len(v) == 3 and v.isupper(), "usd"),
    "negative count": (lambda v: isinstance(v, int) and not isinstance(v, bool), -1),
    "enum value not in list": (lambda v: isinstance(v, str) and v.islower() and "_" in v or v == "original", "bogus"),
}
EDGE_VALUES = [
    "2024-02-29", "2023-02-29", "2024-13-01", "2024-01-01\n", "２０２４-01-01", "1.50", "-0", "01", "1.", "12:00:00\n",
    "24:00:00", "USD\n", "US", 0, -0.0, 3.0, 3.5, float("nan"), 10**30, True,
]


@st.composite
def mutated(draw, name: str) -> dict:
    base = draw(st.sampled_from(_base_documents(name)) | documents(name).map(lambda d: d.to_json()))
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from([*MUTATIONS, "edge value"]))
        nodes = _nodes(data)[1:]  # the document itself stays an object: validate_document says so on its own
        if kind == "edge value":
            path, _ = draw(st.sampled_from(nodes))
            data = _set(data, path, draw(st.sampled_from(EDGE_VALUES)))
            continue
        prefer, action = MUTATIONS[kind]
        if action in ("delete", "add"):
            nodes = _nodes(data)
        fitting = [n for n in nodes if prefer is None or prefer(n[1])] or nodes
        path, value = draw(st.sampled_from(fitting))
        if action == "delete" and isinstance(value, dict) and value:
            del value[draw(st.sampled_from(sorted(value)))]
        elif action == "add" and isinstance(value, dict):
            value[draw(st.sampled_from(["colour", "extra", "Number", ""]))] = draw(st.sampled_from(OTHER_TYPES))
        elif action == "type":
            data = _set(data, path, copy.deepcopy(draw(st.sampled_from(OTHER_TYPES))))
        else:
            data = _set(data, path, copy.deepcopy(action))
    data["document_type"] = name  # the compiled check is chosen by document_type
    return data


# ----------------------------------------------------------------------------- (a) agreement


def test_there_are_golden_documents_of_several_types():
    assert len(GOLDEN_DOCS) >= 5
    kinds = {d["document_type"] for _, d in GOLDEN_DOCS}
    assert {"purchase_order", "purchase_order_ack", "ship_notice", "invoice"} <= kinds


@pytest.mark.parametrize(("where", "doc"), GOLDEN_DOCS + EXAMPLES, ids=[w for w, _ in GOLDEN_DOCS + EXAMPLES])
def test_golden_and_example_documents_agree(where, doc):
    assert _agree(doc["document_type"], doc) is True
    assert validate_document(doc) == _reference_validate(doc) == []


@pytest.mark.parametrize("name", NAMES)
def test_minimal_documents_are_valid(name):
    doc = minimal_document(name)
    assert set(doc) == {"document_type", "schema_version", *schema(name)["required"]}
    assert _agree(name, doc) is True
    assert validate_document(doc) == []
    assert load_document(doc).to_json() == doc


@pytest.mark.parametrize("name", NAMES)
def test_minimal_document_mutations_agree(name):
    """Every single mutation at every node of the minimal document, exhaustively."""
    base = minimal_document(name)
    verdicts = set()
    for path, value in _nodes(base):
        candidates = [copy.deepcopy(v) for v in OTHER_TYPES + EDGE_VALUES] + ["usd", "2024-02-30", "1,5", "bogus"]
        if isinstance(value, dict):
            for key in value:
                data = copy.deepcopy(base)
                del dict(_nodes(data))[path][key]
                candidates.append(("whole", data))
            data = copy.deepcopy(base)
            dict(_nodes(data))[path]["colour"] = "red"
            candidates.append(("whole", data))
        for candidate in candidates:
            if isinstance(candidate, tuple):
                data = candidate[1]
            else:
                if not path:
                    continue
                data = _set(copy.deepcopy(base), path, candidate)
            verdicts.add(_agree(name, data))
            _same_as_before(data)
    assert verdicts == {True, False}


@pytest.mark.parametrize("name", NAMES)
def test_mutated_documents_agree(name):
    @SETTINGS
    @given(mutated(name))
    def check(data):
        _agree(name, data)
        _same_as_before(data)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_random_valid_documents_agree(name):
    @settings(SETTINGS, max_examples=25)
    @given(documents(name))
    def check(doc):
        assert _agree(name, doc.to_json()) is True

    check()


@pytest.mark.parametrize(
    "value",
    [2, 2.0, 2.5, True, -1, -1.0, 0, float("inf"), "2"],
)
def test_integer_semantics_follow_jsonschema(value):
    # draft 2020-12: 2.0 is an integer, True is not; the loader is stricter, which validate_document reports
    from tests.canonical.conftest import load_example

    doc = load_example("invoice")
    doc["totals"]["line_count"] = value
    _agree("invoice", doc)
    _same_as_before(doc)


def test_odd_python_values_agree():
    class Str(str):
        pass

    doc = minimal_document("purchase_order")
    for path, value in [(("number",), Str("PO-1")), (("number",), ("P",)), (("lines",), ()), ((1,), "int key")]:
        data = copy.deepcopy(doc)
        data = _set(data, path, value)
        _agree("purchase_order", data)
        _same_as_before(data)


# ----------------------------------------------------------------------------- (b) the unknown-keyword guard


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_schema_compiles(name):
    assert callable(compile_schema(schema(name)))
    assert callable(schema_module._fast_check(name))


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "string", "maxLength": 3},
        {"type": "object", "patternProperties": {"^x": {}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": ["string", "null"]},
        {"type": "number"},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "string", "format": "email"},
        {"$ref": "other.json#/$defs/Party"},
        {"$ref": "#/$defs/Missing"},
        {"type": "string", "enum": ["a", 1]},
        {"const": 1},
        {"type": "integer", "minimum": "0"},
        {"type": "string", "minLength": -1},
        {"type": "string", "pattern": "("},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"},
    ],
)
def test_unknown_keywords_and_forms_are_refused(bad):
    with pytest.raises(SchemaCompileError):
        compile_schema(bad)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_keyword_deep_in_a_shipped_schema_is_refused(name):
    s = schema(name)
    first = sorted(s["$defs"])[0]
    s["$defs"][first]["maxProperties"] = 3  # even in a definition nothing may reference
    with pytest.raises(SchemaCompileError, match="maxProperties"):
        compile_schema(s)
    s = schema(name)
    s["properties"]["number"]["maxLength"] = 35
    with pytest.raises(SchemaCompileError, match="maxLength"):
        compile_schema(s)


def test_recursive_references():
    tree = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
                "required": ["name"],
                "additionalProperties": False,
            }
        },
    }
    check = compile_schema(tree)
    jsonschema = Draft202012Validator(tree)
    for data in [{"name": "a"}, {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]},
                 {"name": "a", "children": [{"name": "b", "children": [{}]}]}, {"name": "a", "children": [1]}]:
        assert check(data) is jsonschema.is_valid(data)


# ----------------------------------------------------------------------------- (c) validate_document unchanged


def _broken(name: str, mutate) -> dict:
    from tests.canonical.conftest import load_example

    data = load_example(name)
    mutate(data)
    return data


BROKEN = {
    "float for money": _broken("invoice", lambda d: d["lines"][0]["unit_price"].__setitem__("amount", 1.179)),
    "bad date": _broken("purchase_order", lambda d: d.__setitem__("date", "2003-02-30")),
    "bad currency": _broken("invoice", lambda d: d.__setitem__("currency", "usd")),
    "unknown key": _broken("purchase_order", lambda d: d["lines"][0].__setitem__("colour", "red")),
    "missing keys": _broken("invoice", lambda d: [d.pop("sender"), d.pop("lines")]),
    "several": _broken("ship_notice", lambda d: [d.__setitem__("extra", 1), d.__setitem__("number", ""),
                                                 d["orders"][0]["packs"][0].__setitem__("sscc", "12345")]),
    "negative count": _broken("functional_ack", lambda d: d["groups"][0].__setitem__("transactions_included", -1)),
    "enum": _broken("purchase_order", lambda d: d["parties"][0].__setitem__("role", "customer")),
    "empty list": _broken("purchase_order", lambda d: d.__setitem__("notes", [])),
    "version": _broken("invoice", lambda d: d.__setitem__("schema_version", "2.0")),
}


@pytest.mark.parametrize("what", list(BROKEN))
def test_invalid_documents_keep_their_jsonschema_messages(what):
    data = BROKEN[what]
    kind = data["document_type"]
    expected = _jsonschema_messages(kind, data)
    assert expected  # the case is invalid by the schema
    assert CHECKS[kind](data) is False
    assert validate_document(data) == expected
    with pytest.raises(DocumentError) as info:
        load_document(data)
    assert info.value.errors == expected


def test_derived_parts_are_still_checked():
    from tests.canonical.conftest import load_example

    data = load_example("ship_notice")
    data["lines"][0]["shipped_quantity"]["value"] = "999"
    assert CHECKS["ship_notice"](data) is True  # the schema cannot say it
    errors = validate_document(data)
    assert errors == _reference_validate(data) and errors[0].startswith("$: ")
    with pytest.raises(DocumentError):
        load_document(data)


def test_not_a_document():
    assert validate_document([]) == ["$: a canonical document must be a JSON object"]
    assert validate_document({"document_type": "order"}) == _reference_validate({"document_type": "order"})


def test_jsonschema_is_not_asked_about_valid_documents(monkeypatch, example):
    def refuse(*args):
        raise AssertionError("jsonschema ran on a valid document")

    monkeypatch.setattr(schema_module, "_schema_errors", refuse)
    assert validate_document(example) == []
    assert load_document(example).to_json() == example


def test_load_document_builds_the_object_once(monkeypatch, example):
    cls = DOCUMENT_CLASSES[example["document_type"]]
    calls = []
    original = cls._from_document.__func__

    def counting(klass, data):
        calls.append(1)
        return original(klass, data)

    monkeypatch.setattr(cls, "_from_document", classmethod(counting))
    assert load_document(example).to_json() == example
    assert len(calls) == 1


def test_a_failing_compiled_check_falls_back_to_jsonschema(monkeypatch, example):
    def broken(name):
        def check(data):
            raise TypeError("cannot judge")

        return check

    monkeypatch.setattr(schema_module, "_fast_check", broken)
    assert validate_document(example) == []


def test_a_time_with_a_trailing_newline_is_a_clear_error_not_a_crash():
    """Regression: "14:30:00\\n" passed the schema pattern ($ matches before a final newline) and then made the
    loader raise a bare ValueError; it is now a document error naming the field."""
    from hub.canonical import DocumentError, load_document, validate_document

    doc = json.loads((GOLDEN / "common" / "856-basic" / "input.json").read_text())
    doc["time"] = "14:30:00\n"
    problems = validate_document(doc)
    assert problems and "time" in problems[0] and "HH:MM:SS" in problems[0]
    with pytest.raises(DocumentError):
        load_document(doc)
