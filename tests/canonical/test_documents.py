"""Round trips of the example documents, and the Python API around them."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal

import pytest

from hub.canonical import (
    DOCUMENT_CLASSES,
    CanonicalError,
    DocumentError,
    FunctionalAck,
    Invoice,
    PurchaseOrder,
    PurchaseOrderAck,
    Quantity,
    ShipNotice,
    load_document,
    validate_document,
)
from tests.canonical.conftest import EXAMPLE_FILES, load_example


def test_every_document_type_has_an_example():
    kinds = {json.loads(p.read_text())["document_type"] for p in EXAMPLE_FILES}
    assert kinds == set(DOCUMENT_CLASSES)


def test_example_round_trips_exactly(example):
    assert validate_document(example) == []
    doc = load_document(example)
    assert isinstance(doc, DOCUMENT_CLASSES[example["document_type"]])
    assert doc.to_json() == example
    again = type(doc).from_json(doc.to_json())
    assert again == doc
    # through real JSON text too: nothing is a float, nothing is lost
    assert json.loads(json.dumps(doc.to_json())) == example


def test_every_document_has_the_common_keys(example):
    for key in ("document_type", "schema_version", "number", "sender", "receiver", "lines"):
        assert key in example
    assert list(load_document(example).to_json())[:2] == ["document_type", "schema_version"]


def test_money_and_quantities_are_decimals():
    po = load_document(load_example("purchase_order"))
    assert isinstance(po, PurchaseOrder)
    line = po.lines[1]
    assert line.unit_price.amount == Decimal("11.0833")
    assert line.quantity == Quantity(value=Decimal("6"), unit="EA")
    assert po.date == date(2003, 6, 27)
    assert po.to_json()["lines"][0]["unit_price"]["amount"] == "12.50"  # trailing zero kept


def test_load_document_chooses_the_class():
    assert isinstance(load_document(load_example("purchase_order_ack")), PurchaseOrderAck)
    assert isinstance(load_document(load_example("ship_notice")), ShipNotice)
    assert isinstance(load_document(load_example("invoice")), Invoice)
    assert isinstance(load_document(load_example("functional_ack_contrl")), FunctionalAck)


def test_ship_notice_lines_are_the_flattened_items():
    asn = load_document(load_example("ship_notice"))
    assert [(ln.purchase_order_number, ln.sscc, ln.line_number) for ln in asn.lines] == [
        ("99999817", "000123456789012352", "1"),
        ("99999817", "000123456789012369", "2"),
    ]
    assert asn.orders[0].packs[1].items[0].shipped_quantity.value == 24


def test_ship_notice_lines_must_agree_with_orders():
    data = load_example("ship_notice")
    data["lines"][1]["shipped_quantity"]["value"] = "7"
    errors = validate_document(data)
    assert len(errors) == 1 and "lines" in errors[0] and "does not match" in errors[0]
    with pytest.raises(DocumentError):
        load_document(data)


def test_from_json_rejects_invalid_documents():
    data = load_example("invoice")
    data["totals"]["amount_due"] = 2113.39
    with pytest.raises(DocumentError) as info:
        Invoice.from_json(data)
    assert "$.totals.amount_due" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_json_rejects_another_document_type():
    with pytest.raises(CanonicalError):
        Invoice.from_json(load_example("purchase_order"))


def test_components_are_strict_without_the_schema():
    with pytest.raises(CanonicalError, match="unknown key"):
        Quantity.from_json({"value": "1", "unit": "EA", "uom": "EA"})
    with pytest.raises(CanonicalError, match="not a decimal"):
        Quantity.from_json({"value": "1e3"})
    with pytest.raises(CanonicalError, match="expected a string"):
        Quantity.from_json({"value": 1.5})
    with pytest.raises(CanonicalError, match="missing required"):
        Quantity.from_json({"unit": "EA"})


def test_to_json_refuses_what_json_cannot_carry():
    with pytest.raises(CanonicalError):
        Quantity(value=Decimal("NaN")).to_json()


def test_validation_does_not_modify_its_input(example):
    before = copy.deepcopy(example)
    validate_document(example)
    load_document(example)
    assert example == before
