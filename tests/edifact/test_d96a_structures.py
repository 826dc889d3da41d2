"""The D.96A ORDRSP and DESADV message structures: lookup, shape, valid and broken messages, the corpus."""

from __future__ import annotations

import datetime as dt

import pytest

from hub.acks.edifact import acknowledge
from hub.edi.edifact import read_document
from hub.edi.edifact.analyse import analyse
from hub.edi.edifact.schema import compile_message, find_schema
from hub.edi.edifact.validate import CompiledValidator, EdifactValidator
from tests.conftest import corpus_path

WHEN = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC)


def message(body: list[str], mtype: str) -> bytes:
    segs = [f"UNH+1+{mtype}", *body]
    segs.append(f"UNT+{len(segs) + 1}+1")
    return ("UNB+UNOC:3+SENDER:14+RECEIVER:14+240115:1200+R1'" + "'".join(segs) + "'UNZ+1+R1'").encode()


def ordrsp(body: list[str], release: str = "96A") -> bytes:
    return message(body, f"ORDRSP:D:{release}:UN")


def desadv(body: list[str], release: str = "96A") -> bytes:
    return message(body, f"DESADV:D:{release}:UN")


def schema_findings(data: bytes):
    return [f for f in analyse(data).findings if f.layer == "schema"]


def brief(findings) -> list[tuple]:
    """(code, segment position, segment tag, loop, CONTRL 0085 code) of each finding."""
    return [(f.code, f.segment, f.segment_id, f.loop_id, f.ack_code) for f in findings]


ORDRSP_GOOD = [
    "BGM+231+PO1RSP+29",
    "DTM+137:20240116:102",
    "RFF+ON:PO1",  # SG1
    "DTM+171:20240115:102",
    "AJT+AB",  # SG2
    "FTX+AAI+++Quantities adjusted",
    "NAD+BY+5412345000013::9",  # SG3
    "CTA+PD+:Joe",  # SG6
    "COM+0123:TE",
    "NAD+SU+5400000000009::9",
    "CUX+2:EUR:9",  # SG8
    "LIN+1+5+5400000000001:EN",  # SG26
    "QTY+21:10",
    "DTM+2:20240120:102",
    "PRI+AAA:1.25",  # SG30
    "LIN+2+3+5400000000002:EN",
    "QTY+21:3",
    "AJT+AC",  # SG29
    "FTX+AAO+++Only 3 in stock",
    "PRI+AAA:2.5",
    "UNS+S",
    "CNT+2:2",
]

DESADV_GOOD = [
    "BGM+351+D1+9",
    "DTM+137:20240115:102",
    "DTM+11:20240115:102",
    "RFF+ON:PO1",  # SG1
    "DTM+171:20240110:102",
    "NAD+BY+5412345000013::9",  # SG2
    "RFF+VA:BE0123456789",  # SG3
    "NAD+SU+5400000000009::9",
    "CTA+DE+:Jane",  # SG4
    "COM+0123:TE",
    "NAD+DP+5412345000020::9",
    "TOD+6++DDP",  # SG5
    "TDT+20++30",  # SG6
    "LOC+11+5412345000020::9",  # SG7
    "DTM+132:20240116:102",
    "CPS+1",  # SG10
    "PAC+1++PX",  # SG11
    "PCI+33E",  # SG13
    "GIN+BJ+354123450000000014",  # SG14
    "CPS+2+1",
    "PAC+2++CT",
    "LIN+1++5400000000001:EN",  # SG15
    "PIA+1+ABC123:SA",
    "QTY+12:10",
    "RFF+ON:PO1",  # SG16
    "PCI+10",  # SG20
    "GIN+BX+LOT1",  # SG21
    "LIN+2++5400000000002:EN",
    "QTY+12:5",
    "CNT+2:2",
]


# ---------------------------------------------------------------- the schemas


@pytest.mark.parametrize("msg_type", ["ORDRSP", "DESADV"])
def test_find_schema_picks_d96a_and_keeps_d01b(msg_type):
    assert find_schema(msg_type, "D", "96A", "UN").directory == "D96A"
    assert find_schema(msg_type, "D", "96a", "UN").directory == "D96A"
    assert find_schema(msg_type, "D", "01B", "UN").directory == "D01B"
    # no more fallback: the D96A structure is its own
    assert find_schema(msg_type, "D", "96A", "UN") is not find_schema(msg_type, "D", "01B", "UN")
    assert find_schema(msg_type, "0", "96A", "UN") is None  # a wrong S009 version gets no schema


def test_d96a_message_picks_d96a_schema():
    v = EdifactValidator()
    for data in (ordrsp(ORDRSP_GOOD), desadv(DESADV_GOOD)):
        msg = read_document(data).messages[0]
        assert v.schema_for(msg).schema.directory == "D96A"


def groups(directory: str, msg_type: str) -> dict[str, tuple]:
    """Group name -> (trigger tag, mandatory, max, parent name)."""
    compiled = compile_message(directory, msg_type)
    return {e.name: (e.tag, e.mandatory, e.max, e.parent.name) for e in compiled.entries if e.is_group}


def test_d96a_ordrsp_groups():
    g = groups("D96A", "ORDRSP")
    assert len(g) == 56
    assert [g[f"SG{i}"][0] for i in range(1, 57)] == [
        "RFF", "AJT", "NAD", "RFF", "DOC", "CTA", "TAX", "CUX", "PAT", "TDT", "LOC", "TOD", "PAC", "PCI", "EQD",
        "SCC", "QTY", "APR", "ALC", "QTY", "PCD", "MOA", "RTE", "TAX", "RCS", "LIN", "CCI", "PAT", "AJT", "PRI",
        "RFF", "PAC", "RFF", "PCI", "LOC", "TAX", "NAD", "RFF", "DOC", "CTA", "ALC", "QTY", "PCD", "MOA", "RTE",
        "TAX", "TDT", "LOC", "TOD", "EQD", "SCC", "QTY", "RCS", "STG", "QTY", "ALC"]
    assert not any(mandatory for _, mandatory, _, _ in g.values())
    assert g["SG2"] == ("AJT", False, 1, "ORDRSP")
    assert g["SG3"] == ("NAD", False, 99, "ORDRSP")
    assert g["SG26"] == ("LIN", False, 200000, "ORDRSP")
    assert g["SG29"] == ("AJT", False, 1, "SG26")
    assert g["SG30"] == ("PRI", False, 25, "SG26")
    assert g["SG56"] == ("ALC", False, 10, "ORDRSP")
    top = [e.name for e in compile_message("D96A", "ORDRSP").root.children]
    assert top[:7] == ["UNH", "BGM", "DTM", "PAI", "ALI", "IMD", "FTX"]
    assert top[-5:] == ["UNS", "MOA", "CNT", "SG56", "UNT"]


def test_d96a_desadv_groups():
    g = groups("D96A", "DESADV")
    assert g == {
        "SG1": ("RFF", False, 10, "DESADV"),
        "SG2": ("NAD", False, 10, "DESADV"),
        "SG3": ("RFF", False, 10, "SG2"),
        "SG4": ("CTA", False, 10, "SG2"),
        "SG5": ("TOD", False, 10, "DESADV"),
        "SG6": ("TDT", False, 10, "DESADV"),
        "SG7": ("LOC", False, 10, "SG6"),
        "SG8": ("EQD", False, 10, "DESADV"),
        "SG9": ("HAN", False, 10, "SG8"),
        "SG10": ("CPS", False, 9999, "DESADV"),
        "SG11": ("PAC", False, 9999, "SG10"),
        "SG12": ("HAN", False, 10, "SG11"),
        "SG13": ("PCI", False, 1000, "SG11"),
        "SG14": ("GIN", False, 99, "SG13"),
        "SG15": ("LIN", False, 9999, "SG10"),
        "SG16": ("RFF", False, 99, "SG15"),
        "SG17": ("DGS", False, 10, "SG15"),
        "SG18": ("LOC", False, 100, "SG15"),
        "SG19": ("SGP", False, 1000, "SG15"),
        "SG20": ("PCI", False, 9999, "SG15"),
        "SG21": ("GIN", False, 10, "SG20"),
        "SG22": ("HAN", False, 10, "SG20"),
        "SG23": ("QVR", False, 10, "SG15"),
    }
    top = [e.name for e in compile_message("D96A", "DESADV").root.children]
    assert top == ["UNH", "BGM", "DTM", "ALI", "MEA", "MOA", "SG1", "SG2", "SG5", "SG6", "SG8", "SG10", "CNT", "UNT"]
    lin = compile_message("D96A", "DESADV").entries
    (sg15,) = [e for e in lin if e.name == "SG15"]
    assert [c.name for c in sg15.children] == [
        "LIN", "PIA", "IMD", "MEA", "QTY", "ALI", "GIN", "GIR", "DLM", "DTM", "FTX", "MOA",
        "SG16", "SG17", "SG18", "SG19", "SG20", "SG23"]
    # D.01B inserted two groups under PAC: its line item group is SG17
    assert groups("D01B", "DESADV")["SG17"][0] == "LIN"


# ---------------------------------------------------------------- valid messages


def test_valid_ordrsp_has_no_findings():
    assert schema_findings(ordrsp(ORDRSP_GOOD)) == []


def test_valid_desadv_has_no_findings():
    assert schema_findings(desadv(DESADV_GOOD)) == []


def test_valid_messages_are_also_valid_d01b():
    """D.01B is a superset of these D.96A structures (its element formats are wider)."""
    assert schema_findings(ordrsp(ORDRSP_GOOD, "01B")) == []
    assert schema_findings(desadv(DESADV_GOOD, "01B")) == []


def test_minimal_messages():
    assert schema_findings(ordrsp(["BGM+231+R1+27", "DTM+137:20240116:102", "UNS+S"])) == []
    assert schema_findings(desadv(["BGM+351+D1+9"])) == []


# ---------------------------------------------------------------- broken messages


def test_ordrsp_segment_out_of_order():
    body = ORDRSP_GOOD.copy()
    body.insert(12, body.pop(14))  # line 1: PRI (SG30) before QTY; DTM then belongs to the PRI group
    assert brief(schema_findings(ordrsp(body))) == [("SEGMENT_UNEXPECTED", 15, "QTY", "SG30", "15")]


def test_desadv_segment_out_of_order():
    body = DESADV_GOOD.copy()
    body.insert(4, "ALI+DE")  # header ALI after RFF (SG1)
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_UNEXPECTED", 6, "ALI", "SG1", "15")]


def test_desadv_packaging_group_after_lines_is_a_new_cps():
    """PAC after the lines of a CPS: the CPS group only holds PAC groups before LIN groups."""
    body = DESADV_GOOD.copy()
    body.insert(27, "PAC+1++PX")  # after line 1 (before LIN 2), no new CPS
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_UNEXPECTED", 29, "PAC", "SG21", "15")]


def test_desadv_missing_line_item_trigger():
    body = [s for s in DESADV_GOOD if not s.startswith("LIN+2")]  # QTY of line 2 without its LIN
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_UNEXPECTED", 29, "QTY", "SG21", "15")]


def test_desadv_missing_package_identification_trigger():
    body = [s for s in DESADV_GOOD if not s.startswith("PCI+33E")]  # GIN (SG14) without its PCI (SG13)
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_UNEXPECTED", 19, "GIN", "SG11", "15")]


def test_ordrsp_missing_party_trigger():
    body = [s for s in ORDRSP_GOOD if not s.startswith("NAD+BY")]  # CTA/COM (SG6) without NAD (SG3)
    assert brief(schema_findings(ordrsp(body))) == [
        ("SEGMENT_UNEXPECTED", 8, "CTA", "SG2", "15"),
        ("SEGMENT_UNEXPECTED", 9, "COM", "SG2", "15"),
    ]


def test_ordrsp_missing_mandatory_segments():
    body = [s for s in ORDRSP_GOOD if not s.startswith(("UNS", "DTM+137"))]
    assert brief(schema_findings(ordrsp(body))) == [
        ("MANDATORY_SEGMENT_MISSING", 3, "DTM", None, "13"),  # reported at the RFF that follows
        ("MANDATORY_SEGMENT_MISSING", 21, "UNS", None, "13"),  # reported at CNT
    ]


def test_desadv_missing_bgm():
    assert brief(schema_findings(desadv(DESADV_GOOD[1:]))) == [("MANDATORY_SEGMENT_MISSING", 2, "BGM", None, "13")]


def test_ordrsp_adjustment_group_repeated_beyond_its_maximum():
    body = ORDRSP_GOOD.copy()
    body[6:6] = ["AJT+AC", "FTX+AAI+++Second adjustment"]  # header SG2 is C1
    assert brief(schema_findings(ordrsp(body))) == [("GROUP_REPEATS", 8, "AJT", "SG2", "36")]
    body = ORDRSP_GOOD.copy()
    body[19:19] = ["AJT+AD"]  # line SG29 is C1 too
    assert brief(schema_findings(ordrsp(body))) == [("GROUP_REPEATS", 21, "AJT", "SG29", "36")]


def test_desadv_party_group_repeated_beyond_its_maximum():
    parties = [f"NAD+ZZZ+54000000000{i:02d}::9" for i in range(11)]
    body = DESADV_GOOD[:5] + parties + DESADV_GOOD[11:]
    found = schema_findings(desadv(body))
    assert brief(found) == [("GROUP_REPEATS", 17, "NAD", "SG2", "36")]  # SG2 is C10 in D.96A
    assert "repeats 11 times; at most 10" in found[0].message
    assert schema_findings(desadv(body, "01B")) == []  # C99 in D.01B


def test_desadv_dangerous_goods_group_repeated_beyond_its_maximum():
    body = DESADV_GOOD.copy()
    body[25:25] = ["DGS+ADR+3"] * 11  # SG17 (C10) after the line's RFF group (SG16)
    assert brief(schema_findings(desadv(body))) == [("GROUP_REPEATS", 37, "DGS", "SG17", "36")]


def test_desadv_segment_repeated_beyond_its_maximum():
    body = DESADV_GOOD[:1] + ["DTM+137:20240115:102"] * 11 + DESADV_GOOD[3:]
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_REPEATS", 13, "DTM", None, "35")]


def test_desadv_d01b_only_segment():
    """TMD in the transport group came after D.96A."""
    body = DESADV_GOOD.copy()
    body.insert(13, "TMD+1")
    assert brief(schema_findings(desadv(body))) == [("SEGMENT_NOT_IN_MESSAGE", 15, "TMD", "SG6", "15")]
    assert schema_findings(desadv(body, "01B")) == []


def test_contrl_reports_the_structure_errors():
    body = DESADV_GOOD[:5] + [f"NAD+ZZZ+54000000000{i:02d}::9" for i in range(11)] + DESADV_GOOD[11:]
    data = desadv(body).replace(b"UNH+1+", b"UNH+M1+").replace(b"+1'UNZ", b"+M1'UNZ")
    segs = [s for m in read_document(acknowledge(data, when=WHEN).data).messages for s in m.segments]
    assert ["UCM", "M1", "DESADV:D:96A:UN", "4"] in segs
    assert ["UCS", "17", "36"] in segs


# ---------------------------------------------------------------- the corpus

D96A_DESADV = compile_message("D96A", "DESADV")

# file, messages, the set of (code, segment, segment tag, 0085 code) of its D.96A DESADV findings
CORPUS = [
    ("bots_desadv_d96a_8msgs_crlf.edi", 8, set()),
    ("bots_desadv_d96a_una_3msgs.edi", 3, set()),
    # S009 version "0" instead of "D": no schema picked by UNH, so validated here with D.96A DESADV on purpose.
    # BGM+351+Y02197250+700101: 1225 (message function) is an..3
    ("phpedifact_desadv_96a_version-0.edi", 1, {("ELEMENT_TOO_LONG", 2, "BGM", "39")}),
]


@pytest.mark.corpus
@pytest.mark.parametrize("name,count,expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_desadv_d96a(name, count, expected):
    doc = read_document(corpus_path("edifact", "desadv", name))
    assert len(doc.messages) == count
    assert all(m.type == "DESADV" and m.release == "96A" for m in doc.messages)
    v = CompiledValidator(D96A_DESADV)
    found = {(f.code, f.segment, f.segment_id, f.ack_code) for m in doc.messages for f in v.validate(m)}
    assert found == expected


@pytest.mark.corpus
def test_corpus_d96a_files_use_the_d96a_schema():
    for name in ("bots_desadv_d96a_8msgs_crlf.edi", "bots_desadv_d96a_una_3msgs.edi"):
        result = analyse(corpus_path("edifact", "desadv", name))
        assert [f for f in result.findings if f.layer == "schema"] == []
        assert "without_schema" not in result.extra or not result.extra["without_schema"]


@pytest.mark.corpus
def test_corpus_desadv_files_are_all_d96a():
    on_disk = {p.name for p in corpus_path("edifact", "desadv").iterdir() if p.is_file()}
    assert on_disk == {name for name, _, _ in CORPUS}
