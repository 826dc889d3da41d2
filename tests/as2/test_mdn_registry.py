"""The durable async-MDN registry (hub.transports.as2.StoreMdnRegistry) and the record of every MDN we receive.

Our sender (HUB) posts to a partner endpoint (ACME, an :class:`As2Receiver` with the peer's keys) over real HTTP on
127.0.0.1; ACME's async MDNs are held back so that the test decides when they arrive -- after our registry was
closed and opened again on the same database file, as after a restart of ``edihub serve``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from hub.as2 import (
    As2HttpServer,
    As2Receiver,
    As2Sender,
    Identity,
    MemorySeenMessageIds,
    OutgoingMdn,
    Partnership,
    parse_mdn,
)
from hub.as2.receiver import post_mdn
from hub.errors import TerminalError
from hub.partners.profile import As2Channel
from hub.store import Archive, open_store
from hub.transports.as2 import As2Transport, StoreMdnRegistry
from tests.as2.conftest import Pki
from tests.as2.helpers import profile_yaml

PAYLOAD = b"ISA*00*          *00*~GS*IN*HUB*ACME~ST*810*0001~BIG*20260301*INV-1~SE*3*0001~GE*1*1~IEA*1*1~\r\n"


@dataclass
class Acme:
    """The partner's endpoint: takes our messages, keeps the async MDNs it would post until ``deliver()``."""

    receiver: As2Receiver
    server: As2HttpServer
    held: list[tuple[str, OutgoingMdn]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def deliver(self) -> None:
        while self.held:
            url, mdn = self.held.pop(0)
            post_mdn(url, mdn, attempts=1)


@pytest.fixture
def acme(pki: Pki, tmp_path: Path) -> Iterator[Acme]:
    held: list[tuple[str, OutgoingMdn]] = []
    receiver = As2Receiver([Partnership("hub", "HUB", "ACME", (pki.hub.cert,))], Identity("ACME", (pki.peer.pair,)),
                           lambda *a: None, MemorySeenMessageIds(), workdir=tmp_path / "acme",
                           send_async_mdn=lambda url, mdn: held.append((url, mdn)))
    server = receiver.serve()
    try:
        yield Acme(receiver, server, held)
    finally:
        server.shutdown()


def _our_endpoint(pki: Pki, registry: StoreMdnRegistry, tmp_path: Path, port: int = 0):  # type: ignore[no-untyped-def]
    """Our receiver, where ACME posts its async MDNs (a partner we only send to: MDNs only)."""
    partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,))
    receiver = As2Receiver([], Identity("HUB", (pki.hub.pair,)), lambda *a: None, MemorySeenMessageIds(),
                           mdn_registry=registry, workdir=tmp_path / "hub", mdn_only=[partnership])
    return receiver, receiver.serve("127.0.0.1", port)


def _registry(url: str, tmp_path: Path) -> StoreMdnRegistry:
    return StoreMdnRegistry(open_store(url), Archive(tmp_path / "archive"))


def _raw_parts(raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    message = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
    return [(k, str(v)) for k, v in message.items()], body


def test_a_pending_async_mdn_survives_a_restart_and_is_matched_with_its_mic(pki: Pki, acme: Acme, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'edihub.db'}"
    first = _registry(url, tmp_path)
    receiver, server = _our_endpoint(pki, first, tmp_path)
    port = server.server_address[1]
    partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                              async_mdn_url=server.url, mdn_overdue_action="resend")
    sender = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=first, resend_dir=tmp_path / "resend")
    result = sender.send(PAYLOAD, "inv-1.x12")
    assert result.status == "pending" and len(acme.held) == 1
    before = first.get(result.message_id)
    assert before is not None and before.body is not None and Path(before.body).is_file()

    # "restart": the endpoint and the store go away; a new registry on the same database file knows the message
    server.shutdown()
    first.store.close()
    second = _registry(url, tmp_path)
    again = second.get(f"<{result.message_id.strip('<>')}>")
    assert again == before
    assert [p.message_id for p in second.pending()] == [before.message_id]
    receiver, server = _our_endpoint(pki, second, tmp_path, port)
    try:
        acme.deliver()  # the MDN arrives after the restart
    finally:
        server.shutdown()
    row = second.store.as2_message(result.message_id)
    assert (row.state, row.disposition, row.mic_matched, row.mdn_signed) == ("delivered", "processed", True, True)
    assert second.pending() == [] and second.get(result.message_id) is None
    assert not Path(before.body).exists()  # the copy kept for a resend is gone
    # the raw MDN, as received, is in the archive: its signature still verifies
    raw = second.archive.read_bytes(row.mdn_sha256)
    assert len(raw) == row.mdn_size
    headers, body = _raw_parts(raw)
    again_mdn = parse_mdn(headers, body, partner_certs=[pki.peer.cert])
    assert again_mdn.original_message_id == result.message_id.strip("<>") and again_mdn.signed
    assert [o.kind for o in receiver.outcomes] == ["async-mdn"]
    second.store.close()


def test_an_async_mdn_with_a_wrong_mic_is_recorded_as_invalid(pki: Pki, acme: Acme, tmp_path: Path):
    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    receiver, server = _our_endpoint(pki, registry, tmp_path)
    partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                              async_mdn_url=server.url)
    result = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry).send(PAYLOAD, "i.x12")
    with registry.store.session() as s:  # what we registered differs from what the partner computes
        s.connection().exec_driver_sql("UPDATE as2_messages SET mics = '[[\"AAAA\", \"sha256\"]]'")
    try:
        acme.deliver()
    finally:
        server.shutdown()
    row = registry.store.as2_message(result.message_id)
    assert (row.state, row.mic_matched, row.disposition) == ("mdn-invalid", False, "processed")
    assert "MIC mismatch" in row.problems and row.mdn_sha256 is not None
    registry.store.close()


def test_sync_mdns_are_recorded_with_their_raw_bytes_good_or_bad(pki: Pki, acme: Acme, tmp_path: Path):
    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    config = {"as2_id": "HUB", "folder": str(tmp_path / "as2"),
              "keys": [{"key": str(pki.hub.key_pem), "cert": str(pki.hub.cert_pem)}]}
    channel = As2Channel(as2_id="ACME", url=acme.url, certificates=(str(pki.peer.cert_pem),))
    transport = As2Transport("acme", channel, config, registry=registry)
    with registry.sending(None):
        assert transport.send("inv-1.x12", PAYLOAD) == "inv-1.x12"
    good = transport.results[-1]
    row = registry.store.as2_message(good.message_id)
    assert (row.mdn_mode, row.state, row.mic_matched, row.mdn_signed, row.disposition) == (
        "sync", "delivered", True, True, "processed")
    assert registry.archive.read_bytes(row.mdn_sha256) == good.mdn_raw == good.mdn.raw

    # ACME refuses unsigned messages: the negative MDN fails the send and is recorded all the same
    unsigned = As2Transport("acme", As2Channel(as2_id="ACME", url=acme.url, certificates=(str(pki.peer.cert_pem),),
                                               sign=None), config, registry=registry)
    with pytest.raises(TerminalError, match="insufficient-message-security"):
        unsigned.send("inv-2.x12", PAYLOAD)
    bad = registry.store.as2_message(unsigned.results[-1].message_id)
    assert (bad.state, bad.disposition) == ("rejected", "processed/error: insufficient-message-security")
    headers, body = _raw_parts(registry.archive.read_bytes(bad.mdn_sha256))
    assert parse_mdn(headers, body, partner_certs=[pki.peer.cert]).disposition.description == \
        "insufficient-message-security"
    assert registry.store.as2_counts() == {"delivered": 1, "rejected": 1}
    registry.store.close()


def test_resend_posts_the_same_bytes_under_the_same_message_id(pki: Pki, acme: Acme, tmp_path: Path):
    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                              async_mdn_url="http://127.0.0.1:9/as2", mdn_overdue_action="resend")
    sender = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry, resend_dir=tmp_path / "r")
    first = sender.send(PAYLOAD, "inv-1.x12")
    pending = registry.get(first.message_id)
    kept = Path(pending.body).read_bytes()
    again = sender.resend(pending)
    assert again.message_id == first.message_id and again.status == "pending" and again.mic == first.mic
    ids = [o.message_id for o in acme.receiver.outcomes]
    assert ids == [first.message_id, first.message_id]
    assert [o.disposition.status for o in acme.receiver.outcomes] == ["processed",
                                                                      "processed/warning: duplicate-document"]
    assert Path(pending.body).read_bytes() == kept  # nothing rebuilt: the very message posted the first time
    # without a kept copy (mdn_overdue_action: alert) there is nothing to resend
    plain = As2Sender(Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                                  async_mdn_url="http://127.0.0.1:9/as2"), Identity("HUB", (pki.hub.pair,)),
                      registry=registry, resend_dir=tmp_path / "r")
    other = plain.send(PAYLOAD, "inv-2.x12")
    assert registry.get(other.message_id).body is None
    with pytest.raises(TerminalError, match="no copy of the message kept"):
        plain.resend(registry.get(other.message_id))
    registry.store.close()


def test_a_message_that_cannot_be_posted_is_forgotten_with_its_copy(pki: Pki, tmp_path: Path):
    from hub.errors import TransientError

    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url="http://127.0.0.1:9/as2", mdn="async",
                              async_mdn_url="http://127.0.0.1:9/as2", mdn_overdue_action="resend", attempts=1)
    sender = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry, resend_dir=tmp_path / "r")
    with pytest.raises(TransientError):
        sender.send(PAYLOAD, "inv-1.x12")
    assert registry.pending() == [] and registry.store.list_as2_messages() == []
    assert list((tmp_path / "r").iterdir()) == []
    registry.store.close()


def test_an_async_mdn_from_a_partner_we_only_send_to_is_matched_but_its_messages_refused(pki: Pki, acme: Acme,
                                                                                         tmp_path: Path):
    """Regression: the endpoint knew only partners whose *inbound* channel is as2 and answered the async MDN of a
    partner we only send to by AS2 with 403, so its MDN was never matched."""
    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    receiver, server = _our_endpoint(pki, registry, tmp_path)
    try:
        partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                                  async_mdn_url=server.url)
        result = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry).send(PAYLOAD, "x.x12")
        acme.deliver()
        assert registry.store.as2_message(result.message_id).state == "delivered"
        # a message from that partner is refused: there is no inbound AS2 channel to take it
        back = As2Sender(Partnership("hub", "HUB", "ACME", (pki.hub.cert,), url=server.url),
                         Identity("ACME", (pki.peer.pair,)))
        with pytest.raises(TerminalError, match="HTTP 403"):
            back.send(PAYLOAD, "po.x12")
    finally:
        server.shutdown()
        registry.store.close()


def _pipeline(pki: Pki, tmp_path: Path, channels: dict[str, str], now: list):  # type: ignore[no-untyped-def]
    from hub.erp import MemoryAdapter
    from hub.partners import parse_profile
    from hub.runtime.pipeline import Pipeline, Settings

    profiles = {}
    for i, (pid, extra) in enumerate(sorted(channels.items())):
        profiles[pid] = parse_profile(profile_yaml(pid, f"P{i}", f"""\
channels:
  inbound: {{type: folder, path: "{tmp_path / 'in' / pid}"}}
  outbound: {{type: as2, as2_id: ACME, certificates: ["{pki.peer.cert_pem}"], mdn: async,
             async_mdn_url: "http://127.0.0.1:9/as2", mdn_overdue_seconds: 60, attempts: 1, {extra}}}
"""), f"{pid}.yaml", pid)
    as2 = {"as2_id": "HUB", "folder": str(tmp_path / "as2"),
           "keys": [{"key": str(pki.hub.key_pem), "cert": str(pki.hub.cert_pem)}]}
    return Pipeline(open_store(f"sqlite:///{tmp_path / 'edihub.db'}"), Archive(tmp_path / "archive"), profiles,
                    MemoryAdapter(), Settings(worker_id="w1", as2=as2), clock=lambda: now[0])


def test_overdue_alert_at_once_and_a_failed_resend_still_ends_in_an_alert(pki: Pki, acme: Acme, tmp_path: Path):
    import datetime as dt

    from hub.runtime.pipeline import RunReport

    now = [dt.datetime.now(dt.UTC)]
    pipeline = _pipeline(pki, tmp_path, {"alerted": f'url: "{acme.url}", mdn_overdue_action: alert',
                                         "resent": f'url: "{acme.url}", mdn_overdue_action: resend, '
                                                   f'mdn_overdue_resends: 1'}, now)
    store = pipeline.store
    try:
        for pid in ("alerted", "resent"):
            with pipeline.as2_mdns.sending(None):
                pipeline.transports[pid].send(f"{pid}.x12", PAYLOAD)
        rows = {r.partner_id: r for r in store.list_as2_messages()}
        assert rows["alerted"].resend_path is None and Path(rows["resent"].resend_path).is_file()
        acme.server.shutdown()  # the partner's endpoint goes away: the resend cannot be posted
        now[0] += dt.timedelta(seconds=61)
        report = RunReport()
        pipeline.sweep_overdue(report)
        assert (report.mdns_resent, report.mdns_overdue) == (0, 1)
        assert store.as2_message(rows["alerted"].message_id).state == "overdue"
        resent = store.as2_message(rows["resent"].message_id)
        assert (resent.state, resent.sends) == ("pending", 2)  # the attempt counts, even though it failed
        assert any("resend failed" in e for e in report.errors)
        assert [e.event for e in store.events_for("as2_message", resent.id)] == ["sent", "resend", "resend_failed"]
        now[0] += dt.timedelta(seconds=61)
        pipeline.sweep_overdue(report)
        assert (report.mdns_resent, report.mdns_overdue) == (0, 2)
        assert store.as2_message(rows["resent"].message_id).state == "overdue"
        assert not Path(rows["resent"].resend_path).exists()
        assert len(acme.receiver.outcomes) == 2  # one message each, never twice
    finally:
        pipeline.close()
        store.close()
