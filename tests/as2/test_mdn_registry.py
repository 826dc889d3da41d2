"""The durable async-MDN registry (hub.transports.as2.StoreMdnRegistry) and the record of every MDN we receive.

Our sender (HUB) posts to a partner endpoint (ACME, an :class:`As2Receiver` with the peer's keys) over real HTTP on
127.0.0.1; ACME's async MDNs are held back so that the test decides when they arrive -- after our registry was
closed and opened again on the same database file, as after a restart of ``edihub serve``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
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
    ReceiveOutcome,
    parse_mdn,
)
from hub.as2.receiver import post_mdn
from hub.errors import TerminalError, TransientError
from hub.partners.profile import As2Channel
from hub.runtime.pipeline import Pipeline, RunReport
from hub.store import Archive, open_store
from hub.transports.as2 import As2Transport, StoreMdnRegistry
from tests.as2.conftest import Pki
from tests.as2.helpers import free_port, profile_yaml

PAYLOAD = b"ISA*00*          *00*~GS*IN*HUB*ACME~ST*810*0001~BIG*20260301*INV-1~SE*3*0001~GE*1*1~IEA*1*1~\r\n"


@dataclass
class Acme:
    """The partner's endpoint: takes our messages, keeps the async MDNs it would post until ``deliver()``."""

    receiver: As2Receiver
    server: As2HttpServer
    held: list[tuple[str, OutgoingMdn]] = field(default_factory=list)
    busy: int = 0
    """How many of the next messages ACME's back end cannot take (the endpoint answers HTTP 503)."""
    bodies: list[str] = field(default_factory=list)
    """The sha256 of every POST body ACME received, in order."""

    @property
    def url(self) -> str:
        return self.server.url

    def deliver(self) -> list[int]:
        statuses = []
        while self.held:
            url, mdn = self.held.pop(0)
            statuses.append(post_mdn(url, mdn, attempts=1))
        return statuses

    def messages(self) -> list[ReceiveOutcome]:
        return [o for o in self.receiver.outcomes if o.kind == "message"]


@pytest.fixture
def acme(pki: Pki, tmp_path: Path) -> Iterator[Acme]:
    held: list[tuple[str, OutgoingMdn]] = []
    box: list[Acme] = []

    def on_payload(*_: object) -> None:
        if box[0].busy:
            box[0].busy -= 1
            raise TransientError("ACME's back end is busy")

    receiver = As2Receiver([Partnership("hub", "HUB", "ACME", (pki.hub.cert,))], Identity("ACME", (pki.peer.pair,)),
                           on_payload, MemorySeenMessageIds(), workdir=tmp_path / "acme",
                           send_async_mdn=lambda url, mdn: held.append((url, mdn)))
    handle = receiver.handle

    def recording(headers, body: Path):  # type: ignore[no-untyped-def]
        box[0].bodies.append(hashlib.sha256(body.read_bytes()).hexdigest())
        return handle(headers, body)

    receiver.handle = recording  # type: ignore[method-assign]
    server = receiver.serve()
    box.append(Acme(receiver, server, held))
    try:
        yield box[0]
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


def _pipeline(pki: Pki, tmp_path: Path, channels: dict[str, str], now: list, *,  # type: ignore[no-untyped-def]
              mdn: str = "async", mdn_url: str = "http://127.0.0.1:9/as2"):
    from hub.erp import MemoryAdapter
    from hub.partners import parse_profile
    from hub.runtime.pipeline import Settings

    profiles = {}
    for i, (pid, extra) in enumerate(sorted(channels.items())):
        profiles[pid] = parse_profile(profile_yaml(pid, f"P{i}", f"""\
channels:
  inbound: {{type: folder, path: "{tmp_path / 'in' / pid}"}}
  outbound: {{type: as2, as2_id: ACME, certificates: ["{pki.peer.cert_pem}"], mdn: {mdn},
             async_mdn_url: "{mdn_url}", mdn_overdue_seconds: 60, attempts: 1, {extra}}}
"""), f"{pid}.yaml", pid)
    as2 = {"as2_id": "HUB", "folder": str(tmp_path / "as2"),
           "keys": [{"key": str(pki.hub.key_pem), "cert": str(pki.hub.cert_pem)}]}
    return Pipeline(open_store(f"sqlite:///{tmp_path / 'edihub.db'}"), Archive(tmp_path / "archive"), profiles,
                    MemoryAdapter(), Settings(worker_id="w1", as2=as2), clock=lambda: now[0])


def test_overdue_alert_at_once_and_a_failed_resend_still_ends_in_an_alert(pki: Pki, acme: Acme, tmp_path: Path):
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


def _outbound(pipeline, partner_id: str) -> int:  # type: ignore[no-untyped-def]
    """An outbound transaction ready to send (a 997: no acknowledgment is expected for it)."""
    sha = pipeline.archive.put_bytes(PAYLOAD)
    row, _ = pipeline.store.record_file(sha, len(PAYLOAD), "out:erp", f"997_{partner_id}.x12", partner_id)
    return pipeline.store.add_transaction(direction="outbound", type="997", partner_id=partner_id, file_id=row.id,
                                          state="mapped").id


@pytest.mark.parametrize("mdn", ["sync", "async"])
def test_the_retry_of_a_failed_post_keeps_the_message_id(pki: Pki, acme: Acme, tmp_path: Path, mdn: str):
    """Regression: when a POST failed (HTTP 503) the pipeline's retry of the transaction built a new message with a
    new Message-ID, so a partner that had the first POST (only its answer lost) would process the document twice."""
    now = [dt.datetime.now(dt.UTC)]
    port = free_port()
    pipeline = _pipeline(pki, tmp_path, {"acme": f'url: "{acme.url}"'}, now, mdn=mdn,
                         mdn_url=f"http://127.0.0.1:{port}/as2")
    store = pipeline.store
    _receiver, server = _our_endpoint(pki, pipeline.as2_mdns, tmp_path, port)
    try:
        tx = _outbound(pipeline, "acme")
        acme.busy = 1
        report = RunReport()
        pipeline.forward_ready(report)
        assert (store.get_transaction(tx).state, report.retries) == ("retry_wait", 1), report.errors
        (failed,) = store.list_as2_messages()
        assert (failed.state, failed.transaction_id, failed.sends) == ("post-failed", tx, 1)
        assert "HTTP 503" in failed.post_error and Path(failed.resend_path).is_file()
        assert store.pending_as2_messages() == []  # the sweeper leaves it to the retry

        now[0] += dt.timedelta(days=1)  # past the backoff
        pipeline.forward_ready(report)
        acme.deliver()  # mdn: async -- the MDN of the second POST
        assert store.get_transaction(tx).state == "delivered", report.errors
        first, second = acme.messages()
        assert first.message_id == second.message_id == f"<{failed.message_id}>"
        assert first.error and second.disposition is not None and second.disposition.status == "processed"
        assert acme.bodies[0] == acme.bodies[1]  # the very bytes of the first POST
        (row,) = store.list_as2_messages()
        assert (row.message_id, row.state, row.sends, row.post_error, row.resend_path) == (
            failed.message_id, "delivered", 2, None, None)
        assert not Path(failed.resend_path).exists()
        assert [e.event for e in store.events_for("as2_message", row.id)] == (
            ["post_failed", "sent", "mdn_received"] if mdn == "sync" else
            ["sent", "post_failed", "sent", "mdn_received"])
    finally:
        server.shutdown()
        pipeline.close()
        store.close()


def test_an_mdn_that_came_after_a_failed_post_is_taken_by_the_retry(pki: Pki, acme: Acme, tmp_path: Path):
    """The partner had the message after all (its answer to our POST was lost, its async MDN came): the retry
    posts nothing and takes that MDN's verdict."""
    now = [dt.datetime.now(dt.UTC)]
    port = free_port()
    pipeline = _pipeline(pki, tmp_path, {"acme": f'url: "{acme.url}"'}, now, mdn_url=f"http://127.0.0.1:{port}/as2")
    store = pipeline.store
    _receiver, server = _our_endpoint(pki, pipeline.as2_mdns, tmp_path, port)
    try:
        tx = _outbound(pipeline, "acme")
        with pipeline.as2_mdns.sending(tx):  # ACME got the POST, but its answer never reached us
            pipeline.transports["acme"].send("997_acme.x12", PAYLOAD)
            (row,) = store.list_as2_messages()
            pipeline.as2_mdns.post_failed(pipeline.as2_mdns.get(row.message_id), "ReadTimeout", mdn_mode="async")
        assert store.as2_message(row.message_id).state == "post-failed"
        acme.deliver()
        assert store.as2_message(row.message_id).state == "delivered"
        report = RunReport()
        pipeline.forward_ready(report)
        assert store.get_transaction(tx).state == "delivered", report.errors
        assert len(acme.messages()) == 1  # not posted again
        row = store.as2_message(row.message_id)
        assert (row.state, row.post_error) == ("delivered", None)
        assert [e.event for e in store.events_for("as2_message", row.id)][-2:] == ["mdn_received", "post_settled"]
    finally:
        server.shutdown()
        pipeline.close()
        store.close()


def test_a_negative_async_mdn_before_the_send_is_marked_delivered_fails_the_transaction(
        pki: Pki, acme: Acme, tmp_path: Path, monkeypatch):
    """Regression: an async MDN refusing the message that came before the pipeline had marked the transaction
    ``delivered`` did not fail it (the as2_messages row said rejected, the transaction delivered)."""
    now = [dt.datetime.now(dt.UTC)]
    port = free_port()
    # ACME requires signed messages: ours is not, its async MDN refuses it
    pipeline = _pipeline(pki, tmp_path, {"acme": f'url: "{acme.url}", sign: null'}, now,
                         mdn_url=f"http://127.0.0.1:{port}/as2")
    store = pipeline.store
    _receiver, server = _our_endpoint(pki, pipeline.as2_mdns, tmp_path, port)
    try:
        out = Pipeline._as2_transport(pipeline.transports["acme"])
        real = out.send

        def send_then_the_mdn_comes(name: str, data):  # type: ignore[no-untyped-def]
            sent = real(name, data)
            assert acme.deliver() == [200]  # the partner's MDN beats the pipeline's bookkeeping
            return sent

        monkeypatch.setattr(out, "send", send_then_the_mdn_comes)
        tx = _outbound(pipeline, "acme")
        report = RunReport()
        pipeline.forward_ready(report)
        (row,) = store.list_as2_messages()
        assert (row.state, row.disposition) == ("rejected", "processed/error: insufficient-message-security")
        failed = store.get_transaction(tx)
        assert failed.state == "failed" and row.message_id in failed.reason
        assert "insufficient-message-security" in failed.reason
        assert (report.sent, report.failed) == (0, 1) and row.message_id in report.errors[0]
        events = store.events_for("transaction", tx)
        assert [e.event for e in events][-2:] == ["delivered", "failed"]
        assert events[-1].detail["mdn_sha256"] == row.mdn_sha256
    finally:
        server.shutdown()
        pipeline.close()
        store.close()


def test_a_second_mdn_for_an_answered_message_is_kept(pki: Pki, acme: Acme, tmp_path: Path):
    """Regression: a second MDN for a message already answered (the duplicate-document MDN answering a resend) was
    logged, not recorded: its bytes were lost."""
    registry = _registry(f"sqlite:///{tmp_path / 'edihub.db'}", tmp_path)
    _receiver, server = _our_endpoint(pki, registry, tmp_path)
    try:
        partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                                  async_mdn_url=server.url, mdn_overdue_action="resend")
        sender = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry,
                           resend_dir=tmp_path / "r")
        result = sender.send(PAYLOAD, "inv-1.x12")
        sender.resend(registry.get(result.message_id))  # sent again before the first MDN came
        assert acme.deliver() == [200, 200]  # "processed", then "processed/warning: duplicate-document"
        row = registry.store.as2_message(result.message_id)
        assert (row.state, row.disposition, row.mic_matched) == ("delivered", "processed", True)  # the first verdict
        (again,) = [e for e in registry.store.events_for("as2_message", row.id) if e.event == "mdn_again"]
        assert again.detail["disposition"] == "processed/warning: duplicate-document"
        assert (again.detail["mic_matched"], again.detail["signed"], again.detail["partner"]) == (True, True, "acme")
        assert again.detail["mdn_sha256"] != row.mdn_sha256
        headers, body = _raw_parts(registry.archive.read_bytes(again.detail["mdn_sha256"]))
        assert parse_mdn(headers, body, partner_certs=[pki.peer.cert]).disposition.duplicate
    finally:
        server.shutdown()
        registry.store.close()


def test_a_refused_async_mdn_is_archived_and_shown(pki: Pki, acme: Acme, tmp_path: Path, monkeypatch):
    """Regression: an async MDN refused while being read (bad signature, unparsable) was answered 400 and lost: its
    bytes not archived, nothing for an operator to see."""
    import httpx
    from click.testing import CliRunner

    from hub.cli import main
    from hub.config import DEFAULTS

    monkeypatch.chdir(tmp_path)
    config = json.loads(json.dumps(DEFAULTS))
    config["database"]["url"] = f"sqlite:///{tmp_path / 'edihub.db'}"
    config["folders"]["archive"] = str(tmp_path / "archive")
    (tmp_path / "config.yaml").write_text(json.dumps(config))
    registry = _registry(config["database"]["url"], tmp_path)
    _receiver, server = _our_endpoint(pki, registry, tmp_path)
    try:
        partnership = Partnership("acme", "ACME", "HUB", (pki.peer.cert,), url=acme.url, mdn="async",
                                  async_mdn_url=server.url)
        result = As2Sender(partnership, Identity("HUB", (pki.hub.pair,)), registry=registry).send(PAYLOAD, "i.x12")
        (url, mdn), = acme.held
        forged = dataclasses.replace(mdn, body=mdn.body.replace(b"automatic-action", b"automatic-Action", 1))
        assert forged.body != mdn.body
        assert post_mdn(url, forged, attempts=1) == 400  # the signature does not cover these bytes
        garbage = b"--b\r\nContent-Type: text/plain\r\n\r\nnot a receipt\r\n--b--\r\n"
        answer = httpx.post(url, content=garbage, headers={
            "AS2-From": "ACME", "AS2-To": "HUB", "Message-ID": "<junk@ACME>",
            "Content-Type": 'multipart/report; report-type=disposition-notification; boundary="b"'})
        assert answer.status_code == 400

        row = registry.store.as2_message(result.message_id)
        assert (row.state, row.mdn_sha256) == ("pending", None)  # a refused MDN is no verdict
        (refused,) = [e for e in registry.store.events_for("as2_message", row.id) if e.event == "mdn_refused"]
        assert refused.detail["original_message_id"] == row.message_id and refused.detail["verified"] is False
        assert refused.detail["error"]
        assert registry.archive.read_bytes(refused.detail["mdn_sha256"]).endswith(forged.body)

        runner = CliRunner()
        shown = runner.invoke(main, ["as2", "show", row.message_id, "-c", "config.yaml"])
        assert shown.exit_code == 0 and "mdn_refused" in shown.output, shown.output
        listed = runner.invoke(main, ["as2", "events", "--partner", "acme", "--json", "-c", "config.yaml"])
        assert listed.exit_code == 0, listed.output
        logged = json.loads(listed.output)["events"]
        unreadable, named = [e for e in logged if e["event"] == "mdn_refused"]  # newest first
        assert (named["message_id"], unreadable["message_id"]) == (row.message_id, None)
        assert "disposition-notification" in unreadable["detail"]["error"]
        raw = runner.invoke(main, ["as2", "raw", unreadable["detail"]["mdn_sha256"], "-c", "config.yaml"])
        assert raw.exit_code == 0 and raw.stdout_bytes.endswith(garbage)
        table = runner.invoke(main, ["as2", "events", "-c", "config.yaml"])
        assert table.exit_code == 0 and table.output.count("mdn_refused") == 2
        assert runner.invoke(main, ["as2", "raw", "ab" * 32, "-c", "config.yaml"]).exit_code == 1
        assert json.loads(runner.invoke(main, ["as2", "events", "--partner", "globex", "--json", "-c",
                                               "config.yaml"]).output)["events"] == []
    finally:
        server.shutdown()
        registry.store.close()
