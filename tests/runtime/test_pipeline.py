"""The pipeline end to end through real folders, on SQLite and on PostgreSQL.

Inbound: partner files -> store -> 997/CONTRL out -> canonical documents at the ERP (the folder adapter).
Outbound: the ERP's canonical documents -> 855 with the store's control numbers -> the partner's 997 matched.
Plus: duplicate interchanges, two workers on one store, overdue acknowledgments, `edihub serve` stopping cleanly.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from hub.acks.x12 import acknowledge
from hub.config import DEFAULTS
from hub.erp import MemoryAdapter
from hub.runtime.app import Server, build_pipeline
from hub.store import open_store
from tests.conftest import REPO
from tests.store.conftest import pg_databases  # noqa: F401 - the fixture, shared with the store tests

ACME_850 = REPO / "inbound" / "acme" / "acme_850_4010.x12"


@pytest.fixture(params=["sqlite", "postgresql"])
def work(request, tmp_path, monkeypatch):
    for name in ("partner_profiles", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    for partner in ("acme", "nordbuy"):
        (tmp_path / "inbound" / partner).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    config = copy.deepcopy(DEFAULTS)
    config["folders"]["settle_seconds"] = 0.0
    config["runtime"]["retry_base_seconds"] = 0.01
    config["runtime"]["worker_id"] = "w1"
    if request.param == "postgresql":
        config["database"]["url"] = request.getfixturevalue("pg_databases")()
    else:
        config["database"]["url"] = f"sqlite:///{tmp_path / 'var' / 'edihub.db'}"
    return tmp_path, config


def drop(work_dir: Path, partner: str, name: str, data: bytes) -> None:
    (work_dir / "inbound" / partner / name).write_bytes(data)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def variant(n: int) -> bytes:
    """The sample 850 with its own control numbers and PO number."""
    text = ACME_850.read_text()
    return (text.replace("000000101", f"{n:09d}").replace("*101*X*", f"*{n}*X*").replace("GE*1*101", f"GE*1*{n}")
            .replace("PO-2026-0001", f"PO-2026-{n:04d}")).encode()


def test_inbound_and_outbound_round_trip(work):
    work_dir, config = work
    shutil.copy(ACME_850, work_dir / "inbound" / "acme" / "po.x12")
    shutil.copy(REPO / "inbound" / "nordbuy" / "nordbuy_orders_d96a.edi", work_dir / "inbound" / "nordbuy" / "o.edi")
    pipeline = build_pipeline(config)
    report = pipeline.run_until_idle()
    assert (report.received, report.parsed, report.mapped, report.delivered, report.sent) == (2, 2, 2, 2, 2)
    inbox = work_dir / "var" / "erp" / "inbox"
    assert len(names(inbox)) == 2
    store = pipeline.store
    delivered = store.list_transactions(direction="inbound", state="delivered")
    assert sorted(t.document_number for t in delivered) == ["PO-2026-0001", "PO-2026-0003"]
    # every claim ended with its step (the map and deliver steps end theirs with the state change)
    assert all(t.claimed_by is None for t in store.list_transactions(limit=1000))
    assert all(f.claimed_by is None for f in store.list_files(limit=1000))

    # the ERP answers with an order acknowledgment for acme: an 855 goes out with the store's control numbers
    ack_doc = json.loads((REPO / "tests" / "golden" / "common" / "855-basic" / "input.json").read_text())
    outbox = work_dir / "var" / "erp" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "ack.json").write_text(json.dumps(ack_doc))
    time.sleep(1.1)  # the folder adapter leaves files younger than a second (still being written)
    report = pipeline.run_until_idle()
    assert report.outbound == 1 and report.sent == 1
    (sent,) = [n for n in names(work_dir / "outbound" / "acme") if n.startswith("855_")]
    data = (work_dir / "outbound" / "acme" / sent).read_bytes()
    assert b"*000000001*0*P*>~GS*PR*EDIHUBSUPPLY*ACMEBUYER*" in data
    (expected,) = store.list_acks(direction="expected")
    assert (expected.kind, expected.group_control_number, expected.transaction_control_number) == (
        "997", "000000001", "0001")

    # acme's 997 for it comes back through acme's drop zone: the 855 is acknowledged
    drop(work_dir, "acme", "their997.x12", acknowledge(data).data)
    report = pipeline.run_until_idle()
    assert report.acks_matched == 1
    (out855,) = store.list_transactions(direction="outbound", type="855")
    assert out855.state == "acknowledged"
    # a second ERP document takes the next control numbers
    ack_doc["number"] = "PO-4712"
    (outbox / "ack2.json").write_text(json.dumps(ack_doc))
    time.sleep(1.1)
    pipeline.run_until_idle()
    second = [n for n in names(work_dir / "outbound" / "acme") if n.startswith("855_") and n != sent]
    assert b"*000000002*0*P*" in (work_dir / "outbound" / "acme" / second[0]).read_bytes()
    pipeline.close()


def test_a_repeated_interchange_control_number_is_a_duplicate(work):
    work_dir, config = work
    pipeline = build_pipeline(config)
    drop(work_dir, "acme", "a.x12", variant(500))
    pipeline.run_until_idle()
    again = variant(500).replace(b"STEEL WIDGET", b"STEEL GADGET")  # other bytes, same ISA13
    drop(work_dir, "acme", "b.x12", again)
    report = pipeline.run_until_idle()
    assert report.received == 1 and report.delivered == 0
    states = sorted(t.state for t in pipeline.store.list_transactions(direction="inbound"))
    assert states == ["delivered", "duplicate"]
    (dup,) = pipeline.store.list_transactions(state="duplicate")
    assert "000000500 was received from acme within 90 days" in dup.reason  # acme's own window
    pipeline.close()


def test_two_workers_never_take_the_same_item(work):
    work_dir, config = work
    erp = MemoryAdapter()
    for n in range(30):
        drop(work_dir, "acme", f"po{n}.x12", variant(600 + n))
    workers = []
    for name in ("w1", "w2"):
        cfg = copy.deepcopy(config)
        cfg["runtime"]["worker_id"] = name
        workers.append(build_pipeline(cfg, erp=erp))
    # both poll the same drop zone and claim from the same store at once
    threads = [threading.Thread(target=w.run_until_idle) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    numbers = [doc["number"] for doc in erp.posted.values()]
    assert sorted(numbers) == sorted(f"PO-2026-{600 + n:04d}" for n in range(30))
    store = workers[0].store
    assert store.counts_by_state("transaction").get("delivered", 0) == 60  # 30 POs + 30 997s
    assert len([n for n in names(work_dir / "outbound" / "acme") if n.startswith("997_")]) == 30
    for w in workers:
        w.close()


def test_an_acknowledgment_not_received_in_time_is_overdue(work):
    work_dir, config = work
    pipeline = build_pipeline(config)
    ack_doc = json.loads((REPO / "tests" / "golden" / "common" / "855-basic" / "input.json").read_text())
    outbox = work_dir / "var" / "erp" / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "ack.json").write_text(json.dumps(ack_doc))
    time.sleep(1.1)
    pipeline.run_until_idle()
    assert pipeline.store.overdue_acks() == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # acme's SLA is a day
    pipeline.clock = lambda: later
    report = pipeline.run_once()
    assert report.overdue == 1
    (late,) = pipeline.store.overdue_acks(later)
    assert late.partner_id == "acme" and late.kind == "997"
    pipeline.close()


def test_serve_picks_up_a_dropped_file_and_stops_cleanly(work):
    work_dir, config = work
    config["runtime"]["poll_seconds"] = 30.0  # the watcher, not the interval, must bring the file in
    server = Server(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"install_signals": False})
    thread.start()
    try:
        time.sleep(0.5)
        drop(work_dir, "acme", "po.x12", variant(700))
        store = open_store(config["database"]["url"], upgrade=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if store.list_transactions(state="delivered", type="850"):
                break
            time.sleep(0.2)
        assert [t.document_number for t in store.list_transactions(state="delivered", type="850")] == [
            "PO-2026-0700"]
    finally:
        server.stop_event.set()
        thread.join(20)
    assert not thread.is_alive()
    assert server.scheduler is None


def test_partner_schedule_and_retry_policy(work):
    work_dir, config = work
    profile_path = work_dir / "partner_profiles" / "acme.yaml"
    text = profile_path.read_text()
    text = text.replace("schedule:\n  interval_seconds: 60", "schedule:\n  cron: '*/15 6-20 * * mon-fri'")
    text = text.replace("max_attempts: 20", "max_attempts: 2").replace("max_delay_seconds: 3600",
                                                                        "max_delay_seconds: 1")
    profile_path.write_text(text)
    config["runtime"]["retry_base_seconds"] = 60.0  # capped by acme's max_delay_seconds
    erp = MemoryAdapter()
    from hub.errors import TransientError

    erp.fail_next(TransientError("ERP down (test)"), times=5)
    server = Server(config, build_pipeline(config, erp=erp))
    assert "cron" in str(server.trigger("acme")) and "interval" in str(server.trigger("nordbuy"))
    drop(work_dir, "acme", "po.x12", variant(800))
    pipeline = server.pipeline
    pipeline.run_once()
    (tx,) = pipeline.store.list_transactions(type="850")
    assert tx.state == "retry_wait" and tx.attempts == 1
    assert (tx.next_attempt_at - tx.updated_at).total_seconds() <= 1  # capped, not 60 s
    time.sleep(1.1)
    pipeline.run_once()
    (tx,) = pipeline.store.list_transactions(type="850")
    assert tx.state == "failed" and "gave up after 2 attempts: ERP down (test)" in tx.reason
    pipeline.close()


@pytest.mark.sftp
def test_serve_hosts_the_sftp_zone_and_an_upload_is_acknowledged(work):
    """A partner logs in to `edihub serve`'s SFTP zone, uploads an 850 into inbound/; its 997 appears in its
    outbound/ and the order reaches the ERP."""
    import socket

    from cryptography.hazmat.primitives.asymmetric import ed25519

    from hub.partners.profile import SftpChannel
    from hub.transports.sftp import SftpConnection
    from tests.transports.sshd import write_key

    work_dir, config = work
    key = write_key(work_dir / "keys" / "acme", ed25519.Ed25519PrivateKey.generate(), "acme")
    profile = work_dir / "partner_profiles" / "acme.yaml"
    public = Path(f"{key}.pub").read_text().strip()
    profile.write_text(profile.read_text() + f'\nsftp_account:\n  public_keys:\n    - "{public}"\n')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config["sftp_server"].update(port=port, listen="127.0.0.1", host_key=str(work_dir / "var" / "zone_key"))
    config["runtime"]["poll_seconds"] = 60.0
    server = Server(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"install_signals": False})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        # the .pub is written after the private key is complete (the key file exists before it is written)
        while not (work_dir / "var" / "zone_key.pub").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        channel = SftpChannel(host="127.0.0.1", port=port, user="acme", private_key=f"file:{key}",
                              host_key=_fingerprint(work_dir / "var" / "zone_key"), folder="inbound",
                              timeout_seconds=5.0, retries=0)
        conn = SftpConnection.open(channel)
        try:
            with conn.sftp.open("inbound/po.x12", "wb") as fh:
                fh.write(variant(900))
        finally:
            conn.close()
        store = open_store(config["database"]["url"], upgrade=False)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not store.list_transactions(state="delivered", type="850"):
            time.sleep(0.2)
        assert [t.document_number for t in store.list_transactions(state="delivered", type="850")] == [
            "PO-2026-0900"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not names(work_dir / "outbound" / "acme"):
            time.sleep(0.2)
        assert [n for n in names(work_dir / "outbound" / "acme") if n.startswith("997_")]
    finally:
        server.stop_event.set()
        thread.join(20)
    assert not thread.is_alive()


def _fingerprint(private_key_path: Path) -> str:
    """SHA256:... of the public half of an OpenSSH private key file (the zone's host key)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization

    key = serialization.load_ssh_private_key(private_key_path.read_bytes(), password=None)
    blob = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    raw = base64.b64decode(blob.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def test_mapping_the_sets_of_one_file_reads_it_once(work, monkeypatch):
    """Regression: each transaction set re-read its whole file (quadratic in the sets of a file)."""
    import hub.edi.x12 as x12

    work_dir, config = work
    sets = "".join(
        f"ST*850*{n:04d}~BEG*00*SA*PO-{n}**20240101~PO1*1*1*EA*1**BP*X~CTT*1~SE*5*{n:04d}~" for n in range(1, 41))
    head = ACME_850.read_text().split("ST*850")[0]
    data = f"{head}{sets}GE*40*101~IEA*1*000000101~".encode()
    drop(work_dir, "acme", "many.x12", data)
    pipeline = build_pipeline(config)
    calls = []
    real = x12.read_document
    monkeypatch.setattr(x12, "read_document", lambda *a, **k: calls.append(1) or real(*a, **k))
    report = pipeline.run_until_idle()
    assert report.delivered == 40
    assert 1 <= len(calls) <= 3  # parse, map (once for the 40 sets), envelope numbers of what is sent
    pipeline.close()
