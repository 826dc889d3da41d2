"""The state store: the pipeline's repository methods over SQLite or PostgreSQL.

Each method is one database transaction that commits before it returns: the
pipeline writes its state *before* the side effect it records (DESIGN.md), so
a method that returned has been made durable, and a method that raised has
changed nothing.  A state change and the event that logs it are written in the
same transaction, so the audit log and the state never disagree.

Concurrency.  Several workers (threads or processes) share one database.
Work is handed out by :meth:`Store.claim`, which sets a lease
(``claimed_by``/``claimed_until``) on the items it returns: on PostgreSQL the
candidates are selected ``FOR UPDATE SKIP LOCKED``, on SQLite the whole claim
runs in one ``BEGIN IMMEDIATE`` writer transaction; either way no two workers
get the same item.  A worker that crashes simply lets its lease expire and the
item becomes claimable again.  Control numbers (:meth:`Store.next_control_number`)
are issued with an ``UPDATE ... RETURNING`` on a counter row, which the
database serialises, so no number is ever handed out twice.

Rows are returned detached (``expire_on_commit=False``): read them freely, but
change them only through the methods here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Select, Text, and_, case, func, or_, select, text, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hub.errors import HubError, TransientError
from hub.store import migrate
from hub.store.engine import DEFAULT_URL, READ_ONLY, is_memory, make_engine
from hub.store.models import (
    PAUSED_STATES,
    AckDirection,
    AckKind,
    Acknowledgment,
    AckResult,
    As2Message,
    As2State,
    Base,
    ControlCounter,
    CounterKind,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    File,
    GroupRow,
    InterchangeRow,
    Standard,
    State,
    TransactionRow,
    utcnow,
)

T = TypeVar("T", bound=Base)

#: Entity names as used in events and in the ``entity`` argument of the methods below.
ENTITIES: dict[str, type[Base]] = {
    "file": File,
    "interchange": InterchangeRow,
    "group": GroupRow,
    "transaction": TransactionRow,
    "delivery": Delivery,
    "acknowledgment": Acknowledgment,
    "as2_message": As2Message,
}

#: The entities that walk the pipeline (have a state, retries and claims).
STATEFUL: dict[str, type[File] | type[TransactionRow]] = {"file": File, "transaction": TransactionRow}

#: Columns that set_state(updates=...) may write along with the state change.
_PROTECTED = frozenset(
    {"id", "state", "resume_state", "reason", "attempts", "next_attempt_at", "claimed_by", "claimed_until"}
    | {"updated_at", "created_at", "received_at"}
)

#: What add_transaction(s) accepts.
_TRANSACTION_FIELDS = frozenset(
    {"direction", "type", "partner_id", "file_id", "interchange_id", "group_id", "control_number", "state"}
    | {"reason", "canonical", "findings", "document_number"}
)

#: What record_as2_message accepts (the rest of an as2_messages row is the store's).
_AS2_FIELDS = frozenset(
    {"message_id", "partner_id", "partner_as2_id", "our_as2_id", "transaction_id", "filename", "mdn_mode", "state"}
    | {"mics", "require_signed", "signed", "encrypted", "compressed", "size", "sent_at", "due_at", "resend_path"}
    | {"resend_headers", "post_error"}
)

#: The MDN columns record_as2_message and record_mdn write.
_MDN_FIELDS = frozenset(
    {"mdn_message_id", "mdn_received_at", "disposition", "mic_matched", "mdn_signed", "mdn_sha256", "mdn_size"}
    | {"problems"}
)

#: An as2_messages row in these states still waits for its MDN (an overdue one is matched when it comes late; one
#: whose POST failed may have reached the partner all the same).
_AS2_WAITING = (As2State.PENDING.value, As2State.OVERDUE.value, As2State.POST_FAILED.value)

#: An as2_messages row in these states holds an MDN that does not prove receipt.
_AS2_NEGATIVE = (As2State.REJECTED.value, As2State.MDN_INVALID.value)

#: The event log of the AS2 endpoint itself (MDNs that name no message of ours): ``entity`` with ``entity_id`` 0.
AS2_ENDPOINT = "as2_endpoint"

#: Which received acknowledgment kinds settle which expected kinds (997 and 999 answer the same thing).
_ACK_FAMILY = {"997": "fa", "999": "fa", "TA1": "ta1", "CONTRL": "contrl"}

#: What a matched acknowledgment does to the transaction it acknowledges (when that one waits in "delivered").
_SETTLE = {
    AckResult.ACCEPTED.value: State.ACKNOWLEDGED,
    AckResult.ACCEPTED_WITH_ERRORS.value: State.ACKNOWLEDGED,
    AckResult.REJECTED.value: State.FAILED,
}


class StoreError(HubError):
    """A store operation that cannot be done as asked."""


class NotFound(StoreError, LookupError):
    """No row with that id."""


class LeaseLost(StoreError):
    """The worker no longer holds the claim on this item (its lease expired and another worker took it)."""


class AlreadyDelivered(StoreError):
    """An ``ok`` delivery with this adapter and idempotency key was already recorded."""


@dataclass
class AckMatch:
    """What :meth:`Store.match_ack` did: the received acknowledgment row and the expected rows it settled."""

    received: Acknowledgment
    matched: list[Acknowledgment] = field(default_factory=list)


def _value(item: Any) -> Any:
    return item.value if isinstance(item, Enum) else item


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware timestamp")
    return now.astimezone(UTC)


def _choice(enum: type[Enum], value: Any, what: str) -> str:
    try:
        return enum(_value(value)).value
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)  # type: ignore[attr-defined]
        raise ValueError(f"unknown {what} {value!r} (one of: {allowed})") from None


class Store:
    """The hub's state store over one database URL (see the module docstring for the guarantees).

    ``Store(url)`` only connects; :func:`open_store` also migrates to head.
    """

    def __init__(self, url: str | URL = DEFAULT_URL, **engine_options: Any) -> None:
        self.url = make_url(url)
        self.engine = make_engine(self.url, **engine_options)
        self.dialect = self.engine.dialect.name
        self._read_engine = self.engine.execution_options(**{READ_ONLY: True})
        # One shared connection (StaticPool) cannot hold two transactions: take turns.
        self._memory_lock = threading.RLock() if is_memory(self.url) else None

    def __repr__(self) -> str:
        return f"Store({self.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection (call before dropping the database, or at shutdown)."""
        self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run the packaged migrations up to ``revision`` on this store's database."""
        with self._turn():
            migrate.upgrade(self.engine, revision)

    def current_revision(self) -> str | None:
        with self._turn():
            return migrate.current_revision(self.engine)

    # -- sessions -------------------------------------------------------------------------------------------

    def _turn(self) -> AbstractContextManager[Any]:
        return self._memory_lock if self._memory_lock is not None else nullcontext()

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back when it raises.

        ``read_only=True`` skips SQLite's write lock (``BEGIN`` instead of
        ``BEGIN IMMEDIATE``); a read-only session must not write.  A database
        that is down, locked past the busy timeout or that chose this
        transaction as a deadlock victim raises :class:`~hub.errors.TransientError`:
        the pipeline retries those.
        """
        with self._turn():
            session = Session(bind=self._read_engine if read_only else self.engine, expire_on_commit=False)
            try:
                with session.begin():
                    yield session
            except DBAPIError as exc:
                if isinstance(exc, OperationalError) or exc.connection_invalidated:
                    raise TransientError(f"database unavailable or busy: {exc.orig}") from exc
                raise
            finally:
                session.close()

    def _lock_key(self, session: Session, key: str) -> None:
        """Serialise transactions working on ``key`` (SQLite: already serialised by BEGIN IMMEDIATE)."""
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    @staticmethod
    def _event(
        session: Session, entity: str, entity_id: int, event: str, detail: Any = None, at: datetime | None = None
    ) -> Event:
        row = Event(entity=entity, entity_id=entity_id, event=event, detail=detail, at=at or utcnow())
        session.add(row)
        return row

    # -- generic reads --------------------------------------------------------------------------------------

    def get(self, entity: str, entity_id: int) -> Any:
        """The row of ``entity`` ("file", "transaction", ...) with that id; :class:`NotFound` otherwise."""
        model = _model(entity)
        with self.session(read_only=True) as s:
            row = s.get(model, entity_id)
            if row is None:
                raise NotFound(f"no {entity} {entity_id}")
            return row

    def get_file(self, file_id: int) -> File:
        return self.get("file", file_id)

    def get_transaction(self, transaction_id: int) -> TransactionRow:
        return self.get("transaction", transaction_id)

    def events_for(self, entity: str, entity_id: int) -> list[Event]:
        """The audit log of one entity, oldest first."""
        _model(entity)
        with self.session(read_only=True) as s:
            query = select(Event).where(Event.entity == entity, Event.entity_id == entity_id).order_by(Event.id)
            return list(s.scalars(query))

    def log_event(self, entity: str, entity_id: int, event: str, detail: Any = None) -> Event:
        """Append an event that goes with no state change (a note, an operator action)."""
        _model(entity)
        with self.session() as s:
            return self._event(s, entity, entity_id, event, detail)

    # -- files ----------------------------------------------------------------------------------------------

    def record_file(
        self,
        sha256: str,
        size: int,
        channel: str,
        original_name: str,
        partner_id: str | None = None,
        *,
        received_at: datetime | None = None,
    ) -> tuple[File, bool]:
        """Record a received file (its bytes already archived); returns ``(row, duplicate)``.

        When the same bytes (sha256) from the same partner (``None`` counting
        as one "unknown" partner) were recorded before, nothing new is
        inserted: the earlier row is returned with ``duplicate=True`` and a
        ``duplicate_received`` event is added to it, so the re-delivery stays
        visible.  Concurrent calls for the same bytes are serialised, so the
        file is recorded once however many transports pick it up.
        """
        at = _aware(received_at)
        with self.session() as s:
            self._lock_key(s, f"file:{sha256}:{partner_id}")
            query = select(File).where(File.sha256 == sha256, File.partner_id == partner_id).order_by(File.id).limit(1)
            existing = s.scalars(query).first()
            detail = {"original_name": original_name, "channel": channel, "size": size}
            if existing is not None:
                self._event(s, "file", existing.id, "duplicate_received", detail, at)
                return existing, True
            row = File(
                sha256=sha256,
                size=size,
                channel=channel,
                original_name=original_name,
                partner_id=partner_id,
                received_at=at,
                updated_at=at,
                state=State.RECEIVED.value,
                attempts=0,
            )
            s.add(row)
            s.flush()
            self._event(s, "file", row.id, State.RECEIVED.value, detail, at)
            return row, False

    def list_files(
        self,
        *,
        state: str | Iterable[str] | None = None,
        partner_id: str | None = None,
        sha256: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[File]:
        """Files filtered by state(s), partner, digest and reception time (``since`` <= received_at < ``until``)."""
        return self._listing(File, state, ((File.partner_id, partner_id), (File.sha256, sha256)), File.received_at,
                             since, until, limit, offset, newest_first)

    def _listing(self, model: Any, state: Any, equals: Iterable[tuple[Any, Any]], time_column: Any,
                 since: datetime | None, until: datetime | None, limit: int, offset: int,
                 newest_first: bool) -> list[Any]:
        """Rows of ``model`` in ``state``, whose columns equal the given values (``None``: any), with
        ``since`` <= ``time_column`` < ``until``, by id (newest first unless told otherwise)."""
        query = _filter_state(select(model), model, state)
        for column, value in equals:
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(time_column >= _aware(since))
        if until is not None:
            query = query.where(time_column < _aware(until))
        order = model.id.desc() if newest_first else model.id
        with self.session(read_only=True) as s:
            return list(s.scalars(query.order_by(order).limit(limit).offset(offset)))

    # -- state changes --------------------------------------------------------------------------------------

    def set_state(
        self,
        entity: str,
        entity_id: int,
        state: str,
        reason: str | None = None,
        detail: Any = None,
        *,
        worker_id: str | None = None,
        updates: Mapping[str, Any] | None = None,
        release: bool = False,
        now: datetime | None = None,
    ) -> Any:
        """Move a file or transaction to ``state`` and log it, in one transaction; returns the row.

        - ``reason`` replaces the row's reason (``None`` clears it); the event
          ``<state>`` carries ``{"from": old state, "reason": ..., **detail}``.
        - ``updates`` are other columns written in the same transaction (the
          mapped ``canonical`` document, ``partner_id`` once identified, ...),
          so a step's result and its state land together.
        - ``worker_id``: fence against a lost lease; raises :class:`LeaseLost`
          unless this worker still holds the claim.
        - Entering ``retry_wait`` or ``failed`` remembers the state left in
          ``resume_state`` (where to resume); any other state clears it and
          resets ``attempts``, which count the consecutive failures of one step.
        - The claim is kept: a worker may walk an item through several states
          under one lease, then :meth:`release` it -- or pass ``release=True``
          (with its ``worker_id``) to end the lease in the same transaction as
          the last state change, one commit instead of two.
        """
        model = _stateful(entity)
        new = _choice(State, state, "state")
        at = _aware(now)
        with self.session() as s:
            row = _locked(s, model, entity_id, entity)
            _check_lease(row, worker_id, entity)
            self._transition(s, entity, row, new, reason, detail, at)
            if updates:
                _apply_updates(row, model, updates)
            if release and worker_id is not None and row.claimed_by == worker_id:
                row.claimed_by = None
                row.claimed_until = None
            return row

    def _transition(
        self, s: Session, entity: str, row: Any, new: str, reason: str | None, detail: Any, at: datetime
    ) -> None:
        old = row.state
        if new in PAUSED_STATES:
            if old not in PAUSED_STATES:
                row.resume_state = old
        else:
            row.resume_state = None
            row.attempts = 0
        row.state = new
        row.reason = reason
        row.next_attempt_at = None
        row.updated_at = at
        self._event(s, entity, row.id, new, _detail(old, reason, detail), at)

    def schedule_retry(
        self,
        entity: str,
        entity_id: int,
        reason: str,
        delay_seconds: float,
        *,
        worker_id: str | None = None,
        detail: Any = None,
        now: datetime | None = None,
    ) -> Any:
        """Park an item in ``retry_wait`` after a transient fault; returns the row.

        ``attempts`` grows by one, ``next_attempt_at`` is now + ``delay_seconds``
        (the backoff is the caller's: it comes from the partner profile),
        ``resume_state`` keeps the step to redo, and the claim is released so
        that any worker may pick the item up when it is due (:meth:`claim`
        includes due retries of the states it is asked for).
        """
        model = _stateful(entity)
        at = _aware(now)
        with self.session() as s:
            row = _locked(s, model, entity_id, entity)
            _check_lease(row, worker_id, entity)
            attempts = row.attempts + 1
            due = at + timedelta(seconds=delay_seconds)
            extra = {"attempts": attempts, "next_attempt_at": due.isoformat()}
            if isinstance(detail, Mapping):
                extra.update(detail)
            elif detail is not None:
                extra["detail"] = detail
            self._transition(s, entity, row, State.RETRY_WAIT.value, reason, extra, at)
            row.attempts = attempts
            row.next_attempt_at = due
            row.claimed_by = None
            row.claimed_until = None
            return row

    # -- work claiming --------------------------------------------------------------------------------------

    def claim(
        self,
        entity: str,
        states: str | Iterable[str],
        worker_id: str,
        limit: int = 1,
        lease_seconds: float = 300,
        now: datetime | None = None,
        *,
        include_retries: bool = True,
    ) -> list[int]:
        """Lease up to ``limit`` items that are ready for work; returns their ids (oldest first).

        Ready means: state in ``states`` (and, with ``include_retries``, items in
        ``retry_wait`` whose ``resume_state`` is in ``states``), due
        (``next_attempt_at`` empty or past), and not under a live lease.  The
        lease lasts ``lease_seconds``; renew long work with :meth:`renew`,
        end it with :meth:`release` (or :meth:`schedule_retry`).  Two workers,
        in threads or processes, never receive the same item.
        """
        model = _stateful(entity)
        wanted = [_choice(State, s, "state") for s in ([states] if isinstance(states, str | Enum) else states)]
        if not wanted or limit < 1:
            return []
        at = _aware(now)
        state_ok = model.state.in_(wanted)
        if include_retries and State.RETRY_WAIT.value not in wanted:
            state_ok = or_(state_ok, and_(model.state == State.RETRY_WAIT.value, model.resume_state.in_(wanted)))
        query = (
            select(model.id)
            .where(
                state_ok,
                or_(model.next_attempt_at.is_(None), model.next_attempt_at <= at),
                or_(model.claimed_until.is_(None), model.claimed_until <= at),
            )
            .order_by(model.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            # Rows another claimer is busy with are skipped, not waited for; SQLite's BEGIN IMMEDIATE
            # (taken by every write session) already makes this transaction the only writer.
            query = query.with_for_update(skip_locked=True)
        with self.session() as s:
            ids = list(s.scalars(query))
            if ids:
                s.execute(
                    update(model)
                    .where(model.id.in_(ids))
                    .values(claimed_by=worker_id, claimed_until=at + timedelta(seconds=lease_seconds))
                    .execution_options(synchronize_session=False)
                )
            return ids

    def release(self, entity: str, entity_id: int, worker_id: str) -> bool:
        """End this worker's lease on the item; ``False`` when it did not hold it (any more)."""
        model = _stateful(entity)
        with self.session() as s:
            result = s.execute(
                update(model)
                .where(model.id == entity_id, model.claimed_by == worker_id)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def renew(
        self, entity: str, entity_id: int, worker_id: str, lease_seconds: float = 300, now: datetime | None = None
    ) -> bool:
        """Extend this worker's lease (long deliveries); ``False`` when the claim was lost to another worker."""
        model = _stateful(entity)
        until = _aware(now) + timedelta(seconds=lease_seconds)
        with self.session() as s:
            result = s.execute(
                update(model)
                .where(model.id == entity_id, model.claimed_by == worker_id)
                .values(claimed_until=until)
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    # -- envelopes and transactions -------------------------------------------------------------------------

    def add_interchange(
        self,
        *,
        standard: str,
        sender_id: str,
        receiver_id: str,
        control_number: str,
        file_id: int | None = None,
        position: int = 0,
        sender_qualifier: str | None = None,
        receiver_qualifier: str | None = None,
        partner_id: str | None = None,
        test: bool = False,
        direction: str = Direction.INBOUND.value,
        now: datetime | None = None,
    ) -> InterchangeRow:
        """Record an interchange envelope (from a received file, or one we built for sending)."""
        row = InterchangeRow(
            file_id=file_id,
            position=position,
            direction=_choice(Direction, direction, "direction"),
            partner_id=partner_id,
            standard=_choice(Standard, standard, "standard"),
            sender_qualifier=sender_qualifier,
            sender_id=sender_id,
            receiver_qualifier=receiver_qualifier,
            receiver_id=receiver_id,
            control_number=str(control_number),
            test=bool(test),
            created_at=_aware(now),
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            return row

    def add_group(
        self, interchange_id: int, functional_id: str, control_number: str, version: str | None = None
    ) -> GroupRow:
        """Record a functional group (GS/GE) of an interchange."""
        row = GroupRow(
            interchange_id=interchange_id,
            functional_id=functional_id,
            control_number=str(control_number),
            version=version,
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            return row

    def find_duplicate_interchange(
        self,
        partner_id: str,
        control_number: str,
        window_days: float,
        *,
        exclude_id: int | None = None,
        now: datetime | None = None,
    ) -> InterchangeRow | None:
        """The earliest inbound interchange from ``partner_id`` with this control number in the last ``window_days``.

        ``exclude_id`` leaves out the interchange being checked, when it was
        recorded before the check.  ``None``: not a duplicate.
        """
        since = _aware(now) - timedelta(days=window_days)
        query = (
            select(InterchangeRow)
            .where(
                InterchangeRow.partner_id == partner_id,
                InterchangeRow.control_number == str(control_number),
                InterchangeRow.direction == Direction.INBOUND.value,
                InterchangeRow.created_at >= since,
            )
            .order_by(InterchangeRow.id)
            .limit(1)
        )
        if exclude_id is not None:
            query = query.where(InterchangeRow.id != exclude_id)
        with self.session(read_only=True) as s:
            return s.scalars(query).first()

    def add_transaction(
        self,
        *,
        direction: str,
        type: str,
        partner_id: str | None = None,
        file_id: int | None = None,
        interchange_id: int | None = None,
        group_id: int | None = None,
        control_number: str | None = None,
        state: str = State.RECEIVED.value,
        reason: str | None = None,
        canonical: Any = None,
        findings: Any = None,
        document_number: str | None = None,
        now: datetime | None = None,
    ) -> TransactionRow:
        """Record one transaction set / message and its first event (its initial ``state``)."""
        return self.add_transactions(
            [
                {
                    "direction": direction,
                    "type": type,
                    "partner_id": partner_id,
                    "file_id": file_id,
                    "interchange_id": interchange_id,
                    "group_id": group_id,
                    "control_number": control_number,
                    "state": state,
                    "reason": reason,
                    "canonical": canonical,
                    "findings": findings,
                    "document_number": document_number,
                }
            ],
            now=now,
        )[0]

    def add_transactions(
        self, items: Iterable[Mapping[str, Any]], *, now: datetime | None = None
    ) -> list[TransactionRow]:
        """Record many transactions (the sets of one split file) in one transaction, each with its event.

        Each item takes the keyword arguments of :meth:`add_transaction`.
        """
        at = _aware(now)
        rows = []
        for item in items:
            fields = dict(item)
            unknown = sorted(set(fields) - _TRANSACTION_FIELDS)
            if unknown:
                raise ValueError(f"add_transactions: unknown fields {unknown}")
            fields["direction"] = _choice(Direction, fields.get("direction"), "direction")
            fields["state"] = _choice(State, fields.get("state") or State.RECEIVED.value, "state")
            if fields.get("control_number") is not None:
                fields["control_number"] = str(fields["control_number"])
            rows.append(TransactionRow(**fields, attempts=0, created_at=at, updated_at=at))
        with self.session() as s:
            s.add_all(rows)
            s.flush()
            for row in rows:
                detail = {"type": row.type, "direction": row.direction}
                if row.reason:
                    detail["reason"] = row.reason
                self._event(s, "transaction", row.id, row.state, detail, at)
            return rows

    def list_transactions(
        self,
        *,
        state: str | Iterable[str] | None = None,
        partner_id: str | None = None,
        direction: str | None = None,
        type: str | None = None,
        document_number: str | None = None,
        file_id: int | None = None,
        interchange_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> list[TransactionRow]:
        """Transactions filtered by any of the given fields (``since`` <= created_at < ``until``)."""
        equals = (
            (TransactionRow.partner_id, partner_id),
            (TransactionRow.direction, _value(direction)),
            (TransactionRow.type, type),
            (TransactionRow.document_number, document_number),
            (TransactionRow.file_id, file_id),
            (TransactionRow.interchange_id, interchange_id),
        )
        return self._listing(TransactionRow, state, equals, TransactionRow.created_at, since, until, limit, offset,
                             newest_first)

    # -- deliveries -----------------------------------------------------------------------------------------

    def record_delivery(
        self,
        transaction_id: int,
        adapter: str,
        idempotency_key: str,
        status: str,
        response: str | None = None,
        *,
        at: datetime | None = None,
    ) -> Delivery:
        """Record one delivery attempt (numbered per transaction and adapter) and log it on the transaction.

        A second ``ok`` for the same (adapter, idempotency_key) raises
        :class:`AlreadyDelivered` and records nothing: the database itself
        (a partial unique index) guarantees "delivered once".
        """
        status = _choice(DeliveryStatus, status, "delivery status")
        when = _aware(at)
        with self.session() as s:
            previous = s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.transaction_id == transaction_id, Delivery.adapter == adapter)
            )
            if status == DeliveryStatus.OK.value and _delivered(s, adapter, idempotency_key):
                raise AlreadyDelivered(f"{adapter}: {idempotency_key!r} was already delivered")
            row = Delivery(
                transaction_id=transaction_id,
                adapter=adapter,
                idempotency_key=idempotency_key,
                attempt=(previous or 0) + 1,
                status=status,
                response=response,
                at=when,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as exc:
                if status == DeliveryStatus.OK.value and "idempotency_key" in str(exc.orig):
                    raise AlreadyDelivered(f"{adapter}: {idempotency_key!r} was already delivered") from exc
                raise
            detail = {"adapter": adapter, "idempotency_key": idempotency_key, "attempt": row.attempt}
            if response is not None:
                detail["response"] = response[:500]
            self._event(s, "transaction", transaction_id, f"delivery_{status}", detail, when)
            return row

    def delivered_key_exists(self, adapter: str, idempotency_key: str) -> bool:
        """Whether an ``ok`` delivery with this key was recorded: check it before calling the ERP again."""
        with self.session(read_only=True) as s:
            return _delivered(s, adapter, idempotency_key)

    def deliveries_for(self, transaction_id: int) -> list[Delivery]:
        with self.session(read_only=True) as s:
            query = select(Delivery).where(Delivery.transaction_id == transaction_id).order_by(Delivery.id)
            return list(s.scalars(query))

    # -- acknowledgments ------------------------------------------------------------------------------------

    def record_ack_sent(
        self,
        partner_id: str,
        kind: str,
        result: str,
        *,
        interchange_control_number: str | None = None,
        group_control_number: str | None = None,
        transaction_control_number: str | None = None,
        transaction_id: int | None = None,
        file_id: int | None = None,
        at: datetime | None = None,
    ) -> Acknowledgment:
        """Record an acknowledgment we sent for something the partner sent us (what we told them)."""
        when = _aware(at)
        row = Acknowledgment(
            partner_id=partner_id,
            direction=AckDirection.SENT.value,
            kind=_choice(AckKind, kind, "acknowledgment kind"),
            result=_choice(AckResult, result, "acknowledgment result"),
            interchange_control_number=_str(interchange_control_number),
            group_control_number=_str(group_control_number),
            transaction_control_number=_str(transaction_control_number),
            transaction_id=transaction_id,
            file_id=file_id,
            created_at=when,
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            self._event(s, "acknowledgment", row.id, "sent", {"kind": row.kind, "result": row.result}, when)
            if transaction_id is not None:
                self._event(
                    s, "transaction", transaction_id, "ack_sent", {"kind": row.kind, "result": row.result}, when
                )
            return row

    def expect_ack(
        self,
        partner_id: str,
        kind: str,
        *,
        due_at: datetime | None,
        interchange_control_number: str | None = None,
        group_control_number: str | None = None,
        transaction_control_number: str | None = None,
        transaction_id: int | None = None,
        file_id: int | None = None,
        now: datetime | None = None,
    ) -> Acknowledgment:
        """Record that we wait for the partner's ``kind`` acknowledgment of what we sent, by ``due_at`` (the SLA).

        ``due_at=None``: no deadline (never overdue).
        """
        if interchange_control_number is None and group_control_number is None:
            raise ValueError("expect_ack needs the interchange or the group control number to match on")
        when = _aware(now)
        row = Acknowledgment(
            partner_id=partner_id,
            direction=AckDirection.EXPECTED.value,
            kind=_choice(AckKind, kind, "acknowledgment kind"),
            result=AckResult.PENDING.value,
            interchange_control_number=_str(interchange_control_number),
            group_control_number=_str(group_control_number),
            transaction_control_number=_str(transaction_control_number),
            transaction_id=transaction_id,
            file_id=file_id,
            due_at=None if due_at is None else _aware(due_at),
            created_at=when,
        )
        with self.session() as s:
            s.add(row)
            s.flush()
            detail = {"kind": row.kind, "due_at": None if due_at is None else row.due_at.isoformat()}
            self._event(s, "acknowledgment", row.id, "expected", detail, when)
            return row

    def match_ack(
        self,
        partner_id: str,
        kind: str,
        result: str,
        *,
        interchange_control_number: str | None = None,
        group_control_number: str | None = None,
        transaction_control_number: str | None = None,
        file_id: int | None = None,
        received_at: datetime | None = None,
        settle: bool = True,
    ) -> AckMatch:
        """Record an acknowledgment received from the partner and settle the expected ones it answers.

        An expected row matches when it is still ``pending`` (or already
        ``overdue``: a late ack still counts), belongs to the partner, is of a
        kind the received one answers (a 999 answers an expected 997 and vice
        versa; TA1 and CONTRL only themselves), and every control number
        *given here* equals its own (a 997's AK1 names the group only, so the
        interchange number is then not compared).  Matched rows take the
        received ``result`` and point to the received row (``matched_by_id``).

        With ``settle``, a matched transaction that waits in ``delivered``
        moves to ``acknowledged`` (accepted, accepted with errors) or
        ``failed`` (rejected), in the same transaction.
        """
        kind = _choice(AckKind, kind, "acknowledgment kind")
        result = _choice(AckResult, result, "acknowledgment result")
        numbers = {
            Acknowledgment.interchange_control_number: _str(interchange_control_number),
            Acknowledgment.group_control_number: _str(group_control_number),
            Acknowledgment.transaction_control_number: _str(transaction_control_number),
        }
        if all(v is None for v in numbers.values()):
            raise ValueError("match_ack needs at least one control number")
        when = _aware(received_at)
        kinds = [k for k, family in _ACK_FAMILY.items() if family == _ACK_FAMILY[kind]]
        query = select(Acknowledgment).where(
            Acknowledgment.partner_id == partner_id,
            Acknowledgment.direction == AckDirection.EXPECTED.value,
            Acknowledgment.result.in_([AckResult.PENDING.value, AckResult.OVERDUE.value]),
            Acknowledgment.kind.in_(kinds),
            *[column == value for column, value in numbers.items() if value is not None],
        )
        query = query.order_by(Acknowledgment.id).with_for_update()
        with self.session() as s:
            received = Acknowledgment(
                partner_id=partner_id,
                direction=AckDirection.RECEIVED.value,
                kind=kind,
                result=result,
                interchange_control_number=numbers[Acknowledgment.interchange_control_number],
                group_control_number=numbers[Acknowledgment.group_control_number],
                transaction_control_number=numbers[Acknowledgment.transaction_control_number],
                file_id=file_id,
                received_at=when,
                created_at=when,
            )
            s.add(received)
            s.flush()
            matched = list(s.scalars(query))
            self._event(s, "acknowledgment", received.id, "received", {"result": result, "matched": len(matched)}, when)
            for row in matched:
                row.result = result
                row.received_at = when
                row.matched_by_id = received.id
                detail = {"kind": kind, "result": result, "received_id": received.id}
                self._event(s, "acknowledgment", row.id, "matched", detail, when)
                if row.transaction_id is None:
                    continue
                self._event(s, "transaction", row.transaction_id, "ack_received", detail, when)
                target = _SETTLE.get(result)
                if settle and target is not None:
                    tx = _locked(s, TransactionRow, row.transaction_id, "transaction")
                    if tx.state == State.DELIVERED.value:
                        reason = None if target == State.ACKNOWLEDGED else f"{kind} from {partner_id}: {result}"
                        self._transition(s, "transaction", tx, target.value, reason, {"ack_id": received.id}, when)
            return AckMatch(received, matched)

    def overdue_acks(self, now: datetime | None = None, *, mark: bool = False) -> list[Acknowledgment]:
        """Expected acknowledgments past ``due_at`` and still unanswered, oldest deadline first.

        ``mark=True`` also turns the pending ones to ``overdue`` (logged once
        per row); rows already marked are listed again until an ack arrives.
        """
        at = _aware(now)
        query = (
            select(Acknowledgment)
            .where(
                Acknowledgment.direction == AckDirection.EXPECTED.value,
                Acknowledgment.result.in_([AckResult.PENDING.value, AckResult.OVERDUE.value]),
                Acknowledgment.due_at.is_not(None),
                Acknowledgment.due_at <= at,
            )
            .order_by(Acknowledgment.due_at, Acknowledgment.id)
        )
        if not mark:
            with self.session(read_only=True) as s:
                return list(s.scalars(query))
        with self.session() as s:
            rows = list(s.scalars(query.with_for_update()))
            for row in rows:
                if row.result == AckResult.PENDING.value:
                    row.result = AckResult.OVERDUE.value
                    detail = {"kind": row.kind, "due_at": row.due_at.isoformat() if row.due_at else None}
                    self._event(s, "acknowledgment", row.id, "overdue", detail, at)
                    if row.transaction_id is not None:
                        self._event(s, "transaction", row.transaction_id, "ack_overdue", detail, at)
            return rows

    def list_acks(
        self,
        *,
        partner_id: str | None = None,
        direction: str | None = None,
        result: str | None = None,
        transaction_id: int | None = None,
        limit: int = 100,
    ) -> list[Acknowledgment]:
        query = select(Acknowledgment)
        for column, value in (
            (Acknowledgment.partner_id, partner_id),
            (Acknowledgment.direction, _value(direction)),
            (Acknowledgment.result, _value(result)),
            (Acknowledgment.transaction_id, transaction_id),
        ):
            if value is not None:
                query = query.where(column == value)
        with self.session(read_only=True) as s:
            return list(s.scalars(query.order_by(Acknowledgment.id.desc()).limit(limit)))

    # -- AS2 messages and MDNs ------------------------------------------------------------------------------

    def record_as2_message(self, fields: Mapping[str, Any], mdn: Mapping[str, Any] | None = None, *,
                           now: datetime | None = None) -> As2Message:
        """Record an AS2 message we sent, with its MDN when one already came (a synchronous one).

        ``fields`` are the columns of :class:`~hub.store.models.As2Message` the sender knows (see
        ``_AS2_FIELDS``); ``mdn`` the MDN's (``_MDN_FIELDS``).  An async message is recorded ``pending``
        *before* it is posted (the MDN may beat the HTTP reply).  The same Message-ID again (a resend by hand)
        updates the row and counts one more send.  Logged as ``sent`` (and ``mdn_received``) on the message and
        on its transaction.
        """
        at = _aware(now)
        values = _as2_values("record_as2_message", fields, mdn, at)
        with self.session() as s:
            row, new = _as2_row(s, values, at)
            if not new:
                for key in _MDN_FIELDS:
                    setattr(row, key, None)
                for key, value in values.items():
                    setattr(row, key, value)
                row.sends += 1
                row.last_sent_at = values["sent_at"]
                row.updated_at = at
            detail = {"message_id": row.message_id, "mdn": row.mdn_mode, "state": row.state, "sends": row.sends}
            self._event(s, "as2_message", row.id, "sent", detail, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, "as2_sent", detail, at)
            if mdn:
                self._mdn_events(s, row, at)
            return row

    def _mdn_events(self, s: Session, row: As2Message, at: datetime) -> None:
        detail = {"message_id": row.message_id, "state": row.state, "disposition": row.disposition,
                  "mic_matched": row.mic_matched, "signed": row.mdn_signed, "mdn_sha256": row.mdn_sha256}
        if row.problems:
            detail["problems"] = row.problems
        self._event(s, "as2_message", row.id, "mdn_received", detail, at)
        if row.transaction_id is not None:
            self._event(s, "transaction", row.transaction_id, "mdn_received", detail, at)

    def as2_message(self, message_id: str) -> As2Message | None:
        """The row of one AS2 message by its Message-ID (with or without angle brackets), or ``None``."""
        with self.session(read_only=True) as s:
            return s.scalars(select(As2Message).where(As2Message.message_id == _bare_id(message_id))).first()

    def record_mdn(self, message_id: str, state: str, mdn: Mapping[str, Any], *,
                   now: datetime | None = None) -> As2Message | None:
        """Record the (asynchronous) MDN of a message that waits for one; ``None`` when none waits.

        ``state`` is ``delivered``, ``rejected`` or ``mdn-invalid``; ``mdn`` the MDN columns (``_MDN_FIELDS``).
        The resend copy is no longer needed (``resend_path`` cleared: the caller removes the file).  An MDN
        that does not prove receipt fails the transaction the message carried when it waits in ``delivered``
        (an async MDN comes after the send was settled), in the same database transaction.
        """
        state = _choice(As2State, state, "AS2 message state")
        unknown = sorted(set(mdn) - _MDN_FIELDS)
        if unknown:
            raise ValueError(f"record_mdn: unknown fields {unknown}")
        at = _aware(now)
        with self.session() as s:
            row = s.scalars(select(As2Message).where(As2Message.message_id == _bare_id(message_id),
                                                     As2Message.state.in_(_AS2_WAITING)).with_for_update()).first()
            if row is None:
                return None
            for key, value in mdn.items():
                setattr(row, key, value)
            row.state = state
            row.resend_path = None
            row.resend_headers = None
            row.updated_at = at
            self._mdn_events(s, row, at)
            if state != As2State.DELIVERED.value and row.transaction_id is not None:
                tx = _locked(s, TransactionRow, row.transaction_id, "transaction")
                if tx.state == State.DELIVERED.value:
                    self._fail_for_mdn(s, row, tx, at)
            return row

    def _fail_for_mdn(self, s: Session, row: As2Message, tx: TransactionRow, at: datetime) -> None:
        """Fail ``tx`` because the MDN of ``row`` does not prove receipt; the event names the MDN."""
        reason = f"AS2 MDN from {row.partner_id} for {row.message_id}: {row.disposition or row.state}"
        if row.problems:
            reason += f" ({row.problems})"
        self._transition(s, "transaction", tx, State.FAILED.value, reason[:4000],
                         {"as2_message_id": row.id, "message_id": row.message_id, "mdn_sha256": row.mdn_sha256}, at)

    def record_sent(self, transaction_id: int, *, as2_message_ids: Iterable[str] = (), worker_id: str | None = None,
                    detail: Any = None, now: datetime | None = None) -> TransactionRow:
        """Mark an outbound transaction ``delivered`` once its send returned; returns the row.

        ``as2_message_ids`` are the AS2 messages that send posted.  An async MDN can come before this call (the
        partner posts it as soon as it has our message): when one of them already holds an MDN that does not
        prove receipt (``rejected``, ``mdn-invalid``), the transaction is failed at once, naming that MDN, in the
        same database transaction -- the other order is :meth:`record_mdn`'s.  The AS2 rows are locked before
        the transaction, in the order :meth:`record_mdn` takes them, so the two never deadlock.
        """
        at = _aware(now)
        ids = sorted({_bare_id(m) for m in as2_message_ids})
        with self.session() as s:
            rows = list(s.scalars(select(As2Message).where(As2Message.message_id.in_(ids))
                                  .order_by(As2Message.id).with_for_update())) if ids else []
            tx = _locked(s, TransactionRow, transaction_id, "transaction")
            _check_lease(tx, worker_id, "transaction")
            self._transition(s, "transaction", tx, State.DELIVERED.value, None, detail, at)
            negative = [r for r in rows if r.state in _AS2_NEGATIVE]
            if negative:
                self._fail_for_mdn(s, negative[0], tx, at)
            return tx

    def forget_as2_message(self, message_id: str) -> As2Message | None:
        """Drop a message that could not be posted at all and will not be retried under its Message-ID (the send
        is retried as a new message): pending, or left by a failed POST; returns the dropped row (its
        ``resend_path`` is for the caller to remove)."""
        with self.session() as s:
            row = s.scalars(select(As2Message).where(
                As2Message.message_id == _bare_id(message_id),
                As2Message.state.in_((As2State.PENDING.value, As2State.POST_FAILED.value))).with_for_update()).first()
            if row is not None:
                s.delete(row)
            return row

    def record_as2_post_failure(self, fields: Mapping[str, Any], error: str, *,
                                now: datetime | None = None) -> As2Message:
        """Record a message whose POST failed (connection error, 5xx, 429) and that the retry of its transaction
        posts again under the same Message-ID; returns the row.

        ``fields`` as for :meth:`record_as2_message`.  The row turns ``post-failed`` with ``post_error`` (a
        pending one, recorded before the POST, stops waiting for an overdue MDN: the sweeper leaves it to the
        retry).  A row already ``post-failed`` counts one more send (a retry that failed too).  A row that got
        its MDN meanwhile keeps it: the partner had the message after all, and the retry takes that verdict
        instead of posting again.  Logged as ``post_failed`` on the message and on its transaction.
        """
        at = _aware(now)
        values = _as2_values("record_as2_post_failure", fields, None, at)
        values.update(state=As2State.POST_FAILED.value, due_at=None, post_error=error)
        with self.session() as s:
            row, new = _as2_row(s, values, at)
            if not new and row.state in (As2State.PENDING.value, As2State.POST_FAILED.value):
                if row.state == As2State.POST_FAILED.value:
                    row.sends += 1
                    row.last_sent_at = at
                for key in ("state", "due_at", "post_error", "resend_path", "resend_headers"):
                    setattr(row, key, values.get(key))
            elif not new:
                row.post_error = error  # its MDN came meanwhile: the retry takes that verdict
            row.updated_at = at
            detail = {"message_id": row.message_id, "state": row.state, "sends": row.sends, "error": error}
            self._event(s, "as2_message", row.id, "post_failed", detail, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, "as2_post_failed", detail, at)
            return row

    def as2_failed_post(self, transaction_id: int) -> As2Message | None:
        """The transaction's AS2 message whose POST failed and that its retry still owes (``post-failed``, or
        answered by an MDN since: ``post_error`` still set), or ``None``."""
        query = (select(As2Message).where(As2Message.transaction_id == transaction_id,
                                          or_(As2Message.state == As2State.POST_FAILED.value,
                                              As2Message.post_error.is_not(None)))
                 .order_by(As2Message.id.desc()).limit(1))
        with self.session(read_only=True) as s:
            return s.scalars(query).first()

    def settle_as2_post_failure(self, message_id: str, *, now: datetime | None = None) -> As2Message | None:
        """A message whose POST failed but whose MDN came meanwhile: the retry takes that MDN's verdict and posts
        nothing (``post_error`` cleared, ``post_settled`` logged); ``None`` when no such message."""
        at = _aware(now)
        with self.session() as s:
            row = s.scalars(select(As2Message).where(As2Message.message_id == _bare_id(message_id),
                                                     As2Message.post_error.is_not(None),
                                                     As2Message.state != As2State.POST_FAILED.value)
                            .with_for_update()).first()
            if row is None:
                return None
            row.post_error = None
            row.updated_at = at
            detail = {"message_id": row.message_id, "state": row.state, "disposition": row.disposition}
            self._event(s, "as2_message", row.id, "post_settled", detail, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, "as2_post_settled", detail, at)
            return row

    def record_other_mdn(self, partner_id: str, event: str, detail: Mapping[str, Any], *,
                         message_id: str | None = None, now: datetime | None = None) -> As2Message | None:
        """Log an MDN that is not the verdict on a message waiting for one -- a second MDN (the
        ``duplicate-document`` answer to a resend), one refused while being read, one for no message of ours --
        whose raw bytes are already in the archive (``detail["mdn_sha256"]``).

        With ``message_id`` (one of ours to ``partner_id``) the event goes on that message and its transaction,
        which otherwise stay as they are (the first verdict stands); else on the endpoint's own log
        (``entity`` :data:`AS2_ENDPOINT`).  Returns the message row, or ``None``.
        """
        at = _aware(now)
        info = {"partner": partner_id, **detail}
        with self.session() as s:
            row = None
            if message_id:
                row = s.scalars(select(As2Message).where(As2Message.message_id == _bare_id(message_id),
                                                         As2Message.partner_id == partner_id)).first()
            if row is None:
                self._event(s, AS2_ENDPOINT, 0, event, info, at)
                return None
            info["message_id"] = row.message_id
            self._event(s, "as2_message", row.id, event, info, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, event, info, at)
            return row

    def as2_events(self, *, partner_id: str | None = None, limit: int = 100) -> list[tuple[Event, str | None]]:
        """The AS2 event log, newest first: the events of our messages (with their Message-ID) and the endpoint's
        own (``None``: MDNs refused or naming no message of ours)."""
        query = (select(Event, As2Message.message_id)
                 .outerjoin(As2Message, and_(Event.entity == "as2_message", Event.entity_id == As2Message.id))
                 .where(Event.entity.in_(("as2_message", AS2_ENDPOINT))))
        if partner_id is not None:
            named = _like_escaped('"partner":' + json.dumps(partner_id, ensure_ascii=False))
            query = query.where(or_(As2Message.partner_id == partner_id,
                                    and_(Event.entity == AS2_ENDPOINT,
                                         type_coerce(Event.detail, Text).like(f"%{named}%", escape="\\"))))
        with self.session(read_only=True) as s:
            return [(event, message_id) for event, message_id in
                    s.execute(query.order_by(Event.id.desc()).limit(limit))]

    def as2_mdn_known(self, sha256: str) -> bool:
        """Whether ``sha256`` is an MDN the store names: the verdict of a message, or one its AS2 events log."""
        sha = sha256.strip().lower()
        if not sha or any(c not in "0123456789abcdef" for c in sha):
            return False
        with self.session(read_only=True) as s:
            if s.scalar(select(As2Message.id).where(As2Message.mdn_sha256 == sha).limit(1)) is not None:
                return True
            named = type_coerce(Event.detail, Text).like(f'%"mdn_sha256":"{sha}"%')
            query = select(Event.id).where(Event.entity.in_(("as2_message", AS2_ENDPOINT)), named).limit(1)
            return s.scalar(query) is not None

    def pending_as2_messages(self, *, due_by: datetime | None = None) -> list[As2Message]:
        """Messages waiting for an async MDN (not those already reported overdue), oldest first; with ``due_by``
        only those due by then."""
        query = select(As2Message).where(As2Message.state == As2State.PENDING.value)
        if due_by is not None:
            query = query.where(As2Message.due_at.is_not(None), As2Message.due_at <= _aware(due_by))
        with self.session(read_only=True) as s:
            return list(s.scalars(query.order_by(As2Message.sent_at, As2Message.id)))

    def claim_as2_resend(self, message_id: str, *, next_due: datetime, now: datetime | None = None,
                         detail: Any = None) -> As2Message | None:
        """Take an overdue pending message for a resend: one more send, due again at ``next_due``.

        One conditional update (still pending, still due), so two sweepers never resend the same message
        twice; ``None`` when another one took it or the MDN came meanwhile.  Written before the POST.
        """
        at = _aware(now)
        with self.session() as s:
            row = s.scalars(select(As2Message).where(
                As2Message.message_id == _bare_id(message_id), As2Message.state == As2State.PENDING.value,
                As2Message.due_at <= at).with_for_update()).first()
            if row is None:
                return None
            row.sends += 1
            row.last_sent_at = at
            row.due_at = _aware(next_due)
            row.updated_at = at
            info = {"message_id": row.message_id, "sends": row.sends, "due_at": row.due_at.isoformat()}
            if isinstance(detail, Mapping):
                info.update(detail)
            self._event(s, "as2_message", row.id, "resend", info, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, "as2_resend", info, at)
            return row

    def mark_as2_overdue(self, message_id: str, reason: str, *, now: datetime | None = None) -> As2Message | None:
        """Report a pending message whose MDN is overdue (no resend left): ``overdue``, logged on it and on its
        transaction; ``None`` when it is no longer pending.  A late MDN is still matched and recorded."""
        at = _aware(now)
        with self.session() as s:
            row = s.scalars(select(As2Message).where(As2Message.message_id == _bare_id(message_id),
                                                     As2Message.state == As2State.PENDING.value)
                            .with_for_update()).first()
            if row is None:
                return None
            row.state = As2State.OVERDUE.value
            row.problems = reason
            row.resend_path = None
            row.resend_headers = None
            row.updated_at = at
            detail = {"message_id": row.message_id, "sends": row.sends, "reason": reason}
            self._event(s, "as2_message", row.id, "overdue", detail, at)
            if row.transaction_id is not None:
                self._event(s, "transaction", row.transaction_id, "mdn_overdue", detail, at)
            return row

    def list_as2_messages(self, *, partner_id: str | None = None, state: str | None = None,
                          transaction_id: int | None = None, limit: int = 100) -> list[As2Message]:
        """AS2 messages we sent and their MDNs, newest first."""
        query = select(As2Message)
        if partner_id is not None:
            query = query.where(As2Message.partner_id == partner_id)
        if state is not None:
            query = query.where(As2Message.state == _choice(As2State, state, "AS2 message state"))
        if transaction_id is not None:
            query = query.where(As2Message.transaction_id == transaction_id)
        with self.session(read_only=True) as s:
            return list(s.scalars(query.order_by(As2Message.id.desc()).limit(limit)))

    def as2_counts(self) -> dict[str, int]:
        """``{state: count}`` of the AS2 messages we sent (``edihub status``)."""
        with self.session(read_only=True) as s:
            rows = s.execute(select(As2Message.state, func.count()).group_by(As2Message.state))
            return {state: count for state, count in rows}

    # -- control numbers ------------------------------------------------------------------------------------

    def next_control_number(self, partner_id: str, kind: str, start: int = 1, maximum: int = 999_999_999) -> int:
        """Issue the next control number for (partner, kind): atomic, never handed out twice.

        The counter row holds the last number issued.  One ``UPDATE ...
        RETURNING`` increments it (the database serialises concurrent updaters
        on the row lock / the SQLite write lock) and wraps to ``start`` after
        ``maximum`` (ISA13 has 9 digits, GS06 and ST02 fewer in practice).  The
        first number of a new counter is ``start``; two processes creating
        the same counter at once are resolved by ``INSERT ... ON CONFLICT DO
        NOTHING``: the loser increments the winner's row instead.
        """
        kind = _choice(CounterKind, kind, "counter kind")
        if not 0 <= start <= maximum:
            raise ValueError(f"control numbers need 0 <= start <= maximum (got {start}, {maximum})")
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        key = (ControlCounter.partner_id == partner_id, ControlCounter.kind == kind)
        bump = (
            update(ControlCounter)
            .where(*key)
            .values(
                value=_wrap(ControlCounter.value, start, maximum),
                updated_at=utcnow(),
            )
            .returning(ControlCounter.value)
            .execution_options(synchronize_session=False)
        )
        for _ in range(3):
            with self.session() as s:
                value = s.execute(bump).scalar()
                if value is not None:
                    return int(value)
                created = s.execute(
                    insert(ControlCounter)
                    .values(partner_id=partner_id, kind=kind, value=start, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["partner_id", "kind"])
                    .returning(ControlCounter.value)
                ).scalar()
                if created is not None:
                    return int(created)
            # Another process created the counter between our UPDATE and INSERT: increment theirs.
        raise StoreError(f"could not issue a {kind} control number for {partner_id}")  # pragma: no cover

    def set_control_number(self, partner_id: str, kind: str, last_issued: int) -> None:
        """Set the last number issued (taking over from another system); the next one is ``last_issued + 1``."""
        kind = _choice(CounterKind, kind, "counter kind")
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = insert(ControlCounter).values(
            partner_id=partner_id, kind=kind, value=last_issued, updated_at=utcnow()
        )
        statement = statement.on_conflict_do_update(
            index_elements=["partner_id", "kind"], set_={"value": last_issued, "updated_at": utcnow()}
        )
        with self.session() as s:
            s.execute(statement)

    # -- status ---------------------------------------------------------------------------------------------

    def counts_by_state(self, entity: str = "transaction") -> dict[str, int]:
        """How many files or transactions are in each state (``edihub status``)."""
        model = _stateful(entity)
        with self.session(read_only=True) as s:
            rows = s.execute(select(model.state, func.count()).group_by(model.state))
            return {state: count for state, count in rows}

    def counts_by_partner(self, entity: str = "transaction") -> dict[str | None, dict[str, int]]:
        """``{partner_id: {state: count}}`` (``None``: partner not identified yet)."""
        model = _stateful(entity)
        with self.session(read_only=True) as s:
            rows = s.execute(
                select(model.partner_id, model.state, func.count()).group_by(model.partner_id, model.state)
            )
            counts: dict[str | None, dict[str, int]] = {}
            for partner, state, count in rows:
                counts.setdefault(partner, {})[state] = count
            return counts

    def ack_counts(self) -> dict[str, dict[str, int]]:
        """``{direction: {result: count}}`` of acknowledgments (pending and overdue ones matter most)."""
        with self.session(read_only=True) as s:
            rows = s.execute(
                select(Acknowledgment.direction, Acknowledgment.result, func.count()).group_by(
                    Acknowledgment.direction, Acknowledgment.result
                )
            )
            counts: dict[str, dict[str, int]] = {}
            for direction, result, count in rows:
                counts.setdefault(direction, {})[result] = count
            return counts


def open_store(url: str | URL = DEFAULT_URL, upgrade: bool = True, **engine_options: Any) -> Store:
    """A :class:`Store` for ``url``, migrated to the newest schema unless ``upgrade=False``."""
    store = Store(url, **engine_options)
    if upgrade:
        try:
            store.upgrade()
        except BaseException:
            store.close()
            raise
    return store


# -- helpers ------------------------------------------------------------------------------------------------


def _model(entity: str) -> type[Base]:
    try:
        return ENTITIES[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r} (one of: {', '.join(ENTITIES)})") from None


def _stateful(entity: str) -> type[File] | type[TransactionRow]:
    try:
        return STATEFUL[entity]
    except KeyError:
        raise ValueError(f"{entity!r} has no state (one of: {', '.join(STATEFUL)})") from None


def _locked(session: Session, model: type[T], entity_id: int, entity: str) -> T:
    """The row, locked against concurrent writers until commit (PostgreSQL; SQLite holds the write lock)."""
    row = session.get(model, entity_id, with_for_update=True)
    if row is None:
        raise NotFound(f"no {entity} {entity_id}")
    return row


def _check_lease(row: Any, worker_id: str | None, entity: str) -> None:
    if worker_id is not None and row.claimed_by != worker_id:
        raise LeaseLost(f"{entity} {row.id} is claimed by {row.claimed_by!r}, not {worker_id!r}")


def _apply_updates(row: Any, model: type[Base], updates: Mapping[str, Any]) -> None:
    columns = {c.key for c in model.__table__.columns}
    bad = sorted(k for k in updates if k not in columns or k in _PROTECTED)
    if bad:
        raise ValueError(f"set_state cannot update {bad} of {model.__tablename__}")
    for key, value in updates.items():
        setattr(row, key, _value(value))


def _detail(old: str, reason: str | None, detail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"from": old}
    if reason is not None:
        out["reason"] = reason
    if isinstance(detail, Mapping):
        out.update(detail)
    elif detail is not None:
        out["detail"] = detail
    return out


def _filter_state(query: Select, model: Any, state: str | Iterable[str] | None) -> Select:
    if state is None:
        return query
    if isinstance(state, str | Enum):
        return query.where(model.state == _choice(State, state, "state"))
    return query.where(model.state.in_([_choice(State, s, "state") for s in state]))


def _delivered(session: Session, adapter: str, key: str) -> bool:
    query = select(Delivery.id).where(
        Delivery.adapter == adapter, Delivery.idempotency_key == key, Delivery.status == DeliveryStatus.OK.value
    )
    return session.scalar(query.limit(1)) is not None


def _wrap(column: Any, start: int, maximum: int) -> Any:
    """The next value of a counter column: +1, or back to ``start`` past ``maximum`` (or below ``start``)."""
    return case((or_(column >= maximum, column < start), start), else_=column + 1)


def _bare_id(message_id: str) -> str:
    """A Message-ID without its angle brackets (how as2_messages keys them)."""
    return message_id.strip().strip("<>").strip()


def _as2_values(caller: str, fields: Mapping[str, Any], mdn: Mapping[str, Any] | None, at: datetime) -> dict[str, Any]:
    """The columns of an as2_messages row from a sender's ``fields`` (and an MDN's), checked and normalised."""
    values = dict(fields)
    unknown = sorted(set(values) - _AS2_FIELDS) + sorted(set(mdn or {}) - _MDN_FIELDS)
    if unknown:
        raise ValueError(f"{caller}: unknown fields {unknown}")
    values["message_id"] = _bare_id(values["message_id"])
    values["state"] = _choice(As2State, values["state"], "AS2 message state")
    values["sent_at"] = _aware(values.get("sent_at") or at)
    values.update(mdn or {})
    return values


def _as2_row(session: Session, values: Mapping[str, Any], at: datetime) -> tuple[As2Message, bool]:
    """The row of ``values["message_id"]``, locked; ``(row, True)`` when it was new and is inserted from ``values``
    (one send)."""
    row = session.scalars(select(As2Message).where(As2Message.message_id == values["message_id"])
                          .with_for_update()).first()
    if row is not None:
        return row, False
    row = As2Message(**values, sends=1, last_sent_at=values["sent_at"], updated_at=at)
    session.add(row)
    session.flush()
    return row, True


def _like_escaped(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


__all__ = [
    "AS2_ENDPOINT",
    "ENTITIES",
    "STATEFUL",
    "AckMatch",
    "AlreadyDelivered",
    "LeaseLost",
    "NotFound",
    "Store",
    "StoreError",
    "open_store",
]
