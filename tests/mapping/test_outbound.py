"""The outbound direction: canonical document -> X12 (``Mapping.to_edi``, ``render``, ``edihub render``).

The golden cases (tests/golden/*/*/input.json) run in tests/mapping/test_golden.py.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import textwrap

import pytest
from click.testing import CliRunner

from hub.cli.render import render as render_command
from hub.edi.x12 import read_document
from hub.edi.x12.validate import X12Validator
from hub.mapping import ControlNumbers, MappingError, load_mapping, render
from hub.mapping.outbound import unconvert
from hub.partners import PartyId, load_profiles
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
MAPPINGS = [str(REPO / "mappings")]
PROFILES = REPO / "partner_profiles"
WHEN = dt.datetime(2024, 1, 6, 10, 0)
# Filled from the envelope written by render() (control numbers, test flag), not from the document:
# by design they do not survive canonical -> EDI -> canonical.
NOT_ROUND_TRIPPED = ("source",)


@pytest.fixture(scope="module")
def acme():
    return load_profiles(PROFILES)["acme"]


@pytest.fixture(scope="module")
def m855():
    return load_mapping("common/855.004010", MAPPINGS)


@pytest.fixture(scope="module")
def m850():
    return load_mapping("common/850.004010", MAPPINGS)


def ack_input():
    return json.loads((GOLDEN / "common" / "855-basic" / "input.json").read_text(encoding="utf-8"))


def strip(doc):
    return {k: v for k, v in doc.items() if k not in NOT_ROUND_TRIPPED}


def read_back(data: bytes, mapping):
    doc = read_document(data)
    assert doc.findings == []
    (tx,) = doc.transactions
    return tx, mapping.to_canonical(tx)


# ------------------------------------------------------------------ golden


# ------------------------------------------------------------------ 855 round trip and validity


def test_855_round_trip_is_the_identity(acme, m855):
    document = ack_input()
    _, back = read_back(render(document, acme, when=WHEN, mappings=MAPPINGS), m855)
    assert strip(back) == strip(document)
    assert back["source"]["message_type"] == "855"


def test_855_reads_back_clean_and_validates(acme):
    data = render(ack_input(), acme, when=WHEN, mappings=MAPPINGS)
    doc = read_document(data)
    assert doc.findings == []
    assert not doc.not_x12
    (tx,) = doc.transactions
    assert [f for f in X12Validator().validate(tx) if f.severity == "error"] == []
    assert X12Validator(open_codes_warn=False).validate(tx) == []


def test_envelope_we_are_the_sender(acme):
    data = render(ack_input(), acme, when=WHEN, mappings=MAPPINGS)
    doc = read_document(data)
    (ic,) = doc.interchanges
    ident = acme.identities.x12
    assert (ic.sender_qualifier, ic.sender.strip()) == (ident.receiver.qualifier, ident.receiver.id)
    assert (ic.receiver_qualifier, ic.receiver.strip()) == (ident.sender.qualifier, ident.sender.id)
    (tx,) = doc.transactions
    assert tx.group.functional_id == "PR"
    assert (tx.group.sender, tx.group.receiver) == (ident.application_receiver, ident.application_sender)
    assert ic.control_number == "000000001" and tx.control_number == "0001"  # default counter: 1
    assert ic.usage == "P"


def test_control_numbers_from_the_caller_and_profile_syntax(acme, m855):
    counter = ControlNumbers(interchange=41, group=7, transaction=3)
    syntax = dataclasses.replace(acme.syntax.x12, element="|", segment="\n", line_ending="none")
    profile = dataclasses.replace(acme, syntax=dataclasses.replace(acme.syntax, x12=syntax))
    first = render(ack_input(), profile, counter, when=WHEN, mappings=MAPPINGS)
    second = render(ack_input(), profile, counter, when=WHEN, mappings=MAPPINGS)
    assert first.startswith(b"ISA|00|")
    tx1, back = read_back(first, m855)
    tx2, _ = read_back(second, m855)
    assert (tx1.interchange.control_number, tx1.group.control_number, tx1.control_number) == (
        "000000041", "000000007", "0003")
    assert tx2.interchange.control_number == "000000042" and tx2.control_number == "0004"
    assert strip(back) == strip(ack_input())


def test_crlf_line_ending(acme):
    syntax = dataclasses.replace(acme.syntax.x12, line_ending="crlf")
    profile = dataclasses.replace(acme, syntax=dataclasses.replace(acme.syntax, x12=syntax))
    data = render(ack_input(), profile, when=WHEN, mappings=MAPPINGS)
    assert data.count(b"~\r\n") == data.count(b"~") == 23


def test_ctt_is_computed(m855):
    document = ack_input()
    document.pop("totals")
    body = m855.to_edi(document)
    assert body[-1] == ["CTT", "3", "18.5"]


# ------------------------------------------------------------------ 850 round trip


def test_850_round_trip(acme, m850):
    (expected,) = json.loads((GOLDEN / "common" / "850-basic" / "expected.json").read_text(encoding="utf-8"))
    # our side sends the order here: the profile's "us" is the order's sender
    ident = dataclasses.replace(
        acme.identities.x12,
        receiver=PartyId(expected["sender"]["id"], expected["sender"]["qualifier"]),
        sender=PartyId(expected["receiver"]["id"], expected["receiver"]["qualifier"]),
    )
    profile = dataclasses.replace(acme, identities=dataclasses.replace(acme.identities, x12=ident))
    body = m850.to_edi(expected)
    assert body[0] == ["BEG", "00", "SA", "PO-4711", "", "20240105"]
    assert ["PO1", "2", "3.5", "EA", "0.75", "", "BP", "X2"] in body
    data = render(expected, profile, mapping=m850, when=WHEN)
    tx = read_document(data).transactions[0]
    assert tx.group.functional_id == "PO"
    assert strip(m850.to_canonical(tx)) == strip(expected)


# ------------------------------------------------------------------ rules read backwards

HEAD = """\
document: purchase_order
standard: x12
transaction: "850"
version: "004010"
"""


def small_mapping(tmp_path, body):
    (tmp_path / "t.yaml").write_text(textwrap.dedent(HEAD + body), encoding="utf-8")
    return load_mapping("t", [str(tmp_path)])


def order(**extra):
    doc = {
        "document_type": "purchase_order",
        "schema_version": "1.0",
        "number": "PO-1",
        "sender": {"id": "A"},
        "receiver": {"id": "B"},
        "lines": [{"quantity": {"value": "12.5", "unit": "EA"}}],
    }
    doc.update(extra)
    return doc


def test_tables_inverted_first_code_wins_and_kept_code_wins(tmp_path):
    m = small_mapping(tmp_path, """\
tables:
  reference_type: {IA: vendor_number, VR: vendor_number, "*": other}
groups:
  - field: references
    segment: REF
    rules:
      - {edi: REF01, field: code}
      - {edi: REF01, field: type, table: reference_type}
      - {edi: REF02, field: value}
""")
    refs = [
        {"type": "vendor_number", "value": "1"},
        {"type": "vendor_number", "value": "2", "code": "VR"},
        {"type": "other", "value": "3", "code": "ZZ"},
    ]
    assert m.to_edi(order(references=refs)) == [["REF", "IA", "1"], ["REF", "VR", "2"], ["REF", "ZZ", "3"]]
    with pytest.raises(MappingError, match=r"references\[0\]\.type: 'other' has no code in table reference_type"):
        m.to_edi(order(references=[{"type": "other", "value": "3"}]))


def test_qualifier_selectors_create_the_segment(tmp_path):
    m = small_mapping(tmp_path, """\
header:
  - {edi: "REF[REF01=DP].REF02", field: "references[type=department].value"}
  - {edi: "REF[REF01=IA|VR].REF02", field: "references[type=vendor_number].value"}
  - {edi: BEG05, field: date}
  - {edi: "CUR[CUR01=SE].CUR02", field: currency}
""")
    refs = [{"type": "vendor_number", "value": "V"}, {"type": "department", "value": "D"}]
    body = m.to_edi(order(references=refs, date="2024-02-29", currency="EUR"))
    assert body == [["BEG", "", "", "", "", "20240229"], ["CUR", "SE", "EUR"], ["REF", "DP", "D"], ["REF", "IA", "V"]]


def test_types_convert_back():
    assert unconvert("date", "2024-01-05") == "20240105"
    assert unconvert("date", "2024-01-05", 6) == "240105"
    assert unconvert("time", "09:30:00") == "0930"
    assert unconvert("time", "09:30:15") == "093015"
    assert unconvert("decimal", "12.50") == "12.50"
    assert unconvert("N2", "12.50") == "1250"
    assert unconvert("N2", "-0.5") == "-50"
    assert unconvert("N0", "3") == "3"
    assert unconvert("integer", 7) == "7"
    with pytest.raises(ValueError, match="more decimals than N2"):
        unconvert("N2", "1.234")


def test_const_rules_are_not_written_and_loops_iterate(tmp_path):
    m = small_mapping(tmp_path, """\
header:
  - {field: purpose, const: original}
  - {edi: BEG03, field: number}
lines:
  field: lines
  loop: PO1
  rules:
    - {edi: PO102, field: quantity.value}
    - {edi: PO103, field: quantity.unit}
""")
    lines = [{"quantity": {"value": "1"}}, {"quantity": {"value": "2.5", "unit": "CA"}}]
    assert m.to_edi(order(purpose="cancel", lines=lines)) == [
        ["BEG", "", "", "PO-1"],
        ["PO1", "", "1"],
        ["PO1", "", "2.5", "CA"],
    ]


def test_a_value_holding_a_delimiter_is_a_clear_error(acme):
    document = ack_input()
    document["lines"][0]["description"] = "BLUE*WIDGET"
    with pytest.raises(MappingError) as info:
        render(document, acme, when=WHEN, mappings=MAPPINGS)
    message = str(info.value)
    assert "lines[0].description: 'BLUE*WIDGET' contains the interchange's element delimiter '*'" in message
    assert "PID05" in message
    document = ack_input()
    document["parties"][0]["name"] = "A~B"
    with pytest.raises(MappingError, match=r"parties\[0\]\.name: 'A~B' contains the interchange's segment delimiter"):
        render(document, acme, when=WHEN, mappings=MAPPINGS)


def test_wrong_document_type_and_invalid_document(m855):
    with pytest.raises(MappingError, match="writes purchase_order_ack documents, not 'purchase_order'"):
        m855.to_edi(order())
    bad = copy.deepcopy(ack_input())
    del bad["status"]
    with pytest.raises(MappingError, match="not valid"):
        m855.to_edi(bad)


def test_partner_without_the_outbound_mapping(acme):
    with pytest.raises(MappingError, match="no outbound 850"):
        render(order(), acme, when=WHEN, mappings=MAPPINGS)


# ------------------------------------------------------------------ CLI


def run_cli(*args):
    return CliRunner().invoke(render_command, [*args, "--profiles", str(PROFILES), "--mappings", MAPPINGS[0]])


def test_cli_render_to_stdout_and_file(tmp_path):
    src = GOLDEN / "common" / "855-basic" / "input.json"
    result = run_cli(str(src), "--partner", "acme")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"ISA*00*")
    assert b"ST*855*0001~" in result.stdout_bytes
    out = tmp_path / "out.x12"
    result = run_cli(str(src), "--partner", "acme", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert read_document(out.read_bytes()).findings == []


def test_cli_errors_exit_1_without_traceback(tmp_path):
    src = GOLDEN / "common" / "855-basic" / "input.json"
    result = run_cli(str(src), "--partner", "nobody")
    assert result.exit_code == 1
    assert "no partner 'nobody'" in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad.json"
    doc = ack_input()
    doc["number"] = "PO*1"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    result = run_cli(str(bad), "--partner", "acme")
    assert result.exit_code == 1
    assert "number" in result.output and "delimiter" in result.output and "Traceback" not in result.output
    result = run_cli(str(tmp_path / "missing.json"), "--partner", "acme")
    assert result.exit_code == 1 and "cannot read" in result.output
    (tmp_path / "junk.json").write_text("{nope", encoding="utf-8")
    result = run_cli(str(tmp_path / "junk.json"), "--partner", "acme")
    assert result.exit_code == 1 and "not JSON" in result.output
