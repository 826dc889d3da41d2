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

What we send and the MDNs that answer it are kept by :class:`StoreMdnRegistry`
in the hub store (table ``as2_messages``; the MDN's raw bytes in the archive):
it is the durable :class:`~hub.as2.state.AsyncMdnRegistry` the endpoint
matches async MDNs against -- whichever ``serve`` process sent the message,
and across restarts -- and the record of every sync MDN.  A message kept for a
resend (``mdn_overdue_action: resend``) waits in ``<as2.folder>/resend/``
until its MDN comes or the alert is given.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from hub.errors import TerminalError, TransientError
from hub.transports.base import IncomingFile, Payload, iter_chunks

__all__ = ["As2Transport", "SqliteSeenMessageIds", "StoreMdnRegistry", "as2_inbound_folder", "as2_resend_folder",
           "write_payload"]

log = logging.getLogger("edihub.as2")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def as2_inbound_folder(as2_config: Mapping[str, Any], partner_id: str) -> Path:
    """``<as2.folder>/inbound/<partner>/``: where the endpoint drops a partner's verified payloads."""
    return Path(str(as2_config.get("folder") or "var/as2")) / "inbound" / partner_id


def as2_resend_folder(as2_config: Mapping[str, Any]) -> Path:
    """``<as2.folder>/resend/``: messages kept, exactly as posted, until their async MDN comes (for a resend)."""
    return Path(str(as2_config.get("folder") or "var/as2")) / "resend"


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


# ============================================================================================ MDNs in the store


class StoreMdnRegistry:
    """The AS2 messages we send and their MDNs, in the hub store: the durable async-MDN registry.

    Implements :class:`hub.as2.AsyncMdnRegistry` on the ``as2_messages`` table:
    a message sent with ``mdn: async`` is recorded ``pending`` before it is
    posted, the endpoint finds it again by Original-Message-ID (:meth:`get`,
    in any process on the same store, after any number of restarts) and
    :meth:`resolve` records the verdict.  :meth:`record_result` records the
    synchronous MDNs (and ``mdn: none`` sends) the same way, so every receipt
    is in one place.  An MDN's raw bytes -- HTTP headers and body, as received,
    the partner's signed statement -- go to the content-addressed archive first,
    then the row names their sha256.  Why the store and not a file next to
    ``seen_message_ids.sqlite``: several ``serve`` processes share one
    PostgreSQL store, and the async MDN may reach another process than the one
    that sent; the operators' listings and the sweeper read the store too.

    :meth:`sending` tells which transaction the messages sent in a block (on
    this thread) carry, so that an async MDN that does not prove receipt fails
    that transaction.
    """

    def __init__(self, store: Any, archive: Any) -> None:
        self.store = store
        self.archive = archive
        self._context = threading.local()

    def __repr__(self) -> str:
        return f"StoreMdnRegistry({self.store!r})"

    @contextlib.contextmanager
    def sending(self, transaction_id: int | None) -> Iterator[None]:
        """Messages sent in this block, on this thread, are recorded for ``transaction_id``."""
        previous = getattr(self._context, "transaction_id", None)
        self._context.transaction_id = transaction_id
        try:
            yield
        finally:
            self._context.transaction_id = previous

    # AsyncMdnRegistry ------------------------------------------------------------------------

    def expect(self, pending: Any) -> None:
        fields = {
            "message_id": pending.message_id, "partner_id": pending.partner_id,
            "partner_as2_id": pending.partner_as2_id, "our_as2_id": pending.our_as2_id,
            "transaction_id": getattr(self._context, "transaction_id", None), "filename": pending.filename,
            "mdn_mode": "async", "state": "pending", "mics": [[m.value, m.algorithm] for m in pending.mics],
            "require_signed": pending.require_signed, "signed": pending.signed_message,
            "encrypted": pending.encrypted, "compressed": pending.compressed, "size": pending.size,
            "sent_at": pending.sent_at, "due_at": pending.due_at, "resend_path": pending.body,
            "resend_headers": [list(h) for h in pending.headers] if pending.body else None,
        }
        self.store.record_as2_message(fields, now=pending.sent_at)

    def get(self, message_id: str) -> Any:
        row = self.store.as2_message(message_id)
        if row is None or row.state not in ("pending", "overdue"):
            return None
        return _pending_from_row(row)

    def resolve(self, outcome: Any) -> None:
        from hub.as2.state import discard_kept_message

        mdn = outcome.mdn
        if outcome.check.ok:
            state = "delivered"
        elif mdn is not None and not mdn.disposition.ok:
            state = "rejected"
        else:
            state = "mdn-invalid"
        fields = self._mdn_fields(mdn, None, outcome.check.mic_matched, outcome.check.problems,
                                  outcome.received_at)
        row = self.store.record_mdn(outcome.pending.message_id, state, fields, now=outcome.received_at)
        discard_kept_message(outcome.pending)
        if row is None:
            log.warning("AS2 %s: MDN for a message no longer waiting for one (%s)", outcome.pending.message_id,
                        fields.get("disposition"))
        elif state == "delivered":
            log.info("AS2 %s to %s: async MDN %s, MIC matched", row.message_id, row.partner_id, row.disposition)
        else:
            log.error("AS2 %s to %s: async MDN %s: %s", row.message_id, row.partner_id, row.disposition,
                      row.problems)

    def forget(self, message_id: str) -> None:
        self.store.forget_as2_message(message_id)

    def pending(self) -> list[Any]:
        return [_pending_from_row(row) for row in self.store.pending_as2_messages()]

    # beyond the protocol ---------------------------------------------------------------------

    def record_result(self, result: Any, partnership: Any) -> None:
        """Record a send and its synchronous MDN (an async one is recorded by :meth:`expect`/:meth:`resolve`)."""
        if result.mdn_mode == "async":
            return
        mics = [[result.mic.value, result.mic.algorithm]] if result.mic is not None else []
        fields = {
            "message_id": result.message_id, "partner_id": result.partner_id,
            "partner_as2_id": partnership.as2_id, "our_as2_id": partnership.our_as2_id,
            "transaction_id": getattr(self._context, "transaction_id", None), "filename": result.filename,
            "mdn_mode": result.mdn_mode, "state": result.status, "mics": mics,
            "require_signed": partnership.mdn_signed, "signed": result.signed, "encrypted": result.encrypted,
            "compressed": result.compressed, "size": result.size, "sent_at": result.sent_at,
        }
        mdn = None
        if result.mdn_mode != "none":
            mdn = self._mdn_fields(result.mdn, result.mdn_raw, result.mic_matched, result.problems, None)
        self.store.record_as2_message(fields, mdn)

    def alert(self, message_id: str, reason: str, *, now: _dt.datetime | None = None) -> Any:
        """Report an overdue MDN (no resend left): the row turns ``overdue``, its kept copy is removed."""
        from hub.as2.state import discard_kept_message

        pending = self.get(message_id)
        row = self.store.mark_as2_overdue(message_id, reason, now=now)
        if row is not None and pending is not None:
            discard_kept_message(pending)
        return row

    def _mdn_fields(self, mdn: Any, raw: bytes | None, mic_matched: bool | None, problems: Any,
                    received_at: _dt.datetime | None) -> dict[str, Any]:
        raw = mdn.raw if mdn is not None else raw
        sha = self.archive.put_bytes(raw) if raw else None
        return {
            "mdn_message_id": (mdn.message_id or None) if mdn is not None else None,
            "mdn_received_at": received_at or _dt.datetime.now(_dt.UTC),
            "disposition": mdn.disposition.status[:255] if mdn is not None else None,
            "mic_matched": mic_matched,
            "mdn_signed": mdn.signed if mdn is not None else None,
            "mdn_sha256": sha,
            "mdn_size": len(raw) if raw else None,
            "problems": "; ".join(problems) or None,
        }


def _pending_from_row(row: Any) -> Any:
    from hub.as2 import Mic, PendingMdn

    return PendingMdn(
        f"<{row.message_id}>", row.partner_id, row.partner_as2_id, row.our_as2_id,
        tuple(Mic(value, alg) for value, alg in row.mics or ()), row.require_signed, row.signed, row.sent_at,
        row.due_at or row.sent_at, row.filename, attempts=row.sends, encrypted=row.encrypted,
        compressed=row.compressed, size=row.size,
        headers=tuple((str(k), str(v)) for k, v in row.resend_headers or ()), body=row.resend_path)


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
                self._sender = factory(partnership, identity, registry=self.registry, workdir=workdir,
                                       resend_dir=as2_resend_folder(cfg))
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
        sender = self.sender()
        if isinstance(data, bytes | bytearray | memoryview):
            payload: Any = bytes(data)
        elif callable(getattr(data, "read", None)):
            payload = data
        else:
            payload = b"".join(iter_chunks(data))
        result = self._at_the_edge(lambda: sender.send(payload, name), "sent", "send")
        self._record(sender, result)
        if result.status in ("delivered", "sent", "pending"):
            return name
        disposition = result.disposition
        text = str(disposition) if disposition is not None else result.status
        problems = "; ".join(result.problems)
        raise TerminalError(f"{self.partner_id}: AS2 {result.message_id} {result.status}: {text}"
                            + (f" ({problems})" if problems else ""))

    def resend(self, message_id: str) -> Any:
        """POST a message that waits for its async MDN again, exactly as first posted (same Message-ID);
        :class:`TransientError` / :class:`TerminalError` as for :meth:`send`."""
        sender = self.sender()
        pending = self.registry.get(message_id) if self.registry is not None else None
        if pending is None:
            raise TerminalError(f"{self.partner_id}: AS2 {message_id} does not wait for an MDN")
        result = self._at_the_edge(lambda: sender.resend(pending), "resent", "resend")
        self._record(sender, result)
        return result

    def _at_the_edge(self, call: Callable[[], Any], done: str, doing: str) -> Any:
        """``call()``, its foreign exceptions turned into the runtime's two kinds."""
        from hub.as2 import As2Error

        try:
            return call()
        except (TransientError, TerminalError):
            raise
        except As2Error as exc:
            raise TerminalError(f"{self.partner_id}: AS2 message not {done}: {exc}") from exc
        except OSError as exc:
            raise TransientError(f"{self.partner_id}: AS2 {doing} failed: {exc}") from exc

    def _record(self, sender: Any, result: Any) -> None:
        with self._lock:
            self.results.append(result)
            del self.results[:-100]
        record = getattr(self.registry, "record_result", None)
        if record is not None:
            record(result, sender.partnership)

    def close(self) -> None:
        return None
