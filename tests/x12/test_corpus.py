"""Every file of the shared X12 corpus: counts, envelope findings, round trip.

The expected envelope findings are real defects of those public samples
(see ../shared/corpus/SOURCES.md): the reader must report them, not crash.
"""

from __future__ import annotations

import pytest

from hub.edi.x12 import read_document
from hub.edi.x12.analyse import analyse
from hub.edi.x12.writer import write_document
from tests.conftest import CORPUS, corpus_path

# path, groups per interchange (transaction sets per group), envelope error codes, envelope warning codes
EXPECTED = [
    ("810/bots_810_4010_2sets_crlf.x12", ((2,),), [], []),
    ("810/bots_810_4010_outbound_2sets_6kb.x12", ((2,),), [], []),
    ("810/bots_810_4030VICS.x12", ((2,),), [], []),
    ("810/edifabric_810_2040_crlf.txt", ((1,),), [], []),
    ("810/edinet_810_4010_unpadded-isa_bom_indented.edi", ((1,),), [], ["ISA_WIDTH"]),
    ("850/bots_850_4010VICS_del-0x7f-element-sep_nak-0x15-terminator_42kb.x12", ((4,),), [], []),
    ("850/bots_850_4010_3interchanges_crlf.x12", ((1,), (1,), (1,)), [], []),
    ("850/bots_850_4010_cr-terminator.x12", ((1,),), [], []),
    ("850/bots_850_4010_isa00300_2groups_4sets_plus-subsep.x12", ((2, 2),), ["DUPLICATE_GS06", "DUPLICATE_ST02"], []),
    ("850/bots_850_4010_isa00302_newline-terminator_at-subsep.x12", ((1,),), [], []),
    ("850/bots_850_4010_pipe-element-sep_4sets.x12", ((4,),), [], []),
    ("850/bots_850_4010_plain.x12", ((1,),), [], []),
    ("850/bots_850_4010_tilde-element-sep_newline-terminator.x12", ((1,),), [], []),
    ("850/bots_850_4010_wrapped80col_lf.x12", ((2,),), [], ["ISA11_NOT_SEPARATOR"]),
    ("850/bots_850_ebcdic_encoded.x12", ((1,),), [], []),
    (
        "850/edinet_850_4010_nbsp-padded-isa_bom_indented.edi",
        ((1,),),
        ["IEA02_MISMATCH"],
        ["ISA_NON_ASCII", "ISA_WIDTH"],
    ),
    ("850/nodex12_850_4010VICS_2interchanges.edi", ((1,), (1,)), ["DUPLICATE_ISA13"], []),
    ("850/stedi_850_8020_one-segment-per-line.edi", ((1,),), [], ["ISA11_NOT_SEPARATOR"]),
    ("855/bots_855_4010UCS_6sets_crlf.x12", ((6,),), [], []),
    ("855/nodex12_855_4010.edi", ((1,),), [], []),
    ("856/bots_856_4010_partner2_edifact-style-delimiters.x12", ((2,),), [], []),
    ("856/bots_856_4010_retailer-inbound_crlf.x12", ((1,),), [], []),
    ("856/nodex12_856_4060.edi", ((1,),), [], []),
    ("997/bots_997_4010VICS_nak-terminator.x12", ((1,),), [], []),
    ("997/bots_997_4010_2sets_278-837-rejections.x12", ((8,),), [], []),
    ("997/bots_997_4010_generated_4sets.x12", ((4,),), [], []),
    ("997/bots_997_4010_rejected_ak3-ak4-errors.x12", ((1,),), [], []),
    ("997/bots_997_5010X222A1_generated.x12", ((2,),), [], []),
    ("997/staedi_997_5010.edi", ((1,),), [], []),
    ("997/staedi_997_5010_3interchanges.edi", ((1,), (1,), (1,)), [], []),
    ("999/imsweb_999_5010X231A1_accepted.txt", ((1,),), ["IEA02_MISMATCH"], []),
    ("999/pyx12_999_5010X231_2groups_4sets.txt", ((2, 2),), [], []),
    ("999/staedi_999_5010X231_ik3-ik4-ctx.edi", ((1,),), [], []),
    ("malformed/edifabric_810_invalid-isa-tag-FSA.txt", (), ["DATA_BEFORE_ISA", "NOT_X12"], []),
    ("malformed/edifabric_810_missing-ge.txt", ((1,),), ["GE_MISSING"], []),
    ("malformed/imsweb_837_isa-wrong-length.txt", ((1,),), ["SE01_COUNT"], ["ISA11_NOT_SEPARATOR", "ISA_WIDTH"]),
    ("malformed/imsweb_837_no-isa.txt", (), ["DATA_BEFORE_ISA", "NOT_X12"], []),
    ("malformed/staedi_997_invalid-codes-and-nonnumeric.edi", ((1,),), [], []),
    ("malformed/staedi_997_missing-ak1-ak9_version-mismatch.edi", ((1,),), [], []),
    ("malformed/staedi_997_repetition-seps-where-not-allowed.edi", ((1,),), [], []),
    ("malformed/staedi_999_wrong-order_bad-se-count.edi", ((1,),), ["SE01_COUNT"], []),
    ("ta1/bots_ta1_4010_reject-015_standalone.x12", ((),), [], []),
    ("ta1/bots_ta1_plus_997_4010_rejected.x12", ((1,),), [], []),
    ("ta1/edifabric_ta1_plus_810_2040.txt", ((1,),), [], []),
    ("ta1/staedi_ta1_5010_standalone.txt", ((),), ["IEA01_COUNT"], []),
]

VALID = [row for row in EXPECTED if not row[0].startswith("malformed/")]


@pytest.mark.parametrize(("name", "shape", "errors", "warnings"), EXPECTED, ids=[r[0] for r in EXPECTED])
def test_counts_and_envelope_findings(name, shape, errors, warnings):
    doc = read_document(corpus_path("x12", name))
    got = tuple(tuple(len(g.transactions) for g in ic.groups) for ic in doc.interchanges)
    assert got == shape
    envelope = [f for f in doc.findings if f.layer in ("envelope", "syntax")]
    assert sorted({f.code for f in envelope if f.severity == "error"}) == errors
    assert sorted({f.code for f in envelope if f.severity == "warning"}) == warnings
    # every transaction set is yielded once, each knowing its group and interchange
    assert len(doc.transactions) == sum(sum(s) for s in shape)


def test_corpus_lists_every_file():
    on_disk = sorted(str(p.relative_to(corpus_path("x12"))) for p in CORPUS.joinpath("x12").glob("*/*"))
    assert on_disk == sorted(r[0] for r in EXPECTED)


@pytest.mark.parametrize("name", [r[0] for r in VALID], ids=[r[0] for r in VALID])
def test_read_write_read_keeps_every_element(name):
    doc = read_document(corpus_path("x12", name))
    again = read_document(write_document(doc))
    assert again.encoding == doc.encoding
    assert [list(ic.isa) for ic in again.interchanges] == [list(ic.isa) for ic in doc.interchanges]
    assert [ic.iea for ic in again.interchanges] == [ic.iea for ic in doc.interchanges]
    assert [ic.ta1s for ic in again.interchanges] == [ic.ta1s for ic in doc.interchanges]
    assert [(g.gs, g.ge) for ic in again.interchanges for g in ic.groups] == [
        (g.gs, g.ge) for ic in doc.interchanges for g in ic.groups
    ]
    assert [t.segments for t in again.transactions] == [t.segments for t in doc.transactions]
    assert [ic.delimiters for ic in again.interchanges] == [ic.delimiters for ic in doc.interchanges]


MALFORMED = [r[0] for r in EXPECTED if r[0].startswith("malformed/")]


@pytest.mark.parametrize("name", MALFORMED, ids=MALFORMED)
def test_malformed_files_yield_an_error_finding(name):
    result = analyse(corpus_path("x12", name))
    assert any(f.severity == "error" for f in result.findings), [f.code for f in result.findings]


def test_ebcdic_file_reads_as_x12():
    doc = read_document(corpus_path("x12", "850", "bots_850_ebcdic_encoded.x12"))
    assert doc.encoding == "cp037"
    assert doc.transactions[0].type == "850"
    assert doc.transactions[0].segments[1][:3] == ["BEG", "00", "NE"]


def test_nbsp_padded_isa_ids_are_stripped():
    doc = read_document(corpus_path("x12", "850", "edinet_850_4010_nbsp-padded-isa_bom_indented.edi"))
    ic = doc.interchanges[0]
    assert (ic.sender, ic.receiver) == ("000123456", "TEST2")
    # the tab indentation is not part of any segment tag
    assert all(s[0].isalnum() for t in doc.transactions for s in t.segments)


def test_binary_delimiters_are_read_from_isa():
    doc = read_document(
        corpus_path("x12", "850", "bots_850_4010VICS_del-0x7f-element-sep_nak-0x15-terminator_42kb.x12")
    )
    d = doc.interchanges[0].delimiters
    assert (d.element, d.segment) == ("\x7f", "\x15")


def test_wrapped_lines_are_joined():
    doc = read_document(corpus_path("x12", "850", "bots_850_4010_wrapped80col_lf.x12"))
    n1 = [s for t in doc.transactions for s in t.segments if s[0] == "N1"]
    assert n1[0] == ["N1", "ST", "THERMA TRU INDIANA DOOR"]
