"""Async MDNs from the real django-pyas2 peer against the hub's durable registry: after a restart, and overdue.

The peer sends its pending async MDNs only when told (``manageas2server --async-mdns``), so "the MDN never
comes" is simply not telling it -- until the end, where the late MDN must still be matched and recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hub.as2 import As2Receiver, As2Sender, Identity, MemorySeenMessageIds, Partnership, parse_mdn
from hub.cli import main
from hub.config import DEFAULTS
from hub.erp import MemoryAdapter
from hub.partners import parse_profile
from hub.runtime.pipeline import Pipeline, RunReport, Settings
from hub.store import Archive, open_store
from hub.transports.as2 import StoreMdnRegistry
from tests.as2.conftest import HUB_ID, PEER_ID, Peer, Pki
from tests.as2.helpers import profile_yaml

pytestmark = pytest.mark.as2


def _endpoint(pki: Pki, registry: StoreMdnRegistry, tmp_path: Path, port: int = 0):  # type: ignore[no-untyped-def]
    """Our AS2 endpoint, taking the peer's async MDNs into ``registry``."""
    peer = Partnership("djpeer", PEER_ID, HUB_ID, (pki.peer.cert,))
    receiver = As2Receiver([], Identity(HUB_ID, (pki.hub.pair,)), lambda *a: None, MemorySeenMessageIds(),
                           mdn_registry=registry, workdir=tmp_path / "hub-work", mdn_only=[peer])
    return receiver.serve("127.0.0.1", port)


def _verify_raw(raw: bytes, pki: Pki):  # type: ignore[no-untyped-def]
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = [(k, str(v)) for k, v in BytesHeaderParser().parsebytes(head + b"\r\n\r\n").items()]
    return parse_mdn(headers, body, partner_certs=[pki.peer.cert])


def test_peer_async_mdn_is_matched_after_the_registry_is_reopened(pki: Pki, peer: Peer, tmp_path: Path,
                                                                   payload_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edihub.db'}"
    first = StoreMdnRegistry(open_store(url), Archive(tmp_path / "archive"))
    server = _endpoint(pki, first, tmp_path)
    port = server.server_address[1]
    peer.configure(pki, server.url)
    partnership = Partnership("djpeer", PEER_ID, HUB_ID, (pki.peer.cert,), url=peer.url, mdn="async",
                              async_mdn_url=server.url, backoff_base=0.1)
    result = As2Sender(partnership, Identity(HUB_ID, (pki.hub.pair,)), registry=first).send(payload_file, "a.bin")
    assert result.status == "pending"

    # restart: endpoint and store closed; a new registry on the same file, a new endpoint on the same port
    server.shutdown()
    first.store.close()
    second = StoreMdnRegistry(open_store(url), Archive(tmp_path / "archive"))
    assert second.get(result.message_id) is not None
    server = _endpoint(pki, second, tmp_path, port)
    try:
        peer.call("async_mdns")  # django-pyas2 posts its pending MDNs now
    finally:
        server.shutdown()
    row = second.store.as2_message(result.message_id)
    assert row is not None and row.state == "delivered", (row and row.problems, peer.log_tail())
    assert (row.disposition, row.mic_matched, row.mdn_signed) == ("processed", True, True)
    mdn = _verify_raw(second.archive.read_bytes(row.mdn_sha256), pki)  # the receipt as the peer signed it
    assert mdn.signer == pki.peer.cert and mdn.mic == result.mic
    second.store.close()


def test_peer_never_sends_the_async_mdn_resend_then_alert(pki: Pki, peer: Peer, tmp_path: Path,
                                                          payload_file: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = json.loads(json.dumps(DEFAULTS))
    config["database"]["url"] = f"sqlite:///{tmp_path / 'edihub.db'}"
    config["folders"]["archive"] = str(tmp_path / "archive")
    config["as2"].update(as2_id=HUB_ID, folder=str(tmp_path / "as2"),
                         keys=[{"key": str(pki.hub.key_pem), "cert": str(pki.hub.cert_pem)}])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    store = open_store(config["database"]["url"])
    archive = Archive(config["folders"]["archive"])
    now = [dt.datetime.now(dt.UTC)]
    server = _endpoint(pki, StoreMdnRegistry(store, archive), tmp_path)
    peer.configure(pki, server.url)
    profile = parse_profile(profile_yaml("djpeer", "DJPEER", f"""\
channels:
  inbound: {{type: folder, path: "{tmp_path / 'in'}"}}
  outbound:
    type: as2
    as2_id: {PEER_ID}
    url: "{peer.url}"
    certificates: ["{pki.peer.cert_pem}"]
    mdn: async
    async_mdn_url: "{server.url}"
    mdn_overdue_seconds: 60
    mdn_overdue_action: resend
    mdn_overdue_resends: 1
    attempts: 1
"""), "djpeer.yaml", "djpeer")
    pipeline = Pipeline(store, archive, {"djpeer": profile}, MemoryAdapter(), Settings(worker_id="w1",
                                                                                      as2=config["as2"]),
                        clock=lambda: now[0])
    try:
        server.receiver.mdn_registry = pipeline.as2_mdns  # the endpoint shares the pipeline's registry, as in serve
        with pipeline.as2_mdns.sending(None):
            pipeline.transports["djpeer"].send("inv.bin", payload_file.read_bytes())
        (row,) = store.list_as2_messages()
        assert (row.state, row.sends) == ("pending", 1) and Path(row.resend_path).is_file()
        kept = Path(row.resend_path)

        report = RunReport()
        pipeline.sweep_overdue(report)  # not due yet
        assert (report.mdns_resent, report.mdns_overdue) == (0, 0)

        now[0] += dt.timedelta(seconds=61)
        pipeline.sweep_overdue(report)  # overdue: the same message again
        assert (report.mdns_resent, report.mdns_overdue) == (1, 0), report.errors
        row = store.as2_message(row.message_id)
        assert (row.state, row.sends, row.due_at) == ("pending", 2, now[0] + dt.timedelta(seconds=60))
        received = peer.message(row.message_id, "IN")
        # the peer got the same Message-ID twice and recognised the second as a duplicate
        assert [m["message_id"] for m in received] == [row.message_id, row.message_id + "_duplicate"], received

        now[0] += dt.timedelta(seconds=61)
        pipeline.sweep_overdue(report)  # overdue again, no resend left: the alert
        assert (report.mdns_resent, report.mdns_overdue) == (1, 1), report.errors
        assert any("MDN overdue" in e and row.message_id in e for e in report.errors)
        row = store.as2_message(row.message_id)
        assert (row.state, row.sends, row.resend_path) == ("overdue", 2, None) and "no MDN since" in row.problems
        assert not kept.exists()
        assert [e.event for e in store.events_for("as2_message", row.id)] == ["sent", "resend", "overdue"]
        pipeline.sweep_overdue(report)  # reported once
        assert report.mdns_overdue == 1

        listing = CliRunner().invoke(main, ["as2", "mdns", "--state", "overdue", "--json", "-c", "config.yaml"])
        assert listing.exit_code == 0, listing.output
        (item,) = json.loads(listing.output)["messages"]
        assert (item["message_id"], item["state"], item["sends"]) == (row.message_id, "overdue", 2)
        status = json.loads(CliRunner().invoke(main, ["status", "--json", "-c", "config.yaml"]).output)
        assert status["as2_messages"] == {"overdue": 1}

        # the MDN comes after all: still matched, its MIC checked, recorded with its bytes
        peer.call("async_mdns")
        row = store.as2_message(row.message_id)
        assert (row.state, row.mic_matched, row.mdn_signed) == ("delivered", True, True), (row.problems,
                                                                                           peer.log_tail())
        # the peer answered the resend too (duplicate-document): that second MDN is kept, the first verdict stands
        again = [e.detail for e in store.events_for("as2_message", row.id) if e.event == "mdn_again"]
        assert [d["disposition"] for d in again] == ["processed/warning: duplicate-document"], peer.log_tail()
        assert archive.exists(again[0]["mdn_sha256"]) and again[0]["mdn_sha256"] != row.mdn_sha256
        raw = CliRunner().invoke(main, ["as2", "show", row.message_id, "--raw", "-c", "config.yaml"])
        assert raw.exit_code == 0
        assert _verify_raw(raw.stdout_bytes, pki).original_message_id == row.message_id
        shown = CliRunner().invoke(main, ["as2", "show", f"<{row.message_id}>", "-c", "config.yaml"])
        assert shown.exit_code == 0 and "mdn_received" in shown.output and "disposition:      processed" in \
            shown.output
        missing = CliRunner().invoke(main, ["as2", "show", "nope@x", "-c", "config.yaml"])
        assert missing.exit_code == 1 and "no AS2 message" in missing.output
    finally:
        server.shutdown()
        pipeline.close()
        store.close()
