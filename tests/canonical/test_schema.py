"""The JSON Schemas: shipped files equal the code, and validation catches what it should."""

from __future__ import annotations

import pytest

from hub.canonical import build_schema, names, schema, validate_document
from hub.canonical.schema import SCHEMA_DIR, render_schema
from tests.canonical.conftest import load_example

NAMES = ["purchase_order", "purchase_order_ack", "ship_notice", "invoice", "functional_ack"]


def test_names():
    assert names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_shipped_schema_matches_the_code(name):
    shipped = (SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8")
    assert shipped == render_schema(name), f"run `python -m hub.canonical` to regenerate {name}.json"
    assert schema(name) == build_schema(name)


def test_no_stray_schema_files():
    assert sorted(p.stem for p in SCHEMA_DIR.glob("*.json")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name):
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema(name))
    s = schema(name)
    assert s["properties"]["document_type"] == {"const": name, "description": "Kind of canonical document"}
    assert {"document_type", "schema_version", "number", "sender", "receiver", "lines"} <= set(s["required"])


def test_schema_returns_a_copy():
    schema("invoice")["title"] = "changed"
    assert schema("invoice")["title"] != "changed"


def test_unknown_schema_name():
    with pytest.raises(KeyError, match="unknown canonical document"):
        schema("despatch_advice")


def _errors(name, mutate):
    data = load_example(name)
    mutate(data)
    return validate_document(data)


def test_float_for_money_is_an_error():
    errors = _errors("invoice", lambda d: d["lines"][0]["unit_price"].__setitem__("amount", 1.179))
    assert errors == ["$.lines[0].unit_price.amount: 1.179 is not of type 'string'"]


def test_float_for_quantity_is_an_error():
    errors = _errors("purchase_order", lambda d: d["lines"][0]["quantity"].__setitem__("value", 10))
    assert errors and errors[0].startswith("$.lines[0].quantity.value")


def test_malformed_decimal_string_is_an_error():
    for bad in ("1,5", "1e3", "01.5", ".5", "NaN", " 1"):
        errors = _errors("invoice", lambda d, bad=bad: d["totals"].__setitem__("total_amount", bad))
        assert errors and errors[0].startswith("$.totals.total_amount"), bad


def test_unknown_key_is_an_error():
    errors = _errors("purchase_order", lambda d: d["lines"][0].__setitem__("colour", "red"))
    assert len(errors) == 1 and "$.lines[0]" in errors[0] and "colour" in errors[0]
    assert _errors("ship_notice", lambda d: d.__setitem__("extra", 1))


def test_wrong_types_are_errors():
    assert _errors("purchase_order", lambda d: d.__setitem__("number", 548177))
    assert _errors("purchase_order", lambda d: d.__setitem__("lines", {}))
    assert _errors("functional_ack", lambda d: d["groups"][0].__setitem__("transactions_included", "2"))
    assert _errors("functional_ack", lambda d: d["groups"][0].__setitem__("transactions_included", True))
    assert _errors("purchase_order", lambda d: d["parties"][0].__setitem__("role", "customer"))


def test_null_and_empty_optional_lists_are_errors():
    # they would not round-trip: the canonical form leaves them out
    assert _errors("purchase_order", lambda d: d.__setitem__("currency", None))
    assert _errors("purchase_order", lambda d: d.__setitem__("notes", []))


def test_dates_are_iso_8601():
    assert _errors("purchase_order", lambda d: d.__setitem__("date", "20030627"))
    assert _errors("purchase_order", lambda d: d.__setitem__("date", "2003-02-30"))
    assert _errors("purchase_order", lambda d: d["dates"][1].__setitem__("time", "0800"))


def test_missing_required_keys():
    errors = _errors("invoice", lambda d: [d.pop("sender"), d.pop("lines")])
    assert any("'sender' is a required property" in e for e in errors)
    assert any("'lines' is a required property" in e for e in errors)


def test_document_type_and_version():
    assert validate_document([]) == ["$: a canonical document must be a JSON object"]
    assert "is not one of" in validate_document({"document_type": "order"})[0]
    assert _errors("invoice", lambda d: d.__setitem__("schema_version", "2.0"))


def test_codes_are_checked():
    assert _errors("invoice", lambda d: d.__setitem__("currency", "usd"))
    assert _errors("ship_notice", lambda d: d["orders"][0]["packs"][0].__setitem__("sscc", "12345"))


def test_lines_may_be_empty():
    data = load_example("purchase_order_ack")
    data["lines"] = []
    data["status"] = "rejected"
    assert validate_document(data) == []
