"""Language features added for the EDIFACT mappings: load-time errors, inbound, outbound, round trips.

1. fixed codes: ``{edi: BGM01-01, const: "351"}`` (no field): written, never read;
2. ``required: true``: no item without its value (``LIN+2++:IN`` makes no product id);
3. fallback locations: ``edi: [A, B]``, the first with a value is read, the first is written;
4. a condition listing several values prefers them in the listed order (``QTY[QTY01-01=47|12|46]``);
5. a location on a loop's own first segment qualifies it (``PAT[PAT03-03=D].PAT03-04`` in the PAT group);
6. negative conditions ``RFF[RFF01-01!=ON|CO]`` for groups, read and written;
7. groups over lists of values (``tracking_numbers``) with one rule whose field is ``.``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import textwrap
from functools import cache

import pytest

from hub.edi.edifact import read_document as read_edifact
from hub.edi.edifact.validate import EdifactValidator
from hub.edi.x12 import read_document as read_x12
from hub.edi.x12.validate import X12Validator
from hub.mapping import MappingError, load_mapping, render
from hub.mapping.grammar import edifact_grammar
from hub.mapping.language import parse_segment
from hub.mapping.outbound import _Inst, _Seg
from hub.partners import load_profiles
from tests.conftest import REPO

MAPPINGS = [str(REPO / "mappings")]
GOLDEN = REPO / "tests" / "golden"
WHEN = dt.datetime(2024, 1, 6, 10, 0)
PROFILES = load_profiles(REPO / "partner_profiles")
PARTIES = {"sender": {"id": "A"}, "receiver": {"id": "B"}}

EDIFACT_HEAD = """\
document: purchase_order
standard: edifact
transaction: ORDERS
version: D96A

"""
X12_HEAD = """\
document: purchase_order
standard: x12
transaction: "850"
version: "004010"

"""


@cache
def mapping(name: str):
    return load_mapping(name, MAPPINGS)


def custom(tmp_path, text: str, name: str = "t"):
    """Loads ``text`` (a head such as X12_HEAD followed by an indented body, dedented here) as mapping ``name``."""
    head, body = text.split("\n\n", 1) if "\n\n" in text else (text, "")
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(textwrap.dedent(head) + "\n" + textwrap.dedent(body), encoding="utf-8")
    return load_mapping(name, [str(folder)])


def load_error(tmp_path, text: str) -> str:
    with pytest.raises(MappingError) as info:
        custom(tmp_path, text)
    return str(info.value)


def edited(data: bytes, replace: list[tuple[bytes, bytes]]) -> bytes:
    """``data`` with each (unique) ``old`` replaced; an EDIFACT UNT counts the segments again."""
    for old, new in replace:
        assert data.count(old) == 1, old
        data = data.replace(old, new)
    if b"UNH+" in data:
        parts = re.split(rb"(?<!\?)'", data)
        unh = next(i for i, x in enumerate(parts) if x.strip().startswith(b"UNH+"))
        unt = next(i for i, x in enumerate(parts) if x.strip().startswith(b"UNT+"))
        parts[unt] = re.sub(rb"UNT\+\d+", b"UNT+%d" % (unt - unh + 1), parts[unt])
        data = b"'".join(parts)
    return data


def edifact_message(case: str, replace: list[tuple[bytes, bytes]] = ()):
    data = edited((GOLDEN / "common" / case / "input.edi").read_bytes(), list(replace))
    doc = read_edifact(data)
    assert not [f for f in doc.findings if f.severity == "error"], doc.findings
    (msg,) = doc.messages
    return msg


def x12_850(replace: list[tuple[bytes, bytes]] = ()):
    data = edited((GOLDEN / "common" / "850-basic" / "input.x12").read_bytes(), list(replace))
    return read_x12(data).transactions[0]


def golden_json(case: str, name: str = "expected.json") -> dict:
    doc = json.loads((GOLDEN / "common" / case / name).read_text(encoding="utf-8"))
    return doc[0] if isinstance(doc, list) else doc


def first(body, tag: str):
    return next(seg for seg in body if seg[0] == tag)


def every(body, tag: str):
    return [seg for seg in body if seg[0] == tag]


def rendered_edifact(m, doc):
    """The document rendered for nordbuy, read back: (message, canonical again); the message validates."""
    data = render(doc, PROFILES["nordbuy"], mapping=m, when=WHEN)
    (msg,) = read_edifact(data).messages
    assert [f for f in EdifactValidator().validate(msg) if f.severity == "error"] == []
    return msg, m.to_canonical(msg)


def rendered_x12(m, doc):
    data = render(doc, PROFILES["acme"], mapping=m, when=WHEN)
    (tx,) = read_x12(data).transactions
    assert [f for f in X12Validator().validate(tx) if f.severity == "error"] == []
    return tx, m.to_canonical(tx)


def strip(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("source", "sender", "receiver")}


# ================================================================== 1. fixed codes


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{edi: BGM01-01, const: '3510'}", "const: '3510' is longer than BGM01-01 holds (3)"),
        ("{edi: BGM01-01, const: '351', type: integer}", "type: a fixed code is written as given"),
        ("{edi: [BGM01-01, BGM03], const: '351'}", "a fixed code is written to one location"),
        ("{edi: BGM01-01}", "a rule needs field: <canonical field path> (or, for a fixed code, edi and const)"),
        ("{const: '351'}", "a rule needs field"),
        ("{edi: LIN01, const: '1'}", "segment LIN is not in the ORDERS D96A header"),
        ("{edi: BGM01-01, const: '351', required: true}", "a required value comes from the EDI: no const"),
    ],
)
def test_fixed_code_load_errors(tmp_path, rule, problem):
    text = load_error(tmp_path, EDIFACT_HEAD + f"header:\n  - {{edi: BGM02, field: number}}\n  - {rule}\n")
    assert problem in text
    assert "t.yaml:7: header[1]" in text


def test_two_fixed_codes_for_one_element_are_a_load_error(tmp_path):
    text = load_error(tmp_path, EDIFACT_HEAD + "header:\n  - {edi: BGM01-01, const: '220'}\n"
                                               "  - {edi: BGM01-01, const: '221'}\n")
    assert "t.yaml:7: header[1]: the fixed code of BGM01-01 is already mapped at" in text


def test_a_fixed_code_in_a_pairs_group_is_a_load_error(tmp_path):
    text = load_error(tmp_path, X12_HEAD + """\
        lines:
          field: lines
          loop: PO1
          rules:
            - {edi: PO102, field: quantity.value}
          groups:
            - field: product_ids
              pairs: [[PO106, PO107]]
              rules:
                - {edi: $1, const: UP}
                - {edi: $2, field: value}
        """)
    assert "a fixed code (const without field) is written to an element" in text


def test_fixed_bgm_codes_are_written_and_not_read():
    for case, name, code in (("desadv-basic", "common/DESADV.D96A", "351"), ("ordrsp-basic", "common/ORDRSP.D96A",
                                                                                "231")):
        for directory in ("D96A", "D01B"):
            m = mapping(name.replace("D96A", directory))
            doc = m.to_canonical(edifact_message(case))
            assert first(m.to_edi(doc), "BGM")[1] == [code]
            # inbound the code is not checked: another document name code reads the same document
            other = m.to_canonical(edifact_message(case, [(f"BGM+{code}+".encode(), b"BGM+35+")]))
            assert other == doc
            _, again = rendered_edifact(m, doc)
            assert strip(again) == strip(doc)


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_invoice_type_code_falls_back_to_380(directory):
    m = mapping(f"common/INVOIC.{directory}")
    doc = m.to_canonical(edifact_message("invoic-basic"))
    assert first(m.to_edi(doc), "BGM")[1] == ["380"]
    doc["invoice_type_code"] = "325"
    assert first(m.to_edi(doc), "BGM")[1] == ["325"]  # the kept code wins
    del doc["invoice_type_code"]
    doc["invoice_type"] = "credit_note"
    assert first(m.to_edi(doc), "BGM")[1] == ["381"]  # then the table
    del doc["invoice_type"]
    assert first(m.to_edi(doc), "BGM")[1] == ["380"]  # then the fixed code
    msg, again = rendered_edifact(m, doc)
    assert (again["invoice_type"], again["invoice_type_code"]) == ("invoice", "380")
    doc["invoice_type"] = "other"  # a table miss is not hidden by the fixed code
    with pytest.raises(MappingError, match=r"invoice_type: 'other' has no code in table invoice_type"):
        m.to_edi(doc)


def test_x12_mandatory_qualifiers_get_fixed_codes():
    ack = golden_json("855-basic", "input.json")
    del ack["purpose"]
    m855 = mapping("common/855.004010")
    assert first(m855.to_edi(ack), "BAK")[1] == "00"
    _, again = rendered_x12(m855, ack)
    assert again["purpose"] == "original"
    ack["purpose"] = "replace"
    assert first(m855.to_edi(ack), "BAK")[1] == "05"

    notice = golden_json("856-basic", "input.json")
    del notice["purpose"]
    assert first(mapping("common/856.004010").to_edi(notice), "BSN")[1] == "00"

    m850 = mapping("common/850.004010")
    order = m850.to_canonical(x12_850())
    for key in ("purpose", "order_type", "order_type_code"):
        del order[key]
    assert first(m850.to_edi(order), "BEG")[1:3] == ["00", "SA"]
    rendered_x12(m850, order)


def test_fixed_codes_fill_mandatory_edifact_qualifiers():
    """FTX 4451 and PAT 4279 are mandatory: a note without subject is FTX+AAI, terms without type PAT+1."""
    for name in ("common/ORDERS.D96A", "common/ORDERS.D01B"):
        m = mapping(name)
        doc = m.to_canonical(edifact_message("orders-basic"))
        del doc["notes"][0]["subject"]
        del doc["terms"][0]["type_code"]
        body = m.to_edi(doc)
        assert first(body, "FTX")[1] == "AAI"
        assert first(body, "PAT")[1] == "1"
        rendered_edifact(m, doc)


def test_a_child_mapping_overrides_or_removes_a_fixed_code(tmp_path):
    (tmp_path / "m" / "common").mkdir(parents=True)
    base = EDIFACT_HEAD + "header:\n  - {edi: BGM02, field: number}\n  - {edi: BGM01-01, const: '220'}\n"
    (tmp_path / "m" / "common" / "base.yaml").write_text(base, encoding="utf-8")
    doc = {"document_type": "purchase_order", "schema_version": "1.0", "number": "PO-1", **PARTIES,
           "lines": [{"quantity": {"value": "1"}}]}
    child = custom(tmp_path, "extends: common/base\nheader:\n  - {edi: BGM01-01, const: '221'}\n", "child")
    assert first(child.to_edi(doc), "BGM") == ["BGM", ["221"], "PO-1"]
    gone = custom(tmp_path, "extends: common/base\nheader:\n  - {edi: BGM01-01, remove: 'true'}\n", "gone")
    assert first(gone.to_edi(doc), "BGM") == ["BGM", "", "PO-1"]


# ================================================================== 2. required: no item without its value


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{edi: BGM02, field: number, required: true}",
         "required: number belongs to the document itself, which cannot be dropped"),
        ("{edi: BGM02, field: number, required: 'yes'}", "required: true or false"),
        ("{edi: BGM02, field: number, required: true, default: X}", "a required value comes from the EDI"),
    ],
)
def test_required_load_errors(tmp_path, rule, problem):
    assert problem in load_error(tmp_path, EDIFACT_HEAD + f"header:\n  - {rule}\n")


def test_required_on_an_hl_level_item_is_a_load_error(tmp_path):
    text = load_error(tmp_path, """\
        document: ship_notice
        standard: x12
        transaction: "856"
        version: "004010"
        hierarchy:
          loop: HL
          levels:
            - {level: S}
            - {level: O, field: orders, rules: [{edi: PRF01, field: purchase_order_number, required: true}]}
        """)
    assert "the HL levels are linked" in text


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_edifact_ids_and_references_without_value_are_dropped(directory):
    m = mapping(f"common/INVOIC.{directory}")
    msg = edifact_message("invoic-basic", [
        (b"LIN+2++5412345222228:EN'", b"LIN+2++:EN'"),         # LIN03 type without item number
        (b"PIA+1+ACM-1001:SA+BUY-77:IN'", b"PIA+1+:SA+BUY-77:IN'"),  # a PIA pair without its id
        (b"NAD+IV+8712345000011::9+", b"NAD+IV+::9+"),          # an agency without party id
        (b"RFF+CT:CTR-2024-7'", b"RFF+CT'"),                      # an RFF without its number
    ])
    doc = m.to_canonical(msg)
    line1, line2 = doc["lines"]
    assert "product_ids" not in line2
    assert line1["product_ids"] == [{"scheme": "ean", "value": "5412345111115", "code": "EN"},
                                    {"scheme": "buyer_part", "value": "BUY-77", "code": "IN"}]
    bill_to = next(p for p in doc["parties"] if p["code"] == "IV")
    assert "identifiers" not in bill_to and bill_to["name"] == "Grocer BV Finance"
    assert [r["code"] for r in doc["references"]] == ["AAK"]
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)


def test_desadv_and_ordrsp_lin_without_item_number():
    """LIN+1++:EN: the PIA ids follow; product_ids[0] is the first PIA id (and goes out in LIN03)."""
    pia = [{"scheme": "vendor_part", "value": "ART-1001", "code": "SA"},
           {"scheme": "buyer_part", "value": "B-7781", "code": "IN"}]
    m = mapping("common/DESADV.D96A")
    doc = m.to_canonical(edifact_message("desadv-basic", [(b"LIN+1++8712345003906:EN'", b"LIN+1++:EN'")]))
    assert doc["orders"][0]["packs"][0]["items"][0]["product_ids"] == pia
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)
    m = mapping("common/ORDRSP.D96A")
    doc = m.to_canonical(edifact_message("ordrsp-basic", [(b"LIN+1+5+8712345003906:EN'", b"LIN+1+5+:EN'")]))
    assert doc["lines"][0]["product_ids"] == pia
    assert first(m.to_edi(doc), "LIN") == ["LIN", "1", "5", ["ART-1001", "SA"]]


def test_x12_qualifiers_without_value_are_dropped():
    m855 = mapping("common/855.004010")
    ack = golden_json("855-basic", "input.json")
    data = render(ack, PROFILES["acme"], mapping=m855, when=WHEN)
    read = m855.to_canonical(read_x12(data).transactions[0])
    assert read["lines"][0]["confirmed_dates"] == [{"type": "promised_ship", "date": "2024-01-15", "code": "068"}]
    cut = edited(data, [(b"ACK*IA*10*CA*068*20240115~", b"ACK*IA*10*CA*068~")])
    again = m855.to_canonical(read_x12(cut).transactions[0])
    assert "confirmed_dates" not in again["lines"][0]  # ACK04 without ACK05: no date
    assert again["lines"][0]["confirmed_quantity"] == read["lines"][0]["confirmed_quantity"]

    m850 = mapping("common/850.004010")
    doc = m850.to_canonical(x12_850([(b"*VN*ABC-1~", b"*VN~"), (b"*UL*0614141000012~", b"*UL~"),
                                     (b"REF*IA*V-99~", b"REF*IA**VENDOR~")]))
    assert doc["lines"][0]["product_ids"] == [{"scheme": "upc", "value": "012345678905", "code": "UP"}]
    assert "identifiers" not in doc["parties"][1]
    assert [r["code"] for r in doc["references"]] == ["DP"]


def test_required_outbound_writes_nothing_of_an_item_without_its_value(tmp_path):
    """required on an optional field: inbound and outbound an item without it does not exist."""
    m = custom(tmp_path, X12_HEAD + """\
        tables:
          reference_type: {DP: department, IA: vendor_number, "*": other}
        header:
          - {edi: ISA06, field: sender.id}
          - {edi: ISA08, field: receiver.id}
          - {edi: BEG03, field: number}
          - {edi: "REF[REF01=DP].REF02", field: "references[0].value"}
          - {edi: "REF[REF01=DP].REF03", field: "references[0].description", required: true}
          - {edi: "REF[REF01=DP].REF01", field: "references[0].code"}
          - {edi: "REF[REF01=DP].REF01", field: "references[0].type", table: reference_type}
        groups:
          - field: parties
            loop: N1
            rules:
              - {edi: N101, field: code}
              - {edi: N102, field: name, required: true}
              - {edi: N101, field: role, const: other}
        lines:
          field: lines
          loop: PO1
          rules:
            - {edi: PO102, field: quantity.value}
        """)
    doc = m.to_canonical(x12_850())
    assert "references" not in doc  # REF*DP*042 has no REF03
    assert [p["name"] for p in doc["parties"]] == ["ACME STORE 12", "ACME HQ"]
    doc["references"] = [{"type": "department", "value": "042"}]
    del doc["parties"][0]["name"]
    doc["parties"][1]["name"] = "HQ"
    body = m.to_edi(doc)
    assert every(body, "REF") == []  # the reference without description: neither REF02 nor its qualifier
    assert every(body, "N1") == [["N1", "BT", "HQ"]]  # the party without name: no N1 loop at all


# ================================================================== 3. fallback locations


def test_fallback_location_load_errors(tmp_path):
    text = load_error(tmp_path, EDIFACT_HEAD + "header:\n  - {edi: [BGM02, 'XYZ01'], field: number}\n")
    assert "unknown segment 'XYZ'" in text and "header[0]" in text
    text = load_error(tmp_path, X12_HEAD + """\
        lines:
          field: lines
          loop: PO1
          groups:
            - field: product_ids
              pairs: [[PO106, PO107]]
              rules:
                - {edi: [$2, $1], field: value}
        """)
    assert "$1/$2 take no fallback locations" in text
    text = load_error(tmp_path, EDIFACT_HEAD + "header:\n  - {edi: {a: b}, field: number}\n")
    assert "edi: a location, or a list of locations" in text


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_description_falls_back_to_the_second_7008(directory):
    m = mapping(f"common/INVOIC.{directory}")
    msg = edifact_message("invoic-basic", [(b"IMD+F++:::Organic apple juice 1L'", b"IMD+F++::::Apple juice'"),
                                           (b"IMD+F++:::Sparkling water 0.5L'", b"IMD+F++:::Water:Still'")])
    doc = m.to_canonical(msg)
    assert [ln["description"] for ln in doc["lines"]] == ["Apple juice", "Water"]  # the first found wins
    imd = every(m.to_edi(doc), "IMD")
    assert imd[0] == ["IMD", "F", "", ["", "", "", "Apple juice"]]  # written to the first location
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)


def test_810_purchase_order_number_falls_back_to_ref_po():
    m = mapping("common/810.004010")
    invoice = golden_json("810-basic", "input.json")
    data = render(invoice, PROFILES["acme"], mapping=m, when=WHEN)
    po = invoice["purchase_order_number"].encode()
    big = data[data.index(b"BIG*"):].split(b"~")[0]
    assert po in big
    no_big04 = data.replace(big, big.replace(b"*" + po, b"*", 1)).replace(
        b"~REF*", b"~REF*PO*ALT-9~REF*", 1)
    doc = m.to_canonical(read_x12(no_big04).transactions[0])
    assert doc["purchase_order_number"] == "ALT-9"
    assert {"type": "purchase_order", "value": "ALT-9", "code": "PO"} in doc["references"]
    # BIG04 is read first; outbound only BIG04 is written (the REF*PO is the reference's)
    both = data.replace(b"~REF*", b"~REF*PO*ALT-9~REF*", 1)
    assert m.to_canonical(read_x12(both).transactions[0])["purchase_order_number"] == invoice["purchase_order_number"]
    body = m.to_edi(doc)
    assert first(body, "BIG")[4] == "ALT-9"
    assert every(body, "REF").count(["REF", "PO", "ALT-9"]) == 1


# ================================================================== 4. several values: the listed order wins


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_the_first_listed_quantity_wins_over_message_order(directory):
    m = mapping(f"common/INVOIC.{directory}")
    msg = edifact_message("invoic-basic", [(b"QTY+47:100:PCE'", b"QTY+12:90:PCE'\nQTY+46:95:PCE'\nQTY+47:100:PCE'"),
                                           (b"QTY+47:240:PCE'", b"QTY+46:230:PCE'\nQTY+12:235:PCE'")])
    doc = m.to_canonical(msg)
    assert [ln["quantity"]["value"] for ln in doc["lines"]] == ["100", "235"]  # 47, else 12 before 46


def test_the_first_listed_order_reference_wins():
    m = mapping("common/INVOIC.D96A")
    msg = edifact_message("invoic-basic", [(b"'\nRFF+ON:PO-778812'\nDTM+171:20240302:102'\nRFF+AAK",
                                            b"'\nRFF+CO:CO-1'\nDTM+171:20240301:102'\nRFF+ON:PO-778812'\n"
                                            b"DTM+171:20240302:102'\nRFF+AAK")])
    doc = m.to_canonical(msg)
    assert (doc["purchase_order_number"], doc["purchase_order_date"]) == ("PO-778812", "2024-03-02")
    assert doc["references"][0] == {"type": "purchase_order", "value": "CO-1", "code": "CO", "date": "2024-03-01"}
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)
    only_co = m.to_canonical(edifact_message("invoic-basic", [(b"'\nRFF+ON:PO-778812'\nDTM+171:20240302:102'\nRFF+AAK",
                                                               b"'\nRFF+CO:PO-778812'\nDTM+171:20240302:102'\nRFF+AAK")]))
    assert only_co["purchase_order_number"] == "PO-778812"


def test_ordrsp_confirmed_quantity_prefers_113():
    m = mapping("common/ORDRSP.D96A")
    data = (GOLDEN / "common" / "ordrsp-basic" / "input.edi").read_bytes()
    qty = data[data.index(b"QTY+113:"):].split(b"'")[0]
    doc = m.to_canonical(edifact_message("ordrsp-basic", [(qty + b"'", b"QTY+12:7:PCE'" + qty + b"'")]))
    before = m.to_canonical(edifact_message("ordrsp-basic"))
    assert doc == before


def test_outbound_finds_the_segment_by_the_listed_order():
    root = _Inst(edifact_grammar("INVOIC", "D96A").root)
    for code in ("12", "47"):
        seg = _Seg("QTY")
        seg.qualify(parse_segment(f"QTY[QTY01-01={code}]"))
        root.segments.append(seg)
    assert root.segment(parse_segment("QTY[QTY01-01=47|12]")) is root.segments[1]


# ================================================================== 5. a condition on the loop's own first segment


@pytest.mark.parametrize("name", ["common/INVOIC.D96A", "common/INVOIC.D01B", "common/ORDERS.D96A",
                                  "common/ORDERS.D01B", "common/ORDRSP.D96A", "common/ORDRSP.D01B"])
def test_net_days_qualify_the_groups_own_pat(name):
    m = mapping(name)
    case = {"INVOIC": "invoic-basic", "ORDERS": "orders-basic", "ORDRSP": "ordrsp-basic"}[m.transaction]
    doc = m.to_canonical(edifact_message(case))
    assert doc["terms"][0]["net_days"] == 30
    body = m.to_edi(doc)
    assert every(body, "PAT") == [["PAT", "1", "", ["5", "", "D", "30"]]]
    data = (GOLDEN / "common" / case / "input.edi").read_bytes()
    pat = data[data.index(b"PAT+"):].split(b"'")[0]
    months = m.to_canonical(edifact_message(case, [(pat, pat.replace(b":D:", b":M:"))]))
    assert "net_days" not in months["terms"][0]  # 30 months are no net days
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)


def test_a_conflicting_trigger_qualifier_is_an_outbound_error(tmp_path):
    m = custom(tmp_path, EDIFACT_HEAD + """\
        header:
          - {edi: BGM02, field: number}
        groups:
          - field: terms
            loop: SG8
            rules:
              - {edi: PAT01, field: type_code}
              - {edi: "PAT[PAT03-03=D].PAT03-04", field: net_days}
              - {edi: "PAT[PAT03-03=M].PAT03-04", field: discount_days}
        """)
    doc = {"document_type": "purchase_order", "schema_version": "1.0", "number": "PO-1", **PARTIES,
           "lines": [{"quantity": {"value": "1"}}], "terms": [{"type_code": "1", "net_days": 30}]}
    assert every(m.to_edi(doc), "PAT") == [["PAT", "1", "", ["", "", "D", "30"]]]
    doc["terms"][0]["discount_days"] = 2
    with pytest.raises(MappingError, match=r"terms\[0\]\.discount_days: cannot be written to "
                                           r"PAT\[PAT03-03=M\]\.PAT03-04: the SG8 iteration's PAT already has "
                                           r"PAT03-03 'D'"):
        m.to_edi(doc)


# ================================================================== 6. negative conditions


def test_negative_conditions_parse_and_print():
    spec = parse_segment("RFF[RFF01-01!=ON|CO,RFF01-02=X]")
    assert str(spec) == "RFF[RFF01-01!=ON|CO,RFF01-02=X]"
    (neg, pos) = spec.conditions
    assert neg.negate and not pos.negate
    assert neg.holds("VA") and not neg.holds("ON") and not neg.holds("")


def test_a_negative_condition_in_a_rule_is_a_load_error(tmp_path):
    text = load_error(tmp_path, EDIFACT_HEAD + "header:\n  - {edi: 'SG1[RFF01-01!=ON]/RFF01-02', field: number}\n")
    assert "a negative condition (!=) chooses the items of a group" in text
    text = load_error(tmp_path, EDIFACT_HEAD + "header:\n  - {edi: 'DTM[DTM01-01!=137].DTM01-02', field: date}\n")
    assert "a negative condition (!=) chooses the items of a group" in text


def test_a_negative_condition_on_a_pairs_segment_is_a_load_error(tmp_path):
    text = load_error(tmp_path, EDIFACT_HEAD + """\
        lines:
          field: lines
          loop: SG25
          groups:
            - field: product_ids
              segment: "PIA[PIA01!=1]"
              pairs: [[PIA02-02, PIA02-01]]
              rules:
                - {edi: $2, field: value}
        """)
    assert "the pairs' segment is written with its conditions, so they cannot be negative" in text


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_every_rff_but_the_order_is_a_reference(directory):
    m = mapping(f"common/INVOIC.{directory}")
    msg = edifact_message("invoic-basic", [(b"RFF+CT:CTR-2024-7'", b"RFF+CT:CTR-2024-7'\nRFF+XYZ:ODD-1'\nRFF+:NOQ'")])
    doc = m.to_canonical(msg)
    assert [(r["code"], r["type"]) for r in doc["references"]] == [("AAK", "delivery_note"), ("CT", "contract"),
                                                                     ("XYZ", "other")]  # no ON, no RFF without 1153
    body = m.to_edi(doc)
    assert [s[1][0] for s in every(body, "RFF")][:4] == ["ON", "AAK", "CT", "XYZ"]
    # outbound only the items whose code meets the condition: a reference coded ON is not written twice
    doc["references"].append({"type": "purchase_order", "value": "PO-OTHER", "code": "ON"})
    assert ["RFF", ["ON", "PO-OTHER"]] not in m.to_edi(doc)
    del doc["references"][-1]
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)


def test_desadv_and_ordrsp_references_exclude_the_order_numbers():
    m = mapping("common/ORDRSP.D96A")
    msg = edifact_message("ordrsp-basic", [(b"RFF+CT:CTR-2023-09'", b"RFF+CT:CTR-2023-09'\nRFF+QQQ:Q-1'")])
    doc = m.to_canonical(msg)
    assert [r["code"] for r in doc["references"]] == ["CT", "QQQ"]
    assert (doc["number"], doc["seller_order_number"]) == ("PO-88123", "SO-55401")
    doc["references"].append({"type": "other", "value": "MISC-1"})  # no kept code: written ZZZ
    _, again = rendered_edifact(m, doc)
    assert again["references"][-1] == {"type": "other", "value": "MISC-1", "code": "ZZZ"}


def test_a_negative_segment_group_splits_a_list(tmp_path):
    m = custom(tmp_path, X12_HEAD + """\
        tables:
          reference_type: {DP: department, IA: vendor_number, "*": other}
        header:
          - {edi: ISA06, field: sender.id}
          - {edi: ISA08, field: receiver.id}
          - {edi: BEG03, field: number}
          - {edi: "REF[REF01=DP].REF02", field: "references[type=department].value"}
        groups:
          - field: references
            segment: "REF[REF01!=DP]"
            rules:
              - {edi: REF01, field: code}
              - {edi: REF01, field: type, table: reference_type}
              - {edi: REF02, field: value, required: true}
        lines:
          field: lines
          loop: PO1
          rules:
            - {edi: PO102, field: quantity.value}
        """)
    doc = m.to_canonical(x12_850())
    assert doc["references"] == [{"type": "department", "value": "042"},
                                 {"type": "vendor_number", "value": "V-99", "code": "IA"}]
    assert every(m.to_edi(doc), "REF") == [["REF", "DP", "042"], ["REF", "IA", "V-99"]]


# ================================================================== 7. lists of values


@pytest.mark.parametrize(
    ("group", "problem"),
    [
        ("{field: tracking_numbers, segment: REF, rules: [{edi: REF02, field: value}]}",
         "a list of values (str) is filled by a loop or segment group with one rule whose field is '.'"),
        ("{field: tracking_numbers, segment: REF, rules: [{edi: REF02, field: .}, {edi: REF03, field: .}]}",
         "a list of values (str)"),
        ("{field: references, segment: REF, rules: [{edi: REF02, field: .}]}",
         "field '.' (the item itself) is only for a group over a list of values"),
        ("{field: number, segment: REF, rules: [{edi: REF02, field: .}]}", "number: a group's field must be a list"),
    ],
)
def test_value_list_load_errors(tmp_path, group, problem):
    text = load_error(tmp_path, """\
        document: ship_notice
        standard: x12
        transaction: "856"
        version: "004010"
        hierarchy:
          loop: HL
          levels:
            - level: S
              groups:
                - GROUP
        """.replace("GROUP", group))
    assert problem in text


def test_856_tracking_numbers_are_ref_2i():
    m = mapping("common/856.004010")
    notice = golden_json("856-basic", "input.json")
    notice["tracking_numbers"] = ["1Z999AA10000000001", "1Z999AA10000000002"]
    body = m.to_edi(notice)
    assert every(body, "REF")[:4] == [["REF", "BM", "BOL-555"], ["REF", "CN", "1Z999AA10123456784"],
                                      ["REF", "2I", "1Z999AA10000000001"], ["REF", "2I", "1Z999AA10000000002"]]
    _, again = rendered_x12(m, notice)
    assert again["tracking_numbers"] == notice["tracking_numbers"]
    assert [r["code"] for r in again["references"]] == ["BM", "CN"]  # REF*2I is not a reference
    assert strip(again) == strip(notice)
    # a reference coded 2I goes out as a tracking number only if it is one: the references group leaves it out
    notice["references"].append({"type": "tracking", "value": "X-1", "code": "2I"})
    assert ["REF", "2I", "X-1"] not in m.to_edi(notice)


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
def test_desadv_tracking_numbers_are_rff_srn(directory):
    m = mapping(f"common/DESADV.{directory}")
    msg = edifact_message("desadv-basic", [(b"RFF+CN:TRK-7741-0042'", b"RFF+CN:TRK-7741-0042'\nRFF+SRN:SRN-1'\n"
                                                                      b"RFF+SRN:SRN-2'")])
    doc = m.to_canonical(msg)
    assert doc["tracking_numbers"] == ["SRN-1", "SRN-2"]
    assert [r["code"] for r in doc["references"]] == ["DQ", "CN"]
    body = m.to_edi(doc)
    assert [s for s in every(body, "RFF") if s[1][0] == "SRN"] == [["RFF", ["SRN", "SRN-1"]],
                                                                   ["RFF", ["SRN", "SRN-2"]]]
    _, again = rendered_edifact(m, doc)
    assert strip(again) == strip(doc)
    tracking = copy.deepcopy(doc)
    tracking["references"].append({"type": "tracking", "value": "AWB-1"})  # no kept code: RFF+AAS, a reference
    _, again = rendered_edifact(m, tracking)
    assert again["references"][-1] == {"type": "tracking", "value": "AWB-1", "code": "AAS"}
    assert again["tracking_numbers"] == ["SRN-1", "SRN-2"]


# ================================================================== the golden outputs validate


GOLDEN_OUT = sorted(p for p in GOLDEN.glob("*/*/expected*") if p.suffix in (".edi", ".x12"))


@pytest.mark.parametrize("path", GOLDEN_OUT, ids=[f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
                                                  for p in GOLDEN_OUT])
def test_golden_outputs_validate(path):
    if path.suffix == ".edi":
        messages = read_edifact(path.read_bytes()).messages
        findings = [f for msg in messages for f in EdifactValidator().validate(msg)]
    else:
        messages = read_x12(path.read_bytes()).transactions
        findings = [f for tx in messages for f in X12Validator().validate(tx)]
    assert messages
    assert [f for f in findings if f.severity == "error"] == []
