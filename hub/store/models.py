"""The hub's tables, as typed SQLAlchemy 2 models.

What lives here is the *state* of the pipeline, not the data: raw file bytes
sit in the content-addressed archive (:mod:`hub.store.archive`), named by the
``sha256`` the ``files`` row carries, so the database stays small and a row can
always be traced back to the exact bytes received.

Value sets (states, directions, ack results) are plain strings checked in
Python rather than database CHECK constraints or native enums: adding a state
then needs no table rebuild on SQLite and no ``ALTER TYPE`` on PostgreSQL.

Every timestamp is stored as UTC and read back timezone-aware (:class:`UTCDateTime`);
SQLite has no time zones, so the type normalises on the way in and out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the only kind of timestamp the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive text, so values are
    converted to UTC and stripped of their zone on the way in (comparisons in
    SQL then stay correct, the text sorts chronologically) and given UTC back
    on the way out.  Naive datetimes are refused: guessing their zone is how
    retry schedules silently drift by hours.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware timestamps")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """Any JSON-serialisable value, kept as JSON *text*.

    Text rather than the native JSON/JSONB type so both databases store the
    very same bytes, a document can be diffed or exported as is, and nothing
    depends on a JSON operator that SQLite lacks.  Serialising at bind time
    also means a value that is not JSON fails the whole transaction (the
    state change with it) instead of writing half a record.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


#: Primary and foreign keys: 64-bit on PostgreSQL; plain INTEGER on SQLite,
#: which only auto-increments an ``INTEGER PRIMARY KEY`` (its INTEGER is 64-bit anyway).
ID = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class State(StrEnum):
    """Pipeline states of files and transactions (see DESIGN.md, "The flow of one file")."""

    RECEIVED = "received"
    PARSED = "parsed"
    MAPPED = "mapped"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DUPLICATE = "duplicate"
    RETRY_WAIT = "retry_wait"
    FAILED = "failed"


#: States from which the pipeline resumes: entering them records where the item stood (``resume_state``).
PAUSED_STATES = frozenset({State.RETRY_WAIT, State.FAILED})


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Standard(StrEnum):
    X12 = "x12"
    EDIFACT = "edifact"


class DeliveryStatus(StrEnum):
    OK = "ok"
    TRANSIENT = "transient"
    TERMINAL = "terminal"


class AckDirection(StrEnum):
    SENT = "sent"  # we acknowledged something the partner sent us
    EXPECTED = "expected"  # we sent something and wait for the partner's acknowledgment
    RECEIVED = "received"  # the partner's acknowledgment itself, as it arrived


class AckKind(StrEnum):
    FA997 = "997"
    FA999 = "999"
    TA1 = "TA1"
    CONTRL = "CONTRL"


class AckResult(StrEnum):
    ACCEPTED = "accepted"
    ACCEPTED_WITH_ERRORS = "accepted_with_errors"
    PARTIALLY_ACCEPTED = "partially_accepted"
    REJECTED = "rejected"
    OVERDUE = "overdue"
    PENDING = "pending"


class As2State(StrEnum):
    """Where an outbound AS2 message stands with its MDN (``as2_messages.state``)."""

    PENDING = "pending"  # an async MDN is awaited
    OVERDUE = "overdue"  # the async MDN is late and no resend is left: an operator was alerted (still matchable)
    DELIVERED = "delivered"  # a positive MDN that proves receipt (our Message-ID, our MIC, signed when asked)
    REJECTED = "rejected"  # the partner's MDN reports an error
    MDN_INVALID = "mdn-invalid"  # an MDN that does not verify or does not match what we sent
    SENT = "sent"  # no MDN asked for
    POST_FAILED = "post-failed"  # the POST did not get through (connection, 5xx, 429): the retry posts it again


class CounterKind(StrEnum):
    INTERCHANGE = "interchange"  # ISA13 / UNB 0020
    GROUP = "group"  # GS06
    TRANSACTION = "transaction"  # ST02 / UNH 0062


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class File(Base):
    """One file as received from a transport; its bytes are in the archive under ``sha256``."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_files_sha256_partner_id", "sha256", "partner_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    original_name: Mapped[str] = mapped_column(String(1024))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(32), default=State.RECEIVED.value)
    #: Where the item stood when it entered retry_wait or failed: the step to resume.
    resume_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class InterchangeRow(Base):
    """One interchange (ISA..IEA or UNB..UNZ), inbound from a file or outbound as we enveloped it."""

    __tablename__ = "interchanges"
    __table_args__ = (
        Index("ix_interchanges_partner_id_control_number", "partner_id", "control_number"),
        Index("ix_interchanges_file_id", "file_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    file_id: Mapped[int | None] = mapped_column(ID, ForeignKey("files.id"))
    #: 0-based position of the interchange within its file.
    position: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[str] = mapped_column(String(16), default=Direction.INBOUND.value)
    partner_id: Mapped[str | None] = mapped_column(String(64))
    standard: Mapped[str] = mapped_column(String(16))
    sender_qualifier: Mapped[str | None] = mapped_column(String(8))
    sender_id: Mapped[str] = mapped_column(String(64))
    receiver_qualifier: Mapped[str | None] = mapped_column(String(8))
    receiver_id: Mapped[str] = mapped_column(String(64))
    #: Text, not a number: ISA13 keeps its leading zeros and UNB 0020 is alphanumeric.
    control_number: Mapped[str] = mapped_column(String(35))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupRow(Base):
    """One functional group (GS..GE; EDIFACT UNG..UNE when used)."""

    __tablename__ = "groups"
    __table_args__ = (Index("ix_groups_interchange_id", "interchange_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    interchange_id: Mapped[int] = mapped_column(ID, ForeignKey("interchanges.id"))
    functional_id: Mapped[str] = mapped_column(String(8))
    control_number: Mapped[str] = mapped_column(String(35))
    version: Mapped[str | None] = mapped_column(String(32))


class TransactionRow(Base):
    """One business document (ST..SE / UNH..UNT) walking the pipeline, inbound or outbound."""

    __tablename__ = "transactions"
    __table_args__ = (
        Index("ix_transactions_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_transactions_partner_id_type", "partner_id", "type"),
        Index("ix_transactions_file_id", "file_id"),
        Index("ix_transactions_group_id", "group_id"),
        Index("ix_transactions_document_number", "document_number"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    direction: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[str | None] = mapped_column(String(64))
    file_id: Mapped[int | None] = mapped_column(ID, ForeignKey("files.id"))
    interchange_id: Mapped[int | None] = mapped_column(ID, ForeignKey("interchanges.id"))
    group_id: Mapped[int | None] = mapped_column(ID, ForeignKey("groups.id"))
    #: "850", "810", "ORDERS", "INVOIC", ...
    type: Mapped[str] = mapped_column(String(16))
    control_number: Mapped[str | None] = mapped_column(String(35))
    state: Mapped[str] = mapped_column(String(32), default=State.RECEIVED.value)
    resume_state: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    #: The canonical business document (JSON text).
    canonical: Mapped[Any | None] = mapped_column(JSONText)
    #: Findings of reading and validating (JSON text, a list of Finding dicts).
    findings: Mapped[Any | None] = mapped_column(JSONText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The business number people search by (PO number, invoice number, ...).
    document_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One attempt to hand a transaction to an ERP adapter.

    Every attempt is kept (transient failures included) for the audit trail.
    "Delivered once" is enforced by a *partial* unique index: at most one
    ``ok`` row per (adapter, idempotency_key), while failed attempts may repeat.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "uq_deliveries_adapter_idempotency_key_ok",
            "adapter",
            "idempotency_key",
            unique=True,
            sqlite_where=text("status = 'ok'"),
            postgresql_where=text("status = 'ok'"),
        ),
        Index("ix_deliveries_transaction_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ID, ForeignKey("transactions.id"))
    adapter: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    response: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Acknowledgment(Base):
    """An acknowledgment we sent, one we expect, or one we received.

    Control numbers identify what is acknowledged (a 997 names the group and
    optionally each set, a TA1 the interchange, a CONTRL the interchange and
    optionally each message).  An ``expected`` row is settled by the
    ``received`` row that matched it (``matched_by_id``), or turns ``overdue``
    once ``due_at`` has passed.
    """

    __tablename__ = "acknowledgments"
    __table_args__ = (
        Index("ix_acknowledgments_partner_id_group_control_number", "partner_id", "group_control_number"),
        Index("ix_acknowledgments_partner_id_interchange_control_number", "partner_id", "interchange_control_number"),
        Index("ix_acknowledgments_direction_result_due_at", "direction", "result", "due_at"),
        Index("ix_acknowledgments_transaction_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    interchange_control_number: Mapped[str | None] = mapped_column(String(35))
    group_control_number: Mapped[str | None] = mapped_column(String(35))
    transaction_control_number: Mapped[str | None] = mapped_column(String(35))
    #: The transaction this acknowledges (sent/received) or waits an acknowledgment for (expected).
    transaction_id: Mapped[int | None] = mapped_column(ID, ForeignKey("transactions.id"))
    #: The file the acknowledgment travelled in (the partner's ack file for ``received``).
    file_id: Mapped[int | None] = mapped_column(ID, ForeignKey("files.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(32), default=AckResult.PENDING.value)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matched_by_id: Mapped[int | None] = mapped_column(ID, ForeignKey("acknowledgments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class As2Message(Base):
    """One AS2 message we sent and the MDN that answered it (sync or async), or the one still awaited.

    The pending rows are the durable async-MDN registry (:class:`hub.transports.as2.StoreMdnRegistry`): an
    MDN posted to the endpoint is matched by its Original-Message-ID (``message_id``, without angle brackets)
    and checked against ``mics``, whichever process sent the message and however often the hub restarted in
    between.  The MDN's raw bytes (HTTP headers and body, as received) are in the archive under
    ``mdn_sha256``.  ``resend_path``/``resend_headers`` keep the message exactly as posted while a resend may
    still be needed (``mdn_overdue_action: resend``, or a POST that failed and that the pipeline's retry of the
    transaction posts again); they are cleared once the MDN came or the alert was given.
    """

    __tablename__ = "as2_messages"
    __table_args__ = (
        Index("uq_as2_messages_message_id", "message_id", unique=True),
        Index("ix_as2_messages_state_due_at", "state", "due_at"),
        Index("ix_as2_messages_partner_id_sent_at", "partner_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255))
    partner_id: Mapped[str] = mapped_column(String(64))
    partner_as2_id: Mapped[str] = mapped_column(String(128))
    our_as2_id: Mapped[str] = mapped_column(String(128))
    #: The outbound transaction this message carried, when the pipeline sent it.
    transaction_id: Mapped[int | None] = mapped_column(ID, ForeignKey("transactions.id"))
    filename: Mapped[str | None] = mapped_column(String(1024))
    #: ``sync``, ``async`` or ``none``: the MDN asked for.
    mdn_mode: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    #: Every MIC we accept back, ``[[base64 value, algorithm], ...]``.
    mics: Mapped[Any] = mapped_column(JSONText)
    require_signed: Mapped[bool] = mapped_column(Boolean)
    signed: Mapped[bool] = mapped_column(Boolean)
    encrypted: Mapped[bool] = mapped_column(Boolean)
    compressed: Mapped[bool] = mapped_column(Boolean)
    size: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When the async MDN becomes overdue (pushed on by each resend).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: How often the message was POSTed: 1, plus one per resend.
    sends: Mapped[int] = mapped_column(Integer, default=1)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resend_path: Mapped[str | None] = mapped_column(String(1024))
    resend_headers: Mapped[Any | None] = mapped_column(JSONText)
    mdn_message_id: Mapped[str | None] = mapped_column(String(255))
    mdn_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``processed``, ``processed/error: decryption-failed``, ...
    disposition: Mapped[str | None] = mapped_column(String(255))
    mic_matched: Mapped[bool | None] = mapped_column(Boolean)
    mdn_signed: Mapped[bool | None] = mapped_column(Boolean)
    mdn_sha256: Mapped[str | None] = mapped_column(String(64))
    mdn_size: Mapped[int | None] = mapped_column(BigInteger)
    #: Why the MDN does not prove receipt (or why the message is overdue), ``; ``-separated.
    problems: Mapped[str | None] = mapped_column(Text)
    #: Why the last POST failed, while the transaction's retry still owes it (cleared when it is posted again, or
    #: when an MDN that came meanwhile settles it): the retry posts this message again, same Message-ID.
    post_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ControlCounter(Base):
    """The last control number issued per partner and kind (interchange, group, transaction)."""

    __tablename__ = "control_counters"

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """The append-only audit log: what happened to which entity, when, and why.

    Written in the same transaction as the change it records, so the log and
    the state can never disagree.
    """

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(ID)
    event: Mapped[str] = mapped_column(String(64))
    detail: Mapped[Any | None] = mapped_column(JSONText)
