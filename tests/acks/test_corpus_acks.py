"""Acknowledge every inbound file of the shared X12 corpus; pyx12 must accept every ack we write.

Expected statuses are for envelope findings only (``validate=False``), so that
they do not move when the schema validator learns more; the pyx12 check runs
with the default validator too, so whatever it finds must still make valid
997s and 999s.
"""

from __future__ import annotations

import datetime as dt

import pytest

from hub.acks.x12 import acknowledge, read_acks
from tests.conftest import CORPUS, corpus_path

WHEN = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)
INBOUND_DIRS = ("850", "855", "856", "810", "malformed")

# file -> what we send back: [(kind, status, inbound group control number or ISA13, TA105 note or AK9 codes)]
EXPECTED = {
    "810/bots_810_4010_2sets_crlf.x12": [("997", "A", "224", [])],
    "810/bots_810_4010_outbound_2sets_6kb.x12": [("TA1", "A", "000000003", "000"), ("997", "A", "3", [])],
    "810/bots_810_4030VICS.x12": [("997", "A", "224", [])],
    "810/edifabric_810_2040_crlf.txt": [("TA1", "A", "810000263", "000"), ("997", "A", "810000263", [])],
    "810/edinet_810_4010_unpadded-isa_bom_indented.edi": [("997", "A", "1", [])],
    "850/bots_850_4010VICS_del-0x7f-element-sep_nak-0x15-terminator_42kb.x12": [("997", "A", "3408", [])],
    "850/bots_850_4010_3interchanges_crlf.x12": [("997", "A", "150", []), ("997", "A", "151", []),
                                                 ("997", "A", "152", [])],
    "850/bots_850_4010_cr-terminator.x12": [("997", "A", "142", [])],
    # two groups numbered 5, each with ST02 000000001 twice
    "850/bots_850_4010_isa00300_2groups_4sets_plus-subsep.x12": [("997", "P", "5", []), ("997", "R", "5", [])],
    "850/bots_850_4010_isa00302_newline-terminator_at-subsep.x12": [("TA1", "A", "112240001", "000"),
                                                                    ("997", "A", "123456789", [])],
    "850/bots_850_4010_pipe-element-sep_4sets.x12": [("997", "A", "100001", [])],
    "850/bots_850_4010_plain.x12": [("997", "A", "1403", [])],
    "850/bots_850_4010_tilde-element-sep_newline-terminator.x12": [("997", "A", "3", [])],
    "850/bots_850_4010_wrapped80col_lf.x12": [("TA1", "A", "000000010", "000"), ("997", "A", "8", [])],
    "850/bots_850_ebcdic_encoded.x12": [("997", "A", "183", [])],
    "850/edinet_850_4010_nbsp-padded-isa_bom_indented.edi": [("TA1", "R", "000000055", "001")],  # IEA02 != ISA13
    "850/nodex12_850_4010VICS_2interchanges.edi": [("997", "A", "1421", []), ("TA1", "R", "000003438", "025")],
    "850/stedi_850_8020_one-segment-per-line.edi": [("999", "A", "1", [])],
    "855/bots_855_4010UCS_6sets_crlf.x12": [("997", "A", "811", [])],
    "855/nodex12_855_4010.edi": [("997", "A", "5", [])],
    "856/bots_856_4010_partner2_edifact-style-delimiters.x12": [("TA1", "A", "000000002", "000"),
                                                                ("997", "A", "2", [])],
    "856/bots_856_4010_retailer-inbound_crlf.x12": [("TA1", "A", "000000001", "000"), ("997", "A", "1", [])],
    "856/nodex12_856_4060.edi": [("997", "A", "49", [])],
    "malformed/edifabric_810_invalid-isa-tag-FSA.txt": [],  # not X12
    "malformed/edifabric_810_missing-ge.txt": [("TA1", "A", "810000263", "000"), ("997", "R", "810000263", ["3"])],
    "malformed/imsweb_837_isa-wrong-length.txt": [("TA1", "A", "000000905", "000"), ("999", "R", "1", [])],
    "malformed/imsweb_837_no-isa.txt": [],  # not X12
    # acknowledgments are not acknowledged
    "malformed/staedi_997_invalid-codes-and-nonnumeric.edi": [],
    "malformed/staedi_997_missing-ak1-ak9_version-mismatch.edi": [],
    "malformed/staedi_997_repetition-seps-where-not-allowed.edi": [],
    "malformed/staedi_999_wrong-order_bad-se-count.edi": [],
}


def _inbound_files() -> list[str]:
    if not CORPUS.is_dir():
        return sorted(EXPECTED)
    root = CORPUS / "x12"
    return sorted(str(p.relative_to(root)) for d in INBOUND_DIRS for p in (root / d).iterdir() if p.is_file())


def _summary(a: dict) -> tuple:
    if a["kind"] == "TA1":
        return ("TA1", a["status"], a["interchange"], a["note_code"])
    return (a["kind"], a["status"], a["group_control_number"], a["codes"])


@pytest.mark.corpus
def test_every_inbound_file_is_listed():
    assert _inbound_files() == sorted(EXPECTED)


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_acks_on_envelope_findings(name, check_pyx12):
    result = acknowledge(corpus_path("x12", name), when=WHEN, validate=False)
    assert [_summary(a) for a in result.acks] == EXPECTED[name]
    if not result.acks:
        assert result.data == b""
        return
    check_pyx12(result)
    # what we wrote reads back as what we said we wrote
    reports = read_acks(result.data)
    assert not [f for f in reports.findings if f.is_error], [f.message for f in reports.findings]
    assert [(r.kind, r.code) for r in reports] == [(a["kind"], a["status"]) for a in result.acks]
    for report, a in zip(reports, result.acks, strict=True):
        if report.kind == "TA1":
            assert report.note_code == a["note_code"]
        else:
            assert (report.functional_id, report.group_control_number) == (a["functional_id"],
                                                                           a["group_control_number"])
            assert (report.received, report.accepted) == (a["received"], a["accepted"])


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_acks_with_the_default_validator_pass_pyx12(name, check_pyx12):
    result = acknowledge(corpus_path("x12", name), when=WHEN)
    if result.data:
        check_pyx12(result)
        assert len(read_acks(result.data)) == len(result.acks)
    else:
        assert not result.acks


@pytest.mark.corpus
def test_hipaa_837_ack_passes_stock_pyx12(check_pyx12):
    # an 837 5010: its 999 is a HIPAA 999, valid with pyx12's maps as shipped (except the TA1 placement,
    # so ask for no TA1)
    result = acknowledge(corpus_path("x12", "malformed", "imsweb_837_isa-wrong-length.txt"), when=WHEN,
                         validate=False, ta1="never")
    check_pyx12(result, hipaa=True)
    [report] = read_acks(result.data)
    assert report.sets[0].errors[0].code == "4"  # SE01 says 25, the set has 34 segments
