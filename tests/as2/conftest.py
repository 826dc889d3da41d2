"""Fixtures for the AS2 tests: certificates, the django-pyas2 peer, and our own receiver on 127.0.0.1.

The peer is django-pyas2 1.2.3 in its own venv (``.ci/as2_setup.sh``), started once per session by
``tests/as2/peer/peer_server.py`` and driven over a pipe.  Without the venv the interop tests skip -- except
under ``EDIHUB_REQUIRE_CORPUS=1`` (CI), where a missing peer is a failure, as for the shared corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hub.as2 import (
    As2HttpServer,
    As2Receiver,
    Identity,
    MemoryAsyncMdnRegistry,
    MemorySeenMessageIds,
    Partnership,
    ReceiveOutcome,
)
from tests.as2.pki import P12_PASSWORD, TestIdentity, make_identity
from tests.conftest import REPO, REQUIRE_CORPUS

PEER_HOME = Path(os.environ.get("EDIHUB_AS2_PEER_HOME", REPO / "var" / "as2-peer"))
PEER_PYTHON = PEER_HOME / "venv" / "bin" / "python"
PEER_SCRIPT = Path(__file__).resolve().parent / "peer" / "peer_server.py"

HUB_ID = "HUB"
PEER_ID = "DJPEER"


# ============================================================================================ certificates


@dataclass(frozen=True)
class Pki:
    hub: TestIdentity
    hub_next: TestIdentity
    """Our next certificate (rollover tests)."""
    peer: TestIdentity
    peer_next: TestIdentity
    rogue: TestIdentity
    """A key nobody trusts (the wrong-certificate tests)."""
    directory: Path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("as2-pki")
    return Pki(make_identity(d, "hub"), make_identity(d, "hub-next"), make_identity(d, "djpeer"),
               make_identity(d, "djpeer-next"), make_identity(d, "rogue"), d)


# ============================================================================================ our receiver


@dataclass
class Received:
    partner_id: str
    filename: str
    data: bytes | None
    sha256: str
    size: int
    message_id: str


@dataclass
class HubEndpoint:
    """Our :class:`As2Receiver` on a free port, recording what it hands to the pipeline."""

    receiver: As2Receiver
    server: As2HttpServer
    registry: MemoryAsyncMdnRegistry
    seen: MemorySeenMessageIds
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def partnership(self, **kw: Any) -> Partnership:
        """Replace the inbound partnership for the peer (its settings differ from test to test)."""
        old = self.receiver.partnerships[(PEER_ID, HUB_ID)]
        new = Partnership(**{**{f: getattr(old, f) for f in old.__dataclass_fields__}, **kw})
        self.receiver.partnerships[(PEER_ID, HUB_ID)] = new
        return new

    def outcome(self, message_id: str) -> ReceiveOutcome | None:
        bare = message_id.strip("<>")
        for o in reversed(self.receiver.outcomes):
            if o.message_id and o.message_id.strip("<>") == bare and o.kind == "message":
                return o
        return None

    def wait_outcome(self, message_id: str, timeout: float = 30) -> ReceiveOutcome:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.outcome(message_id)
            if found is not None:
                return found
            time.sleep(0.05)
        raise AssertionError(f"our receiver never saw {message_id}")


def _digest(data: bytes | Path) -> tuple[str, int, bytes | None]:
    """sha256, size, and the bytes when they came as bytes (a file is hashed in blocks, never loaded)."""
    h = hashlib.sha256()
    if isinstance(data, bytes):
        h.update(data)
        return h.hexdigest(), len(data), data
    size = 0
    with open(data, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size, None


@pytest.fixture
def hub(pki: Pki, tmp_path: Path) -> Iterator[HubEndpoint]:
    seen = MemorySeenMessageIds()
    registry = MemoryAsyncMdnRegistry()
    received: list[Received] = []

    def on_payload(partner_id: str, filename: str, data: bytes | Path, message_id: str) -> None:
        digest, size, raw = _digest(data)
        received.append(Received(partner_id, filename, raw, digest, size, message_id))

    partnership = Partnership(PEER_ID.lower(), PEER_ID, HUB_ID, (pki.peer.cert,), url=None, sign="sha256",
                              encrypt="aes_256_cbc", mdn="sync")
    receiver = As2Receiver([partnership], Identity(HUB_ID, (pki.hub.pair,)), on_payload, seen,
                           mdn_registry=registry, workdir=tmp_path / "hub-work")
    server = receiver.serve()
    endpoint = HubEndpoint(receiver, server, registry, seen, received)
    try:
        yield endpoint
    finally:
        server.shutdown()


# ============================================================================================ the peer


class Peer:
    """The django-pyas2 process: ``call(cmd, **args)`` sends one command and returns its result."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: Path, data: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log
        self.data = data
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def call(self, cmd: str, timeout: float = 300, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        try:
            reply = json.loads(self._lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"django-pyas2 peer did not answer {cmd} in {timeout} s\n{self.log_tail()}") from None
        if not reply["ok"]:
            raise AssertionError(f"django-pyas2 peer failed on {cmd}: {reply['traceback']}\n{self.log_tail()}")
        return reply["result"]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "--- peer log ---\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def configure(self, pki: Pki, hub_url: str, *, encryption: str | None = "aes_256_cbc",
                  signature: str | None = "sha256", compress: bool = False, mdn_mode: str | None = "SYNC",
                  mdn_sign: str | None = "sha256", sign_with: TestIdentity | None = None,
                  content_type: str = "application/octet-stream") -> None:
        """Organisation DJPEER with the peer's key; partner HUB at ``hub_url`` with our certificate."""
        self.call("configure", org=PEER_ID, key=str(pki.peer.p12), key_pass=P12_PASSWORD.decode(),
                  sign_key=str(sign_with.p12) if sign_with else None, partner=HUB_ID, url=hub_url,
                  cert=str(pki.hub.cert_pem), encryption=encryption, signature=signature, compress=compress,
                  mdn_mode=mdn_mode, mdn_sign=mdn_sign, content_type=content_type)

    def message(self, message_id: str, direction: str | None = None) -> list[dict[str, Any]]:
        return self.call("message", message_id=message_id, direction=direction)

    def wait_message(self, message_id: str, direction: str, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        end = time.monotonic() + timeout
        last: list[dict[str, Any]] = []
        while time.monotonic() < end:
            last = self.message(message_id, direction)
            if last and predicate(last[-1]):
                return last[-1]
            time.sleep(0.1)
        raise AssertionError(f"peer message {message_id} never reached the expected state: {last}\n"
                             f"{self.log_tail()}")


def _peer_missing(reason: str) -> None:
    if REQUIRE_CORPUS:
        pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but the AS2 peer is not available: {reason} "
                    f"(run .ci/as2_setup.sh)")
    pytest.skip(f"AS2 peer not available: {reason} (run .ci/as2_setup.sh)")


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    if not PEER_PYTHON.exists():
        _peer_missing(f"no django-pyas2 venv at {PEER_PYTHON.parent.parent}")
    data = tmp_path_factory.mktemp("as2-peer")
    log = data / "peer.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DJANGO"))}
    env.update(AS2_PEER_DATA=str(data), PYTHONUNBUFFERED="1")
    started = time.monotonic()
    with open(log, "w") as log_fh:
        proc = subprocess.Popen([str(PEER_PYTHON), str(PEER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log_fh, text=True, env=env, cwd=data)
    assert proc.stdout is not None
    line = queue.Queue[str]()
    threading.Thread(target=lambda: line.put(proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        first = line.get(timeout=120)
        ready = json.loads(first)
    except (queue.Empty, json.JSONDecodeError):
        proc.kill()
        proc.wait()
        _peer_missing(f"django-pyas2 peer did not start:\n{log.read_text(errors='replace')[-3000:]}")
        raise
    p = Peer(proc, ready["url"], log, data)
    sys.stderr.write(f"\ndjango-pyas2 peer ready in {time.monotonic() - started:.1f} s at {p.url}\n")
    try:
        yield p
    finally:
        try:
            assert proc.stdin is not None
            proc.stdin.write('{"cmd": "quit"}\n')
            proc.stdin.flush()
            proc.wait(10)
        except Exception:
            proc.kill()
            proc.wait()


@pytest.fixture
def payload_file(tmp_path: Path) -> Path:
    """A binary payload with every byte value, CR/LF pairs, bare LFs and a lone CR: it must arrive unchanged."""
    data = bytes(range(256)) * 8 + b"\r\n\n\r" + os.urandom(5000) + b"ISA*00*~\r\n--not-a-boundary\n"
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    return path


def openssl() -> str:
    exe = shutil.which("openssl")
    if exe is None:
        pytest.skip("the openssl command is not installed")
    return exe
