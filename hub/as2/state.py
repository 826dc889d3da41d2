"""The two pieces of state AS2 needs from the store, as small protocols with in-memory implementations.

* :class:`SeenMessageIds` -- "nothing processed twice": the receiver claims a
  (partner, Message-ID) before handing a payload over and releases the claim
  when the hand-off fails, so a partner's resend of a failed message is
  processed while a resend of a delivered one gets ``duplicate-document``.
* :class:`AsyncMdnRegistry` -- what we sent and still wait an MDN for, so that
  an asynchronous MDN arriving on our endpoint is matched by its
  Original-Message-ID and checked against the MIC we computed, and so that
  overdue receipts can be found (:func:`overdue_mdns`).

The hub implements them durably (the Message-ID ledger in
``<as2.folder>/seen_message_ids.sqlite``, the async-MDN registry on the
store's ``as2_messages`` table: :class:`hub.transports.as2.StoreMdnRegistry`,
which also records every sync MDN); the in-memory versions here are for
tests and for a sender without a database.  As in httpx, the protocol is tiny
and the fake ships with it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hub.as2.mdn import Mic, ReceivedMdn

__all__ = [
    "AsyncMdnRegistry",
    "MdnCheck",
    "MdnOutcome",
    "MemoryAsyncMdnRegistry",
    "MemorySeenMessageIds",
    "PendingMdn",
    "SeenMessageIds",
    "check_mdn",
    "discard_kept_message",
    "overdue_mdns",
]


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


# ============================================================================================ duplicates


@runtime_checkable
class SeenMessageIds(Protocol):
    def claim(self, partner_id: str, message_id: str) -> bool:
        """Record the Message-ID; True when it is new, False when it was already there (a duplicate)."""
        ...

    def release(self, partner_id: str, message_id: str) -> None:
        """Forget a claim whose payload hand-off failed (so the partner's resend is processed)."""
        ...


class MemorySeenMessageIds:
    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def claim(self, partner_id: str, message_id: str) -> bool:
        key = (partner_id, _bare(message_id))
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            return True

    def release(self, partner_id: str, message_id: str) -> None:
        with self._lock:
            self._seen.discard((partner_id, _bare(message_id)))

    def __contains__(self, key: tuple[str, str]) -> bool:
        return (key[0], _bare(key[1])) in self._seen


# ============================================================================================ MDN checks


@dataclass(frozen=True)
class MdnCheck:
    """The verdict on a returned MDN: ``ok`` only when the disposition is positive *and* it proves receipt
    of what we sent (right Message-ID, our MIC, signed when we asked for a signature)."""

    ok: bool
    mic_matched: bool
    problems: tuple[str, ...]
    refused: bool = False
    """The partner's disposition itself reports an error (the message was not processed)."""

    @property
    def status(self) -> str:
        """What the MDN says of the message: ``delivered`` (it proves receipt), ``rejected`` (the partner
        refused the message) or ``mdn-invalid`` (a positive MDN that does not prove receipt of what we sent)."""
        if self.ok:
            return "delivered"
        return "rejected" if self.refused else "mdn-invalid"


def check_mdn(mdn: ReceivedMdn, *, message_id: str, mics: tuple[Mic, ...], require_signed: bool,
              signed_message: bool = True) -> MdnCheck:
    """Compare an MDN with what we sent.

    A missing MIC is a problem for a signed message (the receipt would not
    prove *what* arrived); for an unsigned one some receivers (pyas2lib)
    leave it out, which is tolerated but reported as ``mic_matched=False``.
    So is a ``processed/warning: duplicate-document`` MDN without a MIC (what
    django-pyas2 answers to a retry or resend of a message it already has):
    we only ever post the same bytes again under a Message-ID, so the partner's
    statement that it holds that Message-ID is the receipt whose answer was
    lost -- when it is signed, if a signed MDN was asked for.
    """
    problems = []
    if _bare(mdn.original_message_id) != _bare(message_id):
        problems.append(f"MDN is for {mdn.original_message_id!r}, not for {_bare(message_id)!r}")
    if require_signed and not mdn.signed:
        problems.append("an unsigned MDN came back where a signed one was requested")
    mic_matched = False
    if mdn.mic is not None:
        mic_matched = any(m.value == mdn.mic.value and m.algorithm == mdn.mic.algorithm for m in mics)
        if not mic_matched and mdn.disposition.ok:
            problems.append(f"MIC mismatch: partner received {mdn.mic} but we sent "
                            f"{', '.join(str(m) for m in mics)}")
    elif mdn.disposition.ok and signed_message and not mdn.disposition.duplicate:
        problems.append("the MDN carries no Received-Content-MIC")
    if not mdn.disposition.ok:
        problems.append(f"partner reports {mdn.disposition.status}")
    return MdnCheck(not problems, mic_matched, tuple(problems), refused=not mdn.disposition.ok)


# ============================================================================================ async MDNs


@dataclass(frozen=True)
class PendingMdn:
    """A message sent with ``mdn: async``, waiting for its receipt."""

    message_id: str
    partner_id: str
    partner_as2_id: str
    our_as2_id: str
    mics: tuple[Mic, ...]
    require_signed: bool
    signed_message: bool
    sent_at: _dt.datetime
    due_at: _dt.datetime
    filename: str | None = None
    attempts: int = 1
    """How often the message was POSTed (1, plus one per resend)."""
    encrypted: bool = False
    compressed: bool = False
    size: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    """The HTTP headers the message was posted with (what a resend posts again)."""
    body: str | None = None
    """The message body kept for a resend (``mdn_overdue_action: resend``), exactly as posted; else ``None``."""


def discard_kept_message(pending: PendingMdn) -> None:
    """Remove the copy of a message kept for a resend (its MDN came, or no resend is left)."""
    if pending.body:
        with contextlib.suppress(OSError):
            os.unlink(pending.body)


@dataclass(frozen=True)
class MdnOutcome:
    """An async MDN matched to its message (what :meth:`AsyncMdnRegistry.resolve` records)."""

    pending: PendingMdn
    mdn: ReceivedMdn | None
    check: MdnCheck
    received_at: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.UTC))


@runtime_checkable
class AsyncMdnRegistry(Protocol):
    def expect(self, pending: PendingMdn) -> None:
        """Record a message that waits for an async MDN (before it is posted: the MDN may beat the reply)."""
        ...

    def get(self, message_id: str) -> PendingMdn | None:
        """The pending record for an original Message-ID (with or without angle brackets)."""
        ...

    def resolve(self, outcome: MdnOutcome) -> None:
        """Record the MDN for a pending message; it is no longer pending."""
        ...

    def forget(self, message_id: str) -> None:
        """Drop a pending record (the message could not be posted at all)."""
        ...

    def pending(self) -> list[PendingMdn]:
        """Everything still waiting, oldest first."""
        ...


class MemoryAsyncMdnRegistry:
    def __init__(self) -> None:
        self._pending: dict[str, PendingMdn] = {}
        self.outcomes: dict[str, MdnOutcome] = {}
        self._cond = threading.Condition()

    def expect(self, pending: PendingMdn) -> None:
        with self._cond:
            self._pending[_bare(pending.message_id)] = pending
            self.outcomes.pop(_bare(pending.message_id), None)

    def get(self, message_id: str) -> PendingMdn | None:
        with self._cond:
            return self._pending.get(_bare(message_id))

    def resolve(self, outcome: MdnOutcome) -> None:
        key = _bare(outcome.pending.message_id)
        with self._cond:
            self._pending.pop(key, None)
            self.outcomes[key] = outcome
            self._cond.notify_all()
        discard_kept_message(outcome.pending)

    def forget(self, message_id: str) -> None:
        with self._cond:
            self._pending.pop(_bare(message_id), None)

    def pending(self) -> list[PendingMdn]:
        with self._cond:
            return sorted(self._pending.values(), key=lambda p: p.sent_at)

    def wait(self, message_id: str, timeout: float) -> MdnOutcome | None:
        """Block until the MDN for ``message_id`` is resolved (tests)."""
        key = _bare(message_id)
        with self._cond:
            self._cond.wait_for(lambda: key in self.outcomes, timeout)
            return self.outcomes.get(key)


def overdue_mdns(registry: AsyncMdnRegistry, *, now: _dt.datetime | None = None,
                 limit: _dt.timedelta | Callable[[PendingMdn], _dt.timedelta] | None = None) -> list[PendingMdn]:
    """Pending MDNs past their limit: ``limit`` (one for all, or per pending record -- the partner profile's),
    else each record's own ``due_at``.  The runtime resends or alerts on them, as the profile says."""
    now = now or _dt.datetime.now(_dt.UTC)
    out = []
    for p in registry.pending():
        if limit is None:
            due = p.due_at
        else:
            due = p.sent_at + (limit(p) if callable(limit) else limit)
        if due <= now:
            out.append(p)
    return out
