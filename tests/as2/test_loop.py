"""Our sender against our receiver over real HTTP on 127.0.0.1: every disposition, retries, async MDNs, limits.

The interop tests prove that we speak the same AS2 as django-pyas2; these cover the paths a well-behaved peer
never takes (bombs, wrong keys, failing hand-offs, 5xx, 429, oversized bodies).
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from hub.as2 import (
    As2HttpServer,
    As2Receiver,
    As2Sender,
    Identity,
    MemoryAsyncMdnRegistry,
    MemorySeenMessageIds,
    Partnership,
    overdue_mdns,
)
from hub.as2.mdn import Mic
from hub.as2.state import PendingMdn
from hub.errors import TerminalError, TransientError
from tests.as2.conftest import Pki

pytestmark = pytest.mark.as2

PAYLOAD = b"ISA*00*          *00*~GS*PO*ACME*HUB~\r\n" + bytes(range(256)) * 4


@dataclass
class Loop:
    """ACME (played by the peer's keys) sends to HUB (our receiver)."""

    pki: Pki
    receiver: As2Receiver
    server: As2HttpServer
    got: list[tuple[str, str, bytes | Path, str]] = field(default_factory=list)
    fail_with: list[BaseException] = field(default_factory=list)
    """Exceptions the next on_payload calls raise (one each)."""

    def inbound(self, **kw: object) -> None:
        p = self.receiver.partnerships[("ACME", "HUB")]
        self.receiver.partnerships[("ACME", "HUB")] = replace(p, **kw)  # type: ignore[arg-type]

    def sender(self, identity: Identity | None = None, **kw: object) -> As2Sender:
        registry = kw.pop("registry", None)
        chunked = bool(kw.pop("chunked", False))
        sleeps: list[float] = []
        base: dict[str, object] = dict(partner_id="hub", as2_id="HUB", our_as2_id="ACME",
                                       certs=(self.pki.hub.cert,), url=self.server.url, backoff_base=0.01)
        base.update(kw)
        s = As2Sender(Partnership(**base), identity or Identity("ACME", (self.pki.peer.pair,)),  # type: ignore[arg-type]
                      registry=registry, sleep=sleeps.append, chunked=chunked)  # type: ignore[arg-type]
        s.sleeps = sleeps  # type: ignore[attr-defined]
        return s


@pytest.fixture
def loop(pki: Pki, tmp_path: Path) -> Iterator[Loop]:
    holder: list[Loop] = []

    def on_payload(partner_id: str, filename: str, data: bytes | Path, message_id: str) -> None:
        lp = holder[0]
        if lp.fail_with:
            raise lp.fail_with.pop(0)
        lp.got.append((partner_id, filename, data if isinstance(data, bytes) else data.read_bytes(), message_id))

    inbound = Partnership("acme", "ACME", "HUB", (pki.peer.cert,))
    receiver = As2Receiver([inbound], Identity("HUB", (pki.hub.pair, pki.hub_next.pair)), on_payload,
                           MemorySeenMessageIds(), workdir=tmp_path / "in", max_size=8 << 20,
                           max_decompressed_size=4 << 20)
    server = receiver.serve()
    holder.append(Loop(pki, receiver, server))
    try:
        yield holder[0]
    finally:
        server.shutdown()


@pytest.mark.parametrize("settings", [
    dict(),
    dict(sign="sha1", encrypt="tripledes_192_cbc"),
    dict(sign="sha224", encrypt="aes_192_cbc", key_encryption="rsaes_oaep"),
    dict(compress=True),
    dict(compress=True, compress_before_sign=False, sign="sha512"),
    dict(encrypt=None, compress=True),
    dict(sign=None, mdn_micalg="sha384"),
    dict(sign=None, encrypt=None, mdn_signed=False),
], ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "defaults")
def test_round_trip(loop: Loop, settings: dict[str, object]) -> None:
    loop.inbound(require_signed=settings.get("sign", 1) is not None,
                 require_encrypted=settings.get("encrypt", 1) is not None)
    result = loop.sender(**settings).send(PAYLOAD, "po 1.x12")
    assert result.status == "delivered", result.problems
    assert result.mdn is not None and result.mdn.mic == result.mic
    assert result.mdn.signed == settings.get("mdn_signed", True)
    assert loop.got == [("acme", "po 1.x12", PAYLOAD, result.message_id)]
    outcome = loop.receiver.outcomes[-1]
    assert outcome.unwrapped is not None
    assert outcome.unwrapped.compressed == bool(settings.get("compress"))


def test_chunked_request_and_a_file_hand_off(loop: Loop) -> None:
    big = PAYLOAD * 3000  # ~1.5 MB: above the inline limit, so the callback gets a Path
    result = loop.sender(chunked=True, compress=True).send(big, "big.x12")
    assert result.status == "delivered"
    assert loop.got[0][2] == big


def test_mic_in_the_requested_algorithm(loop: Loop) -> None:
    result = loop.sender(sign="sha256", mdn_micalg="sha1").send(PAYLOAD, "a.x12")
    assert result.status == "delivered"
    assert result.mdn is not None and result.mdn.mic is not None and result.mdn.mic.algorithm == "sha1"
    assert result.mdn.digest_alg == "sha1"  # the MDN is signed with the requested micalg too


def test_duplicate_message_id_is_processed_once(loop: Loop) -> None:
    s = loop.sender()
    first = s.send(PAYLOAD, "a.x12")
    again = s.send(PAYLOAD, "a.x12", message_id=first.message_id)
    assert again.disposition is not None and again.disposition.status == "processed/warning: duplicate-document"
    assert again.status == "delivered" and again.mdn is not None and again.mdn.mic == first.mic
    assert len(loop.got) == 1


def test_our_key_rollover(loop: Loop) -> None:
    """The partner already encrypts to our next certificate; both of our keys decrypt."""
    s = loop.sender()
    s.partnership = replace(s.partnership, encrypt_cert=loop.pki.hub_next.cert)
    assert s.send(PAYLOAD, "a.x12").status == "delivered"


@pytest.mark.parametrize(("case", "modifier"), [
    ("unsigned", "insufficient-message-security"),
    ("unencrypted", "insufficient-message-security"),
    ("encrypted to someone else", "decryption-failed"),
    ("signed by a stranger", "authentication-failed"),
    ("bomb", "decompression-failed"),
])
def test_failures_become_dispositions(loop: Loop, case: str, modifier: str) -> None:
    pki = loop.pki
    if case == "unsigned":
        s = loop.sender(sign=None)
    elif case == "unencrypted":
        s = loop.sender(encrypt=None)
    elif case == "encrypted to someone else":
        s = loop.sender(encrypt_cert=pki.rogue.cert)
    elif case == "signed by a stranger":
        s = loop.sender(Identity("ACME", (pki.rogue.pair,)))
    else:
        s = loop.sender(compress=True)
    payload = b"\0" * (6 << 20) if case == "bomb" else PAYLOAD  # 6 MB of zeros, a few KB compressed; limit 4 MB
    result = s.send(payload, "x.bin")
    assert result.status == "rejected"
    assert result.disposition is not None and result.disposition.status == f"processed/error: {modifier}"
    assert result.mdn is not None and result.mdn.signed  # failures are signed receipts too
    assert loop.got == []


def test_failed_hand_off_is_an_error_and_the_resend_is_processed(loop: Loop) -> None:
    s = loop.sender()
    loop.fail_with.append(RuntimeError("disk full"))
    first = s.send(PAYLOAD, "a.x12")
    assert first.disposition is not None
    assert first.disposition.status == "processed/error: unexpected-processing-error"
    again = s.send(PAYLOAD, "a.x12", message_id=first.message_id)  # the Message-ID claim was released
    assert again.status == "delivered" and not again.disposition.duplicate  # type: ignore[union-attr]
    assert len(loop.got) == 1


def test_transient_hand_off_failure_asks_for_a_resend(loop: Loop) -> None:
    loop.fail_with.append(TransientError("store is locked"))
    s = loop.sender(attempts=2)
    result = s.send(PAYLOAD, "a.x12")
    assert (result.status, result.attempts) == ("delivered", 2)
    assert len(s.sleeps) == 1  # type: ignore[attr-defined]
    assert len(loop.got) == 1


def test_limits_and_refusals(loop: Loop) -> None:
    with pytest.raises(TerminalError, match="413"):
        loop.sender(compress=False).send(b"x" * (9 << 20), "big.bin")
    with pytest.raises(TerminalError, match="403"):
        loop.sender(our_as2_id="STRANGER").send(PAYLOAD, "a.x12")
    r = httpx.post(loop.server.url, content=b"x", headers={"AS2-From": "ACME", "AS2-To": "HUB"})
    assert r.status_code == 400 and "Message-ID" in r.text
    assert httpx.get(loop.server.url).status_code == 200
    with socket.create_connection(loop.server.server_address[:2]) as sock:  # neither length nor chunked
        sock.sendall(b"POST /as2 HTTP/1.1\r\nHost: x\r\nAS2-From: ACME\r\nAS2-To: HUB\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")


def test_mdn_signed_by_an_unknown_key_is_not_proof(loop: Loop) -> None:
    s = loop.sender()
    s.partnership = replace(s.partnership, certs=(loop.pki.rogue.cert,), encrypt_cert=loop.pki.hub.cert)
    result = s.send(PAYLOAD, "a.x12")
    assert result.status == "mdn-invalid" and not result.ok
    assert "authentication" in result.problems[0].lower() or "verif" in result.problems[0].lower()


def test_no_mdn_requested(loop: Loop) -> None:
    result = loop.sender(mdn="none").send(PAYLOAD, "a.x12")
    assert (result.status, result.mdn, result.http_status) == ("sent", None, 200)
    assert len(loop.got) == 1


# ============================================================================================ async MDNs


def test_async_mdn_is_matched_by_message_id(loop: Loop, pki: Pki, tmp_path: Path) -> None:
    """ACME runs its own receiver for MDNs; our receiver posts the MDN there after answering."""
    registry = MemoryAsyncMdnRegistry()
    outcomes = []
    acme_endpoint = As2Receiver([Partnership("hub", "HUB", "ACME", (pki.hub.cert,))],
                                Identity("ACME", (pki.peer.pair,)), lambda *a: None, MemorySeenMessageIds(),
                                mdn_registry=registry, on_mdn=outcomes.append, workdir=tmp_path / "acme")
    with acme_endpoint.serve() as acme_server:
        s = loop.sender(mdn="async", async_mdn_url=acme_server.url, registry=registry)
        result = s.send(PAYLOAD, "a.x12")
        assert result.status == "pending" and result.ok
        outcome = registry.wait(result.message_id, timeout=10)
    assert outcome is not None and outcome.check.ok and outcome.check.mic_matched
    assert outcomes == [outcome] and registry.pending() == []
    assert outcome.mdn is not None and outcome.mdn.signer == pki.hub.cert


def test_async_mdn_with_a_wrong_mic_is_flagged(loop: Loop, pki: Pki, tmp_path: Path) -> None:
    registry = MemoryAsyncMdnRegistry()
    acme_endpoint = As2Receiver([Partnership("hub", "HUB", "ACME", (pki.hub.cert,))],
                                Identity("ACME", (pki.peer.pair,)), lambda *a: None, MemorySeenMessageIds(),
                                mdn_registry=registry, workdir=tmp_path / "acme")
    with acme_endpoint.serve() as acme_server:
        s = loop.sender(mdn="async", async_mdn_url=acme_server.url, registry=registry)
        original_expect = registry.expect

        def expect_wrong_mic(pending: PendingMdn) -> None:
            original_expect(replace(pending, mics=(Mic("AAAA", "sha256"),)))

        registry.expect = expect_wrong_mic  # type: ignore[method-assign]
        result = s.send(PAYLOAD, "a.x12")
        outcome = registry.wait(result.message_id, timeout=10)
    assert outcome is not None and not outcome.check.ok
    assert "MIC mismatch" in outcome.check.problems[0]


def test_overdue_mdns() -> None:
    registry = MemoryAsyncMdnRegistry()
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)

    def pending(mid: str, minutes_ago: int, limit_minutes: int) -> PendingMdn:
        sent = now - dt.timedelta(minutes=minutes_ago)
        return PendingMdn(mid, "acme", "ACME", "HUB", (), True, True, sent, sent + dt.timedelta(minutes=limit_minutes))

    registry.expect(pending("<a@x>", 90, 60))
    registry.expect(pending("b@x", 30, 60))
    registry.expect(pending("c@x", 10, 5))
    assert [p.message_id for p in overdue_mdns(registry, now=now)] == ["<a@x>", "c@x"]
    assert [p.message_id for p in overdue_mdns(registry, now=now, limit=dt.timedelta(minutes=20))] == ["<a@x>",
                                                                                                       "b@x"]
    assert registry.get("a@x") is not None and registry.get("<b@x>") is not None
    registry.forget("a@x")
    assert [p.message_id for p in registry.pending()] == ["b@x", "c@x"]


# ============================================================================================ retries


class _Flaky(BaseHTTPRequestHandler):
    """Answers 429 (with Retry-After) and then 503 before passing requests to the real receiver."""

    protocol_version = "HTTP/1.1"
    answers: list[int] = []
    target = ""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.answers:
            code = self.answers.pop(0)
            self.send_response(code)
            if code == 429:
                self.send_header("Retry-After", "0.2")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        reply = httpx.post(self.target, content=body, headers=[(k, v) for k, v in self.headers.items()
                                                               if k.lower() not in ("host", "content-length")])
        self.send_response(reply.status_code)
        for k, v in reply.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply.content)))
        self.end_headers()
        self.wfile.write(reply.content)


def test_retries_with_backoff_then_delivery(loop: Loop) -> None:
    _Flaky.answers, _Flaky.target = [429, 503], loop.server.url
    flaky = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=flaky.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        s = loop.sender(url=f"http://127.0.0.1:{flaky.server_address[1]}/as2", attempts=3)
        result = s.send(PAYLOAD, "a.x12")
    finally:
        flaky.shutdown()
        flaky.server_close()
    assert (result.status, result.attempts) == ("delivered", 3)
    assert s.sleeps[0] == 0.2 and len(s.sleeps) == 2  # type: ignore[attr-defined]


def test_unreachable_partner_is_transient(loop: Loop) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = loop.sender(url=f"http://127.0.0.1:{port}/as2", attempts=3, backoff_base=1, backoff_cap=1.5)
    with pytest.raises(TransientError, match="after 3 attempt"):
        s.send(PAYLOAD, "a.x12")
    assert len(s.sleeps) == 2 and all(0.5 <= d <= 1.5 for d in s.sleeps)  # type: ignore[attr-defined]


def test_async_needs_a_registry(loop: Loop) -> None:
    with pytest.raises(TerminalError, match="AsyncMdnRegistry"):
        loop.sender(mdn="async", async_mdn_url="http://127.0.0.1:1/")


def test_async_mdn_url_must_be_agreed(loop: Loop, pki: Pki) -> None:
    """A Receipt-Delivery-Option outside the partnership's prefixes gets its MDN in the HTTP response instead."""
    loop.inbound(mdn_url_prefixes=("https://acme.example/",))
    registry = MemoryAsyncMdnRegistry()
    s = loop.sender(mdn="async", async_mdn_url="http://169.254.169.254/latest", registry=registry)
    result = s.send(PAYLOAD, "a.x12")
    assert result.status == "delivered"  # asked for async, got it in the response: taken as the receipt
    assert registry.pending() == [] and registry.outcomes[result.message_id.strip("<>")].check.ok
    outcome = loop.receiver.outcomes[-1]
    assert outcome.mdn_mode == "sync" and outcome.mdn is not None and outcome.disposition is not None
    assert outcome.disposition.ok
