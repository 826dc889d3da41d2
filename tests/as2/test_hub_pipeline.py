"""AS2 through the whole hub: `edihub serve` receives an 850 by AS2, acknowledges it by AS2 and delivers it.

Two profiles on 127.0.0.1: ours for ACME (``channels`` both ``as2``) and, on the ACME side, a profile for us
whose outbound ``as2`` channel is an :class:`~hub.transports.as2.As2Transport` -- our sender talking to our
receiver.  ACME's own endpoint, where our 997 goes, is a bare :class:`~hub.as2.As2Receiver`.
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.as2 import As2Receiver, Identity, MemorySeenMessageIds, Partnership
from hub.cli import main
from hub.config import DEFAULTS
from hub.errors import TerminalError
from hub.partners import parse_profile
from hub.runtime.app import Server
from hub.store import open_store
from hub.transports import build_transport
from hub.transports.as2 import As2Transport, SqliteSeenMessageIds, write_payload
from tests.as2.helpers import free_port, wait_for
from tests.as2.pki import make_identity
from tests.conftest import REPO

pytestmark = pytest.mark.as2

ACME_850 = REPO / "inbound" / "acme" / "acme_850_4010.x12"


def _variant(n: int) -> bytes:
    text = ACME_850.read_text()
    return (text.replace("000000101", f"{n:09d}").replace("*101*X*", f"*{n}*X*").replace("GE*1*101", f"GE*1*{n}")
            .replace("PO-2026-0001", f"PO-2026-{n:04d}")).encode()


def _with_channels(profile_text: str, channels: str) -> str:
    head, _, rest = profile_text.partition("\nchannels:\n")
    tail = rest.split("\n\n", 1)[1] if "\n\n" in rest else ""
    return f"{head}\n{channels}\n{tail}"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    for name in ("partner_profiles", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    certs = tmp_path / "certs"
    ours, acme = make_identity(certs, "hub"), make_identity(certs, "acme")

    # ACME's endpoint (where our 997 goes), recording what it receives
    got: list[tuple[str, bytes]] = []

    def acme_got(partner_id, filename, data, message_id):  # type: ignore[no-untyped-def]
        got.append((filename, data if isinstance(data, bytes) else Path(data).read_bytes()))

    acme_endpoint = As2Receiver([Partnership("hub", "HUB", "ACME", (ours.cert,))], Identity("ACME", (acme.pair,)),
                                acme_got, MemorySeenMessageIds()).serve("127.0.0.1", 0)

    port = free_port()
    profile = tmp_path / "partner_profiles" / "acme.yaml"
    profile.write_text(_with_channels(profile.read_text(), f"""channels:
  inbound: &acme_as2
    type: as2
    as2_id: ACME
    certificates: ["{acme.cert_pem}"]
  outbound:
    <<: *acme_as2
    url: "{acme_endpoint.url}"
"""))
    config = copy.deepcopy(DEFAULTS)
    config["folders"]["settle_seconds"] = 0.0
    config["runtime"].update(worker_id="w1", retry_base_seconds=0.01, poll_seconds=60.0)
    config["database"]["url"] = f"sqlite:///{tmp_path / 'var' / 'edihub.db'}"
    config["as2"].update(as2_id="HUB", keys=[{"key": str(ours.key_pem), "cert": str(ours.cert_pem)}], port=port,
                         listen="127.0.0.1")

    # the ACME side: a profile for us whose outbound channel posts to our endpoint
    peer_profile = parse_profile(f"""\
id: edihub
name: EDI hub as seen by ACME
identities:
  x12:
    sender: {{qualifier: ZZ, id: EDIHUBSUPPLY}}
    receiver: {{qualifier: ZZ, id: ACMEBUYER}}
documents:
  - {{type: "997", direction: inbound, version: "004010"}}
channels:
  inbound: {{type: folder, path: acme-side/in}}
  outbound:
    type: as2
    as2_id: HUB
    url: "http://127.0.0.1:{port}/as2"
    certificates: ["{ours.cert_pem}"]
""", "edihub.yaml", "edihub")
    peer = build_transport(peer_profile, as2_config={"as2_id": "ACME", "folder": str(tmp_path / "acme-side"),
                                                     "keys": [{"key": str(acme.p12),
                                                               "password": "${ACME_P12}"}]},
                           environ={"ACME_P12": "test-p12-pass"})
    server = Server(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"install_signals": False})
    thread.start()
    wait_for(lambda: getattr(server, "as2_server", None) is not None, 10)
    try:
        yield tmp_path, config, server, peer, got
    finally:
        server.stop_event.set()
        thread.join(20)
        acme_endpoint.shutdown()
    assert not thread.is_alive()


def test_an_850_by_as2_is_acknowledged_by_as2_and_reaches_the_erp_once(hub):
    work_dir, config, server, peer, got = hub
    sender: As2Transport = peer.outbound_transport
    assert peer.send("po-777.x12", _variant(777)) == "po-777.x12"
    first = sender.results[-1]
    assert first.status == "delivered" and first.signed and first.encrypted

    store = open_store(config["database"]["url"], upgrade=False)
    wait_for(lambda: store.list_transactions(state="delivered", type="850"))
    (tx,) = store.list_transactions(type="850")
    assert tx.document_number == "PO-2026-0777"
    (erp_doc,) = (work_dir / "var" / "erp" / "inbox").iterdir()
    assert json.loads(erp_doc.read_text())["number"] == "PO-2026-0777"
    (received,) = [f for f in store.list_files(partner_id="acme") if f.original_name == "po-777.x12"]
    assert received.channel == "as2:ACME"

    # our 997 went back to ACME's endpoint by AS2
    wait_for(lambda: got)
    name, data = got[0]
    assert name.startswith("997_") and b"ST*997*" in data and b"AK1*PO*" in data

    # the same Message-ID again: answered "duplicate-document", processed nothing twice
    again = sender.sender().send(_variant(777), "po-777.x12", message_id=first.message_id)
    assert again.status == "delivered" and again.disposition.duplicate
    time.sleep(1.0)
    server.wake("acme")
    time.sleep(1.0)
    assert len(store.list_transactions(type="850")) == 1
    assert len([f for f in store.list_files(partner_id="acme") if f.original_name == "po-777.x12"]) == 1
    assert not list((work_dir / "var" / "as2" / "inbound" / "acme").iterdir())
    assert ("acme", first.message_id) in server.as2_server.seen_message_ids
    assert len(got) == 1
    store.close()


def test_a_negative_mdn_is_a_terminal_error(hub, tmp_path):
    work_dir, config, server, peer, got = hub
    # the hub refuses an unsigned message from ACME (require_signed): processed/error
    sender = peer.outbound_transport
    s = sender.sender()
    object.__setattr__(s.partnership, "sign", None)
    with pytest.raises(TerminalError, match="insufficient-message-security"):
        peer.send("unsigned.x12", _variant(778))


def test_the_message_id_ledger_survives_a_restart_but_not_an_unfinished_claim(tmp_path):
    path = tmp_path / "seen.sqlite"
    seen = SqliteSeenMessageIds(path)
    assert seen.claim("acme", "<a@x>") and not seen.claim("acme", "a@x")
    seen.confirm("acme", "a@x")
    assert seen.claim("acme", "<b@x>")  # crash before the payload was written: never confirmed
    seen.close()
    seen = SqliteSeenMessageIds(path)
    assert not seen.claim("acme", "<a@x>") and ("acme", "a@x") in seen
    assert seen.claim("acme", "<b@x>")  # the partner's resend is processed
    seen.release("acme", "<b@x>")
    assert seen.claim("acme", "<b@x>")
    seen.close()


def test_write_payload_is_atomic_and_never_replaces(tmp_path):
    first = write_payload(tmp_path / "in", "../po.x12", b"one", "<m1@x>")
    second = write_payload(tmp_path / "in", "po.x12", b"two", "<m2@x>")
    (tmp_path / "big").write_bytes(b"x" * 3_000_000)
    third = write_payload(tmp_path / "in", "", tmp_path / "big", "<m3@x>")
    assert (first.name, second.name) == ("po.x12", "po-1.x12")
    assert first.read_bytes() == b"one" and second.read_bytes() == b"two" and third.stat().st_size == 3_000_000
    assert third.name.startswith("as2-m3_x")
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted([first.name, second.name, third.name])


def test_certs_list(tmp_path, monkeypatch):
    for name in ("partner_profiles", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    ours = make_identity(tmp_path / "certs", "hub", days=10)
    acme = make_identity(tmp_path / "certs", "acme", days=400)
    acme_next = make_identity(tmp_path / "certs", "acme-next", days=800)
    profile = tmp_path / "partner_profiles" / "acme.yaml"
    profile.write_text(_with_channels(profile.read_text(), f"""channels:
  inbound: {{type: as2, as2_id: ACME, certificates: ["{acme.cert_pem}", "{acme_next.cert_pem}"]}}
  outbound: {{type: folder, path: outbound/acme/}}
"""))
    (tmp_path / "config.yaml").write_text(f"as2:\n  as2_id: HUB\n  keys:\n    - key: {ours.key_pem}\n"
                                          f"      cert: {ours.cert_pem}\n  cert_warn_days: 30\n")
    result = CliRunner().invoke(main, ["certs", "list", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    labels = [c["label"] for c in data["certificates"]]
    assert labels == ["ours[0] HUB", "acme (ACME)", "acme (ACME)"]  # soonest expiry first
    assert data["certificates"][0]["status"] == "expiring" and data["certificates"][1]["status"] == "ok"
    assert data["certificates"][1]["fingerprint_sha256"].count(":") == 31
    assert len(data["warnings"]) == 1 and "ours[0] HUB" in data["warnings"][0]
    text = CliRunner().invoke(main, ["certs", "list"])
    assert text.exit_code == 0 and "subject      O=edihub tests,CN=acme AS2 test" in text.output
    assert "warning: ours[0] HUB: expires on" in text.output

    (tmp_path / "config.yaml").write_text("as2:\n  as2_id: HUB\n  keys:\n    - key: missing.pem\n")
    bad = CliRunner().invoke(main, ["certs", "list"])
    assert bad.exit_code == 2 and "error:" in bad.output and "Traceback" not in bad.output


def test_an_unreachable_partner_is_a_transient_error(tmp_path):
    from hub.errors import TransientError

    ours, acme = make_identity(tmp_path, "hub"), make_identity(tmp_path, "acme")
    profile = parse_profile(f"""\
id: acme
name: ACME
identities:
  x12:
    sender: {{qualifier: ZZ, id: ACMEBUYER}}
    receiver: {{qualifier: ZZ, id: EDIHUBSUPPLY}}
documents:
  - {{type: "997", direction: outbound, version: "004010"}}
channels:
  inbound: {{type: folder, path: "{tmp_path / 'in'}"}}
  outbound: {{type: as2, as2_id: ACME, url: "http://127.0.0.1:{free_port()}/as2", certificates: ["{acme.cert_pem}"],
             attempts: 1}}
""", "acme.yaml", "acme")
    transport = build_transport(profile, as2_config={"as2_id": "HUB", "folder": str(tmp_path / "as2"),
                                                     "keys": [{"key": str(ours.key_pem), "cert": str(ours.cert_pem)}]})
    with pytest.raises(TransientError, match="failed after 1 attempt"):
        transport.send("x.x12", b"ISA*00~")
    # no keys configured: a person must look
    bare = build_transport(profile, as2_config={})
    with pytest.raises(TerminalError, match="as2.as2_id and as2.keys"):
        bare.send("x.x12", b"ISA*00~")
