"""The SQL ERP adapter: staging tables in the ERP's own database, through SQLAlchemy.

Many ERPs import from "interface" or staging tables that a job of theirs
reads.  Writing rows there (rather than calling an API) gives the ERP a
transaction-safe hand-over and gives the hub a natural idempotency check: the
key is the primary key.

Inbound (``post``), in **one transaction**:

* ``edi_inbound_document`` — ``idempotency_key`` (primary key), ``document_type``,
  ``number``, ``sender``, ``receiver`` (the endpoint ids), ``document`` (the
  canonical JSON as text), ``received_at`` (UTC);
* ``edi_inbound_line`` — one row per line: ``idempotency_key``, ``line_index``
  (0-based; together the primary key), ``line`` (the line's JSON as text) and
  flattened for convenience: ``line_number``, ``product_id`` and
  ``product_scheme`` (the line's first product id), ``quantity`` and ``unit``
  (from the first of ``quantity``, ``shipped_quantity``, ``invoiced_quantity``,
  ``confirmed_quantity``, ``ordered_quantity`` the line has).

A second post with the same key violates the primary key; the adapter then
checks that the key is indeed there and answers ``Delivery(duplicate=True)`` —
no error, no second row.

Outbound: rows of ``edi_outbound_document`` (``id``, ``document`` JSON text,
``status`` ``'new'``/``'sent'``, ``created_at``) are fetched where
``status = 'new'``, oldest first, at most ``fetch_limit``; ``settle`` sets
``status = 'sent'`` — or ``'failed'`` for a row that could not be read (its JSON
is malformed or, with ``validate``, not a valid canonical document), so it is
not served again while a person looks at it.  The item id is the row id.

Errors: connection and operational faults (server down, timeout, lock,
deadlock, serialization failure) → :class:`TransientError`; integrity and data
faults, and a missing table, → :class:`TerminalError`.  Tables are created when
missing if ``create_tables`` is true (in the named ``schema`` if one is set) on
first use, not when the adapter is built, so that a database that is down at
start-up is a retry, not a crash.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from hub.erp.base import Delivery, OutboundDocument, check_key, document_field, endpoint_id, options
from hub.errors import TerminalError, TransientError

DEFAULTS: dict[str, Any] = {
    "name": "sql",
    "url": None,
    "schema": None,
    "create_tables": False,
    "connect_timeout": 10,
    "fetch_limit": 100,
    "validate": True,
    "echo": False,
}
"""Every option of the SQL adapter and its default (``url`` is required; a password in it belongs in the
environment: ``url`` may itself be a ``${ENV_NAME}`` or ``file:`` reference)."""

QUANTITY_FIELDS = ("quantity", "shipped_quantity", "invoiced_quantity", "confirmed_quantity", "ordered_quantity")
MISSING_TABLE_HINTS = ("no such table", "no such column", "has no column named")


def build_tables(metadata: sa.MetaData, schema: str | None = None) -> tuple[sa.Table, sa.Table, sa.Table]:
    """The three staging tables (inbound document, inbound line, outbound document) in ``metadata``."""
    key_type = sa.String(255)
    document = sa.Table(
        "edi_inbound_document",
        metadata,
        sa.Column("idempotency_key", key_type, primary_key=True),
        sa.Column("document_type", sa.String(40), nullable=False),
        sa.Column("number", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255)),
        sa.Column("receiver", sa.String(255)),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    prefix = f"{schema}." if schema else ""
    line = sa.Table(
        "edi_inbound_line",
        metadata,
        sa.Column(
            "idempotency_key",
            key_type,
            sa.ForeignKey(f"{prefix}edi_inbound_document.idempotency_key", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("line_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line_number", sa.String(64)),
        sa.Column("product_id", sa.String(255)),
        sa.Column("product_scheme", sa.String(64)),
        sa.Column("quantity", sa.Numeric(24, 6)),
        sa.Column("unit", sa.String(32)),
        sa.Column("line", sa.Text, nullable=False),
        schema=schema,
    )
    outbound = sa.Table(
        "edi_outbound_document",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Index("ix_edi_outbound_document_status", "status", "created_at"),
        schema=schema,
    )
    return document, line, outbound


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def line_columns(line: Any, index: int) -> dict[str, Any]:
    """The flattened columns of one canonical line (see the module docstring); TerminalError for a bad quantity."""
    if not isinstance(line, Mapping):
        raise TerminalError(f"$.lines[{index}]: expected an object")
    product_id = product_scheme = None
    product_ids = line.get("product_ids")
    if isinstance(product_ids, list) and product_ids and isinstance(product_ids[0], Mapping):
        product_id = _text(product_ids[0].get("value"))
        product_scheme = _text(product_ids[0].get("scheme"))
    quantity = unit = None
    for name in QUANTITY_FIELDS:
        found = line.get(name)
        if isinstance(found, Mapping) and found.get("value") is not None:
            try:
                quantity = Decimal(str(found["value"]))
            except InvalidOperation as exc:
                raise TerminalError(f"$.lines[{index}].{name}.value: not a number: {found['value']!r}") from exc
            if not quantity.is_finite():
                raise TerminalError(f"$.lines[{index}].{name}.value: not a finite number")
            unit = _text(found.get("unit"))
            break
    return {
        "line_index": index,
        "line_number": _text(line.get("line_number")),
        "product_id": product_id,
        "product_scheme": product_scheme,
        "quantity": quantity,
        "unit": unit,
        "line": json.dumps(line, ensure_ascii=False),
    }


def convert_error(exc: sa_exc.SQLAlchemyError, what: str) -> TransientError | TerminalError:
    """The runtime's error for a database failure (raise it ``from exc``)."""
    detail = str(getattr(exc, "orig", None) or exc).strip()
    text = detail.splitlines()[0] if detail else repr(exc)
    message = f"{what}: {type(exc).__name__}: {text}"
    if isinstance(exc, sa_exc.OperationalError) and any(h in text.lower() for h in MISSING_TABLE_HINTS):
        return TerminalError(f"{message} (create the staging tables, or set create_tables: true)")
    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)):
        return TransientError(message)
    if isinstance(exc, sa_exc.TimeoutError):  # the connection pool is exhausted
        return TransientError(message)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return TransientError(message)
    return TerminalError(message)


class SqlAdapter:
    """Writes documents into staging tables of the ERP's database; reads its outbound table."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "sql",
        schema: str | None = None,
        create_tables: bool = False,
        connect_timeout: float = 10,
        fetch_limit: int = 100,
        validate: bool = True,
        echo: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not url:
            raise ValueError("erp (sql): 'url' is required")
        from hub.partners.profile import is_secret_reference, resolve_secret

        if is_secret_reference(url):
            try:
                url = resolve_secret(url, environ)
            except (KeyError, OSError, ValueError) as exc:
                raise ValueError(f"erp (sql): url: {exc}") from exc
        self.name = name
        self.create_tables = bool(create_tables)
        self.fetch_limit = max(1, int(fetch_limit))
        self.validate = bool(validate)
        self.metadata = sa.MetaData()
        self.inbound_document, self.inbound_line, self.outbound_document = build_tables(self.metadata, schema)
        try:
            parsed = sa.make_url(url)
            backend = parsed.get_backend_name()
            connect_args: dict[str, Any] = {}
            if backend == "sqlite":
                connect_args["timeout"] = float(connect_timeout)
            elif backend == "postgresql":
                connect_args["connect_timeout"] = max(1, int(connect_timeout))
            self.engine: Engine = sa.create_engine(
                parsed, echo=bool(echo), pool_pre_ping=backend != "sqlite", connect_args=connect_args
            )
        except (sa_exc.ArgumentError, sa_exc.NoSuchModuleError, ImportError) as exc:
            raise ValueError(f"erp (sql): url: {exc}") from exc
        self._where = parsed.render_as_string(hide_password=True)
        self._ready = not self.create_tables
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SqlAdapter:
        """Built from the ``erp`` options (see :data:`DEFAULTS`)."""
        opts = options(DEFAULTS, config, "sql")
        url = opts.pop("url")
        return cls(url, **opts)

    def create_staging_tables(self) -> None:
        """Creates the staging tables that are missing (for ``create_tables`` and for a setup command)."""
        with self._lock:
            try:
                self.metadata.create_all(self.engine, checkfirst=True)
            except sa_exc.SQLAlchemyError as exc:
                raise convert_error(exc, f"cannot create the staging tables in {self._where}") from exc
            self._ready = True

    def _prepare(self) -> None:
        """On first use with ``create_tables``: then a database down at start-up is a retry, not a crash."""
        if not self._ready:
            self.create_staging_tables()

    # ---------------------------------------------------------------- post

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        check_key(idempotency_key)
        row = {
            "idempotency_key": idempotency_key,
            "document_type": document_field(document, "document_type"),
            "number": document_field(document, "number"),
            "sender": endpoint_id(document.get("sender")),
            "receiver": endpoint_id(document.get("receiver")),
            "received_at": datetime.now(UTC),
        }
        lines = document.get("lines") or []
        if not isinstance(lines, list):
            raise TerminalError("$.lines: expected a list")
        line_rows = [{"idempotency_key": idempotency_key, **line_columns(line, i)} for i, line in enumerate(lines)]
        try:
            row["document"] = json.dumps(document, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TerminalError(f"document is not JSON-serialisable: {exc}") from exc
        self._prepare()
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(self.inbound_document), row)
                if line_rows:
                    conn.execute(sa.insert(self.inbound_line), line_rows)
        except sa_exc.IntegrityError as exc:
            if self._has_key(idempotency_key):
                return Delivery(reference=idempotency_key, response={"status": "duplicate"}, duplicate=True)
            raise convert_error(exc, f"{self._where}: cannot insert {idempotency_key}") from exc
        except sa_exc.SQLAlchemyError as exc:
            raise convert_error(exc, f"{self._where}: cannot insert {idempotency_key}") from exc
        return Delivery(
            reference=idempotency_key,
            response={"table": self.inbound_document.fullname, "lines": len(line_rows)},
        )

    def _has_key(self, idempotency_key: str) -> bool:
        query = sa.select(self.inbound_document.c.idempotency_key).where(
            self.inbound_document.c.idempotency_key == idempotency_key
        )
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).first() is not None
        except sa_exc.SQLAlchemyError as exc:
            raise convert_error(exc, f"{self._where}: cannot look up {idempotency_key}") from exc

    # ------------------------------------------------------------ outbound

    def fetch_outbound(self) -> list[OutboundDocument]:
        self._prepare()
        table = self.outbound_document
        query = (
            sa.select(table.c.id, table.c.document)
            .where(table.c.status == "new")
            .order_by(table.c.created_at, table.c.id)
            .limit(self.fetch_limit)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except sa_exc.SQLAlchemyError as exc:
            raise convert_error(exc, f"{self._where}: cannot read {table.fullname}") from exc
        return [self._item(row.id, row.document) for row in rows]

    def _item(self, row_id: Any, text: Any) -> OutboundDocument:
        item_id = str(row_id)
        source = f"{self.outbound_document.fullname}#{item_id}"
        try:
            document = json.loads(text) if isinstance(text, (str, bytes)) else text
        except ValueError as exc:
            return OutboundDocument(item_id, None, source, TerminalError(f"{source}: not valid JSON: {exc}"), row_id)
        if not isinstance(document, dict):
            error = TerminalError(f"{source}: expected one canonical document (a JSON object)")
            return OutboundDocument(item_id, None, source, error, row_id)
        if self.validate:
            from hub.canonical import validate_document

            problems = validate_document(document)
            if problems:
                error = TerminalError(f"{source}: not a valid canonical document: {'; '.join(problems[:5])}")
                return OutboundDocument(item_id, None, source, error, row_id)
        return OutboundDocument(item_id, document, source, token=row_id)

    def settle(self, item: OutboundDocument) -> None:
        if item.token is None:
            raise TerminalError(f"{item.id}: not an item fetched by the SQL adapter {self.name!r}")
        table = self.outbound_document
        status = "sent" if item.ok else "failed"
        query = sa.update(table).where(table.c.id == item.token, table.c.status == "new").values(status=status)
        try:
            with self.engine.begin() as conn:
                conn.execute(query)
        except sa_exc.SQLAlchemyError as exc:
            raise convert_error(exc, f"{self._where}: cannot settle {item.source}") from exc

    def close(self) -> None:
        self.engine.dispose()
