"""The mapping language: selectors, tables, conversions, extends, load-time errors."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from hub.cli.map import map_command
from hub.edi.x12 import read_document
from hub.mapping import MappingError, convert, load_mapping
from tests.conftest import REPO

GOLDEN_INPUT = REPO / "tests" / "golden" / "common" / "850-basic" / "input.x12"

HEAD = """\
document: purchase_order
standard: x12
transaction: "850"
version: "004010"
"""

MINIMAL = HEAD + """\
tables:
  party_role: {ST: ship_to, BT: bill_to, "*": other}
  reference_type: {DP: department, "*": other}
header:
  - {edi: ISA06, field: sender.id}
  - {edi: ISA08, field: receiver.id}
  - {edi: BEG03, field: number}
  - {edi: BEG05, field: date}
  - {edi: "REF[REF01=DP].REF02", field: "references[type=department].value"}
groups:
  - field: parties
    loop: "N1[N101=ST]"
    rules:
      - {edi: N101, field: role, table: party_role}
      - {edi: N102, field: name}
lines:
  field: lines
  loop: PO1
  rules:
    - {edi: PO102, field: quantity.value}
    - {edi: PO103, field: quantity.unit}
"""


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def golden_tx():
    return read_document(GOLDEN_INPUT.read_bytes()).transactions[0]


def test_qualifier_selectors_and_tables(tmp_path):
    write(tmp_path, "t/min", MINIMAL)
    doc = load_mapping("t/min", [str(tmp_path)]).to_canonical(golden_tx())
    assert doc["number"] == "PO-4711"
    assert doc["date"] == "2024-01-05"
    assert doc["references"] == [{"type": "department", "value": "042"}]
    assert doc["parties"] == [{"role": "ship_to", "name": "ACME STORE 12"}]  # BT filtered by the loop condition
    quantities = [line["quantity"] for line in doc["lines"]]
    assert quantities == [{"value": "10", "unit": "CA"}, {"value": "3.5", "unit": "EA"}]


def test_extends_overrides_a_rule_and_a_table(tmp_path):
    write(tmp_path, "common/min", MINIMAL)
    write(
        tmp_path,
        "acme/min",
        """\
        extends: common/min
        tables:
          party_role: {ST: bill_to}
        header:
          - {edi: BEG04, field: number, default: NO-RELEASE}
          - {edi: "REF[REF01=DP].REF02", field: "references[type=department].value", remove: "true"}
        """,
    )
    m = load_mapping("acme/min", [str(tmp_path)])
    assert m.chain == ("acme/min", "common/min")
    doc = m.to_canonical(golden_tx())
    assert doc["number"] == "NO-RELEASE"
    assert "references" not in doc
    assert doc["parties"][0]["role"] == "bill_to"


@pytest.mark.parametrize(
    ("kind", "raw", "out"),
    [
        ("date", "20240105", "2024-01-05"),
        ("date", "240105", "2024-01-05"),
        ("date", "991231", "1999-12-31"),
        ("time", "0930", "09:30:00"),
        ("time", "093015", "09:30:15"),
        ("N2", "1250", "12.50"),
        ("N2", "-5", "-0.05"),
        ("decimal", ".75", "0.75"),
        ("decimal", "0012.5", "12.5"),
        ("integer", "007", 7),
    ],
)
def test_conversions(kind, raw, out):
    assert convert(kind, raw) == out


@pytest.mark.parametrize(("kind", "raw"), [("date", "20241301"), ("date", "2024"), ("time", "2561"), ("N2", "1.5")])
def test_bad_values_are_refused(kind, raw):
    with pytest.raises(ValueError):
        convert(kind, raw)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("  - {edi: XYZ01, field: number}\n", "unknown segment 'XYZ'"),
        ("  - {edi: BEG99, field: number}\n", "BEG has elements 01 to 12"),
        ("  - {edi: PO101, field: number}\n", "segment PO1 is not in the 850 header"),
        ("  - {edi: BEG03, field: numbr}\n", "has no field 'numbr'"),
        ("  - {edi: BEG01, field: purpose, table: nope}\n", "unknown table 'nope'"),
        ("  - {edi: BEG01, field: purpose, const: sometimes}\n", "'sometimes' is not one of"),
    ],
)
def test_load_errors_name_file_line_and_key(tmp_path, bad, needle):
    text = MINIMAL.replace("header:\n", "header:\n" + bad)
    path = write(tmp_path, "t/bad", text)
    with pytest.raises(MappingError) as info:
        load_mapping("t/bad", [str(tmp_path)])
    message = str(info.value)
    assert needle in message
    assert f"{path}:9: header[0]" in message  # the file, the line of the rule, the key


def test_unknown_loop_and_bad_table_value(tmp_path):
    text = MINIMAL.replace('loop: "N1[N101=ST]"', "loop: N7").replace("BT: bill_to", "BT: billing")
    write(tmp_path, "t/bad", text)
    with pytest.raises(MappingError) as info:
        load_mapping("t/bad", [str(tmp_path)])
    assert "no loop N7" in str(info.value)


def test_table_value_outside_the_closed_list(tmp_path):
    write(tmp_path, "t/bad", MINIMAL.replace("BT: bill_to", "BT: billing"))
    with pytest.raises(MappingError, match="'billing' is not one of"):
        load_mapping("t/bad", [str(tmp_path)])


def test_invalid_document_names_the_set_and_field(tmp_path):
    write(tmp_path, "t/nolines", HEAD + "header:\n  - {edi: BEG03, field: number}\n")
    with pytest.raises(MappingError) as info:
        load_mapping("t/nolines", [str(tmp_path)]).to_canonical(golden_tx())
    message = str(info.value)
    assert "850 '0001'" in message and "sender" in message


def test_unknown_code_without_fallback_is_a_clear_error(tmp_path):
    strict = MINIMAL.replace('"N1[N101=ST]"', "N1").replace("BT: bill_to, \"*\": other", "XX: bill_to")
    write(tmp_path, "t/strict2", strict)
    with pytest.raises(MappingError, match="'BT' is not in table party_role"):
        load_mapping("t/strict2", [str(tmp_path)]).to_canonical(golden_tx())


def test_common_850_mapping_loads():
    m = load_mapping("common/850.004010", [str(REPO / "mappings")])
    assert m.document == "purchase_order" and m.transaction == "850"


def test_cli_map_prints_a_json_array(monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(map_command, [str(GOLDEN_INPUT)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["number"] == "PO-4711"


def test_cli_map_without_mapping_exits_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(map_command, [str(GOLDEN_INPUT)])
    assert result.exit_code == 1
    assert "no mapping 'common/850.004010'" in result.output
    assert "Traceback" not in result.output


def test_cli_map_not_x12_exits_2(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    result = CliRunner().invoke(map_command, [str(path)])
    assert result.exit_code == 2
