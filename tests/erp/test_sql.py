"""The SQL adapter on a real SQLite file and a real PostgreSQL database (created for the test, dropped after)."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.erp import ErpAdapter, build_adapter
from hub.erp.sql import SqlAdapter
from hub.errors import TerminalError, TransientError
from tests.conftest import REQUIRE_CORPUS
from tests.erp.conftest import golden

PG_ADMIN_URL = os.environ.get("EDIHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the maintenance database; skips (fails under EDIHUB_REQUIRE_CORPUS=1) without PG."""
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        if REQUIRE_CORPUS:
            pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but PostgreSQL is unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def pg_database(pg_admin: sa.Engine) -> Iterator[str]:
    """One uniquely named database for the module (creating one costs ~0.5 s), dropped at the end."""
    name = f"edihub_erp_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """The module's database, emptied: every test starts without tables."""
    engine = sa.create_engine(pg_database, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS erp CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'erp.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def erp(db_url: str) -> Iterator[SqlAdapter]:
    adapter = SqlAdapter(db_url, create_tables=True)
    adapter.create_staging_tables()
    yield adapter
    adapter.close()


def rows(adapter: SqlAdapter, table: sa.Table, **where: Any) -> list[dict[str, Any]]:
    query = sa.select(table)
    for key, value in where.items():
        query = query.where(table.c[key] == value)
    with adapter.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(*table.primary_key.columns))]


def add_outbound(adapter: SqlAdapter, document: Any, status: str = "new") -> int:
    text = document if isinstance(document, str) else json.dumps(document)
    with adapter.engine.begin() as conn:
        result = conn.execute(sa.insert(adapter.outbound_document).values(document=text, status=status))
        return result.inserted_primary_key[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ----------------------------------------------------------------- inbound


def test_post_inserts_the_document_and_its_lines(erp):
    document = golden("850-basic")
    delivery = erp.post(document, "key-850")
    assert delivery.reference == "key-850" and not delivery.duplicate and delivery.response["lines"] == 2
    (head,) = rows(erp, erp.inbound_document)
    assert head["idempotency_key"] == "key-850" and head["document_type"] == "purchase_order"
    assert head["number"] == "PO-4711" and head["sender"] == "ACMEBUYER" and head["receiver"] == "EDIHUBSELLER"
    assert json.loads(head["document"]) == document and head["received_at"] is not None
    lines = rows(erp, erp.inbound_line)
    assert [(r["line_index"], r["line_number"], r["product_id"], r["product_scheme"], r["unit"]) for r in lines] == [
        (0, "1", "012345678905", "upc", "CA"),
        (1, "2", "X2", "buyer_part", "EA"),
    ]
    assert [Decimal(r["quantity"]) for r in lines] == [Decimal("10"), Decimal("3.5")]
    assert [json.loads(r["line"]) for r in lines] == document["lines"]
    assert isinstance(erp, ErpAdapter)


def test_other_documents_flatten_their_own_quantity_field(erp):
    erp.post(golden("856-basic"), "asn")
    erp.post(golden("855-basic"), "ack")
    asn_line = rows(erp, erp.inbound_line, idempotency_key="asn")[0]
    assert Decimal(asn_line["quantity"]) == Decimal("6") and asn_line["unit"] == "EA"  # shipped_quantity
    ack_line = rows(erp, erp.inbound_line, idempotency_key="ack")[0]
    document = golden("855-basic")
    assert Decimal(ack_line["quantity"]) == Decimal(document["lines"][0]["confirmed_quantity"]["value"])


def test_same_key_twice_is_a_duplicate_without_a_second_row(erp):
    erp.post(golden("850-basic"), "k")
    again = erp.post(golden("850-basic"), "k")
    assert again.duplicate and again.reference == "k"
    assert len(rows(erp, erp.inbound_document)) == 1 and len(rows(erp, erp.inbound_line)) == 2
    erp.post(golden("850-basic"), "k2")
    assert len(rows(erp, erp.inbound_document)) == 2 and len(rows(erp, erp.inbound_line)) == 4


def test_a_failing_line_rolls_back_the_whole_document(erp, db_url):
    document = golden("850-basic")
    with erp.engine.begin() as conn:  # make the second line's insert fail inside the database
        if db_url.startswith("sqlite"):
            conn.execute(
                sa.text(
                    "CREATE TRIGGER boom BEFORE INSERT ON edi_inbound_line WHEN NEW.unit = 'BOOM' "
                    "BEGIN SELECT RAISE(ABORT, 'unit BOOM refused'); END"
                )
            )
        else:
            conn.execute(
                sa.text("ALTER TABLE edi_inbound_line ADD CONSTRAINT no_boom CHECK (unit IS NULL OR unit <> 'BOOM')")
            )
    document["lines"][1]["quantity"]["unit"] = "BOOM"
    with pytest.raises(TerminalError, match="BOOM|no_boom"):
        erp.post(document, "k")
    assert rows(erp, erp.inbound_document) == [] and rows(erp, erp.inbound_line) == []


def test_bad_data_is_terminal(erp, db_url):
    document = golden("850-basic")
    document["lines"][0]["quantity"]["value"] = "ten"
    with pytest.raises(TerminalError, match=r"lines\[0\].quantity.value"):
        erp.post(document, "k")
    with pytest.raises(TerminalError, match="number"):
        erp.post({"document_type": "invoice", "lines": []}, "k")
    if db_url.startswith("postgresql"):  # PostgreSQL enforces lengths: a DataError, terminal
        document = golden("850-basic")
        document["lines"][0]["line_number"] = "9" * 100
        with pytest.raises(TerminalError, match="StringDataRightTruncation|too long|DataError"):
            erp.post(document, "k")
    assert rows(erp, erp.inbound_document) == []


def test_missing_tables_are_terminal_with_a_hint(db_url):
    adapter = SqlAdapter(db_url)  # create_tables defaults to false
    try:
        with pytest.raises(TerminalError, match="edi_inbound_document|no such table"):
            adapter.post(golden("850-basic"), "k")
        with pytest.raises(TerminalError, match="edi_outbound_document"):
            adapter.fetch_outbound()
    finally:
        adapter.close()


# ---------------------------------------------------------------- outbound


def test_fetch_outbound_new_rows_and_settle(erp):
    asn, invoice = golden("856-basic"), golden("810-basic")
    first = add_outbound(erp, asn)
    add_outbound(erp, invoice, status="sent")
    broken = add_outbound(erp, '{"document_type": ')
    invalid = add_outbound(erp, {"document_type": "invoice", "number": "X"})
    listed = add_outbound(erp, "[1, 2]")
    items = erp.fetch_outbound()
    assert [i.id for i in items] == [str(first), str(broken), str(invalid), str(listed)]
    assert items[0].ok and items[0].document == asn and items[0].source == f"edi_outbound_document#{first}"
    assert [i.ok for i in items[1:]] == [False, False, False]
    assert "not valid JSON" in str(items[1].error) and "canonical" in str(items[2].error)
    assert "JSON object" in str(items[3].error)
    assert [i.id for i in erp.fetch_outbound()] == [i.id for i in items]  # fetching changes nothing
    for item in items:
        erp.settle(item)
    erp.settle(items[0])  # a second settle is harmless
    statuses = {r["id"]: r["status"] for r in rows(erp, erp.outbound_document)}
    assert statuses[first] == "sent"
    assert [statuses[i] for i in (broken, invalid, listed)] == ["failed"] * 3
    assert erp.fetch_outbound() == []


def test_fetch_limit_and_created_at_order(db_url):
    adapter = SqlAdapter(db_url, fetch_limit=2)
    adapter.create_staging_tables()
    try:
        ids = [add_outbound(adapter, golden("856-basic") | {"number": f"S{n}"}) for n in range(3)]
        with adapter.engine.begin() as conn:  # the last row is the oldest
            table = adapter.outbound_document
            conn.execute(sa.update(table).where(table.c.id == ids[2]).values(created_at=sa.text("'2000-01-01'")))
        assert [i.document["number"] for i in adapter.fetch_outbound()] == ["S2", "S0"]
    finally:
        adapter.close()


# ------------------------------------------------------------ availability


def test_a_database_on_a_closed_port_is_transient():
    adapter = SqlAdapter(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nowhere", connect_timeout=2)
    try:
        with pytest.raises(TransientError, match="OperationalError"):
            adapter.post(golden("850-basic"), "k")
        with pytest.raises(TransientError):
            adapter.fetch_outbound()
    finally:
        adapter.close()
    creating = SqlAdapter(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x", create_tables=True)
    with pytest.raises(TransientError, match="cannot create the staging tables"):
        creating.post(golden("850-basic"), "k")  # tables are created on first use: down at start-up is a retry


def test_a_database_that_goes_away_is_transient_then_recovers(pg_admin, pg_url):
    adapter = SqlAdapter(pg_url, create_tables=True, connect_timeout=2)
    try:
        adapter.post(golden("850-basic"), "k1")
        name = sa.make_url(pg_url).database
        with pg_admin.connect() as conn:  # the server kills every session and refuses new ones
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
        try:
            with pytest.raises(TransientError):
                adapter.post(golden("850-basic"), "k2")
        finally:
            with pg_admin.connect() as conn:
                conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        assert not adapter.post(golden("850-basic"), "k2").duplicate
        assert adapter.post(golden("850-basic"), "k1").duplicate
    finally:
        adapter.close()


def test_schema_option_on_postgresql(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA erp"))
    engine.dispose()
    adapter = SqlAdapter(pg_url, schema="erp", create_tables=True)
    try:
        adapter.post(golden("850-basic"), "k")
        with adapter.engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from erp.edi_inbound_line")).scalar() == 2
        add_outbound(adapter, golden("856-basic"))
        (item,) = adapter.fetch_outbound()
        assert item.source == "erp.edi_outbound_document#1"
    finally:
        adapter.close()


# ------------------------------------------------------------------ config


def test_build_from_config_with_the_url_as_a_reference(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    monkeypatch.setenv("EDIHUB_TEST_ERP_DB", url)
    adapter = build_adapter({"type": "sql", "sql": {"url": "${EDIHUB_TEST_ERP_DB}", "create_tables": True}})
    try:
        assert isinstance(adapter, SqlAdapter)
        assert not adapter.post(golden("810-basic"), "k").duplicate
    finally:
        adapter.close()
    with pytest.raises(ValueError, match="url"):
        build_adapter({"type": "sql"})
    with pytest.raises(ValueError, match="url"):
        build_adapter({"type": "sql", "url": "nosuchdialect://x"})
    with pytest.raises(ValueError, match="unknown option.*tables"):
        build_adapter({"type": "sql", "url": url, "tables": True})
