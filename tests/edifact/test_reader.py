"""The EDIFACT reader: service characters, escaping, character sets, envelopes, streaming."""

from __future__ import annotations

import io

import pytest

from hub.edi.edifact import EdifactReader, FunctionalGroup, GroupEnd, Interchange, InterchangeEnd, Message
from hub.edi.edifact import read_document as read


def codes(doc) -> set[str]:
    return {f.code for f in doc.findings}


def errors(doc) -> set[str]:
    return {f.code for f in doc.findings if f.is_error}


ORDER = (
    "UNB+UNOC:3+SENDER:14+RECEIVER:14+240115:1200+REF1'"
    "UNH+M1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240115:102'UNS+S'UNT+5+M1'"
    "UNZ+1+REF1'"
)


def test_defaults_without_una():
    doc = read(ORDER.encode())
    assert not doc.findings
    (ic,) = doc.interchanges
    d = ic.delimiters
    assert (d.component, d.element, d.segment, d.release, d.decimal, d.repetition) == (":", "+", "'", "?", ".", None)
    assert ic.una is None
    assert (ic.sender, ic.sender_qualifier, ic.receiver, ic.control_number) == ("SENDER", "14", "RECEIVER", "REF1")
    assert (ic.syntax_identifier, ic.syntax_version) == ("UNOC", "3")
    (m,) = doc.messages
    assert (m.type, m.control_number, m.version, m.segment_count) == ("ORDERS", "M1", "D96A", 5)
    assert m.segments[1] == ["BGM", "220", "PO1", "9"]


def test_una_service_characters():
    text = "UNA=*,! ~UNB*UNOA=3*S*R*240115=1200*R1~UNH*1*ORDERS=D=96A=UN~BGM*220*A!*B!~C!!*9~UNT*3*1~UNZ*1*R1~"
    doc = read(text.encode())
    (ic,) = doc.interchanges
    d = ic.delimiters
    assert (d.component, d.element, d.decimal, d.release, d.repetition, d.segment) == ("=", "*", ",", "!", None, "~")
    assert ic.una == "UNA=*,! ~"
    bgm = doc.messages[0].segments[1]
    assert bgm[2] == "A!*B!~C!!"  # escaped form, as read
    assert d.unescape(bgm[2]) == "A*B~C!"
    assert not doc.findings


def test_syntax4_repetition_separator_and_ccyymmdd():
    text = "UNA:+.?*'UNB+UNOC:4+S+R+20240115:1200+R1'UNH+1+INVOIC:D:03B:UN'CUX+3*1'UNT+3+1'UNZ+1+R1'"
    doc = read(text.encode())
    d = doc.interchanges[0].delimiters
    assert d.repetition == "*"
    assert d.repetitions(doc.messages[0].segments[1][1]) == ["3", "1"]
    assert not doc.findings


def test_syntax4_default_repetition_without_una():
    doc = read(b"UNB+UNOC:4+S+R+20240115:1200+R1'UNH+1+X:D:03B:UN'UNT+2+1'UNZ+1+R1'")
    assert doc.interchanges[0].delimiters.repetition == "*"


def test_release_character_in_every_position():
    text = "UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'FTX+AAI+++a?+b?:c?'d???'e'UNT+3+1'UNZ+1+R1'"
    doc = read(text.encode())
    ftx = doc.messages[0].segments[1]
    assert ftx == ["FTX", "AAI", "", "", "a?+b?:c?'d???'e"]
    d = doc.interchanges[0].delimiters
    assert d.components(ftx[4]) == ["a+b:c'd?'e"]
    assert doc.messages[0].segment_count == 3
    assert not errors(doc)


def test_release_character_split_across_chunks():
    body = "FTX+AAI+++" + "x" * 50 + "?'" + "y" * 10 + "'"
    text = f"UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'{body}UNT+3+1'UNZ+1+R1'"
    for size in (1, 2, 3, 7, 61, 62, 63, 64):
        doc = read(text.encode(), chunk_size=size)
        assert doc.messages[0].segments[1][4] == "x" * 50 + "?'" + "y" * 10, size
        assert not doc.findings, (size, doc.findings)


@pytest.mark.parametrize("size", [1, 5, 17, 100, 1 << 20])
def test_chunk_size_does_not_matter(size):
    text = "UNA:+.? '\r\n" + ORDER.replace("'", "'\r\n") * 3
    docs = read(text.encode(), chunk_size=size)
    assert len(docs.interchanges) == 3
    assert [m.segments for m in docs.messages] == [m.segments for m in read(text.encode()).messages]
    assert errors(docs) == {"DUPLICATE_UNB_REFERENCE"}


def test_line_breaks_between_and_inside_segments():
    wrapped = ORDER.replace("'", "'\r\n")
    wrapped = wrapped[:40] + "\n" + wrapped[40:70] + "\r\n" + wrapped[70:]
    doc = read(wrapped.encode())
    assert [m.segments for m in doc.messages] == [m.segments for m in read(ORDER.encode()).messages]
    assert not doc.findings


def test_newline_as_segment_terminator():
    text = "UNA:+.? \nUNB+UNOC:3+S+R+240115:1200+R1\nUNH+1+ORDERS:D:96A:UN\nBGM+220\nUNT+3+1\nUNZ+1+R1\n"
    doc = read(text.encode())
    assert doc.interchanges[0].delimiters.segment == "\n"
    assert doc.messages[0].segments[1] == ["BGM", "220"]
    assert not doc.findings


def test_indented_segments():
    text = ORDER.replace("'", "'\n  ")
    doc = read(text.encode())
    assert [s[0] for s in doc.messages[0].segments] == ["UNH", "BGM", "DTM", "UNS", "UNT"]


@pytest.mark.parametrize(
    "syntax,codec,text",
    [
        ("UNOC", "latin-1", "Müller ß"),
        ("UNOD", "iso8859_2", "Łódź"),
        ("UNOE", "iso8859_5", "Лорем"),
        ("UNOF", "iso8859_7", "Ελλάδα"),
        ("UNOW", "utf-8", "東京 Zürich"),
        ("UNOY", "utf-8", "Ωmega ✓"),
    ],
)
def test_character_sets(syntax, codec, text):
    edi = f"UNB+{syntax}:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'FTX+AAI+++{text}'UNT+3+1'UNZ+1+R1'"
    doc = read(edi.encode(codec))
    assert doc.interchanges[0].encoding == codec
    assert doc.messages[0].segments[1][4] == text
    assert not doc.findings
    from hub.edi.edifact.writer import write_document

    assert write_document(doc) == edi.encode(codec)


def test_unoa_with_non_ascii_is_read_with_a_warning():
    edi = "UNB+UNOA:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'FTX+AAI+++Müller'UNT+3+1'UNZ+1+R1'".encode("latin-1")
    doc = read(edi)
    assert doc.messages[0].segments[1][4] == "Müller"
    (f,) = doc.findings
    assert f.code == "CHARACTER_OUTSIDE_REPERTOIRE" and f.severity == "warning" and f.ack_code == "21"


def test_iata_syntax_identifiers():
    doc = read(b"UNB+IATA:1+S+R+240115:1200+R1'UNH+1+PAORES:93:1:IA'UNT+2+1'UNZ+1+R1'")
    assert not doc.findings and doc.interchanges[0].syntax_identifier == "IATA"
    level_b = "UNB\x1dIATB\x1f1\x1dS\x1dR\x1d240115\x1f1200\x1dR1\x1cUNH\x1d1\x1dPAORES\x1f93\x1f1\x1fIA\x1c" \
              "UNT\x1d2\x1d1\x1cUNZ\x1d1\x1dR1\x1c"
    doc = read(level_b.encode())
    d = doc.interchanges[0].delimiters
    assert (d.element, d.component, d.segment, d.release) == ("\x1d", "\x1f", "\x1c", None)
    assert doc.messages[0].type == "PAORES"
    assert not doc.findings


def test_unknown_syntax_identifier():
    doc = read(b"UNB+XXXX:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNZ+1+R1'")
    (f,) = doc.findings
    assert f.code == "SYNTAX_ID_UNKNOWN" and f.ack_code == "2" and f.ack_level == "interchange"


def test_groups():
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'"
            "UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNH+2+ORDERS:D:96A:UN'UNT+2+2'UNE+2+G1'UNZ+1+R1'")
    events = list(EdifactReader(text.encode()))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Interchange", "FunctionalGroup", "Message", "Message", "GroupEnd", "InterchangeEnd"]
    ic = events[0]
    (g,) = ic.groups
    assert (g.functional_id, g.control_number, g.version, len(g.transactions)) == ("ORDERS", "G1", "D:96A", 2)
    assert g.to_json()["id"] == "ORDERS"


def test_messages_without_groups_have_an_implicit_group():
    events = list(EdifactReader(ORDER.encode()))
    assert [type(e) for e in events] == [Interchange, FunctionalGroup, Message, GroupEnd, InterchangeEnd]
    g = events[1]
    assert g.implicit and g.to_json() == {"id": None, "control_number": None, "version": None,
                                          "transactions": [{"type": "ORDERS", "control_number": "M1",
                                                            "segment_count": 5}]}


ENVELOPE_CASES = [
    # (text, code, ack_level, ack_code, (group, transaction, segment, element))
    (ORDER.replace("UNZ+1+REF1", "UNZ+2+REF1"), "UNZ_COUNT", "interchange", "29", (None, None, 7, 1)),
    (ORDER.replace("UNZ+1+REF1", "UNZ+1+REF2"), "UNZ_REFERENCE_MISMATCH", "interchange", "28", (None, None, 7, 2)),
    (ORDER.replace("UNT+5+M1", "UNT+6+M1"), "UNT_COUNT", "transaction", "29", (0, 0, 5, 1)),
    (ORDER.replace("UNT+5+M1", "UNT+5+M2"), "UNT_REFERENCE_MISMATCH", "transaction", "28", (0, 0, 5, 2)),
    (ORDER.replace("UNT+5+M1'", ""), "UNT_MISSING", "transaction", "13", (0, 0, None, None)),
    (ORDER.replace("UNZ+1+REF1'", ""), "UNZ_MISSING", "interchange", "13", (None, None, None, None)),
    (ORDER + "garbage", "DATA_AFTER_UNZ", "interchange", "18", (None, None, None, None)),
    (ORDER.replace("UNS+S'UNT+5+M1'", "UNS+S'UNT+5+M1'UNH+M1+ORDERS:D:96A:UN'UNT+2+M1'").replace("UNZ+1", "UNZ+2"),
     "DUPLICATE_UNH_REFERENCE", "transaction", "26", (0, 1, 1, 1)),
    (ORDER.replace("UNH+M1", "BGM+1'UNH+M1"), "SEGMENT_OUTSIDE_MESSAGE", "interchange", "33", (None, None, 2, None)),
]


@pytest.mark.parametrize("text,code,level,ack,where", ENVELOPE_CASES, ids=[c[1] for c in ENVELOPE_CASES])
def test_envelope_checks(text, code, level, ack, where):
    doc = read(text.encode())
    found = [f for f in doc.findings if f.code == code]
    assert len(found) == 1, doc.findings
    f = found[0]
    assert f.severity == "error" and f.interchange == 0
    assert (f.ack_level, f.ack_code) == (level, ack)
    assert (f.group, f.transaction, f.segment, f.element) == where


def test_une_checks():
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'"
            "UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNE+3+G2'UNZ+1+R1'")
    doc = read(text.encode())
    assert errors(doc) == {"UNE_COUNT", "UNE_REFERENCE_MISMATCH"}
    for f in doc.findings:
        assert f.ack_level == "group" and f.group == 0 and f.segment == 5
    missing = read(text.replace("UNE+3+G2'", "").encode())
    assert errors(missing) == {"UNE_MISSING"}


def test_unz_counts_groups_when_groups_are_used():
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'"
            "UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNH+2+ORDERS:D:96A:UN'UNT+2+2'UNE+2+G1'UNZ+1+R1'")
    assert not read(text.encode()).findings


def test_groups_and_messages_mixed():
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNH+0+ORDERS:D:96A:UN'UNT+2+0'"
            "UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNE+1+G1'UNZ+2+R1'")
    doc = read(text.encode())
    assert "GROUPS_AND_MESSAGES_MIXED" in errors(doc)
    assert [len(g.transactions) for g in doc.interchanges[0].groups] == [1, 1]


def test_several_interchanges_with_different_service_characters():
    a = "UNA:+.? 'UNB+UNOC:3+S+R+240115:1200+A'UNH+1+ORDERS:D:96A:UN'UNT+2+1'UNZ+1+A'\n"
    b = "UNA=*.? ~UNB*UNOC=3*S*R*240115=1200*B~UNH*1*ORDERS=D=96A=UN~UNT*2*1~UNZ*1*B~\n"
    c = "UNB+UNOW:3+S+R+240115:1200+C'UNH+1+ORDERS:D:96A:UN'FTX+AAI+++✓'UNT+3+1'UNZ+1+C'"
    doc = read((a + b).encode() + c.encode("utf-8"))
    assert [ic.control_number for ic in doc.interchanges] == ["A", "B", "C"]
    assert [ic.delimiters.element for ic in doc.interchanges] == ["+", "*", "+"]
    assert doc.messages[2].segments[1][4] == "✓"
    assert not doc.findings


def test_missing_unz_then_new_interchange():
    text = ORDER.replace("UNZ+1+REF1'", "") + ORDER.replace("REF1", "REF2")
    doc = read(text.encode())
    assert len(doc.interchanges) == 2 and len(doc.messages) == 2
    assert errors(doc) == {"UNZ_MISSING"}


def test_not_edifact():
    doc = read(b"ISA*00*          *00*          ~")
    assert doc.not_edifact
    assert "NOT_EDIFACT" in errors(doc)
    empty = read(b"")
    assert empty.not_edifact and "empty" in empty.findings[-1].message


def test_una_without_unb():
    doc = read(b"UNA:+.? 'XYZ+1'")
    assert doc.not_edifact and "UNA_WITHOUT_UNB" in codes(doc)


def test_una_with_clashing_characters():
    doc = read(b"UNA++.? 'UNB+UNOC:3+S+R+240115:1200+R1'UNZ+0+R1'")
    assert "UNA_INVALID" in errors(doc)


def test_bad_unb_values():
    doc = read(b"UNB+UNOC:3++R+241315:2500+'UNZ+0+'")
    got = [(f.code, f.element, f.component) for f in doc.findings]
    assert ("UNB_VALUE", 2, 1) in got
    assert ("UNB_VALUE", 4, 1) in got and ("UNB_VALUE", 4, 2) in got
    assert ("UNB_VALUE", 5, None) in got


def test_truncated_file_never_raises():
    for cut in range(len(ORDER)):
        doc = read(ORDER[:cut].encode())
        assert isinstance(doc.findings, list)


def test_bounded_memory_limits():
    body = "".join(f"LIN+{i}'" for i in range(100))
    text = f"UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'{body}UNT+102+1'UNZ+1+R1'"
    doc = read(text.encode(), max_message_segments=10, chunk_size=16)
    (m,) = doc.messages
    assert len(m.segments) <= 11 and m.segment_count == 102
    assert "MESSAGE_TOO_LARGE" in codes(doc) and "UNT_COUNT" not in codes(doc)


def test_streaming_yields_messages_one_at_a_time():
    text = "UNB+UNOC:3+S+R+240115:1200+R1'" + "".join(
        f"UNH+{i}+ORDERS:D:96A:UN'BGM+220+{i}'UNT+3+{i}'" for i in range(200)) + "UNZ+200+R1'"
    reader = EdifactReader(io.BytesIO(text.encode()), chunk_size=64)
    seen = 0
    for item in reader:
        if isinstance(item, Message):
            seen += 1
            assert item.segments[1][2] == str(item.index)
    assert seen == 200 and not reader.findings
    with pytest.raises(RuntimeError):
        list(reader)


def test_reads_paths(tmp_path):
    p = tmp_path / "x.edi"
    p.write_bytes(ORDER.encode())
    assert len(read(p).messages) == 1
    assert len(read(str(p)).messages) == 1


def test_overlong_segment_is_reported_once_and_skipped():
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNH+1+ORDERS:D:96A:UN'BGM+220'FTX+AAI+++" + "x" * 5000
            + "'DTM+137:20240115:102'UNT+5+1'UNZ+1+R1'")
    doc = read(text.encode(), max_segment_length=1000, chunk_size=256)
    too_long = [f for f in doc.findings if f.code == "SEGMENT_TOO_LONG"]
    assert len(too_long) == 1
    assert (too_long[0].transaction, too_long[0].segment) == (0, 3)
    (m,) = doc.messages
    assert [s[0] for s in m.segments] == ["UNH", "BGM", "DTM", "UNT"]
    assert m.segment_count == 5 and "UNT_COUNT" not in codes(doc)


def test_findings_on_objects_are_bounded_too():
    # stray runs broken by unmatched UNTs: two findings per repetition (runs of strays make one each)
    text = "UNB+UNOC:3+S+R+240115:1200+R1'" + "XYZ+1'UNT+2+9'" * 500 + "UNZ+0+R1'"
    reader = EdifactReader(text.encode(), max_findings=20)
    list(reader)
    assert len(reader.interchanges[0].findings) <= 20
    assert reader.findings[-1].code == "FINDINGS_TRUNCATED"


def _many_messages(count: int) -> bytes:
    body = "".join(f"UNH+{i}+ORDERS:D:96A:UN'BGM+220+PO{i}+9'DTM+137:20240115:102'"
                   + "".join(f"LIN+{n}++54000000{n:05d}:EN'QTY+21:{n}'" for n in range(1, 21))
                   + f"UNS+S'UNT+45+{i}'" for i in range(count))
    return f"UNB+UNOC:3+S+R+240115:1200+R1'{body}UNZ+{count}+R1'".encode()


def test_memory_does_not_grow_with_the_input():
    import tracemalloc

    peaks = []
    for count in (500, 2000):
        data = _many_messages(count)
        tracemalloc.start()
        reader = EdifactReader(io.BytesIO(data), chunk_size=1 << 16)
        seen = sum(1 for item in reader if isinstance(item, Message))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert seen == count and not reader.findings
    assert peaks[1] < peaks[0] * 1.5 + (1 << 20), peaks


def test_garbage_after_unz_is_bounded():
    reader = EdifactReader(ORDER.encode() + b"x" * (3 << 20), chunk_size=1 << 16)
    list(reader)
    assert [f.code for f in reader.findings] == ["DATA_AFTER_UNZ"]
    assert len(reader.trailing) <= 1 << 16


def test_random_bytes_with_a_chance_unb_are_not_edifact():
    # Regression: "UNB" followed by a data character in binary garbage was taken
    # for an interchange header, so garbage was read as 10,000 stray segments
    # (exit 1) instead of "not EDIFACT" (exit 2).
    import random

    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(20000))
    doc = read(noise[:5000] + b"UNB&\x01\x02'" + noise[5000:] + b"UNA:+.? 'UNB+\x8f'")
    assert doc.interchanges == []
    assert "NOT_EDIFACT" in errors(doc)


def test_stray_segments_make_one_finding():
    doc = read(b"UNB+UNOC:3+S+R+240115:1200+R1'FOO+1'BAR+2'BAZ+3'UNZ+0+R1'")
    (stray,) = [f for f in doc.findings if f.code == "SEGMENT_OUTSIDE_MESSAGE"]
    assert stray.extra["count"] == 3 and stray.segment_id == "FOO"
