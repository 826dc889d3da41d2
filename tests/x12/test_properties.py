"""Property-based tests for the X12 reader and writer (hypothesis).

1. Random valid interchanges, with random delimiters (printable and
   non-printable, newline as terminator too), random ISA versions (with and
   without a repetition separator), random envelopes and random element
   payloads, written with :class:`X12Writer` and read back with
   :class:`X12Reader`: every element, delimiter and count round-trips, there
   are no findings, and ``write_document(read_document(x)) == x`` byte for byte.
2. Mutated corpus files (byte flips, truncation, insertions, duplicated
   chunks, CR/LF injection) never make ``read_document`` or ``analyse`` raise:
   problems only ever come back as findings.

The whole file runs in well under 40 s.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import string
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hub.edi.core import LAYERS, SEVERITIES, Delimiters, Finding
from hub.edi.x12.analyse import analyse
from hub.edi.x12.model import Transaction
from hub.edi.x12.reader import ENVELOPE_TAGS, X12Reader, read_document
from hub.edi.x12.writer import X12Writer, write_document

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("EDIHUB_CORPUS", REPO.parent / "shared" / "corpus"))
REQUIRE_CORPUS = os.environ.get("EDIHUB_REQUIRE_CORPUS") == "1"

# --------------------------------------------------------------------------- delimiters

# Printable punctuation and the non-printable separators seen in real files
# (0x1C-0x1F, NAK 0x15, DEL 0x7F).  Never alphanumeric, never a space.
PRINTABLE_DELIMS = "*|~^>:+'!\"#$%&()/;<=?@[\\]_`{},.-"
CONTROL_DELIMS = "\x1c\x1d\x1e\x1f\x15\x7f"
SEPARATOR_POOL = PRINTABLE_DELIMS + CONTROL_DELIMS
TERMINATOR_POOL = SEPARATOR_POOL + "\n\r"

VERSIONS_WITHOUT_REPETITION = ("00200", "00300", "00302", "00305", "00400", "00401")
VERSIONS_WITH_REPETITION = ("00402", "00403", "00404", "00501", "00601", "00801")


@st.composite
def delimiters(draw) -> tuple[Delimiters, str]:
    """Four distinct delimiters, a segment suffix, and an ISA12 version to go with them."""
    terminator = draw(st.sampled_from(TERMINATOR_POOL))
    pool = [c for c in SEPARATOR_POOL if c != terminator]
    element, component, repetition = draw(st.permutations(pool))[:3]
    if draw(st.booleans()):
        version = draw(st.sampled_from(VERSIONS_WITH_REPETITION))
    else:
        version = draw(st.sampled_from(VERSIONS_WITHOUT_REPETITION))
        repetition = None
    if terminator == "\n":
        suffix = ""
    elif terminator == "\r":
        suffix = draw(st.sampled_from(["", "\n"]))
    else:
        suffix = draw(st.sampled_from(["", "\n", "\r\n", "\r"]))
    delims = Delimiters(
        element=element, component=component, segment=terminator, repetition=repetition, segment_suffix=suffix
    )
    return delims, version


# --------------------------------------------------------------------------- payloads

LATIN1 = "".join(chr(i) for i in range(256))


def atoms(delims: Delimiters) -> st.SearchStrategy[str]:
    """A component value: any latin-1 text without a service character or a line break."""
    banned = set(delims.service_characters()) | {"\r", "\n"}
    alphabet = "".join(c for c in LATIN1 if c not in banned)
    # mostly plain data, sometimes anything latin-1 (controls, accented letters ...)
    plain = st.text("".join(c for c in string.ascii_uppercase + string.digits + " .-/" if c not in banned), max_size=12)
    wild = st.text(alphabet, max_size=12)
    return st.one_of(plain, plain, wild)


def element_values(delims: Delimiters) -> st.SearchStrategy[list[list[str]]]:
    """An element as occurrences (repetitions) of components."""
    components = st.lists(atoms(delims), min_size=1, max_size=3)
    max_reps = 3 if delims.repetition else 1
    return st.lists(components, min_size=1, max_size=max_reps)


def join_element(value: list[list[str]], delims: Delimiters) -> str:
    rep = delims.repetition or ""
    return rep.join(delims.component.join(components) for components in value)


TAG_ALPHABET = string.ascii_uppercase + string.digits
segment_tags = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_uppercase),
    st.text(TAG_ALPHABET, min_size=1, max_size=2),
).filter(lambda tag: tag not in ENVELOPE_TAGS)


@st.composite
def body_segments(draw, delims: Delimiters) -> list[tuple[str, list[list[list[str]]]]]:
    """Segments between ST and SE as (tag, [element structure ...])."""
    n = draw(st.integers(0, 6))
    out = []
    for _ in range(n):
        tag = draw(segment_tags)
        elements = draw(st.lists(element_values(delims), max_size=8))
        out.append((tag, elements))
    return out


ids = st.text(string.ascii_uppercase + string.digits, min_size=2, max_size=15)
stamps = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2089, 12, 31))


@dataclass
class GroupPlan:
    functional_id: str
    sender: str
    receiver: str
    control: int
    version: str
    sets: list[tuple[str, str, str | None, list]]  # type, ST02, ST03, body


@dataclass
class InterchangePlan:
    delims: Delimiters
    version: str
    sender_qualifier: str
    sender: str
    receiver_qualifier: str
    receiver: str
    control: int
    ack: bool
    usage: str
    when: dt.datetime
    authorization: tuple[str, str]
    security: tuple[str, str]
    groups: list[GroupPlan]


@st.composite
def interchange_plans(draw, control: int) -> InterchangePlan:
    delims, version = draw(delimiters())
    groups = []
    gs_numbers = draw(st.lists(st.integers(1, 999_999_999), unique=True, max_size=3))
    for gs06 in gs_numbers:
        gs_version = draw(st.sampled_from(["004010", "004010VICS", "005010", "005010X222A1", "003040"]))
        st_numbers = draw(st.lists(st.integers(1, 999_999_999), unique=True, max_size=4))
        sets = []
        for n in st_numbers:
            st02 = str(n).zfill(draw(st.integers(4, 9)))
            st03 = draw(st.sampled_from([None, gs_version])) if gs_version >= "005010" else None
            sets.append((draw(st.sampled_from(["850", "856", "810", "997", "204"])), st02, st03,
                         draw(body_segments(delims))))
        functional_id = draw(st.sampled_from(["PO", "SH", "IN", "FA", "SM"]))
        groups.append(GroupPlan(functional_id, draw(ids), draw(ids), gs06, gs_version, sets))
    auth = draw(st.sampled_from([("00", ""), ("03", "PASSWORD01")]))
    security = draw(st.sampled_from([("00", ""), ("01", "SECRET")]))
    return InterchangePlan(
        delims=delims,
        version=version,
        sender_qualifier=draw(st.sampled_from(["01", "08", "12", "14", "ZZ"])),
        sender=draw(ids),
        receiver_qualifier=draw(st.sampled_from(["01", "08", "12", "14", "ZZ"])),
        receiver=draw(ids),
        control=control,
        ack=draw(st.booleans()),
        usage=draw(st.sampled_from("PTI")),
        when=draw(stamps),
        authorization=auth,
        security=security,
        groups=groups,
    )


@st.composite
def files(draw) -> tuple[list[InterchangePlan], str, str]:
    controls = draw(st.lists(st.integers(1, 999_999_999), unique=True, min_size=1, max_size=3))
    plans = [draw(interchange_plans(c)) for c in controls]
    encoding = draw(st.sampled_from(["latin-1", "latin-1", "latin-1", "cp037", "cp500"]))
    leading = draw(st.sampled_from(["", "", "\n", "  ", "\r\n\r\n"]))
    return plans, encoding, leading


def write_plans(plans: list[InterchangePlan], encoding: str, leading: str) -> bytes:
    out = io.BytesIO()
    out.write(leading.encode(encoding))
    for plan in plans:
        d = plan.delims
        w = X12Writer(out, d, encoding=encoding)
        w.begin_interchange(
            sender_qualifier=plan.sender_qualifier,
            sender=plan.sender,
            receiver_qualifier=plan.receiver_qualifier,
            receiver=plan.receiver,
            control_number=plan.control,
            version=plan.version,
            ack_requested=plan.ack,
            usage=plan.usage,
            when=plan.when,
            authorization=plan.authorization,
            security=plan.security,
        )
        for g in plan.groups:
            w.begin_group(
                functional_id=g.functional_id,
                sender=g.sender,
                receiver=g.receiver,
                control_number=g.control,
                version=g.version,
                when=plan.when,
            )
            for tx_type, st02, st03, body in g.sets:
                segments = [[tag, *(join_element(e, d) for e in elements)] for tag, elements in body]
                w.write_transaction(tx_type, st02, segments, implementation=st03)
            w.end_group()
        w.end_interchange()
    return out.getvalue()


def _reader_options(encoding: str) -> dict:
    return {"ebcdic_codec": encoding} if encoding.startswith("cp") else {}


def _finding_key(f: Finding) -> tuple:
    return (f.code, f.severity, f.layer, f.interchange, f.group, f.transaction, f.segment, f.element, f.message)


# --------------------------------------------------------------------------- 1. round trip

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files())
def test_generated_interchanges_round_trip(spec):
    plans, encoding, leading = spec
    data = write_plans(plans, encoding, leading)
    doc = read_document(data, **_reader_options(encoding))

    assert doc.findings == [], [f.message for f in doc.findings]
    assert not doc.not_x12
    assert doc.encoding == encoding
    assert doc.leading == leading
    assert len(doc.interchanges) == len(plans)

    txs = iter(doc.transactions)
    for ic, plan in zip(doc.interchanges, plans, strict=True):
        d = ic.delimiters
        # delimiters, exactly (repetition only where the version has one)
        assert d.element == plan.delims.element
        assert d.component == plan.delims.component
        assert d.segment == plan.delims.segment
        assert d.repetition == plan.delims.repetition
        assert d.segment_suffix == plan.delims.segment_suffix
        assert ic.encoding == encoding
        # ISA values
        assert ic.version == plan.version
        assert ic.control_number == str(plan.control).zfill(9)
        assert (ic.sender_qualifier, ic.sender) == (plan.sender_qualifier, plan.sender)
        assert (ic.receiver_qualifier, ic.receiver) == (plan.receiver_qualifier, plan.receiver)
        assert ic.date == plan.when.strftime("%y%m%d") and ic.time == plan.when.strftime("%H%M")
        assert ic.ack_requested == plan.ack and ic.usage == plan.usage
        assert ic.isa[11] == (plan.delims.repetition or "U")
        assert len(ic.isa) == 17 and all(len(v) == w for v, w in zip(ic.isa[1:], _ISA_WIDTHS, strict=True))
        # trailer counts
        assert ic.iea is not None
        assert list(ic.iea) == ["IEA", str(len(plan.groups)), str(plan.control).zfill(9)]
        assert len(ic.groups) == len(plan.groups)
        for group, gplan in zip(ic.groups, plan.groups, strict=True):
            assert group.functional_id == gplan.functional_id
            assert (group.sender, group.receiver) == (gplan.sender, gplan.receiver)
            assert group.control_number == str(gplan.control)
            assert group.version == gplan.version
            assert group.ge is not None
            assert list(group.ge) == ["GE", str(len(gplan.sets)), str(gplan.control)]
            assert len(group.transactions) == len(gplan.sets)
            for summary, (tx_type, st02, st03, body) in zip(group.transactions, gplan.sets, strict=True):
                tx: Transaction = next(txs)
                assert tx.complete and tx.dropped_segments == 0
                assert tx.interchange is ic and tx.group is group
                assert (summary.type, summary.control_number) == (tx_type, st02)
                assert list(tx.st) == ["ST", tx_type, st02] + ([st03] if st03 else [])
                assert list(tx.se) == ["SE", str(len(body) + 2), st02]
                assert tx.segment_count == summary.segment_count == len(body) + 2
                got = tx.body()
                assert len(got) == len(body)
                for seg, (tag, elements) in zip(got, body, strict=True):
                    assert seg[0] == tag
                    assert len(seg) == len(elements) + 1  # every element separator, trailing empties too
                    for raw, structure in zip(seg[1:], elements, strict=True):
                        assert raw == join_element(structure, d)
                        reps = d.repetitions(raw)
                        assert [d.components(r) for r in reps] == structure
    assert next(txs, None) is None

    # byte-for-byte: write what was read
    assert write_document(doc) == data


_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files(), st.integers(16, 300))
def test_chunk_size_does_not_change_the_result(spec, chunk_size):
    """Reading in tiny chunks (every boundary hits a different place) gives the same events."""
    plans, encoding, leading = spec
    data = write_plans(plans, encoding, leading)
    opts = _reader_options(encoding)

    def events(**kw):
        reader = X12Reader(data, **opts, **kw)
        out = []
        for item in reader:
            if isinstance(item, Transaction):
                out.append([list(s) for s in item.segments])
            else:
                out.append(type(item).__name__)
        return out, [_finding_key(f) for f in reader.findings]

    assert events(chunk_size=chunk_size) == events()


# --------------------------------------------------------------------------- 2. mutated corpus

def _corpus_files() -> list[Path]:
    root = CORPUS / "x12"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/*") if p.is_file())


CORPUS_FILES = _corpus_files()


class Corpus(list):
    """The corpus files' bytes; a short repr keeps hypothesis' failure reports readable."""

    def __repr__(self) -> str:
        return f"<{len(self)} X12 corpus files>"


@pytest.fixture(scope="module")
def corpus_bytes() -> Corpus:
    if not CORPUS_FILES:
        if REQUIRE_CORPUS:
            pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but the shared X12 corpus is missing at {CORPUS / 'x12'}")
        pytest.skip(f"shared corpus not found at {CORPUS / 'x12'}")
    return Corpus(p.read_bytes() for p in CORPUS_FILES)


def _mutation():
    pos = st.floats(0, 1, exclude_max=True)
    return st.one_of(
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=12)),
        st.tuples(st.just("insert_text"), pos, st.sampled_from(
            [b"ISA", b"IEA", b"GS*", b"ST*850*0001~", b"SE*", b"GE*1*1~", b"IEA*1*000000001~", b"~", b"*", b"\x00",
             b"\xef\xbb\xbf", b"\xc9\xe2\xc1", b"ISA*00*", b"ISA|", b"~ISA*"])),
        st.tuples(st.just("duplicate"), pos, pos, st.integers(1, 400)),
        st.tuples(st.just("delete"), pos, st.integers(1, 200)),
        st.tuples(st.just("crlf"), pos, st.sampled_from([b"\r", b"\n", b"\r\n", b"\n\r", b"\r\n\r\n"])),
    )


def mutate(data: bytes, mutations) -> bytes:
    buf = bytearray(data)
    for m in mutations:
        kind = m[0]
        at = int(m[1] * (len(buf) + 1))
        if kind == "flip" and buf:
            at = min(at, len(buf) - 1)
            buf[at] ^= m[2]
        elif kind == "truncate":
            del buf[at:]
        elif kind in ("insert", "insert_text", "crlf"):
            buf[at:at] = m[2]
        elif kind == "duplicate":
            chunk = bytes(buf[at : at + m[3]])
            dest = int(m[2] * (len(buf) + 1))
            buf[dest:dest] = chunk
        elif kind == "delete":
            del buf[at : at + m[2]]
    return bytes(buf)


def _check_findings(findings: list[Finding]) -> None:
    for f in findings:
        assert isinstance(f, Finding)
        assert f.severity in SEVERITIES
        assert f.layer in LAYERS
        assert f.code and f.message
        f.where()  # renders
        f.to_json()


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.data(), st.lists(_mutation(), min_size=1, max_size=5), st.sampled_from([None, 7, 64]))
def test_mutated_corpus_never_raises(corpus_bytes, data, mutations, chunk_size):
    index = data.draw(st.integers(0, len(corpus_bytes) - 1), label="file")
    mutated = mutate(corpus_bytes[index], mutations)
    assume(mutated != corpus_bytes[index] or len(mutations) > 1)
    opts = {} if chunk_size is None else {"chunk_size": chunk_size}

    doc = read_document(mutated, **opts)
    _check_findings(doc.findings)
    assert doc.not_x12 == (not doc.interchanges)
    if doc.not_x12:
        assert any(f.code == "NOT_X12" for f in doc.findings)
    for tx in doc.transactions:
        assert tx.segments and tx.segments[0][0] == "ST"
        assert tx.interchange in doc.interchanges

    result = analyse(mutated, **opts)
    _check_findings(result.findings)
    assert result.not_x12 == doc.not_x12
    assert result.transactions == len(doc.transactions)
    # the reader's own findings come out, in the same order, from both entry points
    remaining = iter(_finding_key(f) for f in result.findings)
    assert all(key in remaining for key in (_finding_key(f) for f in doc.findings))

    # what was read can always be written back; when the reader found no error (so no stray
    # segments, which write_document does not keep), it reads back the same, in the same encoding
    # (see test_reader_edges.py::test_bom_then_junk_round_trips_through_write_document), except
    # undecodable UTF-8 bytes (surrogate escapes) that a removed CR/LF has brought together
    written = write_document(doc)
    read_segments = [list(s) for t in doc.transactions for s in t.segments]
    clean = not any(f.is_error for f in doc.findings)
    if clean and not _has_surrogates(v for seg in read_segments for v in seg):
        again = read_document(written, encoding=doc.encoding)
        assert [list(s) for t in again.transactions for s in t.segments] == read_segments


def _has_surrogates(values) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def test_corpus_present_or_skipped(corpus_bytes):
    """Guards the mutation test from running on an empty corpus."""
    assert len(corpus_bytes) >= 10
