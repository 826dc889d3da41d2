"""Sending AS2 messages: build, POST with retries, verify the synchronous MDN or register the async one.

:meth:`As2Sender.send` returns a :class:`SendResult` -- the record the
pipeline stores (Message-ID, MIC, the MDN and whether it proves receipt).
It raises only at the transport boundary, in the two kinds the runtime
knows: :class:`~hub.errors.TransientError` when the partner could not be
reached (connection errors, 5xx, 429) after every attempt -- retry later
with the *same* Message-ID, so that a partner who did get the first POST
(only its answer was lost) recognises the resend and does not process it
twice -- and :class:`~hub.errors.TerminalError` for a 4xx or a configuration
problem.  A registry that offers ``post_failed`` keeps the message whose
POST failed (a copy of its bytes in ``resend_dir``); the retry passes it
back as ``send(..., again=...)``, which posts those bytes again.  A
negative or unverifiable MDN is not an exception: it is a result with
``ok=False`` that must be recorded (it is the partner's signed statement)
and acted on.

Asynchronous MDNs: the pending record is written to the
:class:`~hub.as2.state.AsyncMdnRegistry` *before* the POST (the MDN can
arrive before our POST returns); the receiver matches it by
Original-Message-ID; :func:`~hub.as2.state.overdue_mdns` lists those past
the partnership's ``mdn_overdue_seconds``.  With ``mdn_overdue_action:
resend`` the message is kept exactly as posted (in ``resend_dir``) and
:meth:`As2Sender.resend` posts it again: the same bytes under the same
Message-ID, so that the partner recognises a resend of a message it may
already have (RFC 4130 section 9.3: resends of not-yet-acknowledged
messages are discarded by duplicate detection on the Message-ID) and its
MDN carries the MIC we registered.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from hub.as2.errors import As2Error
from hub.as2.mdn import Disposition, Mic, ReceivedMdn, parse_mdn, raw_http_message
from hub.as2.message import BuiltMessage, build_message
from hub.as2.partnership import Identity, Partnership
from hub.as2.state import AsyncMdnRegistry, MdnCheck, MdnOutcome, PendingMdn, check_mdn, discard_kept_message
from hub.errors import TerminalError, TransientError

__all__ = ["As2Sender", "SendResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    """One sent message and its receipt (or the promise of one)."""

    message_id: str
    partner_id: str
    filename: str | None
    status: str
    """``delivered`` (positive MDN that proves receipt), ``rejected`` (the partner's MDN reports an error),
    ``mdn-invalid`` (an MDN that does not verify or does not match), ``pending`` (async MDN awaited),
    ``sent`` (no MDN asked for)."""
    http_status: int
    attempts: int
    size: int
    signed: bool
    encrypted: bool
    compressed: bool
    mic: Mic | None
    sent_at: _dt.datetime
    mdn: ReceivedMdn | None = field(default=None, repr=False)
    disposition: Disposition | None = None
    problems: tuple[str, ...] = ()
    mdn_raw: bytes | None = field(default=None, repr=False)
    """The MDN in the HTTP response exactly as received (headers, then body), also when it could not be read
    or verified: the partner's statement, kept whatever it says."""
    mdn_mode: str = "sync"
    """What was asked for: ``sync``, ``async`` or ``none``."""
    mic_matched: bool | None = None
    """Whether the MDN's Received-Content-MIC is one we computed (``None``: no MDN read)."""

    @property
    def ok(self) -> bool:
        """Done as far as this send goes: delivered with proof, sent without MDN, or waiting for an async MDN."""
        return self.status in ("delivered", "sent", "pending")


class As2Sender:
    """Sends messages to one partnership (see the module docstring)."""

    def __init__(self, partnership: Partnership, identity: Identity, *, registry: AsyncMdnRegistry | None = None,
                 client: httpx.Client | None = None, workdir: str | Path | None = None,
                 sleep: Callable[[float], None] = time.sleep, chunked: bool = False,
                 resend_dir: str | Path | None = None) -> None:
        if not partnership.url:
            raise TerminalError(f"{partnership.partner_id}: no AS2 url configured")
        if partnership.mdn == "async" and registry is None:
            raise TerminalError(f"{partnership.partner_id}: mdn: async needs an AsyncMdnRegistry")
        self.partnership = partnership
        self.identity = partnership.identity or identity
        self.registry = registry
        self._client = client
        self.workdir = Path(workdir) if workdir else None
        self.sleep = sleep
        self.chunked = chunked
        """Send with ``Transfer-Encoding: chunked`` instead of Content-Length (some servers need one or the other)."""
        self.resend_dir = Path(resend_dir) if resend_dir else (self.workdir / "resend" if self.workdir else None)
        """Where messages awaiting an async MDN are kept for a resend (``mdn_overdue_action: resend``)."""

    # ---------------------------------------------------------------------------------------- public

    def send(self, payload: Path | bytes | BinaryIO, filename: str | None, *, content_type: str | None = None,
             message_id: str | None = None, subject: str | None = None,
             again: PendingMdn | None = None) -> SendResult:
        """Build and POST one message; see :class:`SendResult` and the module docstring for the outcomes.

        ``again``: a message of ours whose POST failed (as the registry kept it), posted again under its
        Message-ID -- the very bytes kept when the POST failed, else rebuilt from ``payload``.
        """
        p = self.partnership
        if self.workdir:
            self.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="as2-out-", dir=self.workdir))
        try:
            kept: Path | None = None
            if again is not None and again.body and os.path.isfile(again.body):
                built = self._built_from(again)
                kept = built.body
            else:
                try:
                    built = build_message(payload, partnership=p, identity=self.identity, workdir=work,
                                          filename=filename, content_type=content_type,
                                          message_id=again.message_id if again is not None else message_id,
                                          subject=subject)
                except As2Error:
                    raise
                except (OSError, ValueError) as exc:
                    raise TerminalError(f"{p.partner_id}: cannot build the AS2 message: {exc}") from exc
            sent_at = _dt.datetime.now(_dt.UTC)
            pending: PendingMdn | None = None
            if p.mdn == "async":
                assert self.registry is not None
                if kept is None and p.mdn_overdue_action == "resend":
                    kept = self._keep(built)
                    if kept is not None:
                        built = dataclasses.replace(built, body=kept)
                pending = self._pending(built, sent_at, kept)
                try:
                    self.registry.expect(pending)
                except BaseException:
                    if again is None:
                        discard_kept_message(pending)
                    raise
            try:
                response, attempts = self._post(built)
            except Exception as exc:
                self._not_posted(built, sent_at, pending, kept, exc, forget=pending is not None or again is not None)
                raise
            result = self._result(built, response, attempts, sent_at)
            if kept is not None and p.mdn != "async":
                kept.unlink(missing_ok=True)  # answered: the copy kept for a retry is no longer needed
            return result
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def resend(self, pending: PendingMdn) -> SendResult:
        """POST a message that waits for its async MDN again, exactly as it was first posted (same Message-ID,
        same bytes, so the same MIC); needs the copy kept at the first send (``mdn_overdue_action: resend``).

        Raises like :meth:`send`: :class:`TransientError` when the partner cannot be reached,
        :class:`TerminalError` when the kept copy is gone or the partner refuses it.
        """
        p = self.partnership
        if not pending.body or not os.path.isfile(pending.body):
            raise TerminalError(f"{p.partner_id}: AS2 {pending.message_id}: no copy of the message kept for a resend")
        built = self._built_from(pending)
        sent_at = _dt.datetime.now(_dt.UTC)
        response, attempts = self._post(built)
        return self._result(built, response, attempts, sent_at)

    @staticmethod
    def _built_from(pending: PendingMdn) -> BuiltMessage:
        """The message kept exactly as it was posted (``pending.body``, ``pending.headers``)."""
        assert pending.body is not None
        return BuiltMessage(pending.message_id, tuple(pending.headers), Path(pending.body),
                            os.path.getsize(pending.body), pending.mics[0] if pending.mics else None,
                            tuple(pending.mics), pending.signed_message, pending.encrypted, pending.compressed,
                            pending.filename)

    def _pending(self, built: BuiltMessage, sent_at: _dt.datetime, kept: Path | None) -> PendingMdn:
        p = self.partnership
        return PendingMdn(
            built.message_id, p.partner_id, p.as2_id, p.our_as2_id, built.accepted_mics, p.mdn_signed,
            built.signed, sent_at, sent_at + _dt.timedelta(seconds=p.mdn_overdue_seconds), built.filename,
            encrypted=built.encrypted, compressed=built.compressed, size=built.size, headers=built.headers,
            body=str(kept) if kept is not None else None)

    def _not_posted(self, built: BuiltMessage, sent_at: _dt.datetime, pending: PendingMdn | None,
                    kept: Path | None, exc: Exception, *, forget: bool) -> None:
        """The POST failed: a transient failure is kept for the retry when the registry takes it (``post_failed``,
        with a copy of the bytes), else the message is forgotten (a later send is a new message)."""
        keep_for_retry = getattr(self.registry, "post_failed", None)
        if keep_for_retry is not None and isinstance(exc, TransientError | OSError):
            if kept is None:
                kept = self._keep(built)
            record = self._pending(built, sent_at, kept)
            try:
                if keep_for_retry(record, str(exc), mdn_mode=self.partnership.mdn):
                    return
            except Exception:
                log.exception("AS2 %s: the failed POST could not be recorded for a retry", built.message_id)
        if forget and self.registry is not None:
            self.registry.forget(built.message_id)
        if kept is not None:
            kept.unlink(missing_ok=True)

    def _keep(self, built: BuiltMessage) -> Path | None:
        """Move the built body out of the work folder into ``resend_dir`` (named after the Message-ID)."""
        if self.resend_dir is None:
            return None
        self.resend_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(built.message_id.strip("<>").encode("utf-8")).hexdigest()[:32] + ".as2"
        target = self.resend_dir / name
        shutil.move(built.body, target)
        return target

    # ---------------------------------------------------------------------------------------- HTTP

    def _post(self, built: BuiltMessage) -> tuple[httpx.Response, int]:
        p = self.partnership
        headers = list(built.headers)
        if not self.chunked:
            headers.append(("Content-Length", str(built.size)))
        client = self._client or httpx.Client(timeout=p.timeout)
        try:
            last = ""
            for attempt in range(1, p.attempts + 1):
                retry_after: float | None = None
                try:
                    response = client.post(str(p.url), content=built.chunks(), headers=headers,
                                           timeout=p.timeout)
                    response.read()
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 400:
                        return response, attempt
                    if response.status_code < 500 and response.status_code != 429:
                        raise TerminalError(f"{p.partner_id}: AS2 POST refused with HTTP {response.status_code}: "
                                            f"{response.text[:300]}")
                    last = f"HTTP {response.status_code}"
                    retry_after = _retry_after(response)
                if attempt < p.attempts:
                    delay = retry_after if retry_after is not None else min(
                        p.backoff_cap, p.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
                    log.info("AS2 %s to %s: attempt %d failed (%s), retrying in %.1f s", built.message_id,
                             p.partner_id, attempt, last, delay)
                    self.sleep(delay)
            raise TransientError(f"{p.partner_id}: AS2 POST to {p.url} failed after {p.attempts} attempt(s): {last}")
        finally:
            if self._client is None:
                client.close()

    # ---------------------------------------------------------------------------------------- MDN

    def _result(self, built: BuiltMessage, response: httpx.Response, attempts: int,
                sent_at: _dt.datetime) -> SendResult:
        p = self.partnership
        common = dict(message_id=built.message_id, partner_id=p.partner_id, filename=built.filename,
                      http_status=response.status_code, attempts=attempts, size=built.size, signed=built.signed,
                      encrypted=built.encrypted, compressed=built.compressed, mic=built.mic, sent_at=sent_at,
                      mdn_mode=p.mdn)
        if p.mdn == "none":
            return SendResult(status="sent", **common)  # type: ignore[arg-type]
        content_type = response.headers.get("Content-Type", "").lower()
        if p.mdn == "async" and not content_type.startswith(("multipart/report", "multipart/signed")):
            return SendResult(status="pending", **common)  # type: ignore[arg-type]
        # a synchronous MDN -- also when we asked for an async one and the partner answered at once anyway
        common["mdn_raw"] = raw_http_message(response.headers.multi_items(), response.content)
        try:
            mdn = parse_mdn(response.headers.multi_items(), response.content, partner_certs=p.certs)
        except As2Error as exc:
            if p.mdn == "async":
                return SendResult(status="pending", problems=(f"unreadable MDN in the response: {exc}",),
                                  **common)  # type: ignore[arg-type]
            return SendResult(status="mdn-invalid", problems=(f"MDN not accepted: {exc}",),
                              **common)  # type: ignore[arg-type]
        check: MdnCheck = check_mdn(mdn, message_id=built.message_id, mics=built.accepted_mics,
                                    require_signed=p.mdn_signed, signed_message=built.signed)
        if p.mdn == "async" and self.registry is not None:
            pending = self.registry.get(built.message_id)
            if pending is not None:
                self.registry.resolve(MdnOutcome(pending, mdn, check))
        return SendResult(status=check.status, mdn=mdn, disposition=mdn.disposition, problems=check.problems,
                          mic_matched=check.mic_matched, **common)  # type: ignore[arg-type]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        return None
