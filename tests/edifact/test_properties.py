"""Property tests: random interchanges round-trip exactly; mutated corpus bytes only ever give findings."""

from __future__ import annotations

import datetime as dt
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.acks.edifact import acknowledge
from hub.edi.core import Delimiters, Finding
from hub.edi.edifact import read_document
from hub.edi.edifact.analyse import analyse
from hub.edi.edifact.writer import EdifactWriter, write_document
from tests.conftest import corpus_path

WHEN = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)
SERVICE_POOL = list("+:'?*!#$%&/<=>@^_|~;\"\\[]{}`")


@st.composite
def delimiters(draw) -> tuple[Delimiters, str]:
    version = draw(st.sampled_from(["3", "4"]))
    count = 5 if version == "4" else 4
    chars = draw(st.lists(st.sampled_from(SERVICE_POOL), min_size=count, max_size=count, unique=True))
    comp, elem, rel, term = chars[:4]
    rep = chars[4] if version == "4" else None
    decimal = draw(st.sampled_from([c for c in ".," if c not in chars]))
    suffix = draw(st.sampled_from(["", "\n", "\r\n"]))
    return Delimiters(element=elem, component=comp, segment=term, repetition=rep, release=rel, decimal=decimal,
                      segment_suffix=suffix), version


def values(d: Delimiters):
    specials = [d.element, d.component, d.segment, d.release] + ([d.repetition] if d.repetition else [])
    alphabet = st.sampled_from(specials + list("AZaz09 .,-äé€"))
    return st.text(alphabet=alphabet, min_size=1, max_size=12)


@st.composite
def interchange(draw):
    d, version = draw(delimiters())
    syntax = draw(st.sampled_from(["UNOC", "UNOW"] if version == "4" else ["UNOC", "UNOW", "UNOY"]))
    text = values(d)
    messages = []
    for _ in range(draw(st.integers(1, 3))):
        body = []
        for _ in range(draw(st.integers(1, 6))):
            tag = draw(st.sampled_from(["BGM", "FTX", "NAD", "RFF", "IMD", "LIN", "QTY"]))
            elements = draw(st.lists(st.one_of(text, st.lists(text, min_size=2, max_size=4)), min_size=1,
                                     max_size=5))
            body.append([tag, *elements])
        messages.append(body)
    return d, version, syntax, messages


def build(d: Delimiters, version: str, syntax: str, messages) -> bytes:
    out = io.BytesIO()
    w = EdifactWriter(out, d, encoding="latin-1" if syntax == "UNOC" else "utf-8")
    w.begin_interchange(sender="S?+:'", receiver="R", control_reference="1", syntax_identifier=syntax,
                        syntax_version=version, when=WHEN, una=True)
    for i, body in enumerate(messages, start=1):
        w.write_message("ORDERS", str(i), body)
    w.end_interchange()
    return out.getvalue()


def plain(d: Delimiters, seg: list[str]) -> list:
    out = [seg[0]]
    for raw in seg[1:]:
        comps = d.components(raw)
        out.append(comps[0] if len(comps) == 1 else comps)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(interchange())
def test_random_interchanges_round_trip(case):
    d, version, syntax, messages = case
    try:
        data = build(d, version, syntax, messages)
    except UnicodeEncodeError:
        assert syntax == "UNOC"  # "€" is not in latin-1
        return
    doc = read_document(data)
    assert doc.findings == [], doc.findings
    (ic,) = doc.interchanges
    rd = ic.delimiters
    assert (rd.element, rd.component, rd.segment, rd.release, rd.repetition, rd.decimal) == (
        d.element, d.component, d.segment, d.release, d.repetition, d.decimal)
    assert ic.sender == "S?+:'"
    assert len(doc.messages) == len(messages)
    for msg, body in zip(doc.messages, messages, strict=True):
        assert [plain(rd, s) for s in msg.body()] == body
    # exact: what we read, we write back byte for byte
    assert write_document(doc) == data
    # and through other chunk sizes
    small = read_document(data, chunk_size=7)
    assert [m.segments for m in small.messages] == [m.segments for m in doc.messages]


MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete", "dup"]), st.integers(0, 1 << 30),
              st.sampled_from(list(b"+:'?*\r\nUNZHTBA\x00\xff "))),
    min_size=1, max_size=8,
)


def test_mutated_corpus_bytes_only_give_findings():
    files = sorted(p for p in corpus_path("edifact").rglob("*") if p.is_file())
    blobs = [p.read_bytes() for p in files]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(0, len(blobs) - 1), MUTATIONS, st.integers(1, 4096))
    def check(index, mutations, chunk):
        data = bytearray(blobs[index])
        for kind, where, byte in mutations:
            if not data:
                break
            i = where % len(data)
            if kind == "flip":
                data[i] = byte
            elif kind == "insert":
                data.insert(i, byte)
            elif kind == "delete":
                del data[i]
            else:
                data[i:i] = data[i:i + 40]
        result = analyse(bytes(data), chunk_size=chunk)
        assert all(isinstance(f, Finding) for f in result.findings)
        ack = acknowledge(bytes(data))
        assert isinstance(ack.data, bytes)
        if not ack.not_edifact:
            assert b"CONTRL" in ack.data

    check()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_give_findings(data):
    result = analyse(b"UNB+UNOC:3+S+R+240115:1200+R1'" + data, chunk_size=16)
    assert all(isinstance(f, Finding) for f in result.findings)
    analyse(data)
