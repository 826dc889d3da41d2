"""The mapping language over EDIFACT: grammar checks, group sorting, values, the outbound writer, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.edi.edifact import read_document
from hub.mapping import MappingError, common_mapping_name, load_mapping, render
from hub.mapping.grammar import build_tree, edifact_grammar
from hub.partners import load_profiles
from tests.conftest import REPO

MAPPINGS = [str(REPO / "mappings")]
NORDBUY_ORDERS = REPO / "inbound" / "nordbuy" / "nordbuy_orders_d96a.edi"
WHEN = dt.datetime(2024, 1, 6, 10, 0)


def message(text: str):
    doc = read_document(textwrap.dedent(text).strip().encode("latin-1"))
    assert not [f for f in doc.findings if f.severity == "error"], doc.findings
    return doc.messages[0]


@pytest.fixture(scope="module")
def orders():
    return load_mapping("common/ORDERS.D96A", MAPPINGS)


@pytest.fixture(scope="module")
def nordbuy():
    return load_profiles(REPO / "partner_profiles")["nordbuy"]


def write_mapping(tmp_path, body: str) -> str:
    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "t.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return str(folder)


HEAD = """\
document: purchase_order
standard: edifact
transaction: ORDERS
version: D96A
"""


# ------------------------------------------------------------------ load-time checks


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("{edi: BGM02-01, field: number}", "BGM02 is simple data element 1004, not a composite"),
        ("{edi: NAD02, field: number}", "NAD02 is composite C082; name a component (NAD02-01)"),
        ("{edi: BGM09, field: number}", "BGM has data elements 01 to 04"),
        ("{edi: XYZ01, field: number}", "unknown segment 'XYZ' in the EDIFACT D96A directory"),
        ("{edi: NAD01, field: number}", "segment NAD is not in the ORDERS D96A header"),
        ("{edi: SG99/NAD01, field: number}", "no loop SG99 in the header"),
        ("{edi: 'SG2[BGM01-01=1]/NAD01', field: number}", "conditions on SG2 test its first segment NAD"),
    ],
)
def test_a_wrong_edifact_reference_is_a_load_error(tmp_path, rule, problem):
    folder = write_mapping(tmp_path, HEAD + f"header:\n  - {rule}\n")
    with pytest.raises(MappingError) as info:
        load_mapping("t", [folder])
    assert problem in str(info.value)
    assert "t.yaml:6: header[0]" in str(info.value)


def test_a_group_condition_must_test_the_trigger(tmp_path):
    folder = write_mapping(tmp_path, HEAD + "groups:\n  - {field: parties, loop: 'SG2[LOC01=7]', rules: []}\n")
    with pytest.raises(MappingError, match="conditions test the loop's first segment NAD"):
        load_mapping("t", [folder])


def test_the_hl_hierarchy_is_refused_for_edifact(tmp_path):
    folder = write_mapping(tmp_path, HEAD + "hierarchy: {loop: HL, levels: [{level: S}]}\n")
    with pytest.raises(MappingError, match="the HL hierarchy is X12"):
        load_mapping("t", [folder])


def test_common_mapping_names_pick_the_nearest_directory():
    assert common_mapping_name("edifact", "ORDERS", "D96A", MAPPINGS) == "common/ORDERS.D96A"
    assert common_mapping_name("edifact", "ORDERS", "D97B", MAPPINGS) == "common/ORDERS.D96A"
    assert common_mapping_name("edifact", "INVOIC", "D03B", MAPPINGS) == "common/INVOIC.D01B"
    assert common_mapping_name("x12", "850", "004010VICS") == "common/850.004010"


# ------------------------------------------------------------------ reading


def test_segments_are_sorted_into_group_iterations():
    msg = message("""
        UNB+UNOC:3+A:14+B:14+240101:1200+1'
        UNH+1+ORDERS:D:96A:UN'
        BGM+220+PO1+9'
        NAD+BY+1::9'
        CTA+PD+:ANNA'
        COM+123:TE'
        NAD+SU+2::9'
        LIN+1++111:EN'
        QTY+21:2'
        PRI+AAA:1'
        LIN+2++222:EN'
        QTY+21:3'
        UNS+S'
        CNT+2:2'
        UNT+14+1'
        UNZ+1+1'
    """)
    tree = build_tree(edifact_grammar("ORDERS", "D96A"), msg.segments[:-1])
    shape = [(c.loop.id, [s[0] for s in c.segments], [g.loop.id for g in c.children]) for c in tree.children]
    assert shape == [
        ("SG2", ["NAD"], ["SG5"]),
        ("SG2", ["NAD"], []),
        ("SG25", ["LIN", "QTY"], ["SG28"]),
        ("SG25", ["LIN", "QTY"], []),
    ]
    assert [s[0] for s in tree.segments] == ["UNH", "BGM", "UNS", "CNT"]


def test_release_characters_decimal_comma_and_long_dates(orders):
    msg = message("""
        UNA:+,? '
        UNB+UNOC:3+A:14+B:14+240101:1200+1'
        UNH+1+ORDERS:D:96A:UN'
        BGM+220+PO?+1+9'
        DTM+137:202401051330:203'
        NAD+BY+1::9++ACME?: NORTH'
        LIN+1++111:EN'
        QTY+21:2,5'
        PRI+AAA:1,25'
        UNS+S'
        UNT+9+1'
        UNZ+1+1'
    """)
    doc = orders.to_canonical(msg)
    assert doc["number"] == "PO+1"
    assert doc["date"] == "2024-01-05"
    assert doc["parties"][0]["name"] == "ACME: NORTH"
    assert doc["lines"][0]["quantity"]["value"] == "2.5"
    assert doc["lines"][0]["unit_price"]["amount"] == "1.25"


def test_a_code_missing_from_a_table_names_message_rule_and_code(tmp_path):
    folder = write_mapping(
        tmp_path,
        HEAD
        + "tables:\n  kind: {'220': standard}\nheader:\n  - {edi: BGM01-01, field: order_type, table: kind}\n"
        "  - {edi: BGM02, field: number}\n"
        "lines: {field: lines, loop: SG25, rules: [{edi: LIN01, field: line_number}]}\n",
    )
    msg = message(NORDBUY_ORDERS.read_text().replace("BGM+220", "BGM+105"))
    with pytest.raises(MappingError) as info:
        load_mapping("t", [folder]).to_canonical(msg)
    text = str(info.value)
    assert "message ORDERS '1' (message 1)" in text and "BGM01-01 '105' is not in table kind" in text


# ------------------------------------------------------------------ writing


def test_round_trip_writes_groups_uns_cnt_and_escapes(orders, nordbuy):
    doc = orders.to_canonical(read_document(NORDBUY_ORDERS.read_bytes()).messages[0])
    doc["parties"][0]["name"] = "A+B's"
    doc["totals"]["line_count"] = 99  # computed on the way out
    data = render(doc, nordbuy, mapping=orders, when=WHEN)
    text = data.decode("latin-1")
    assert "NAD+BY+5412345000013::9++A?+B?'s'" in text
    assert "UNS+S'CNT+2:2'" in text
    again = orders.to_canonical(read_document(data).messages[0])
    assert again["parties"][0]["name"] == "A+B's"
    assert again["lines"] == doc["lines"]


def test_product_ids_after_the_first_go_to_pia(orders):
    doc = orders.to_canonical(read_document(NORDBUY_ORDERS.read_bytes()).messages[0])
    doc["lines"][0]["product_ids"].append({"scheme": "buyer_part", "value": "BP-9", "code": "IN"})
    body = orders.to_edi(doc)
    lin = body.index(["LIN", "1", "", ["4000862141404", "EN"]])
    assert body[lin + 1] == ["PIA", "1", ["BP-9", "IN"]]
    reread = orders.to_canonical(message(_wrap(body)))
    assert reread["lines"][0]["product_ids"] == doc["lines"][0]["product_ids"]


def _wrap(body) -> str:
    from hub.edi.edifact.syntax import DEFAULT
    from hub.edi.edifact.writer import encode_values

    segs = "".join(encode_values(s[0], s[1:], DEFAULT) for s in body)
    return f"UNB+UNOC:3+A:14+B:14+240101:1200+1'UNH+1+ORDERS:D:96A:UN'{segs}UNT+{len(body) + 2}+1'UNZ+1+1'"


def test_an_unwritable_list_item_is_an_error(tmp_path):
    folder = write_mapping(
        tmp_path,
        """\
        document: ship_notice
        standard: edifact
        transaction: DESADV
        version: D96A
        header:
          - {edi: BGM02, field: number}
          - {edi: "SG1[RFF01-01=ON]/RFF01-02", field: "orders[0].purchase_order_number"}
        groups:
          - field: orders[0].packs
            loop: SG10
            rules: [{edi: SG11/PAC03-01, field: package_type}]
        """,
    )
    m = load_mapping("t", [folder])
    doc = {
        "document_type": "ship_notice", "schema_version": "1.0", "number": "S1", "sender": {"id": "A"},
        "receiver": {"id": "B"}, "lines": [],
        "orders": [{"purchase_order_number": "P1", "packs": [{"package_type": "CT"}, {"package_type": "PX"}]},
                   {"purchase_order_number": "P2"}],
    }
    with pytest.raises(MappingError, match=r"orders has 2 items but this mapping writes only orders\[0\]"):
        m.to_edi(doc)
    doc["orders"].pop()
    body = m.to_edi(doc)
    assert [s for s in body if s[0] in ("CPS", "PAC")] == [["CPS", "1"], ["PAC", "", "", ["CT"]],
                                                           ["CPS", "2"], ["PAC", "", "", ["PX"]]]


# ------------------------------------------------------------------ CLI


def test_cli_map_and_render_edifact(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["map", str(NORDBUY_ORDERS), "--partner", "nordbuy"])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.output)
    assert doc["currency"] == "EUR" and doc["lines"][0]["quantity"]["unit"] == "PCE"  # nordbuy's own mapping
    result = runner.invoke(main, ["map", str(NORDBUY_ORDERS)])
    (common,) = json.loads(result.output)
    assert "currency" not in common
    path = tmp_path / "po.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(main, ["render", str(path), "--partner", "nordbuy"])
    assert result.exit_code == 1
    assert "no outbound 850 or ORDERS document" in result.output
