"""EDIFACT INVOIC and ORDERS through the common mappings (mappings/common/{INVOIC,ORDERS}.{D96A,D01B}.yaml).

* Every INVOIC and ORDERS message of the shared corpus maps through the common mapping of its directory
  (D.96A for the D.9x directories, D.01B for D.00A and later), with its document number and line count
  asserted per message; the messages that cannot make a valid canonical document fail with a
  MappingError naming the message and what is missing.
* The golden inputs (tests/golden/common/{invoic,orders}-basic/input.edi) go canonical -> to_edi -> EDIFACT
  -> canonical unchanged, under D.96A and, with UNH saying D:01B, under D.01B.
"""

from __future__ import annotations

import io
import re

import pytest

from hub.edi.edifact import read_document
from hub.edi.edifact.validate import EdifactValidator
from hub.edi.edifact.writer import EdifactWriter
from hub.mapping import MappingError, load_mapping
from tests.conftest import REPO, corpus_path

MAPPINGS = [str(REPO / "mappings")]
GOLDEN = REPO / "tests" / "golden" / "common"


def mapping_name(msg) -> str:
    """common/INVOIC.D96A for D.96A-D.99B (96B, 97A, 97B...), common/INVOIC.D01B for D.00A and later (03A, 03B)."""
    directory = "D96A" if msg.release.startswith("9") else "D01B"
    return f"common/{msg.type}.{directory}"


def mapping_for(msg):
    return load_mapping(mapping_name(msg), MAPPINGS)


# ------------------------------------------------------------------ the corpus, message by message

# (control number, document number, line count) of a message that maps; (control number, [texts]) of one
# that must fail: the MappingError names the message and each text.
FAILS = "fails"

INVOIC = {
    # BGM and one NAD, no LIN at all: an invoice without lines is not a canonical invoice
    "berryworks_invoic_d97b_una-caret-dollar.edi": [
        ("00000000000117", FAILS, ["message INVOIC '00000000000117'", "'lines' is a required property"]),
    ],
    "bots_invoic_d96a_2msgs.edi": [("111424", "20051098", 3), ("111425", "20051099", 3)],
    "edifabric_invoic_d00a_multiple-groups.txt": [("509010117", "12345678", 1), ("509010117", "12345678", 1)],
    "edifabric_invoic_d00a_unob_crlf.txt": [("509010117", "12345678", 1)],
    "pydifact_invoic_d97a_unoa1.edi": [("1", "1060113800026", 1)],
    # LIN+2++:IN' has an item number type (IN) but no item number: no product_ids[0] (LIN03-01 is required for
    # the item; see test_smooks_invoice_content)
    "smooks_invoic_d03b_unoc4_repetition-sep.txt": [("30", "539602", 2)],
    "staedi_invoic_d97b_una-custom-delims.edi": [("00000000000117", "342459", 2)],
    "staedi_invoic_d97b_wrapped.edi": [("00000000000117", "342459", 2)],
}

ORDERS = {
    # message 3 has no BGM and no LIN
    "ballerina_orders_d03a_3msgs_no-newlines.edi": [
        ("0001", "PO20001", 1),
        ("0002", "PO20002", 1),
        ("0003", FAILS, ["message ORDERS '0003' (message 3)", "'number' is a required property",
                         "'lines' is a required property"]),
    ],
    # generated lorem-ipsum test data: the only line has no ordered quantity (QTY 449 and 45, no 21) and the
    # first party's country is 'Lor'
    "berryworks_orders_d01b_unoe.edi": [
        ("000001", FAILS, ["message ORDERS '000001'", "lines[0]: 'quantity' is a required property",
                           "address.country: 'Lor'"]),
    ],
    "bots_orders_d96a_24interchanges_crlf.edi": [
        ("I1L0401010000T", "123", 3),
        ("I1L0401030000T", "1234", 3),
        ("I1L0401040000T", "12345", 3),
        ("I1L0401050000T", "123456", 3),
        ("I1L0401060000T", "1234567", 3),
        ("I1L0401070000T", "12345678", 3),
        ("I1L0401080000T", "123456789", 3),
        ("1234567890", "1234567890", 3),
        # an order with a number (BGM 12345678901) but no LIN: not a canonical purchase order
        ("I1L0401100000T", FAILS, ["message ORDERS 'I1L0401100000T'", "'lines' is a required property"]),
        ("I1L0401110000T", "123456789012", 3),
        ("I1L0401120000T", "12345678901234", 3),
        ("I1L0401140000T", "12345678901234", 3),
        ("I1L0403060200T", "123456789012345", 1),
        ("I1L0403070200T", "1234567890123456", 1),
        ("I1L0403170200T", "12345678901234567", 3),
        ("I1L0403170300T", "123456789012", 3),
        ("I1L0403170400T", "123456789012345678", 3),
        ("I1L0403190200T", "12345567789000", 6),
        ("I1L0404020300T", "12345123456", 3),
        ("I1L0404040100T", "123456789", 3),
        ("I1L0404060200T", "1234567", 3),
        ("I1L0404060300T", "123456", 3),
        ("I1L0404040400T", "12345", 3),
        ("T", "T", 1),
    ],
    "bots_orders_d96a_2interchanges_3msgs.edi": [
        ("T0000000004-1", "T0000000004-1", 1),
        ("T0000000004-2", "T0000000004-2", 1),
        ("T0000000004-3", "T0000000004-3", 1),
    ],
    "bots_orders_d96a_una_unoc_12msgs.edi": [
        ("107", "4200000064", 2),
        ("108", "4200001051", 1),
        ("109", "4200006016", 1),
        ("110", "4200000063", 1),
        ("111", "4200003095", 3),
        ("112", "4200001051", 1),
        ("113", "4200000064", 2),
        ("114", "4200003095", 3),
        ("115", "4200003091", 1),
        ("116", "4200003091", 1),
        ("117", "4200000063", 1),
        ("118", "4200006016", 1),
    ],
    "phpedifact_orders_d01b_large.edi": [("2019265563", "2019265563", 146)],
    "pydifact_orders_d96a_una-decimal-comma.edi": [("1", "801715918011", 2)],
    "staedi_orders_d96b_with-ung-group.edi": [("1", "C1441747", 1)],
}

CASES = [("invoic", name, rows) for name, rows in INVOIC.items()] + [
    ("orders", name, rows) for name, rows in ORDERS.items()
]


def read_corpus(kind: str, name: str):
    return read_document(corpus_path("edifact", kind, name).read_bytes())


def map_message(msg):
    return mapping_for(msg).to_canonical(msg)


@pytest.mark.corpus
@pytest.mark.parametrize("kind", ["invoic", "orders"])
def test_every_corpus_file_is_listed(kind):
    folder = corpus_path("edifact", kind)
    listed = INVOIC if kind == "invoic" else ORDERS
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted(listed)


@pytest.mark.corpus
@pytest.mark.parametrize("kind,name,rows", CASES, ids=[c[1] for c in CASES])
def test_corpus_messages_map(kind, name, rows):
    doc = read_corpus(kind, name)
    wanted = "INVOIC" if kind == "invoic" else "ORDERS"
    messages = [m for m in doc.messages if m.type == wanted]
    assert [m.control_number for m in messages] == [r[0] for r in rows], name
    for msg, (control, number, lines) in zip(messages, rows, strict=True):
        if number == FAILS:
            with pytest.raises(MappingError) as err:
                map_message(msg)
            text = str(err.value)
            assert text.startswith(f"{mapping_name(msg)}: "), text
            for part in lines:
                assert part in text, f"{name} {control}: {part!r} not in {text!r}"
            continue
        out = map_message(msg)
        assert out["number"] == number, f"{name} {control}"
        assert len(out["lines"]) == lines, f"{name} {control}"
        assert out["source"]["control_number"] == control
        assert out["source"]["message_type"] == wanted


def test_directory_choice():
    assert mapping_name(type("M", (), {"type": "INVOIC", "release": "97B"})()) == "common/INVOIC.D96A"
    assert mapping_name(type("M", (), {"type": "ORDERS", "release": "96B"})()) == "common/ORDERS.D96A"
    assert mapping_name(type("M", (), {"type": "INVOIC", "release": "00A"})()) == "common/INVOIC.D01B"
    assert mapping_name(type("M", (), {"type": "ORDERS", "release": "03A"})()) == "common/ORDERS.D01B"


@pytest.mark.corpus
def test_bots_invoice_content():
    out = map_message(read_corpus("invoic", "bots_invoic_d96a_2msgs.edi").messages[0])
    assert (out["invoice_type"], out["invoice_type_code"], out["purpose"]) == ("invoice", "380", "original")
    assert out["date"] == "2005-08-29"
    assert out["purchase_order_number"] == "4500094576"
    assert out["references"] == [{"type": "delivery_note", "value": "2028", "code": "AAK"}]
    assert out["dates"] == [{"type": "delivered", "date": "2005-08-26", "code": "35"}]
    assert out["currency"] == "EUR"
    assert [p["code"] for p in out["parties"]] == ["IV", "BY", "DP", "UC", "SU"]
    assert out["parties"][0]["references"] == [{"type": "other", "value": "NL00XXXXXXXXXXXX", "code": "VA"}]
    assert out["terms"] == [{"type_code": "22", "basis_date_code": "5", "net_days": 30, "discount_percent": "5"}]
    assert out["allowances_charges"] == [
        {"indicator": "allowance", "code": "ABH", "amount": "600"},
        {"indicator": "charge", "code": "ADO", "amount": "250"},
    ]
    assert out["taxes"] == [{"type": "VAT", "category": "S", "rate": "19", "taxable_amount": "1111.11",
                             "amount": "11.11"}]
    assert out["totals"] == {"total_amount": "286.2", "discount_eligible_amount": "240.5", "tax_total": "45.7",
                             "line_total": "240.5"}
    first, _, third = out["lines"]
    assert first["product_ids"] == [{"scheme": "ean", "value": "8712345678906", "code": "EN"}]
    assert first["quantity"] == {"value": "2"}  # QTY 47, not the QTY 12 after it
    assert first["unit_price"] == {"amount": "6.5", "type": "net", "basis": "INV"}
    assert first["amount"] == "13"
    assert first["taxes"] == [{"type": "VAT", "category": "S", "rate": "19"}]
    assert [(a["indicator"], a["code"], a["amount"]) for a in first["allowances_charges"]] == [
        ("allowance", "ADR", "70"), ("charge", "ADR", "50"), ("charge", "RAD", "100")]
    assert [a["amount"] for a in third["allowances_charges"]] == ["-75", "-15"]


@pytest.mark.corpus
def test_d01b_invoice_content():
    """D.00A through the D.01B mapping: BGM C106, SG26 LIN, SG27 MOA, SG30 RFF, SG34 TAX, SG50/SG52 summary."""
    out = map_message(read_corpus("invoic", "edifabric_invoic_d00a_unob_crlf.txt").messages[0])
    assert (out["number"], out["date"], out["currency"]) == ("12345678", "1998-06-10", "DEM")
    assert out["source"]["test"] is True
    assert [(p["code"], p.get("name")) for p in out["parties"]] == [("BY", "Koenig"), ("SE", "Meister")]
    assert out["parties"][1]["references"] == [{"type": "other", "value": "DE81765430", "code": "VA"}]
    assert out["terms"] == [{"type_code": "1", "discount_percent": "2.00", "discount_amount": "2"}]
    assert out["taxes"] == [{"type": "VAT", "rate": "16.00", "taxable_amount": "100.00", "amount": "16.00"}]
    assert out["totals"] == {"total_amount": "116.00", "line_total": "100.00", "tax_total": "16.00"}
    (line,) = out["lines"]
    assert line["product_ids"] == [{"scheme": "buyer_part", "value": "7505", "code": "IN"},
                                   {"scheme": "vendor_part", "value": "2231", "code": "SA"}]
    assert line["quantity"] == {"value": "100", "unit": "PCE"}  # QTY 12: there is no QTY 47
    assert line["amount"] == "100"
    assert line["references"] == [{"type": "delivery_note", "value": "9034711", "code": "AAK",
                                   "date": "1998-06-09"}]
    assert line["taxes"] == [{"type": "VAT", "rate": "16.00", "amount": "16.00"}]


@pytest.mark.corpus
def test_credit_note_and_unusual_delimiters():
    credit = map_message(read_corpus("invoic", "pydifact_invoic_d97a_unoa1.edi").messages[0])
    assert (credit["invoice_type"], credit["invoice_type_code"]) == ("credit_note", "381")
    assert credit["date"] == "1999-10-06"  # DTM 137 in format 102 with a time: CCYYMMDDHHMM read as the day
    assert credit["terms"] == [{"type_code": "1", "net_due_date": "1999-10-31"}]
    (line,) = credit["lines"]
    assert "line_number" not in line  # LIN+++090346642:IN
    assert line["unit_price"] == {"amount": "3630.1724", "type": "net", "basis": "AAA", "per_quantity": "100",
                                  "unit": "C62"}
    assert [r["code"] for r in line["references"]] == ["SI", "ON", "TN"]
    custom = map_message(read_corpus("invoic", "staedi_invoic_d97b_una-custom-delims.edi").messages[0])
    wrapped = map_message(read_corpus("invoic", "staedi_invoic_d97b_wrapped.edi").messages[0])
    assert custom["lines"] == wrapped["lines"]
    assert custom["purchase_order_number"] == wrapped["purchase_order_number"] == "521052"
    assert custom["date"] == "2006-05-15"  # DTM 3
    assert [(x["description"], x["quantity"]["value"], x["amount"]) for x in custom["lines"]] == [
        ("WIDGET", "1020", "1202.58"), ("DIFFERENT WIDGET", "20", "410")]
    assert custom["totals"] == {"total_amount": "2137.58"}  # MOA 39


@pytest.mark.corpus
def test_smooks_invoice_content():
    """D.03B through the D.01B mapping: a LIN with an item number type but no number has no product id; the
    description is the second 7008 when the first is empty; RFF+CO is the order number (there is no RFF+ON)."""
    out = map_message(read_corpus("invoic", "smooks_invoic_d03b_unoc4_repetition-sep.txt").messages[0])
    assert out["purchase_order_number"] == "01671727"
    assert out["references"] == [{"type": "purchase_order", "value": "01671727", "code": "CO"}]
    first, second = out["lines"]
    assert first["product_ids"] == [{"scheme": "buyer_part", "value": "V0370246", "code": "IN"}]
    assert first["description"].startswith("Collectors edition of The Hobbit")  # IMD+F++::::text
    assert "product_ids" not in second  # LIN+2++:IN
    assert (second["line_number"], second["description"], second["quantity"]) == (
        "2", "Packaging", {"value": "2", "unit": "PCE"})


@pytest.mark.corpus
def test_decimal_comma_orders():
    out = map_message(read_corpus("orders", "pydifact_orders_d96a_una-decimal-comma.edi").messages[0])
    assert [line["quantity"] for line in out["lines"]] == [{"value": "8"}, {"value": "8"}]
    assert out["references"] == [{"type": "promotion", "value": "50515", "code": "PD"}]


@pytest.mark.corpus
def test_d01b_orders_content():
    out = map_message(read_corpus("orders", "phpedifact_orders_d01b_large.edi").messages[0])
    assert out["totals"] == {"line_count": 146}
    assert [p["code"] for p in out["parties"]] == ["BY", "SU", "DP"]
    assert out["parties"][0]["contacts"] == [{"function": "buyer", "code": "PD", "phone": "020994125-32",
                                              "fax": "020994125-44"}]
    assert out["lines"][0]["product_ids"] == [{"scheme": "vendor_part", "value": "1001", "code": "SA"},
                                              {"scheme": "buyer_part", "value": "6001001", "code": "IN"}]
    assert out["lines"][0]["quantity"] == {"value": "2", "unit": "GBND"}
    assert out["lines"][0]["description"] == "Butter 40x250g Alu"


# ------------------------------------------------------------------ golden inputs: both ways


def golden(case: str, release: str = "96A") -> bytes:
    data = (GOLDEN / case / "input.edi").read_bytes()
    return data.replace(b":D:96A:", f":D:{release}:".encode())


def round_trip(msg):
    """canonical -> to_edi -> an interchange written by EdifactWriter -> read again -> canonical."""
    mapping = mapping_for(msg)
    before = mapping.to_canonical(msg)
    body = mapping.to_edi(before)
    stream = io.BytesIO()
    ic = msg.interchange
    w = EdifactWriter(stream)
    w.begin_interchange(sender=ic.sender, sender_qualifier=ic.sender_qualifier, receiver=ic.receiver,
                        receiver_qualifier=ic.receiver_qualifier, control_reference=ic.control_number,
                        test=ic.test_indicator == "1")
    w.write_message(msg.type, msg.control_number, body, version=msg.version_number, release=msg.release,
                    agency=msg.agency, association=msg.association or None)
    w.end_interchange()
    again = read_document(stream.getvalue())
    assert not again.findings
    (written,) = again.messages
    return before, mapping.to_canonical(written), written


GOLDEN_CASES = [("invoic-basic", "96A"), ("invoic-basic", "01B"), ("orders-basic", "96A"), ("orders-basic", "01B")]


@pytest.mark.parametrize("case,release", GOLDEN_CASES, ids=[f"{c}-{r}" for c, r in GOLDEN_CASES])
def test_golden_input_is_valid_and_round_trips(case, release):
    doc = read_document(golden(case, release))
    assert not doc.findings
    (msg,) = doc.messages
    assert EdifactValidator().validate(msg) == []
    before, after, written = round_trip(msg)
    assert after == before
    assert EdifactValidator().validate(written) == []


def test_golden_invoice_content():
    (msg,) = read_document(golden("invoic-basic")).messages
    out = map_message(msg)
    assert (out["number"], out["date"], out["purchase_order_number"], out["purchase_order_date"]) == (
        "INV-2024-0042", "2024-03-15", "PO-778812", "2024-03-02")
    assert [r["code"] for r in out["references"]] == ["AAK", "CT"]  # RFF ON is the purchase order number
    assert [d["type"] for d in out["dates"]] == ["delivered", "period_start", "period_end"]
    assert out["carrier"] == {"scac": "DHLF", "name": "DHL Freight", "transport_mode": "30"}
    assert out["fob"] == {"payment": "PP", "incoterms": "FCA", "description": "Free carrier Gent"}
    assert out["terms"] == [{"type_code": "1", "basis_date_code": "5", "net_days": 30, "net_due_date": "2024-04-14",
                             "discount_percent": "2", "discount_amount": "6.53"}]
    assert out["allowances_charges"] == [
        {"indicator": "charge", "code": "FC", "description": "Freight", "amount": "25.00"},
        {"indicator": "allowance", "code": "DI", "description": "Early order discount", "handling": "2",
         "percent": "1", "amount": "2.86", "basis_amount": "286.00"},
    ]
    assert out["totals"] == {"line_total": "286.00", "allowance_total": "2.86", "charge_total": "25.00",
                             "taxable_amount": "308.14", "tax_total": "18.49", "total_amount": "326.63",
                             "prepaid_amount": "50.00", "amount_due": "276.63", "discount_eligible_amount": "326.63",
                             "line_count": 2}
    line = out["lines"][0]
    assert [p["code"] for p in line["product_ids"]] == ["EN", "SA", "IN"]
    assert line["allowances_charges"] == [{"indicator": "allowance", "code": "DI", "description": "Volume discount",
                                           "percent": "5", "amount": "10.00", "basis_amount": "200.00"}]
    assert line["taxes"] == [{"type": "VAT", "category": "S", "rate": "6", "amount": "11.40"}]


@pytest.mark.parametrize("case", ["invoic-basic", "orders-basic"])
def test_d01b_reads_what_d96a_reads(case):
    """The same segments under UNH D:01B give the same document through the D.01B mapping."""
    (old,) = read_document(golden(case)).messages
    (new,) = read_document(golden(case, "01B")).messages
    a, b = map_message(old), map_message(new)
    assert (a["source"].pop("version"), b["source"].pop("version")) == ("96A", "01B")
    assert a == b


def test_decimal_comma_amounts_are_canonical_points():
    """UNA with a decimal comma: MOA 190,00 is 190.00 in the canonical document."""
    text = golden("invoic-basic").decode("latin-1")
    numeric = re.compile(r"^(MOA|PRI|QTY|PCD|TAX)\+.*$", re.M)
    comma = numeric.sub(lambda m: re.sub(r"(\d)\.(\d)", r"\1,\2", m.group(0)), text)
    comma = comma.replace("UNA:+.? '", "UNA:+,? '")
    assert "MOA+203:190,00'" in comma and "PRI+AAA:1,90" in comma
    (point,) = read_document(text.encode("latin-1")).messages
    (msg,) = read_document(comma.encode("latin-1")).messages
    assert msg.delimiters.decimal == ","
    assert map_message(msg) == map_message(point)


def test_line_count_is_computed_outbound():
    (msg,) = read_document(golden("invoic-basic")).messages
    mapping = mapping_for(msg)
    doc = mapping.to_canonical(msg)
    doc["totals"]["line_count"] = 7
    doc["lines"] = doc["lines"][:1]
    body = mapping.to_edi(doc)
    assert ["CNT", ["2", "1"]] in body
    assert sum(1 for seg in body if seg[0] == "LIN") == 1


@pytest.mark.parametrize("name", ["common/INVOIC.D96A", "common/INVOIC.D01B", "common/ORDERS.D01B"])
def test_mappings_load(name):
    mapping = load_mapping(name, MAPPINGS)
    assert mapping.standard == "edifact"


@pytest.mark.corpus
def test_order_without_lines_is_refused_for_its_lines_only():
    doc = read_corpus("orders", "bots_orders_d96a_24interchanges_crlf.edi")
    (msg,) = [m for m in doc.messages if m.control_number == "I1L0401100000T"]
    assert not any(seg[0] == "LIN" for seg in msg.segments)
    assert msg.value(next(seg for seg in msg.segments if seg[0] == "BGM"), 2) == "12345678901"
    with pytest.raises(MappingError) as err:
        map_message(msg)
    assert "'lines' is a required property" in str(err.value)
    assert "'number'" not in str(err.value)  # BGM 1004 is there: only the lines are missing


def test_invoice_type_without_code_is_written_from_the_table():
    (msg,) = read_document(golden("invoic-basic")).messages
    mapping = mapping_for(msg)
    doc = mapping.to_canonical(msg)
    del doc["invoice_type_code"]
    doc["invoice_type"] = "credit_note"
    body = mapping.to_edi(doc)
    assert body[0] == ["BGM", ["381"], "INV-2024-0042", "9"]
    assert ["RFF", ["ON", "PO-778812"]] in body and ["QTY", ["47", "100", "PCE"]] in body
