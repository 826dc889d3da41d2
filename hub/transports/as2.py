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
until its MDN comes or the alert is given; so does one whose POST failed
(``post-failed``), until the retry of its transaction posts it again under
the same Message-ID.  Every other MDN the endpoint gets (a second one, one
refused while being read) is archived and logged, never dropped.
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
from typing import Any, NoReturn

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

    Every other MDN the endpoint gets is kept too (:meth:`record_other_mdn`):
    a second one for a message already answered, one refused while being read,
    one for no message of ours -- archived, and an event on the message (or on
    the endpoint's own log), the first verdict untouched.

    :meth:`sending` tells which transaction the messages sent in a block (on
    this thread) carry, so that an async MDN that does not prove receipt fails
    that transaction, and so that a POST that failed is posted again by the
    transaction's retry under the same Message-ID (:meth:`post_failed`,
    :meth:`failed_post`).
    """

    def __init__(self, store: Any, archive: Any) -> None:
        self.store = store
        self.archive = archive
        self._context = threading.local()

    def __repr__(self) -> str:
        return f"StoreMdnRegistry({self.store!r})"

    @contextlib.contextmanager
    def sending(self, transaction_id: int | None) -> Iterator[list[str]]:
        """Messages sent in this block, on this thread, are recorded for ``transaction_id``; yields the list of
        their Message-IDs, filled as they are posted."""
        previous = (getattr(self._context, "transaction_id", None), getattr(self._context, "sent", None))
        self._context.transaction_id = transaction_id
        self._context.sent = sent = []
        try:
            yield sent
        finally:
            self._context.transaction_id, self._context.sent = previous

    def _transaction_id(self) -> int | None:
        return getattr(self._context, "transaction_id", None)

    def _posted(self, message_id: str) -> None:
        sent = getattr(self._context, "sent", None)
        if sent is not None and _bare(message_id) not in sent:
            sent.append(_bare(message_id))

    def _message_fields(self, pending: Any, state: str, mdn_mode: str) -> dict[str, Any]:
        return {
            "message_id": pending.message_id, "partner_id": pending.partner_id,
            "partner_as2_id": pending.partner_as2_id, "our_as2_id": pending.our_as2_id,
            "transaction_id": self._transaction_id(), "filename": pending.filename,
            "mdn_mode": mdn_mode, "state": state, "mics": [[m.value, m.algorithm] for m in pending.mics],
            "require_signed": pending.require_signed, "signed": pending.signed_message,
            "encrypted": pending.encrypted, "compressed": pending.compressed, "size": pending.size,
            "sent_at": pending.sent_at, "due_at": pending.due_at, "resend_path": pending.body,
            "resend_headers": [list(h) for h in pending.headers] if pending.body else None, "post_error": None,
        }

    # AsyncMdnRegistry ------------------------------------------------------------------------

    def expect(self, pending: Any) -> None:
        self.store.record_as2_message(self._message_fields(pending, "pending", "async"), now=pending.sent_at)
        self._posted(pending.message_id)

    def get(self, message_id: str) -> Any:
        row = self.store.as2_message(message_id)
        if row is None or row.state not in ("pending", "overdue", "post-failed"):
            return None
        return _pending_from_row(row)

    def resolve(self, outcome: Any) -> None:
        from hub.as2.state import discard_kept_message

        mdn = outcome.mdn
        state = outcome.check.status
        fields = self._mdn_fields(mdn, None, outcome.check.mic_matched, outcome.check.problems,
                                  outcome.received_at)
        row = self.store.record_mdn(outcome.pending.message_id, state, fields, now=outcome.received_at)
        discard_kept_message(outcome.pending)
        if row is None:  # answered meanwhile (another process took the first MDN): this one is a second MDN
            log.warning("AS2 %s: MDN for a message no longer waiting for one (%s)", outcome.pending.message_id,
                        fields.get("disposition"))
            if mdn is not None:
                self.record_other_mdn(outcome.pending.partner_id, mdn.raw, mdn=mdn, received_at=outcome.received_at)
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

    def post_failed(self, pending: Any, error: str, *, mdn_mode: str) -> bool:
        """Keep a message whose POST failed (transient) for the retry of its transaction: ``post-failed``, with
        the copy of its bytes (``pending.body``) the retry posts again.  ``False`` outside :meth:`sending` with
        a transaction (nothing would retry it: the sender forgets it, as before)."""
        if self._transaction_id() is None:
            return False
        fields = self._message_fields(pending, "post-failed", mdn_mode)
        self.store.record_as2_post_failure(fields, error[:2000], now=_dt.datetime.now(_dt.UTC))
        log.warning("AS2 %s to %s: POST failed, the retry posts the same message again: %s",
                    _bare(pending.message_id), pending.partner_id, error)
        return True

    def failed_post(self) -> Any:
        """The message of the transaction being sent (:meth:`sending`) whose POST failed and that its retry
        still owes -- ``post-failed``, or answered by an MDN since -- as its ``as2_messages`` row, or ``None``."""
        transaction_id = self._transaction_id()
        return self.store.as2_failed_post(transaction_id) if transaction_id is not None else None

    def settle_failed_post(self, message_id: str) -> Any:
        """The retry takes the verdict of the MDN that came after the POST failed: nothing is posted again."""
        self._posted(message_id)
        return self.store.settle_as2_post_failure(message_id)

    def record_result(self, result: Any, partnership: Any) -> None:
        """Record a send and its synchronous MDN (an async one is recorded by :meth:`expect`/:meth:`resolve`)."""
        if result.mdn_mode == "async":
            return
        mics = [[result.mic.value, result.mic.algorithm]] if result.mic is not None else []
        fields = {
            "message_id": result.message_id, "partner_id": result.partner_id,
            "partner_as2_id": partnership.as2_id, "our_as2_id": partnership.our_as2_id,
            "transaction_id": self._transaction_id(), "filename": result.filename,
            "mdn_mode": result.mdn_mode, "state": result.status, "mics": mics,
            "require_signed": partnership.mdn_signed, "signed": result.signed, "encrypted": result.encrypted,
            "compressed": result.compressed, "size": result.size, "sent_at": result.sent_at,
            "resend_path": None, "resend_headers": None, "post_error": None,
        }
        mdn = None
        if result.mdn_mode != "none":
            mdn = self._mdn_fields(result.mdn, result.mdn_raw, result.mic_matched, result.problems, None)
        self.store.record_as2_message(fields, mdn)
        self._posted(result.message_id)

    def record_other_mdn(self, partner_id: str, raw: bytes, *, mdn: Any = None, error: str | None = None,
                         size: int | None = None, received_at: _dt.datetime | None = None) -> str:
        """Keep an MDN from ``partner_id`` that is not the verdict on a message waiting for one; returns the event
        written: ``mdn_again`` (read and verified, for a message already answered: checked against what we
        sent, the first verdict stands), ``mdn_unmatched`` (for no message of ours) or ``mdn_refused`` (``mdn``
        is ``None``: it could not be read or verified, ``error`` says why; the message it names, unverified, gets
        the event).  ``raw`` (HTTP headers, then body, as received; ``size``: the whole body's length when
        ``raw`` holds only its start) goes to the archive first."""
        from hub.as2.state import check_mdn

        sha = self.archive.put_bytes(raw)
        detail: dict[str, Any] = {"mdn_sha256": sha, "mdn_size": len(raw)}
        if size is not None and size > len(raw):
            detail["body_size"] = size  # only the start was read and kept
        if mdn is None:
            claimed = _claimed_original_id(raw)
            event = "mdn_refused"
            detail.update(error=(error or "")[:2000], original_message_id=claimed, verified=False)
        else:
            claimed = mdn.original_message_id
            detail.update(original_message_id=claimed, mdn_message_id=mdn.message_id or None,
                          disposition=mdn.disposition.status[:255], signed=mdn.signed)
            row = self.store.as2_message(claimed) if claimed else None
            event = "mdn_again" if row is not None and row.partner_id == partner_id else "mdn_unmatched"
            if event == "mdn_again":
                from hub.as2 import Mic

                check = check_mdn(mdn, message_id=row.message_id,
                                  mics=tuple(Mic(value, alg) for value, alg in row.mics or ()),
                                  require_signed=row.require_signed, signed_message=row.signed)
                detail.update(mic_matched=check.mic_matched, proves_receipt=check.ok,
                              problems="; ".join(check.problems) or None)
        row = self.store.record_other_mdn(partner_id, event, detail, message_id=claimed, now=received_at)
        if row is None and event == "mdn_again":
            event = "mdn_unmatched"  # gone meanwhile: kept on the endpoint's log
        log.warning("AS2 MDN from %s for %s (%s) is no message's verdict: %s, archived as %s", partner_id,
                    repr(claimed) if claimed else "no message it names", error or detail.get("disposition"), event,
                    sha)
        return event

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


_ORIGINAL_MESSAGE_ID = re.compile(rb"^Original-Message-ID:[ \t]*<?([^\s<>]{1,250})>?", re.IGNORECASE | re.MULTILINE)


def _claimed_original_id(raw: bytes) -> str | None:
    """The Original-Message-ID an MDN that could not be read claims (unverified: for the operator's eyes)."""
    found = _ORIGINAL_MESSAGE_ID.search(raw)
    return found.group(1).decode("ascii", "replace") if found else None


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
        """POST ``data``; the retry of a transaction whose POST failed posts that same message again (same
        Message-ID, the bytes kept at the failure) -- or, when the partner's MDN for it came meanwhile, takes
        that MDN's verdict and posts nothing."""
        sender = self.sender()
        failed = self._failed_post()
        if failed is not None and failed.state != "post-failed":
            return self._settle_failed_post(failed, name)
        again = None
        if failed is not None:
            again = _pending_from_row(failed)
            log.info("AS2 %s to %s: posting again after a failed POST (%s)", failed.message_id, self.partner_id,
                     failed.post_error)
        if isinstance(data, bytes | bytearray | memoryview):
            payload: Any = bytes(data)
        elif callable(getattr(data, "read", None)):
            payload = data
        else:
            payload = b"".join(iter_chunks(data))
        extra = {"again": again} if again is not None else {}
        result = self._at_the_edge(lambda: sender.send(payload, name, **extra), "sent", "send")
        self._record(sender, result)
        if result.status in ("delivered", "sent", "pending"):
            return name
        disposition = result.disposition
        self._refused(result.message_id, result.status, str(disposition) if disposition is not None else None,
                      "; ".join(result.problems))

    def _refused(self, message_id: str, status: str, disposition: str | None, problems: str | None) -> NoReturn:
        raise TerminalError(f"{self.partner_id}: AS2 {message_id.strip('<>')} {status}: {disposition or status}"
                            + (f" ({problems})" if problems else ""))

    def _failed_post(self) -> Any:
        """The message whose POST failed and that this send (the transaction's retry) owes, or ``None``."""
        find = getattr(self.registry, "failed_post", None)
        row = find() if find is not None else None
        return row if row is not None and row.partner_id == self.partner_id else None

    def _settle_failed_post(self, row: Any, name: str) -> str:
        """The partner's MDN came after our POST had failed: it had the message; its verdict is the send's."""
        self.registry.settle_failed_post(row.message_id)
        log.info("AS2 %s to %s: not posted again, its MDN came after the POST failed: %s", row.message_id,
                 self.partner_id, row.state)
        if row.state in ("rejected", "mdn-invalid"):
            self._refused(row.message_id, row.state, row.disposition, row.problems)
        return name

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
