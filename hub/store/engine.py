"""Engines for the two databases the hub runs on, set up so that concurrency is safe.

SQLite (the default, ``sqlite:///var/edihub.db``):

- WAL journal, so readers never block the writer and the writer never blocks readers;
- ``busy_timeout``, so a second process waits for the write lock instead of failing at once;
- foreign keys on (SQLite leaves them off unless asked, per connection);
- every *write* transaction starts with ``BEGIN IMMEDIATE``.  pysqlite's own
  transaction handling is switched off for that: it would start a deferred
  transaction, and a deferred reader that later writes fails with
  SQLITE_BUSY *without waiting* when another process wrote meanwhile.  Taking
  the write lock up front makes every write transaction a queue, which is
  also what makes work claiming and control numbers race-free on SQLite.
- ``sqlite:///:memory:`` (or ``sqlite://``) uses one shared connection
  (StaticPool) so that every session sees the same database; it is for unit
  tests and the :class:`~hub.store.store.Store` serialises access to it.

PostgreSQL (``postgresql+psycopg://...``) needs nothing special: row locks
(``FOR UPDATE SKIP LOCKED``, ``UPDATE ... RETURNING``) do the work.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///var/edihub.db"

#: Execution option marking a read-only engine: its SQLite transactions begin DEFERRED (no write lock).
READ_ONLY = "edihub_read_only"

BUSY_TIMEOUT_MS = 30_000


def is_memory(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings above; creates the SQLite file's folder."""
    url = make_url(url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    memory = is_memory(url)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", BUSY_TIMEOUT_MS / 1000)
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
    elif url.database and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # None = autocommit at the driver level: we emit BEGIN ourselves (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not memory:
                _use_wal(cursor)
                # FULL: a commit is on disk before the pipeline performs the side effect it records.
                cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _use_wal(cursor: Any) -> None:
    """Switch the database file to WAL (a setting stored in the file, so done once per database).

    Changing the journal mode needs an exclusive lock and SQLite does not wait
    for it through the busy handler: when several processes open a new
    database at once, the losers get "database is locked" at once.  So check
    first (no lock needed) and retry the switch for up to the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
            return
        try:
            if str(cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            return  # still usable in rollback-journal mode, only with less concurrency; the next connection retries
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
