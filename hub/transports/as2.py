"""AS2 as a transport: outbound :class:`As2Transport`, inbound hand-off into a hub-managed drop zone.

Outbound, ``send()`` POSTs one file with :class:`hub.as2.As2Sender` and
returns its name once the partner's MDN proves receipt (or, for ``mdn: none``
/ ``mdn: async``, once the POST was accepted).  A negative or unverifiable MDN
is a :class:`~hub.errors.TerminalError` naming the disposition; network
trouble after the sender's own retries is a :class:`~hub.errors.TransientError`
(the runtime retries later).  ``poll()`` returns nothing: AS2 inbound is
pushed to our endpoint.

Inbound, ``edihub serve`` runs an :class:`hub.as2.As2Receiver` (``as2.port``)
whose ``on_payload`` is :func:`write_payload`: the verified payload is written
atomically (hidden temporary file, fsync, rename) into
``<as2.folder>/inbound/<partner>/`` -- a folder the hub owns, polled by a
plain :class:`~hub.transports.folder.FolderTransport` like any drop zone, so
intake, deduplication by sha256, archiving and settling stay the pipeline's.
The MDN is only answered after the rename, so a crash before it leaves the
partner without a receipt and it resends.

Repeated Message-IDs are refused by :class:`SqliteSeenMessageIds`
(``<as2.folder>/seen_message_ids.sqlite``): a claim is recorded ``pending``
before the payload is written and ``done`` after; a process that crashed in
between leaves ``pending`` rows that are dropped at the next start (no MDN was
sent for them, the partner's resend must be processed).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hub.errors import TerminalError, TransientError
from hub.transports.base import IncomingFile, Payload, iter_chunks

__all__ = ["As2Transport", "SqliteSeenMessageIds", "as2_inbound_folder", "write_payload"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def as2_inbound_folder(as2_config: Mapping[str, Any], partner_id: str) -> Path:
    """``<as2.folder>/inbound/<partner>/``: where the endpoint drops a partner's verified payloads."""
    return Path(str(as2_config.get("folder") or "var/as2")) / "inbound" / partner_id


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


class SqliteSeenMessageIds:
    """The Message-ID ledger of the AS2 endpoint in one SQLite file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen (partner TEXT NOT NULL, message_id TEXT NOT NULL, "
                         "state TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (partner, message_id))")
        self._db.execute("DELETE FROM seen WHERE state = 'pending'")  # a crash before the hand-off completed

    def claim(self, partner_id: str, message_id: str) -> bool:
        with self._lock:
            try:
                self._db.execute("INSERT INTO seen VALUES (?, ?, 'pending', ?)",
                                 (partner_id, _bare(message_id), _dt.datetime.now(_dt.UTC).isoformat()))
            except sqlite3.IntegrityError:
                return False
            return True

    def confirm(self, partner_id: str, message_id: str) -> None:
        """The payload is safely in the drop zone: the claim survives restarts."""
        with self._lock:
            self._db.execute("UPDATE seen SET state = 'done' WHERE partner = ? AND message_id = ?",
                             (partner_id, _bare(message_id)))

    def release(self, partner_id: str, message_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM seen WHERE partner = ? AND message_id = ?", (partner_id, _bare(message_id)))

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM seen WHERE partner = ? AND message_id = ? AND state = 'done'",
                                   (key[0], _bare(key[1]))).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _safe_name(filename: str, message_id: str) -> str:
    name = _UNSAFE.sub("_", Path(filename or "").name).lstrip("._")
    return name or "as2-" + _UNSAFE.sub("_", _bare(message_id))[:80] + ".edi"


def write_payload(folder: Path, filename: str, data: bytes | Path, message_id: str) -> Path:
    """Write one payload atomically into ``folder`` under its AS2 filename (a taken name gets ``-1``, ``-2``...)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = _safe_name(filename, message_id)
    fd, tmp = tempfile.mkstemp(prefix=".as2-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, bytes | bytearray):
                out.write(data)
            else:
                with open(data, "rb") as src:
                    while block := src.read(1 << 20):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        stem, suffix = Path(name).stem, Path(name).suffix
        target, counter = folder / name, 0
        while True:
            try:
                os.link(tmp, target)  # never replaces a file the pipeline has not taken yet
                break
            except FileExistsError:
                counter += 1
                target = folder / f"{stem}-{counter}{suffix}"
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


class As2Transport:
    """The outbound side of an ``as2`` channel (see the module docstring)."""

    def __init__(self, partner_id: str, channel: Any, as2_config: Mapping[str, Any], *,
                 registry: Any = None, base_dir: str | os.PathLike[str] | None = None,
                 environ: Mapping[str, str] | None = None, sender_factory: Callable[..., Any] | None = None) -> None:
        self.partner_id = partner_id
        self.channel_config = channel
        self.as2_config = dict(as2_config)
        self.registry = registry
        self.base_dir = base_dir
        self.environ = environ
        self.channel = channel.describe()
        self._sender: Any = None
        self._sender_factory = sender_factory
        self._lock = threading.Lock()
        self.results: list[Any] = []
        """The last send results (at most 100), newest last."""

    def __repr__(self) -> str:
        return f"As2Transport({self.partner_id!r}, {self.channel!r})"

    def sender(self) -> Any:
        """The :class:`hub.as2.As2Sender`, built on first use (keys are read then, not at start-up)."""
        with self._lock:
            if self._sender is None:
                from hub.as2 import As2Error, As2Sender, identity_from_config, partnership_from_config

                cfg = self.as2_config
                if not cfg.get("as2_id") or not cfg.get("keys"):
                    raise TerminalError(f"{self.partner_id}: AS2 needs as2.as2_id and as2.keys in config.yaml")
                try:
                    identity = identity_from_config(cfg, base_dir=self.base_dir, environ=self.environ)
                    partnership = partnership_from_config(
                        self.partner_id, self.channel_config.partnership_config(), our_as2_id=cfg["as2_id"],
                        async_mdn_url=cfg.get("public_url"), base_dir=self.base_dir, environ=self.environ)
                except (As2Error, ValueError, KeyError, OSError) as exc:
                    raise TerminalError(f"{self.partner_id}: AS2 set-up: {exc}") from exc
                if partnership.mdn == "async" and self.registry is None:
                    from hub.as2 import MemoryAsyncMdnRegistry

                    self.registry = MemoryAsyncMdnRegistry()
                workdir = Path(str(cfg.get("folder") or "var/as2")) / "work"
                factory = self._sender_factory or As2Sender
                self._sender = factory(partnership, identity, registry=self.registry, workdir=workdir)
            return self._sender

    # Transport ------------------------------------------------------------------------------

    def poll(self) -> list[IncomingFile]:
        return []

    def settle(self, item: IncomingFile, archive_to: str | None = None) -> None:
        return None

    def release(self, item: IncomingFile) -> None:
        return None

    def next_check_in(self) -> float | None:
        return None

    def send(self, name: str, data: Payload) -> str:
        from hub.as2 import As2Error

        sender = self.sender()
        if isinstance(data, bytes | bytearray | memoryview):
            payload: Any = bytes(data)
        elif callable(getattr(data, "read", None)):
            payload = data
        else:
            payload = b"".join(iter_chunks(data))
        try:
            result = sender.send(payload, name)
        except (TransientError, TerminalError):
            raise
        except As2Error as exc:
            raise TerminalError(f"{self.partner_id}: AS2 message not sent: {exc}") from exc
        except OSError as exc:
            raise TransientError(f"{self.partner_id}: AS2 send failed: {exc}") from exc
        with self._lock:
            self.results.append(result)
            del self.results[:-100]
        if result.status in ("delivered", "sent", "pending"):
            return name
        disposition = result.disposition
        text = str(disposition) if disposition is not None else result.status
        problems = "; ".join(result.problems)
        raise TerminalError(f"{self.partner_id}: AS2 {result.message_id} {result.status}: {text}"
                            + (f" ({problems})" if problems else ""))

    def close(self) -> None:
        return None
