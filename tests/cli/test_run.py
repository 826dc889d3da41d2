"""`edihub run --once` and the operators' commands on a real working folder with the sample partners.

Each test works in its own copy of the repository's partner_profiles/, mappings/ and inbound/ samples, with a
SQLite store and the folder ERP adapter in the temp folder (config.yaml written there).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.edi.edifact import read_document as read_edifact
from hub.edi.x12 import read_document
from tests.conftest import REPO

CONFIG = """\
database: {url: "sqlite:///var/edihub.db"}
folders: {settle_seconds: 0}
runtime: {retry_base_seconds: 0.01}
"""


@pytest.fixture
def work(tmp_path, monkeypatch):
    for name in ("partner_profiles", "mappings", "inbound"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("EDIHUB__"):
            monkeypatch.delenv(key)
    return tmp_path


def edihub(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_json():
    result = edihub("run", "--once", "--json")
    return result, json.loads(result.output)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_run_once_processes_the_sample_partners(work):
    result, report = run_json()
    assert result.exit_code == 1  # the bad-count sample fails validation
    assert report["received"] == 3 and report["parsed"] == 3
    assert report["delivered"] == 2 and report["failed"] == 1 and report["sent"] == 3
    assert files_in(work / "inbound" / "acme") == [] and files_in(work / "inbound" / "nordbuy") == []
    acks = files_in(work / "outbound" / "acme")
    assert len(acks) == 2 and all(n.startswith("997_acme_") for n in acks)
    verdicts = sorted(
        next(s for s in read_document((work / "outbound" / "acme" / n).read_bytes()).transactions[0].segments
             if s[0] == "AK5")[1]
        for n in acks
    )
    assert verdicts == ["A", "R"]
    (contrl,) = files_in(work / "outbound" / "nordbuy")
    assert read_edifact((work / "outbound" / "nordbuy" / contrl).read_bytes()).messages[0].type == "CONTRL"
    inbox = work / "var" / "erp" / "inbox"
    docs = [json.loads(p.read_text()) for p in sorted(inbox.iterdir()) if p.suffix == ".json"]
    assert sorted(d["number"] for d in docs) == ["PO-2026-0001", "PO-2026-0003"]
    nordbuy = next(d for d in docs if d["number"] == "PO-2026-0003")
    assert nordbuy["currency"] == "EUR"  # the partner's own mapping (mappings/nordbuy/ORDERS.D96A.yaml)
    archived = [p for p in (work / "var" / "archive").rglob("*") if p.is_file() and p.parent.name != "tmp"]
    assert len(archived) >= 6  # 3 received + 3 acknowledgments sent


def test_a_second_run_does_nothing_more_and_same_bytes_are_a_duplicate(work):
    run_json()
    result, report = run_json()
    assert result.exit_code == 0 and report["received"] == 0 and report["sent"] == 0
    shutil.copy(REPO / "inbound" / "acme" / "acme_850_4010.x12", work / "inbound" / "acme" / "again.x12")
    result, report = run_json()
    assert report["duplicates"] == 1 and report["received"] == 0 and report["delivered"] == 0
    assert files_in(work / "inbound" / "acme") == []
    assert len(files_in(work / "outbound" / "acme")) == 2  # no third 997


def test_files_still_being_written_are_left_alone(work):
    (work / "inbound" / "acme" / "big.x12.part").write_bytes(b"ISA*00*")
    (work / "inbound" / "acme" / ".hidden").write_bytes(b"x")
    run_json()
    assert files_in(work / "inbound" / "acme") == [".hidden", "big.x12.part"]


def test_unknown_bytes_fail_with_a_reason_and_stay_archived(work):
    (work / "inbound" / "acme" / "note.txt").write_text("hello, this is not EDI\n")
    result, report = run_json()
    assert any("note.txt: neither X12 (ISA) nor EDIFACT" in e for e in report["errors"])
    listing = json.loads(edihub("files", "list", "--state", "failed", "--json").output)["files"]
    (bad,) = [f for f in listing if f["name"] == "note.txt"]
    assert "neither X12" in bad["reason"]
    blob = work / "var" / "archive" / bad["sha256"][:2] / bad["sha256"]
    assert blob.read_text() == "hello, this is not EDI\n"


def test_an_interchange_from_another_partner_is_refused(work):
    spoof = (REPO / "inbound" / "acme" / "acme_850_4010.x12").read_text().replace(
        "ZZ*ACMEBUYER      ", "ZZ*OTHERBUYER     ").replace("000000101", "000000777")
    (work / "inbound" / "acme" / "spoof.x12").write_text(spoof)
    result, report = run_json()
    (error,) = [e for e in report["errors"] if "spoof.x12" in e]
    assert "sender ZZ/OTHERBUYER is not partner 'acme' (ZZ/ACMEBUYER)" in error
    assert "no partner can submit as another" in error
    docs = [json.loads(p.read_text()) for p in (work / "var" / "erp" / "inbox").iterdir()]
    assert len(docs) == 2  # the two genuine samples only
    assert len(files_in(work / "outbound" / "acme")) == 2  # no 997 for the spoofed file


def test_operators_commands(work):
    run_json()
    status = json.loads(edihub("status", "--json").output)
    assert status["transactions"]["failed"] == 1 and status["transactions"]["delivered"] >= 2
    assert status["by_partner"]["acme"]["failed"] == 1
    failed = json.loads(edihub("transactions", "list", "--state", "failed", "--json").output)["transactions"]
    (tx,) = failed
    assert tx["type"] == "850" and "SE01" in tx["reason"]
    shown = json.loads(edihub("transactions", "show", str(tx["id"])).output)
    assert shown["findings"] and [e["event"] for e in shown["events"]] == ["failed"]
    assert "failed" in edihub("transactions", "list").output  # the table
    file_id = json.loads(edihub("files", "list", "--partner", "acme", "--json").output)["files"][0]["id"]
    assert "events:" in edihub("files", "show", str(file_id)).output

    first = edihub("reprocess", str(tx["id"]))
    assert first.exit_code == 0 and "resumes at parsed" in first.output
    second = edihub("reprocess", str(tx["id"]))
    assert "left alone" in second.output  # twice does nothing more
    result, report = run_json()
    assert report["mapped"] == 1 and report["delivered"] == 1
    assert json.loads(edihub("transactions", "show", str(tx["id"])).output)["state"] == "delivered"

    ack = json.loads(edihub("transactions", "list", "--type", "997", "--json").output)["transactions"][0]
    before = files_in(work / "outbound" / "acme")
    for name in before:
        (work / "outbound" / "acme" / name).unlink()  # the partner picked them up
    assert edihub("resend", str(ack["id"])).exit_code == 0
    run_json()
    assert len(files_in(work / "outbound" / "acme")) == 1

    assert edihub("reprocess", "999999").exit_code == 1
    assert edihub("resend", "999999").exit_code == 1
    assert json.loads(edihub("acks", "overdue", "--json").output) == {"overdue": []}
    assert json.loads(edihub("acks", "list", "--json").output)["acknowledgments"]
    assert "up to date" in edihub("db", "upgrade").output


def test_reprocess_by_state(work):
    run_json()
    result = edihub("reprocess", "--state", "failed", "--partner", "acme", "--json")
    (item,) = json.loads(result.output)["reprocessed"]
    assert item["resumed_at"] == "parsed"
    assert edihub("reprocess", "--state", "failed").output.strip() == ""  # nothing failed any more
    assert edihub("reprocess").exit_code == 1


def test_a_bad_profile_stops_the_run_with_exit_2(work):
    (work / "partner_profiles" / "acme.yaml").write_text(
        (work / "partner_profiles" / "acme.yaml").read_text().replace("acme/850.004010", "zeta/850.004010"))
    result = CliRunner().invoke(main, ["run", "--once"])
    assert result.exit_code == 2
    assert "zeta/850.004010" in result.output


def test_leniency_accepts_a_bad_se01_in_the_997_and_delivers_the_order(work):
    profile = work / "partner_profiles" / "acme.yaml"
    profile.write_text(profile.read_text().replace("leniency: {}", "leniency: {SE01_COUNT: warning}"))
    result, report = run_json()
    assert result.exit_code == 0 and report["failed"] == 0 and report["delivered"] == 3
    verdicts = sorted(
        next(s for s in read_document((work / "outbound" / "acme" / n).read_bytes()).transactions[0].segments
             if s[0] == "AK5")[1]
        for n in files_in(work / "outbound" / "acme")
    )
    assert verdicts == ["A", "E"]  # the bad count is reported, as accepted with errors
    profile.write_text(profile.read_text().replace("SE01_COUNT: warning", "SE01_COUNT: ignore"))
    shutil.copy(REPO / "inbound" / "acme" / "acme_850_4010_bad_count.x12", work / "inbound" / "acme" / "b.x12")
    # the same bytes again: a duplicate, not a second delivery
    result, report = run_json()
    assert report["duplicates"] == 1 and report["delivered"] == 0


def test_the_run_summary_names_a_rejected_transaction_and_why(work):
    result = edihub("run", "--once")
    assert result.exit_code == 1
    assert "acme_850_4010_bad_count.x12: 850 '0001': rejected by validation: SE01 says" in result.output
