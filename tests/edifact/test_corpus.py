"""Every file of the shared EDIFACT corpus: counts, envelope findings, round trip, pydifact parity.

The expected findings are real defects of those public samples (see
../shared/corpus/SOURCES.md): the reader must report them, not crash.
"""

from __future__ import annotations

import warnings

import pytest

from hub.edi.edifact import read_document
from hub.edi.edifact.analyse import analyse
from hub.edi.edifact.writer import write_document
from tests.conftest import corpus_path

pytestmark = pytest.mark.corpus

# path, messages per group per interchange, envelope/syntax error codes, schema error codes
EXPECTED = [
    ("aperak/pydifact_aperak_d96a_rejected.edi", ((1,),), {"UNT_COUNT"}, set()),  # UNT+8, 7 segments
    ("desadv/bots_desadv_d96a_8msgs_crlf.edi", ((8,),), set(), set()),
    ("desadv/bots_desadv_d96a_una_3msgs.edi", ((3,),), set(), set()),
    ("desadv/phpedifact_desadv_96a_version-0.edi", ((1,),), set(), set()),  # version "0": a warning
    ("invoic/berryworks_invoic_d97b_una-caret-dollar.edi", ((1,),), set(), set()),
    ("invoic/bots_invoic_d96a_2msgs.edi", ((2,),), set(), set()),
    # two UNG with the same reference 5
    ("invoic/edifabric_invoic_d00a_multiple-groups.txt", ((1, 1),), {"DUPLICATE_UNG_REFERENCE"}, set()),
    ("invoic/edifabric_invoic_d00a_unob_crlf.txt", ((1,),), set(), set()),
    ("invoic/pydifact_invoic_d97a_unoa1.edi", ((1,),), set(), set()),
    ("invoic/smooks_invoic_d03b_unoc4_repetition-sep.txt", ((1,),), set(), set()),
    ("invoic/staedi_invoic_d97b_una-custom-delims.edi", ((1,),), set(), set()),
    ("invoic/staedi_invoic_d97b_wrapped.edi", ((1,),), set(), set()),
    ("malformed/edifabric_invoic_d00a_garbage-after-unz.txt", ((1,),), {"DATA_AFTER_UNZ"}, set()),
    ("malformed/edifabric_invoic_d00a_missing-unz.txt", ((1,), (1,)), {"UNZ_MISSING"}, set()),
    ("malformed/edifabric_invoic_d00a_unt-ref-mismatch.txt", ((1,),), {"UNT_REFERENCE_MISMATCH"}, set()),
    ("malformed/edifabric_invoic_d00a_wrong-unt-count.txt", ((1,),), {"UNT_COUNT"}, set()),
    # "1:10" without "?" gives IMD C273 a seventh component
    ("malformed/phpedifact_orders_d01b_unescaped-release-chars.edi", ((1,),), set(),
     {"TOO_MANY_COMPONENTS", "ELEMENT_TOO_LONG"}),
    # NAD+BYZZ (3035 an..3), QTY 1020A and PRI $1.179 (numeric): D97B checked against D96A's segments
    ("malformed/staedi_invoic_d97b_bad-nad-qualifier.edi", ((1,),), set(),
     {"ELEMENT_TOO_LONG", "INVALID_CHARACTER_TYPE"}),
    ("orders/ballerina_orders_d03a_3msgs_no-newlines.edi", ((3,),), set(), set()),
    ("orders/berryworks_orders_d01b_unoe.edi", ((1,),), set(), set()),
    ("orders/bots_orders_d96a_24interchanges_crlf.edi", ((1,),) * 24, set(), set()),
    ("orders/bots_orders_d96a_2interchanges_3msgs.edi", ((2,), (1,)), set(), set()),
    ("orders/bots_orders_d96a_una_unoc_12msgs.edi", ((12,),), set(), set()),
    ("orders/phpedifact_orders_d01b_large.edi", ((1,),), set(), set()),
    # the file really ends after UNT: no UNZ
    ("orders/pydifact_orders_d96a_una-decimal-comma.edi", ((1,),), {"UNZ_MISSING"}, set()),
    # UNT+21 but 18 segments (and UNG D:96A vs UNH D:96B, a warning)
    ("orders/staedi_orders_d96b_with-ung-group.edi", ((1,),), {"UNT_COUNT"}, set()),
    ("ordrsp/berryworks_ordrsp_d01b_unoc_misnamed-ORDERS.edi", ((1,),), set(), set()),
    ("ordrsp/edinet_ordrsp_d10a_una_single-line.edi", ((1,),),
     {"UNT_COUNT", "UNT_REFERENCE_MISMATCH", "UNZ_REFERENCE_MISMATCH"}, set()),
]

EXPECTED_WARNINGS = {
    "desadv/phpedifact_desadv_96a_version-0.edi": {"MESSAGE_VERSION_INVALID"},
    "orders/staedi_orders_d96b_with-ung-group.edi": {"MESSAGE_VERSION_MISMATCH"},
    "invoic/edifabric_invoic_d00a_unob_crlf.txt": {"CHARACTER_OUTSIDE_REPERTOIRE"},
}

MESSAGES = {path: sum(sum(groups) for groups in shape) for path, shape, _, _ in EXPECTED}
VALID = [path for path, _, _, _ in EXPECTED if not path.startswith("malformed/")]
MALFORMED = [path for path, _, _, _ in EXPECTED if path.startswith("malformed/")]


def test_every_corpus_file_is_listed(corpus_dir):
    on_disk = {p.relative_to(corpus_dir / "edifact").as_posix() for p in (corpus_dir / "edifact").rglob("*")
               if p.is_file()}
    assert on_disk == {path for path, _, _, _ in EXPECTED}


@pytest.mark.parametrize("path,shape,envelope_errors,schema_errors", EXPECTED, ids=[e[0] for e in EXPECTED])
def test_corpus_file(path, shape, envelope_errors, schema_errors):
    result = analyse(corpus_path("edifact", path))
    assert not result.not_edifact
    got_shape = tuple(tuple(len(g.transactions) for g in ic.groups) for ic in result.interchanges)
    assert got_shape == shape
    assert result.transactions == MESSAGES[path]
    errors = {f.code for f in result.findings if f.is_error and f.layer != "schema"}
    assert errors == envelope_errors
    assert {f.code for f in result.findings if f.is_error and f.layer == "schema"} == schema_errors
    for code in EXPECTED_WARNINGS.get(path, ()):
        assert code in {f.code for f in result.findings if not f.is_error}
    for f in result.findings:
        assert f.message and f.severity in ("error", "warning")
        if f.transaction is not None and f.segment is not None:
            assert f.segment >= 1


@pytest.mark.parametrize("path", list(MESSAGES), ids=list(MESSAGES))
def test_exact_message_count(path):
    doc = read_document(corpus_path("edifact", path))
    assert len(doc.messages) == MESSAGES[path]


@pytest.mark.parametrize("path", MALFORMED, ids=MALFORMED)
def test_malformed_files_give_error_findings(path):
    result = analyse(corpus_path("edifact", path))
    assert any(f.is_error for f in result.findings)


def test_known_envelope_positions():
    result = analyse(corpus_path("edifact", "malformed/edifabric_invoic_d00a_wrong-unt-count.txt"))
    (f,) = [f for f in result.findings if f.code == "UNT_COUNT"]
    assert (f.interchange, f.group, f.transaction, f.segment, f.element) == (0, 0, 0, 41, 1)
    assert f.ack_level == "transaction" and f.ack_code == "29"
    result = analyse(corpus_path("edifact", "malformed/edifabric_invoic_d00a_unt-ref-mismatch.txt"))
    (f,) = [f for f in result.findings if f.code == "UNT_REFERENCE_MISMATCH"]
    assert (f.segment, f.element, f.ack_code, f.bad_value) == (41, 2, "28", "509010118")
    result = analyse(corpus_path("edifact", "ordrsp/edinet_ordrsp_d10a_una_single-line.edi"))
    (f,) = [f for f in result.findings if f.code == "UNZ_REFERENCE_MISMATCH"]
    assert (f.interchange, f.group, f.transaction, f.segment, f.ack_level, f.ack_code) == (
        0, None, None, 33, "interchange", "28")
    result = analyse(corpus_path("edifact", "malformed/edifabric_invoic_d00a_missing-unz.txt"))
    (f,) = [f for f in result.findings if f.code == "UNZ_MISSING"]
    assert f.interchange == 0 and f.ack_code == "13"
    result = analyse(corpus_path("edifact", "malformed/edifabric_invoic_d00a_garbage-after-unz.txt"))
    (f,) = [f for f in result.findings if f.code == "DATA_AFTER_UNZ"]
    assert "'1r'" in f.message and f.interchange == 0


@pytest.mark.parametrize("path", list(MESSAGES), ids=list(MESSAGES))
def test_round_trip_keeps_every_element(path):
    doc = read_document(corpus_path("edifact", path))
    again = read_document(write_document(doc))
    assert [m.segments for m in again.messages] == [m.segments for m in doc.messages]
    assert [ic.unb for ic in again.interchanges] == [ic.unb for ic in doc.interchanges]
    assert [ic.unz for ic in again.interchanges] == [ic.unz for ic in doc.interchanges]
    assert [[g.ung for g in ic.groups] for ic in again.interchanges] == [
        [g.ung for g in ic.groups] for ic in doc.interchanges]
    assert [ic.delimiters.element for ic in again.interchanges] == [ic.delimiters.element for ic in doc.interchanges]


def _ours(doc) -> list[list]:
    """Every segment in file order, elements unescaped; composites as lists without trailing empty components."""
    out = []
    for ic in doc.interchanges:
        d = ic.delimiters

        def conv(seg, d=d):
            elements = []
            for raw in seg[1:]:
                comps = d.components(raw)
                while len(comps) > 1 and comps[-1] == "":
                    comps.pop()
                elements.append(comps[0] if len(comps) == 1 else comps)
            return [seg[0], *elements]

        out.append(conv(ic.unb))
        for g in ic.groups:
            if g.ung is not None:
                out.append(conv(g.ung))
            out.extend(conv(s) for m in doc.messages_of(g) for s in m.segments)
            if g.une is not None:
                out.append(conv(g.une))
        if ic.unz is not None:
            out.append(conv(ic.unz))
    return out


def _pydifact(text: str) -> list[list]:
    from pydifact.parser import Parser

    def norm(el):
        if isinstance(el, list):
            el = list(el)
            while len(el) > 1 and el[-1] == "":
                el.pop()
            return el[0] if len(el) == 1 else el
        return el

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [[s.tag, *(norm(e) for e in s.elements)] for s in Parser().parse(text) if s.tag != "UNA"]


@pytest.mark.parametrize("path", VALID, ids=VALID)
def test_values_equal_pydifact(path):
    pytest.importorskip("pydifact")
    file = corpus_path("edifact", path)
    doc = read_document(file)
    text = file.read_bytes().decode(doc.interchanges[0].encoding, "surrogateescape")
    if "wrapped" in path:
        # hard-wrapped lines: the line breaks are not data (pydifact rejects them inside a tag)
        text = text.replace("\r", "").replace("\n", "")
    assert _ours(doc) == _pydifact(text)

