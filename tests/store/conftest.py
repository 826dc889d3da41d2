"""Fixtures of the store tests: a real database per test, SQLite (a file in tmp_path) and PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (user postgres, trust auth; override
with ``EDIHUB_TEST_POSTGRES``, a libpq URL of a database to connect to for
CREATE/DROP DATABASE).  Each test session creates its own uniquely named
databases and drops them at the end.  When the server is unreachable the
PostgreSQL half of the tests skips, except under ``EDIHUB_REQUIRE_CORPUS=1``
(CI), where it fails: CI must not go green on SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import URL

from hub.store import Store, open_store

PG_ADMIN = os.environ.get("EDIHUB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE = os.environ.get("EDIHUB_REQUIRE_CORPUS") == "1"

TABLES = ("events, as2_messages, control_counters, acknowledgments, deliveries, transactions, groups, interchanges, "
          "files")


def _admin() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases (SQLAlchemy URLs), all dropped at the end of the session."""
    created: list[str] = []
    state: dict[str, object] = {}

    def make() -> str:
        if "error" in state:
            _unreachable(state["error"])
        try:
            with _admin() as conn:
                name = f"edihub_store_{os.getpid()}_{uuid.uuid4().hex[:8]}"
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                url = URL.create(
                    "postgresql+psycopg",
                    username=conn.info.user,
                    password=conn.info.password or None,
                    host=conn.info.host,
                    port=conn.info.port,
                    database=name,
                )
        except psycopg.OperationalError as exc:
            state["error"] = exc
            _unreachable(exc)
        created.append(name)
        return url.render_as_string(hide_password=False)

    yield make
    if created:
        with _admin() as conn:
            for name in created:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _unreachable(exc: object) -> None:
    message = f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}"
    if REQUIRE:
        pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_store_url(pg_databases) -> str:
    """One migrated PostgreSQL database shared by the tests (emptied before each one by ``store``)."""
    url = pg_databases()
    open_store(url).close()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def empty_url(backend, tmp_path, pg_databases) -> str:
    """The URL of a new, never migrated database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'edihub.db'}"
    return pg_databases()


@pytest.fixture
def store_url(backend, tmp_path, request) -> str:
    """The URL of a migrated, empty database."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'db' / 'edihub.db'}"
        open_store(url).close()
        return url
    url = request.getfixturevalue("pg_store_url")
    with Store(url) as store, store.session() as s:
        s.connection().exec_driver_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    with Store(store_url) as store:
        yield store
