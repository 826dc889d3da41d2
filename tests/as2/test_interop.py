"""Interop with a real AS2 server: django-pyas2 1.2.3 (pyas2lib) <-> hub.as2, both directions, on 127.0.0.1.

Each test says what it proves about the *other* implementation too: the peer verifies our signatures,
decrypts our envelopes and checks our MDNs with its own code, and we do the same with its messages.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from hub.as2 import As2Sender, Identity, Partnership, parse_mdn
from hub.as2.message import build_message
from tests.as2.conftest import HUB_ID, PEER_ID, HubEndpoint, Peer, Pki

pytestmark = pytest.mark.as2


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def outbound(pki: Pki, peer: Peer, **kw: object) -> Partnership:
    """Our partnership for sending to the peer."""
    base: dict[str, object] = dict(partner_id="djpeer", as2_id=PEER_ID, our_as2_id=HUB_ID, certs=(pki.peer.cert,),
                                   url=peer.url, sign="sha256", encrypt="aes_256_cbc", mdn="sync", backoff_base=0.1)
    base.update(kw)
    return Partnership(**base)  # type: ignore[arg-type]


def sender(pki: Pki, partnership: Partnership, **kw: object) -> As2Sender:
    return As2Sender(partnership, Identity(HUB_ID, (pki.hub.pair,)), **kw)  # type: ignore[arg-type]


def stored_payload(peer: Peer, message_id: str) -> bytes:
    records = peer.message(message_id, "IN")
    assert records, f"the peer has no record of {message_id}"
    path = records[-1]["payload_path"]
    assert path, records
    return Path(path).read_bytes()


# ============================================================================================ hub -> peer


@pytest.mark.parametrize(("sign", "encrypt", "compress"), [
    ("sha256", "aes_256_cbc", False),
    ("sha1", "tripledes_192_cbc", False),
    ("sha256", "aes_128_cbc", True),
    ("sha512", "aes_192_cbc", False),
])
def test_hub_to_peer_sync_mdn(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path, sign: str, encrypt: str,
                              compress: bool) -> None:
    peer.configure(pki, hub.url)
    p = outbound(pki, peer, sign=sign, encrypt=encrypt, compress=compress)
    result = sender(pki, p).send(payload_file, "po_850.bin", content_type="application/octet-stream")
    assert result.status == "delivered", (result.problems, peer.log_tail())
    assert result.mdn is not None and result.mdn.signed and result.mdn.disposition.status == "processed"
    assert result.mdn.mic == result.mic  # the peer computed the same MIC over what it received
    assert result.mdn.signer == pki.peer.cert
    record = peer.message(result.message_id, "IN")[-1]
    assert (record["status"], record["signed"], record["encrypted"], record["compressed"]) == ("S", True, True,
                                                                                               compress)
    assert stored_payload(peer, result.message_id) == payload_file.read_bytes()


def test_hub_to_peer_async_mdn(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url)
    p = outbound(pki, peer, mdn="async", async_mdn_url=hub.url)
    result = sender(pki, p, registry=hub.registry).send(payload_file, "async.bin")
    assert result.status == "pending"
    assert hub.registry.get(result.message_id) is not None
    peer.call("async_mdns")  # django-pyas2 sends pending async MDNs from its periodic command
    outcome = hub.registry.wait(result.message_id, timeout=30)
    assert outcome is not None, peer.log_tail()
    assert outcome.check.ok, outcome.check.problems
    assert outcome.check.mic_matched and outcome.mdn is not None and outcome.mdn.signed
    assert hub.registry.pending() == []
    assert stored_payload(peer, result.message_id) == payload_file.read_bytes()


def test_hub_to_peer_unsigned_mdn_and_plain_message(pki: Pki, peer: Peer, hub: HubEndpoint,
                                                    payload_file: Path) -> None:
    peer.configure(pki, hub.url, encryption=None, signature=None)
    p = outbound(pki, peer, sign=None, encrypt=None, mdn_signed=False)
    result = sender(pki, p).send(payload_file, "plain.bin")
    assert result.status == "delivered", result.problems
    assert result.mdn is not None and not result.mdn.signed
    assert stored_payload(peer, result.message_id) == payload_file.read_bytes()


def test_hub_to_peer_duplicate_message_id(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url)
    s = sender(pki, outbound(pki, peer))
    first = s.send(payload_file, "dup.bin")
    again = s.send(payload_file, "dup.bin", message_id=first.message_id)
    assert first.status == "delivered"
    assert again.disposition is not None and again.disposition.duplicate, again
    assert again.mdn is not None and again.mdn.signed
    assert len(peer.message(first.message_id, "IN")) == 2  # django-pyas2 keeps the duplicate as "<id>_duplicate"


def test_hub_to_peer_wrong_certificate(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url)
    p = outbound(pki, peer)
    result = As2Sender(p, Identity(HUB_ID, (pki.rogue.pair,))).send(payload_file, "rogue.bin")
    assert result.status == "rejected"
    assert result.disposition is not None and result.disposition.description == "authentication-failed"
    assert not result.ok


def test_hub_to_peer_tampered_payload(pki: Pki, peer: Peer, hub: HubEndpoint, tmp_path: Path) -> None:
    """Signed, not encrypted, one byte changed after signing: the peer must refuse it.  pyas2lib reports every
    signature failure as authentication-failed (our receiver distinguishes integrity-check-failed)."""
    import httpx

    peer.configure(pki, hub.url, encryption=None)
    p = outbound(pki, peer, encrypt=None)
    work = tmp_path / "build"
    work.mkdir()
    built = build_message(b"BEG*00*SA*PO-1~", partnership=p, identity=Identity(HUB_ID, (pki.hub.pair,)),
                          workdir=work, filename="t.x12")
    body = built.body.read_bytes().replace(b"PO-1", b"PO-9", 1)
    response = httpx.post(peer.url, content=body, headers=list(built.headers), timeout=60)
    mdn = parse_mdn(response.headers.multi_items(), response.content, partner_certs=[pki.peer.cert])
    assert mdn.original_message_id == built.message_id.strip("<>")
    assert mdn.disposition.modifier == "error"
    assert mdn.disposition.description in ("integrity-check-failed", "authentication-failed")


# ============================================================================================ peer -> hub


@pytest.mark.parametrize(("signature", "encryption", "compress"), [
    ("sha256", "aes_256_cbc", False),
    ("sha1", "tripledes_192_cbc", False),
    ("sha256", "aes_256_cbc", True),
    ("sha384", "aes_192_cbc", True),
])
def test_peer_to_hub_sync_mdn(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path, signature: str,
                              encryption: str, compress: bool) -> None:
    peer.configure(pki, hub.url, signature=signature, encryption=encryption, compress=compress)
    record = peer.call("send", org=PEER_ID, partner=HUB_ID, path=str(payload_file), filename="po_001.bin")
    assert record["status"] == "S", (record, peer.log_tail())
    assert record["mdn"]["status"] == "R" and record["mdn"]["signed"]
    [got] = hub.received
    assert (got.partner_id, got.filename) == ("djpeer", "po_001.bin")
    assert got.data == payload_file.read_bytes()
    outcome = hub.outcome(record["message_id"])
    assert outcome is not None and outcome.unwrapped is not None
    u = outcome.unwrapped
    assert (u.signed, u.encrypted, u.compressed, u.cipher, u.digest_alg) == (True, True, compress, encryption,
                                                                            signature)


def test_peer_to_hub_async_mdn(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url, mdn_mode="ASYNC")
    # django-pyas2 marks its message "waiting for the MDN" only after our HTTP reply; an MDN arriving within
    # those milliseconds is overwritten (a race in django-pyas2 1.2.3), so ours is posted half a second later
    post_now = hub.receiver.send_async_mdn

    def post_later(url: str, mdn: object) -> None:
        time.sleep(0.5)
        post_now(url, mdn)  # type: ignore[arg-type]

    hub.receiver.send_async_mdn = post_later
    record = peer.call("send", org=PEER_ID, partner=HUB_ID, path=str(payload_file), filename="po_async.bin")
    # our receiver answers at once and posts the signed MDN to the peer's MDN URL after the reply
    done = peer.wait_message(record["message_id"], "OUT", lambda m: m["status"] != "P" and m["mdn"] is not None)
    assert done["status"] == "S", (done, peer.log_tail())
    assert done["mdn"]["signed"]
    outcome = hub.outcome(record["message_id"])
    assert outcome is not None and outcome.mdn_mode == "async"
    assert [r.data for r in hub.received] == [payload_file.read_bytes()]


def test_peer_to_hub_duplicate_message_id(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url)
    first = peer.call("send_raw", org=PEER_ID, partner=HUB_ID, url=hub.url, path=str(payload_file),
                      filename="dup.bin", content_type="application/octet-stream")
    again = peer.call("send_raw", org=PEER_ID, partner=HUB_ID, url=hub.url, path=str(payload_file),
                      filename="dup.bin", content_type="application/octet-stream", message_id=first["message_id"])
    assert first["mdn_status"] == "processed"
    assert (again["mdn_status"], again["mdn_detail"]) == ("processed/warning", "duplicate-document")
    assert len(hub.received) == 1  # processed once


def test_peer_to_hub_tampered_payload(pki: Pki, peer: Peer, hub: HubEndpoint, tmp_path: Path) -> None:
    peer.configure(pki, hub.url, encryption=None)
    hub.partnership(require_encrypted=False)
    src = tmp_path / "po.x12"
    src.write_bytes(b"ISA*00*PO-12345*~\r\nBEG*00*SA*PO-12345~\r\n")
    reply = peer.call("send_raw", org=PEER_ID, partner=HUB_ID, url=hub.url, path=str(src), filename="po.x12",
                      tamper=["PO-12345~", "PO-99999~"])
    assert (reply["mdn_status"], reply["mdn_detail"]) == ("processed/error", "integrity-check-failed"), reply
    assert reply["mdn_signed"]
    assert hub.received == []


def test_peer_to_hub_wrong_certificate(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url, sign_with=pki.rogue)
    record = peer.call("send", org=PEER_ID, partner=HUB_ID, path=str(payload_file), filename="rogue.bin")
    assert record["status"] == "E"
    assert "authentication-failed" in record["detailed_status"]
    assert hub.received == []
    outcome = hub.outcome(record["message_id"])
    assert outcome is not None and outcome.disposition is not None
    assert outcome.disposition.status == "processed/error: authentication-failed"


def test_peer_to_hub_chunked_body(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    peer.configure(pki, hub.url)
    reply = peer.call("send_raw", org=PEER_ID, partner=HUB_ID, url=hub.url, path=str(payload_file),
                      filename="chunked.bin", content_type="application/octet-stream", chunked=True)
    assert reply["mdn_status"] == "processed" and reply["mdn_signed"]  # pyas2lib compared our MIC with its own
    assert [r.data for r in hub.received] == [payload_file.read_bytes()]
    outcome = hub.outcome(reply["message_id"])
    assert outcome is not None and outcome.unwrapped is not None and outcome.unwrapped.mic is not None
    assert outcome.unwrapped.mic.value == reply["mic"]


def test_peer_to_hub_certificate_rollover(pki: Pki, peer: Peer, hub: HubEndpoint, payload_file: Path) -> None:
    """We hold the peer's old and new certificates; the peer signs with the new one."""
    hub.partnership(certs=(pki.peer.cert, pki.peer_next.cert))
    peer.configure(pki, hub.url, sign_with=pki.peer_next)
    record = peer.call("send", org=PEER_ID, partner=HUB_ID, path=str(payload_file), filename="next.bin")
    assert record["status"] == "S", record
    assert hub.outcome(record["message_id"]).unwrapped.signer == pki.peer_next.cert  # type: ignore[union-attr]


# ============================================================================================ 50 MB


class PeakRss:
    """Samples this process's resident memory in a thread: the peak above the level at start."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / (1 << 20)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("as2-big") / "big.bin"
    with open(path, "wb") as fh:
        for _ in range(50):
            fh.write(os.urandom(1 << 20))
    return path


MEMORY_BOUND_MB = 25  # half the payload: keeping it in memory even once would exceed this


def test_50mb_hub_to_peer_bounded_memory(pki: Pki, peer: Peer, hub: HubEndpoint, big_file: Path) -> None:
    peer.configure(pki, hub.url)
    s = sender(pki, outbound(pki, peer, timeout=600))
    with PeakRss() as rss:
        result = s.send(big_file, "big.bin", content_type="application/octet-stream")
    assert result.status == "delivered", result.problems
    assert result.size > 50 << 20
    print(f"hub -> peer, 50 MB: sender RSS grew by {rss.growth_mb:.1f} MB")
    assert rss.growth_mb < MEMORY_BOUND_MB, f"sender grew by {rss.growth_mb:.1f} MB"
    path = peer.message(result.message_id, "IN")[-1]["payload_path"]
    assert sha256_file(path) == sha256_file(big_file)


def test_50mb_peer_to_hub_bounded_memory(pki: Pki, peer: Peer, hub: HubEndpoint, big_file: Path) -> None:
    peer.configure(pki, hub.url, compress=True)
    with PeakRss() as rss:
        record = peer.call("send", org=PEER_ID, partner=HUB_ID, path=str(big_file), filename="big.bin")
    assert record["status"] == "S", (record, peer.log_tail())
    [got] = hub.received
    assert got.data is None and got.size == 50 << 20  # handed over as a file, not as bytes
    assert got.sha256 == sha256_file(big_file)
    print(f"peer -> hub, 50 MB: receiver RSS grew by {rss.growth_mb:.1f} MB")
    assert rss.growth_mb < MEMORY_BOUND_MB, f"receiver grew by {rss.growth_mb:.1f} MB"
