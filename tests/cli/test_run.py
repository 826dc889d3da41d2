"""`edihub run --once` on real folders: archive first, ack, report, settle, duplicates."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.edi.edifact import read_document as read_edifact
from hub.edi.x12 import read_document
from tests.conftest import REPO


@pytest.fixture
def hub_dirs(tmp_path, monkeypatch):
    inbound = tmp_path / "in"
    inbound.mkdir()
    for sample in (REPO / "inbound").iterdir():
        shutil.copy(sample, inbound / sample.name)
    monkeypatch.setenv("EDIHUB__FOLDERS__INBOUND", str(inbound))
    monkeypatch.setenv("EDIHUB__FOLDERS__OUTBOUND", str(tmp_path / "out"))
    monkeypatch.setenv("EDIHUB__FOLDERS__ARCHIVE", str(tmp_path / "archive"))
    return tmp_path


def run_once():
    return CliRunner().invoke(main, ["run", "--once"], catch_exceptions=False)


def test_run_once_archives_acknowledges_and_settles(hub_dirs):
    inbound = hub_dirs / "in"
    originals = {p.name: p.read_bytes() for p in inbound.iterdir()}
    result = run_once()
    assert result.exit_code == 1  # the bad-count sample is rejected
    assert "acme_850_4010.x12: x12 accepted" in result.output
    assert "acme_850_4010_bad_count.x12: x12 rejected" in result.output
    assert list(inbound.iterdir()) == []
    for name, data in originals.items():
        sha = hashlib.sha256(data).hexdigest()
        assert (hub_dirs / "archive" / f"{sha}.edi").read_bytes() == data  # raw bytes kept
        report = json.loads((hub_dirs / "archive" / f"{sha}.json").read_text())
        assert report["name"] == name
        if name.endswith(".edi"):
            assert report["standard"] == "edifact" and report["status"] == "accepted"
            contrl = read_edifact(report["ack"])
            assert [m.type for m in contrl.transactions] == ["CONTRL"]
            continue
        ack = read_document(report["ack"])
        assert [t.type for t in ack.transactions] == ["997"]
        if "bad_count" in name:
            assert report["status"] == "rejected"
            assert {f["code"] for f in report["findings"]} >= {"SE01_COUNT"}
        else:
            assert report["status"] == "accepted"


def test_same_bytes_twice_is_a_duplicate(hub_dirs):
    inbound = hub_dirs / "in"
    run_once()
    shutil.copy(REPO / "inbound" / "acme_850_4010.x12", inbound / "again.x12")
    result = run_once()
    assert "again.x12: ? duplicate" in result.output
    assert list(inbound.iterdir()) == []


def test_files_still_being_written_are_left_alone(hub_dirs):
    inbound = hub_dirs / "in"
    (inbound / "upload.x12.filepart").write_bytes(b"ISA*00*")
    (inbound / ".hidden").write_bytes(b"x")
    run_once()
    assert sorted(p.name for p in inbound.iterdir()) == [".hidden", "upload.x12.filepart"]


def test_unknown_standard_is_rejected_but_kept(hub_dirs):
    inbound = hub_dirs / "in"
    for p in inbound.iterdir():
        p.unlink()
    (inbound / "notes.txt").write_bytes(b"hello, not EDI")
    result = run_once()
    assert result.exit_code == 1
    assert "UNKNOWN_STANDARD" in result.output
    sha = hashlib.sha256(b"hello, not EDI").hexdigest()
    assert (hub_dirs / "archive" / f"{sha}.edi").read_bytes() == b"hello, not EDI"
