"""``edihub edifact inspect|validate|ack``: the JSON shape and exit codes of ``edihub x12``."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hub.cli import main

GOOD = ("UNB+UNOC:3+SENDER:14+RECEIVER:14+240115:1200+REF1'"
        "UNH+M1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240115:102'UNS+S'UNT+5+M1'UNZ+1+REF1'")
FINDING_KEYS = {"severity", "layer", "code", "message", "interchange", "group", "transaction", "segment", "element"}


def run(*args):
    return CliRunner().invoke(main, list(args))


def write(tmp_path, text, name="x.edi"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def test_inspect_json_shape(tmp_path):
    res = run("edifact", "inspect", "--json", write(tmp_path, GOOD))
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output)
    assert payload == {
        "standard": "edifact",
        "interchanges": [{
            "sender": "SENDER", "receiver": "RECEIVER", "control_number": "REF1",
            "groups": [{"id": None, "control_number": None, "version": None,
                        "transactions": [{"type": "ORDERS", "control_number": "M1", "segment_count": 5}]}],
        }],
        "findings": [],
    }


def test_inspect_json_with_groups_and_errors(tmp_path):
    text = ("UNB+UNOC:3+S+R+240115:1200+R1'UNG+ORDERS+S+R+240115:1200+G1+UN+D:96A'"
            "UNH+1+ORDERS:D:96A:UN'BGM+220+PO1+9'DTM+137:20240115:102'UNS+S'UNT+6+1'UNE+1+G1'UNZ+1+R1'")
    res = run("edifact", "inspect", "--json", write(tmp_path, text))
    assert res.exit_code == 1
    payload = json.loads(res.output)
    group = payload["interchanges"][0]["groups"][0]
    assert (group["id"], group["control_number"], group["version"]) == ("ORDERS", "G1", "D:96A")
    (f,) = payload["findings"]
    assert set(f) == FINDING_KEYS
    assert (f["code"], f["layer"], f["severity"], f["interchange"], f["group"], f["transaction"], f["segment"],
            f["element"]) == ("UNT_COUNT", "envelope", "error", 0, 0, 0, 5, 1)


def test_not_edifact_exit_2_with_json(tmp_path):
    res = run("edifact", "inspect", "--json", write(tmp_path, "ISA*00*hello~"))
    assert res.exit_code == 2
    payload = json.loads(res.output)
    assert payload["standard"] == "edifact" and payload["interchanges"] == []
    assert payload["findings"][-1]["code"] == "NOT_EDIFACT"


def test_missing_file_exit_2(tmp_path):
    res = run("edifact", "inspect", "--json", str(tmp_path / "nope.edi"))
    assert res.exit_code == 2
    assert json.loads(res.output)["findings"][0]["code"] == "FILE_UNREADABLE"
    assert run("edifact", "validate", str(tmp_path / "nope.edi")).exit_code == 2
    assert run("edifact", "ack", str(tmp_path / "nope.edi")).exit_code == 2


def test_inspect_text(tmp_path):
    res = run("edifact", "inspect", write(tmp_path, GOOD))
    assert res.exit_code == 0 and "UNH ORDERS M1 (5 segments)" in res.output


def test_validate(tmp_path):
    res = run("edifact", "validate", write(tmp_path, GOOD))
    assert res.exit_code == 0 and "valid" in res.output
    bad = run("edifact", "validate", write(tmp_path, GOOD.replace("UNZ+1", "UNZ+2")))
    assert bad.exit_code == 1 and "UNZ_COUNT" in bad.output
    assert run("edifact", "validate", write(tmp_path, "nothing")).exit_code == 2


def test_ack_to_file_and_stdout(tmp_path):
    out = tmp_path / "contrl.edi"
    res = run("edifact", "ack", write(tmp_path, GOOD), "-o", str(out))
    assert res.exit_code == 0
    assert b"UNH+1+CONTRL:2:2:UN'" in out.read_bytes()
    res = run("edifact", "ack", write(tmp_path, GOOD.replace("UNZ+1", "UNZ+2")))
    assert res.exit_code == 1 and "UCI+REF1+SENDER:14+RECEIVER:14+4+29+UNZ+1'" in res.output
    assert run("edifact", "ack", write(tmp_path, "nothing")).exit_code == 2


def test_never_a_traceback(tmp_path):
    for junk in (b"", b"\x00\xff" * 100, b"UNA", b"UNB", b"UNA:+.? 'UNB+", b"UNB+UNOC:3+" + b"?" * 5000):
        res = run("edifact", "inspect", "--json", write(tmp_path, junk))
        assert res.exit_code in (0, 1, 2), res.output
        assert res.exception is None or isinstance(res.exception, SystemExit)
        json.loads(res.output)
