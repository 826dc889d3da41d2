"""`edihub serve` and async MDNs: a pending MDN survives a restart of serve and is matched by the new process.

ACME takes files by AS2 only outbound (its orders come in by folder); our 997 goes to ACME's endpoint (a bare
:class:`~hub.as2.As2Receiver`) asking for an async MDN, which ACME holds back until the hub was stopped and
started again on the same configuration.
"""

from __future__ import annotations

import copy
import shutil
import threading

import pytest

from hub.as2 import As2Receiver, Identity, MemorySeenMessageIds, OutgoingMdn, Partnership
from hub.as2.receiver import post_mdn
from hub.config import DEFAULTS
from hub.runtime.app import Server
from hub.store import Archive, open_store
from tests.as2.helpers import free_port, wait_for
from tests.as2.pki import make_identity
from tests.conftest import REPO

pytestmark = pytest.mark.as2


def _serve(config) -> tuple[Server, threading.Thread]:  # type: ignore[no-untyped-def]
    server = Server(config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"install_signals": False})
    thread.start()
    wait_for(lambda: getattr(server, "as2_server", None) is not None or not thread.is_alive(), 10)
    assert thread.is_alive()
    return server, thread


def _stop(server: Server, thread: threading.Thread) -> None:
    server.stop_event.set()
    thread.join(20)
    assert not thread.is_alive()


def test_an_async_mdn_arriving_after_a_restart_of_serve_is_matched(tmp_path, monkeypatch):
    for name in ("partner_profiles", "mappings"):
        shutil.copytree(REPO / name, tmp_path / name)
    (tmp_path / "inbound" / "acme").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    ours, acme = make_identity(tmp_path / "certs", "hub"), make_identity(tmp_path / "certs", "acme")
    held: list[tuple[str, OutgoingMdn]] = []
    got: list[str] = []
    acme_endpoint = As2Receiver([Partnership("hub", "HUB", "ACME", (ours.cert,))], Identity("ACME", (acme.pair,)),
                                lambda pid, name, data, mid: got.append(name), MemorySeenMessageIds(),
                                send_async_mdn=lambda url, mdn: held.append((url, mdn))).serve("127.0.0.1", 0)
    port = free_port()
    profile = tmp_path / "partner_profiles" / "acme.yaml"
    profile.write_text(profile.read_text().replace('''  outbound:
    type: folder
    path: "outbound/acme/"''', f'''  outbound:
    type: as2
    as2_id: ACME
    url: "{acme_endpoint.url}"
    certificates: ["{acme.cert_pem}"]
    mdn: async'''))
    config = copy.deepcopy(DEFAULTS)
    config["folders"]["settle_seconds"] = 0.0
    config["runtime"].update(worker_id="w1", retry_base_seconds=0.01, poll_seconds=60.0)
    config["database"]["url"] = f"sqlite:///{tmp_path / 'var' / 'edihub.db'}"
    config["as2"].update(as2_id="HUB", keys=[{"key": str(ours.key_pem), "cert": str(ours.cert_pem)}], port=port,
                         listen="127.0.0.1", public_url=f"http://127.0.0.1:{port}/as2")
    store = open_store(config["database"]["url"])
    try:
        server, thread = _serve(config)
        try:
            shutil.copy(REPO / "inbound" / "acme" / "acme_850_4010.x12", tmp_path / "inbound" / "acme" / "po.x12")
            server.wake("acme")
            wait_for(lambda: held and store.list_as2_messages())
        finally:
            _stop(server, thread)
        (pending,) = store.list_as2_messages()
        assert (pending.state, pending.mdn_mode, pending.partner_id) == ("pending", "async", "acme")
        tx = store.get_transaction(pending.transaction_id)
        assert (tx.type, tx.state) == ("997", "delivered") and got == [pending.filename]

        server, thread = _serve(config)  # a new process would see the same: the registry is the store
        try:
            (url, mdn), = held
            assert url == config["as2"]["public_url"]
            assert post_mdn(url, mdn, attempts=1) == 200
            row = store.as2_message(pending.message_id)
            assert (row.state, row.mic_matched, row.mdn_signed, row.disposition) == ("delivered", True, True,
                                                                                     "processed")
            raw = Archive(config["folders"]["archive"]).read_bytes(row.mdn_sha256)
            assert raw.endswith(mdn.body) and b"AS2-From: ACME" in raw
            assert [o.kind for o in server.as2_server.receiver.outcomes] == ["async-mdn"]
            events = [e.event for e in store.events_for("transaction", tx.id)]
            assert events.index("as2_sent") < events.index("delivered") < events.index("mdn_received")
        finally:
            _stop(server, thread)
    finally:
        acme_endpoint.shutdown()
        store.close()
