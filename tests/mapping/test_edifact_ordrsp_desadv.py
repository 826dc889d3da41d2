"""The common EDIFACT ORDRSP and DESADV mappings (D.96A and D.01B): the shared corpus, round trips, errors.

Which mapping reads a message: the directory of its UNH S009 release, D.96A for the D.9x releases and D.01B
for D.00A and later.  Two corpus files need a decision:

* ``edinet_ordrsp_d10a_una_single-line.edi`` is D.10A, read with ORDRSP.D01B (the nearest directory we
  have; every segment it carries is in the D.01B ORDRSP, at the same place);
* ``phpedifact_desadv_96a_version-0.edi`` says ``DESADV:0:96A`` (version "0" for "D", a defect listed in
  SOURCES.md): the release 96A decides, it is read with DESADV.D96A.

``berryworks_ordrsp_d01b_unoc_misnamed-ORDERS.edi`` is a generated D.01B ORDRSP with filler text in every
element; it has no RFF+ON (the order acknowledged, the document's required ``number``) and its NAD country
codes are 3 letters ("Lor"), so it does not map: the error names both.  With an RFF+ON added and the
countries cut to 2 letters, the rest of it maps (every other filler value is skipped by the qualifier and
date-format conditions, or read as text).
"""

from __future__ import annotations

import copy
import dataclasses
import io
from pathlib import Path

import pytest

from hub.edi.edifact import read_document
from hub.edi.edifact.validate import EdifactValidator
from hub.edi.edifact.writer import EdifactWriter
from hub.mapping import MappingError, load_mapping
from tests.conftest import REPO, corpus_path

MAPPINGS = [str(REPO / "mappings")]
GOLDEN = REPO / "tests" / "golden" / "common"
CASES = {"ORDRSP": GOLDEN / "ordrsp-basic" / "input.edi", "DESADV": GOLDEN / "desadv-basic" / "input.edi"}

# corpus file -> (mapping, one row per message: UNH reference, document number, lines, second number)
# The second number is the ORDRSP's own number (BGM 1004) or the DESADV's order (RFF+ON).
CORPUS = {
    "ordrsp/edinet_ordrsp_d10a_una_single-line.edi": (
        "common/ORDRSP.D01B", [("9IMX20YSP0009", "00001672", 1, "IM20U000000000CNF")]),
    "desadv/bots_desadv_d96a_8msgs_crlf.edi": (
        "common/DESADV.D96A", [
            ("1", "VERZENDVB8", 12, "124"),
            ("2", "VERZENDVB7", 2, "123"),
            ("3", "VERZENDVB6", 2, "122"),
            ("4", "VERZENDVB5", 2, "121"),
            ("5", "VERZENDVB4", 2, "120"),
            ("6", "VERZENDVB3", 2, "119"),
            ("7", "VERZENDVB2", 2, "118"),
            ("8", "VERZENDVB1", 2, "117"),
        ]),
    "desadv/bots_desadv_d96a_una_3msgs.edi": (
        "common/DESADV.D96A", [
            ("7", "1923", 2, "ref1234"),
            ("8", "DOCNUM", 4, "BYORDNUM"),
            ("10", "DOCNUM", 1, "BYORDNUM"),
        ]),
    "desadv/phpedifact_desadv_96a_version-0.edi": (
        "common/DESADV.D96A", [("142", "Y02197250", 2, "6877871")]),
}
BERRYWORKS = "ordrsp/berryworks_ordrsp_d01b_unoc_misnamed-ORDERS.edi"


@pytest.fixture(scope="module")
def mappings():
    names = ("ORDRSP.D96A", "ORDRSP.D01B", "DESADV.D96A", "DESADV.D01B")
    return {f"common/{n}": load_mapping(f"common/{n}", MAPPINGS) for n in names}


def directory_mapping(msg) -> str:
    """D.96A for the D.9x releases (also a UNH version "0" with release 96A), D.01B from D.00A on."""
    year = int(msg.release[:2])
    return f"common/{msg.type}.{'D96A' if year >= 90 else 'D01B'}"


def second_number(doc) -> str:
    if doc["document_type"] == "purchase_order_ack":
        return doc["ack_number"]
    return doc["orders"][0]["purchase_order_number"]


def messages(data: bytes):
    return read_document(data).messages


def case_bytes(kind: str, directory: str = "D96A") -> bytes:
    data = CASES[kind].read_bytes()
    return data.replace(f"{kind}:D:96A".encode(), f"{kind}:D:{directory[1:]}".encode())


def write_back(mapping, doc) -> bytes:
    """The canonical document written as a whole interchange: the mapped body in the envelope it came in."""
    out = io.BytesIO()
    writer = EdifactWriter(out)
    writer.begin_interchange(
        sender=doc["sender"]["id"], sender_qualifier=doc["sender"].get("qualifier", ""),
        receiver=doc["receiver"]["id"], receiver_qualifier=doc["receiver"].get("qualifier", ""),
        control_reference=doc["source"]["interchange_control_number"],
    )
    writer.write_message(mapping.transaction, doc["source"]["control_number"], mapping.to_edi(doc),
                         release=mapping.version[1:])
    writer.end_interchange()
    return out.getvalue()


# ------------------------------------------------------------------ the shared corpus


@pytest.mark.corpus
def test_the_expectations_cover_every_corpus_ordrsp_and_desadv():
    found = {f"{sub}/{p.name}" for sub in ("ordrsp", "desadv") for p in corpus_path("edifact", sub).iterdir()
             if p.is_file()}
    assert found == set(CORPUS) | {BERRYWORKS}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_message_maps(name, mappings):
    mapping_name, expected = CORPUS[name]
    msgs = messages(corpus_path("edifact", *name.split("/")).read_bytes())
    assert [m.control_number for m in msgs] == [row[0] for row in expected]
    for msg, (control, number, lines, second) in zip(msgs, expected, strict=True):
        assert directory_mapping(msg) == mapping_name
        try:
            doc = mappings[mapping_name].to_canonical(msg)
        except MappingError as exc:  # pragma: no cover - the message says which file
            pytest.fail(f"{name} message {control}: {exc}")
        assert doc["number"] == number, (name, control)
        assert second_number(doc) == second, (name, control)
        assert len(doc["lines"]) == lines, (name, control)
        assert len(doc["lines"]) == sum(1 for s in msg.segments if s[0] == "LIN"), (name, control)
        assert doc["source"]["message_type"] == msg.type


@pytest.mark.corpus
def test_envelope_defects_do_not_stop_the_mapping(mappings):
    """SOURCES.md: the D.10A ORDRSP has UNT+17 for 31 segments and UNT/UNZ references that differ from UNH/UNB."""
    doc = read_document(corpus_path("edifact", "ordrsp", "edinet_ordrsp_d10a_una_single-line.edi").read_bytes())
    codes = {f.code for f in doc.findings}
    assert {"UNT_COUNT", "UNT_REFERENCE_MISMATCH", "UNZ_REFERENCE_MISMATCH"} <= codes
    (msg,) = doc.messages
    out = mappings["common/ORDRSP.D01B"].to_canonical(msg)
    assert out["number"] == "00001672"
    assert out["status"] == "pending" and "status_code" not in out  # no BGM 1225
    assert out["order_date"] == "2015-10-23"  # RFF+ON DTM+171 in format 203
    assert out["currency"] == "EUR"
    (line,) = out["lines"]
    assert line["status"] == "pending" and "status_code" not in line  # no LIN 1229
    assert line["confirmed_unit_price"] == {"amount": "50.5", "type": "calculation", "basis": "CAL"}
    contact = out["parties"][0]["contacts"][0]
    assert contact["phone"] == "+49 123 45678 8652"  # COM+?+49...: the released '+'


@pytest.mark.corpus
def test_desadv_version_0_maps_with_unqualified_ids(mappings):
    (msg,) = messages(corpus_path("edifact", "desadv", "phpedifact_desadv_96a_version-0.edi").read_bytes())
    assert (msg.version_number, msg.release) == ("0", "96A")
    out = mappings["common/DESADV.D96A"].to_canonical(msg)
    assert out["parties"][0]["identifiers"] == [{"scheme": "other", "value": "1694901"}]
    items = out["orders"][0]["packs"][0]["items"]
    assert items[0]["product_ids"] == [{"scheme": "other", "value": "9780738507330"}]  # PIA+5 without 7143
    assert items[0]["references"][1] == {"type": "purchase_order", "value": "6877871", "code": "ON"}
    assert out["dates"] == [{"type": "shipped", "date": "2016-07-26", "code": "11"}]


@pytest.mark.corpus
def test_desadv_packs_sscc_batch_and_weight(mappings):
    msgs = messages(corpus_path("edifact", "desadv", "bots_desadv_d96a_una_3msgs.edi").read_bytes())
    out = mappings["common/DESADV.D96A"].to_canonical(msgs[1])
    order = out["orders"][0]
    assert order["seller_order_number"] == "SUORDNUM"
    assert [p["sscc"] for p in order["packs"]] == ["354123450000000014"] * 2  # the PCI+33E, not the PCI+17
    pack = order["packs"][0]
    assert pack["package_type"] == "CR" and pack["weight"] == {"value": "123", "unit": "KGM"}
    item = pack["items"][0]
    assert item["batch_number"] == "BATCHNUMBERPAC"
    assert item["ordered_quantity"] == {"value": "123"}
    assert item["dates"] == [{"type": "production", "date": "1999-12-31", "code": "94"}]
    # the first message: a GIN+EU under PCI+17 is no SSCC
    first = mappings["common/DESADV.D96A"].to_canonical(msgs[0])
    assert "sscc" not in first["orders"][0]["packs"][0]


@pytest.mark.corpus
def test_berryworks_ordrsp_has_no_order_number(mappings):
    (msg,) = messages(corpus_path("edifact", *BERRYWORKS.split("/")).read_bytes())
    assert directory_mapping(msg) == "common/ORDRSP.D01B"
    with pytest.raises(MappingError) as exc:
        mappings["common/ORDRSP.D01B"].to_canonical(msg)
    text = str(exc.value)
    assert "common/ORDRSP.D01B: message ORDRSP '000001'" in text
    assert "'number' is a required property" in text
    assert "parties[0].address.country: 'Lor'" in text


@pytest.mark.corpus
def test_berryworks_ordrsp_maps_once_given_an_order_number(mappings):
    (msg,) = messages(corpus_path("edifact", *BERRYWORKS.split("/")).read_bytes())
    segments = []
    for seg in msg.segments:
        if seg[0] == "RFF" and not any(s[0] == "RFF" for s in segments):
            segments.append(["RFF", "ON:LOREM-PO-1"])
        if seg[0] == "NAD" and len(seg) > 9:
            seg = [*seg[:9], "SE", *seg[10:]]
        segments.append(seg)
    out = mappings["common/ORDRSP.D01B"].to_canonical(dataclasses.replace(msg, segments=segments))
    assert out["number"] == "LOREM-PO-1"
    assert len(out["lines"]) == 1
    line = out["lines"][0]
    assert (line["line_number"], line["status"], line["status_code"]) == ("Loremx", "pending", "110")
    assert line["confirmed_unit_price"]["amount"] == "123456789"
    assert "dates" not in out and "confirmed_dates" not in line  # filler dates: formats 106, 708... are skipped
    assert "currency" not in out  # CUX+5 (not 2, the reference currency)


# ------------------------------------------------------------------ golden inputs: read, write, read


@pytest.mark.parametrize("directory", ["D96A", "D01B"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_round_trip_is_the_identity(kind, directory, mappings):
    mapping = mappings[f"common/{kind}.{directory}"]
    (msg,) = messages(case_bytes(kind, directory))
    assert EdifactValidator().validate(msg) == []
    first = mapping.to_canonical(msg)
    doc = read_document(write_back(mapping, first))
    assert doc.findings == []
    (again,) = doc.messages
    assert EdifactValidator().validate(again) == []
    assert mapping.to_canonical(again) == first


@pytest.mark.parametrize("kind", sorted(CASES))
def test_d01b_reads_the_same_message_as_d96a(kind, mappings):
    old = mappings[f"common/{kind}.D96A"].to_canonical(messages(case_bytes(kind))[0])
    new = mappings[f"common/{kind}.D01B"].to_canonical(messages(case_bytes(kind, "D01B"))[0])
    assert new["source"].pop("version") == "01B"
    assert old["source"].pop("version") == "96A"
    assert new == old


def test_ordrsp_golden_fields(mappings):
    doc = mappings["common/ORDRSP.D96A"].to_canonical(messages(case_bytes("ORDRSP"))[0])
    assert (doc["number"], doc["ack_number"], doc["status"], doc["status_code"]) == (
        "PO-88123", "RSP-2024-0017", "changed", "4")
    assert (doc["order_date"], doc["date"], doc["seller_order_number"]) == ("2024-01-02", "2024-01-05", "SO-55401")
    assert doc["totals"] == {"line_count": 3, "amount": "1003.20"}
    assert [(ln["status"], ln["status_code"]) for ln in doc["lines"]] == [
        ("accepted", "5"), ("changed", "3"), ("rejected", "7")]
    second = doc["lines"][1]
    assert second["ordered_quantity"] == {"value": "120", "unit": "PCE"}
    assert second["confirmed_quantity"] == {"value": "96", "unit": "PCE"}
    assert second["confirmed_unit_price"] == {"amount": "4.20", "type": "net", "basis": "AAA"}
    assert second["confirmed_dates"] == [{"type": "promised_delivery", "date": "2024-01-19", "code": "69"}]
    assert second["reason"] == "4"
    assert [p["value"] for p in doc["lines"][0]["product_ids"]] == ["8712345003906", "ART-1001", "B-7781"]


def test_desadv_golden_fields(mappings):
    doc = mappings["common/DESADV.D96A"].to_canonical(messages(case_bytes("DESADV"))[0])
    assert (doc["number"], doc["date"], doc["line_count"]) == ("DES-2024-0042", "2024-01-10", 3)
    assert {d["type"]: d["date"] for d in doc["dates"]} == {"shipped": "2024-01-10",
                                                             "estimated_delivery": "2024-01-12"}
    assert doc["references"] == [
        {"type": "delivery_note", "value": "DN-77120", "code": "DQ"},
        {"type": "carrier_pro", "value": "TRK-7741-0042", "code": "CN"},
    ]
    assert doc["carrier"] == {"scac": "DHLF", "name": "DHL Freight", "transport_mode": "30", "equipment_type": "TE",
                              "equipment_number": "NL-TR-4711", "seal_number": "SEAL0099"}
    assert doc["gross_weight"] == {"value": "412.5", "unit": "KGM"}
    order = doc["orders"][0]
    assert (order["purchase_order_number"], order["purchase_order_date"]) == ("PO-88123", "2024-01-02")
    assert [(p["sscc"], len(p["items"])) for p in order["packs"]] == [
        ("387123450000000012", 2), ("387123450000000029", 1)]
    item = order["packs"][0]["items"][0]
    assert item["batch_number"] == "L24-0107"
    assert item["shipped_quantity"] == {"value": "48", "unit": "PCE"}
    assert [(ln["line_number"], ln["sscc"]) for ln in doc["lines"]] == [
        ("1", "387123450000000012"), ("2", "387123450000000012"), ("3", "387123450000000029")]


def test_desadv_outbound_numbers_the_cps_and_counts_the_lin(mappings):
    mapping = mappings["common/DESADV.D96A"]
    doc = mapping.to_canonical(messages(case_bytes("DESADV"))[0])
    doc["line_count"] = 99  # computed on the way out
    body = mapping.to_edi(doc)
    assert [s for s in body if s[0] == "CPS"] == [["CPS", "1"], ["CPS", "2"]]
    assert ["CNT", ["2", "3"]] in body
    assert ["GIN", "BJ", ["387123450000000029"]] in body or ["GIN", "BJ", "387123450000000029"] in body


# ------------------------------------------------------------------ status tables


@pytest.mark.parametrize(("bgm03", "status"), [("29", "accepted"), ("4", "changed"), ("30", "changed"),
                                               ("27", "rejected"), ("9", "pending"), ("12", "pending")])
def test_ordrsp_status_from_bgm_1225(bgm03, status, mappings):
    data = case_bytes("ORDRSP").replace(b"BGM+231+RSP-2024-0017+4'", f"BGM+231+RSP-2024-0017+{bgm03}'".encode())
    doc = mappings["common/ORDRSP.D96A"].to_canonical(messages(data)[0])
    assert (doc["status"], doc["status_code"]) == (status, bgm03)


@pytest.mark.parametrize(("lin02", "status"), [("5", "accepted"), ("3", "changed"), ("6", "changed"),
                                               ("1", "changed"), ("7", "rejected"), ("2", "rejected"),
                                               ("4", "pending"), ("", "pending")])
def test_ordrsp_line_status_from_lin_1229(lin02, status, mappings):
    data = case_bytes("ORDRSP").replace(b"LIN+1+5+", f"LIN+1+{lin02}+".encode())
    line = mappings["common/ORDRSP.D96A"].to_canonical(messages(data)[0])["lines"][0]
    assert line["status"] == status
    assert line.get("status_code") == (lin02 or None)


@pytest.mark.parametrize(("status", "bgm03", "first_lin02"), [("accepted", "29", "5"), ("changed", "4", "3"),
                                                              ("rejected", "27", "7"), ("pending", "12", "4")])
def test_ordrsp_status_codes_written_without_status_code(status, bgm03, first_lin02, mappings):
    mapping = mappings["common/ORDRSP.D96A"]
    doc = mapping.to_canonical(messages(case_bytes("ORDRSP"))[0])
    del doc["status_code"]
    doc["status"] = status
    for line in doc["lines"]:
        del line["status_code"]
        line["status"] = status
    body = mapping.to_edi(doc)
    assert next(s for s in body if s[0] == "BGM")[3] == bgm03
    assert next(s for s in body if s[0] == "LIN")[2] == first_lin02


# ------------------------------------------------------------------ errors name the mapping, the place, the field


def test_ordrsp_without_order_number_is_an_error(mappings):
    data = case_bytes("ORDRSP").replace(b"RFF+ON:PO-88123'\nDTM+171:20240102:102'\n", b"")
    with pytest.raises(MappingError, match=r"common/ORDRSP.D96A: message ORDRSP '1'.*'number' is a required"):
        mappings["common/ORDRSP.D96A"].to_canonical(messages(data)[0])


def test_short_sscc_names_the_message_and_the_field(mappings):
    data = case_bytes("DESADV").replace(b"GIN+BJ+387123450000000029", b"GIN+BJ+38712345000000002")
    with pytest.raises(MappingError) as exc:
        mappings["common/DESADV.D96A"].to_canonical(messages(data)[0])
    text = str(exc.value)
    assert "common/DESADV.D96A: message DESADV '1' (message 1)" in text
    assert "orders[0].packs[1].sscc: '38712345000000002' does not match" in text


def test_bad_quantity_names_the_file_line_segment_and_field(mappings):
    data = case_bytes("DESADV").replace(b"QTY+12:36:PCE", b"QTY+12:3x6:PCE")
    with pytest.raises(MappingError) as exc:
        mappings["common/DESADV.D96A"].to_canonical(messages(data)[0])
    text = str(exc.value)
    assert "common/DESADV.D96A: message DESADV '1'" in text
    path = Path("mappings") / "common" / "DESADV.D96A.yaml"
    assert f"{path}:" in text or str(REPO / path) in text
    assert "shipped_quantity.value: QTY[QTY01-01=12].QTY01-02 '3x6': not a number" in text


def test_outbound_short_sscc_names_the_field(mappings):
    mapping = mappings["common/DESADV.D96A"]
    doc = mapping.to_canonical(messages(case_bytes("DESADV"))[0])
    doc["orders"][0]["packs"][1]["sscc"] = "38712345000000002"
    doc["lines"][2]["sscc"] = "38712345000000002"  # the derived lines agree with the orders
    with pytest.raises(MappingError, match=r"common/DESADV.D96A: .*orders\[0\]\.packs\[1\]\.sscc"):
        mapping.to_edi(doc)


def test_outbound_desadv_takes_one_order(mappings):
    mapping = mappings["common/DESADV.D96A"]
    doc = mapping.to_canonical(messages(case_bytes("DESADV"))[0])
    second = copy.deepcopy(doc["orders"][0])
    second["purchase_order_number"] = "PO-88124"
    doc["orders"].append(second)
    doc["lines"] += [dict(line, purchase_order_number="PO-88124") for line in doc["lines"]]
    with pytest.raises(MappingError, match=r"orders has 2 items but this mapping writes only orders\[0\]"):
        mapping.to_edi(doc)


def test_ids_without_qualifier_are_written_without_it(mappings):
    """An identifier of scheme `other` without code goes out without its qualifier and reads back the same."""
    mapping = mappings["common/ORDRSP.D96A"]
    doc = mapping.to_canonical(messages(case_bytes("ORDRSP"))[0])
    doc["parties"][0]["identifiers"] = [{"scheme": "other", "value": "ID-1"}]
    doc["lines"][0]["product_ids"][1] = {"scheme": "other", "value": "X-1"}
    body = mapping.to_edi(doc)
    assert ["NAD", "BY", ["ID-1"], "", ["Nordbuy Retail NV"], ["Industrieweg 12"], "Antwerpen", "", "2030",
            "BE"] in body
    assert ["PIA", "1", ["X-1"], ["B-7781", "IN"]] in body
    (again,) = messages(write_back(mapping, doc))
    assert mapping.to_canonical(again) == doc
