"""Sending AS2 messages: build, POST with retries, verify the synchronous MDN or register the async one.

:meth:`As2Sender.send` returns a :class:`SendResult` -- the record the
pipeline stores (Message-ID, MIC, the MDN and whether it proves receipt).
It raises only at the transport boundary, in the two kinds the runtime
knows: :class:`~hub.errors.TransientError` when the partner could not be
reached (connection errors, 5xx, 429) after every attempt -- retry later
with the *same* Message-ID, so that the partner can recognise a resend --
and :class:`~hub.errors.TerminalError` for a 4xx or a configuration
problem.  A negative or unverifiable MDN is not an exception: it is a
result with ``ok=False`` that must be recorded (it is the partner's signed
statement) and acted on.

Asynchronous MDNs: the pending record is written to the
:class:`~hub.as2.state.AsyncMdnRegistry` *before* the POST (the MDN can
arrive before our POST returns); the receiver matches it by
Original-Message-ID; :func:`~hub.as2.state.overdue_mdns` lists those past
the partnership's ``mdn_overdue_seconds``.
"""

from __future__ import annotations

import datetime as _dt
import logging
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
from hub.as2.mdn import Disposition, Mic, ReceivedMdn, parse_mdn
from hub.as2.message import BuiltMessage, build_message
from hub.as2.partnership import Identity, Partnership
from hub.as2.state import AsyncMdnRegistry, MdnCheck, MdnOutcome, PendingMdn, check_mdn
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

    @property
    def ok(self) -> bool:
        """Done as far as this send goes: delivered with proof, sent without MDN, or waiting for an async MDN."""
        return self.status in ("delivered", "sent", "pending")


class As2Sender:
    """Sends messages to one partnership (see the module docstring)."""

    def __init__(self, partnership: Partnership, identity: Identity, *, registry: AsyncMdnRegistry | None = None,
                 client: httpx.Client | None = None, workdir: str | Path | None = None,
                 sleep: Callable[[float], None] = time.sleep, chunked: bool = False) -> None:
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

    # ---------------------------------------------------------------------------------------- public

    def send(self, payload: Path | bytes | BinaryIO, filename: str | None, *, content_type: str | None = None,
             message_id: str | None = None, subject: str | None = None) -> SendResult:
        """Build and POST one message; see :class:`SendResult` and the module docstring for the outcomes."""
        p = self.partnership
        if self.workdir:
            self.workdir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="as2-out-", dir=self.workdir))
        try:
            try:
                built = build_message(payload, partnership=p, identity=self.identity, workdir=work,
                                      filename=filename, content_type=content_type, message_id=message_id,
                                      subject=subject)
            except As2Error:
                raise
            except (OSError, ValueError) as exc:
                raise TerminalError(f"{p.partner_id}: cannot build the AS2 message: {exc}") from exc
            sent_at = _dt.datetime.now(_dt.UTC)
            if p.mdn == "async":
                assert self.registry is not None
                self.registry.expect(PendingMdn(
                    built.message_id, p.partner_id, p.as2_id, p.our_as2_id, built.accepted_mics, p.mdn_signed,
                    built.signed, sent_at, sent_at + _dt.timedelta(seconds=p.mdn_overdue_seconds), filename))
            try:
                response, attempts = self._post(built)
            except Exception:
                if p.mdn == "async" and self.registry is not None:
                    self.registry.forget(built.message_id)
                raise
            return self._result(built, response, attempts, sent_at)
        finally:
            shutil.rmtree(work, ignore_errors=True)

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
                      encrypted=built.encrypted, compressed=built.compressed, mic=built.mic, sent_at=sent_at)
        if p.mdn == "none":
            return SendResult(status="sent", **common)  # type: ignore[arg-type]
        content_type = response.headers.get("Content-Type", "").lower()
        if p.mdn == "async" and not content_type.startswith(("multipart/report", "multipart/signed")):
            return SendResult(status="pending", **common)  # type: ignore[arg-type]
        # a synchronous MDN -- also when we asked for an async one and the partner answered at once anyway
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
        if check.ok:
            status = "delivered"
        elif not mdn.disposition.ok:
            status = "rejected"
        else:
            status = "mdn-invalid"
        return SendResult(status=status, mdn=mdn, disposition=mdn.disposition, problems=check.problems,
                          **common)  # type: ignore[arg-type]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, min(float(value), 3600.0))
    except ValueError:
        return None
