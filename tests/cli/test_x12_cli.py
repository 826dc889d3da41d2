"""`edihub x12 ...` through click's CliRunner: JSON shape, exit codes, no tracebacks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.cli import main

GOOD = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261126*1200*U*00401*000000007*0*T*>~"
    "GS*PO*SENDER*RECEIVER*20261126*1200*7*X*004010~"
    "ST*850*0001~BEG*00*SA*PO1**20261126~PO1*1*2*EA*3.5**BP*X1~CTT*1~SE*5*0001~"
    "GE*1*7~IEA*1*000000007~"
)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def write(tmp_path):
    def _write(data: bytes | str, name: str = "in.x12") -> str:
        path = tmp_path / name
        path.write_bytes(data.encode("latin-1") if isinstance(data, str) else data)
        return str(path)

    return _write


def test_inspect_json_has_exactly_the_documented_shape(write):
    result = run("x12", "inspect", "--json", write(GOOD))
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"standard", "interchanges", "findings"}
    assert payload["standard"] == "x12"
    (ic,) = payload["interchanges"]
    assert set(ic) == {"sender", "receiver", "control_number", "groups"}
    assert (ic["sender"], ic["receiver"], ic["control_number"]) == ("SENDER", "RECEIVER", "000000007")
    (group,) = ic["groups"]
    assert group == {
        "id": "PO",
        "control_number": "7",
        "version": "004010",
        "transactions": [{"type": "850", "control_number": "0001", "segment_count": 5}],
    }
    assert payload["findings"] == []


def test_inspect_json_reports_errors_with_exit_code_1(write):
    result = run("x12", "inspect", "--json", write(GOOD.replace("SE*5*0001", "SE*9*0001")))
    assert result.exit_code == 1
    payload = json.loads(result.output)
    (finding,) = [f for f in payload["findings"] if f["code"] == "SE01_COUNT"]
    assert set(finding) == {
        "severity",
        "layer",
        "code",
        "message",
        "interchange",
        "group",
        "transaction",
        "segment",
        "element",
    }
    assert finding == {
        **finding,
        "severity": "error",
        "layer": "envelope",
        "interchange": 0,
        "group": 0,
        "transaction": 0,
        "segment": 5,
        "element": 1,
    }


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"UNA:+.? 'UNB+UNOA:1+SENDER+RECEIVER+261126:1200+1'UNZ+0+1'",
        bytes(range(256)) * 50,
        b"GS*PO*A*B*20261126*1200*1*X*004010~ST*850*1~SE*2*1~GE*1*1~",
    ],
    ids=["empty", "whitespace", "edifact", "binary", "no-isa"],
)
def test_not_x12_exits_2_and_still_prints_json(write, data):
    result = run("x12", "inspect", "--json", write(data))
    assert result.exit_code == 2
    payload = json.loads(result.output)
    assert payload["interchanges"] == []
    assert any(f["code"] == "NOT_X12" and f["severity"] == "error" for f in payload["findings"])


def test_missing_file_exits_2_without_traceback(tmp_path):
    result = CliRunner().invoke(main, ["x12", "inspect", "--json", str(tmp_path / "nope.x12")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    payload = json.loads(result.output)
    assert payload["findings"][0]["code"] == "FILE_UNREADABLE"


def test_validate_prints_findings_with_positions(write):
    result = run("x12", "validate", write(GOOD.replace("GE*1*7", "GE*1*8")))
    assert result.exit_code == 1
    assert "GE02_MISMATCH" in result.output
    assert "interchange 1, group 1, segment" in result.output
    assert "invalid" in result.output


def test_validate_clean_file(write):
    result = run("x12", "validate", write(GOOD))
    assert result.exit_code == 0, result.output
    assert ": valid:" in result.output


def test_inspect_text_summary(write):
    result = run("x12", "inspect", write(GOOD))
    assert result.exit_code == 0
    assert "ST 850 0001 (5 segments)" in result.output


@pytest.mark.parametrize("command", ["x12", "edifact"])
def test_a_directory_is_unreadable_json_exit_2(tmp_path, command):
    result = CliRunner().invoke(main, [command, "inspect", "--json", str(tmp_path)])
    assert result.exit_code == 2
    payload = json.loads(result.output)
    assert payload["standard"] == command
    assert payload["findings"][0]["code"] == "FILE_UNREADABLE"
