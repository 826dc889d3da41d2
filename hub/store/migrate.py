"""Run the store's Alembic migrations from code: no alembic.ini, the scripts ship inside the package.

Several processes may start at once (workers, the scheduler, the web face),
each calling :func:`upgrade`.  The migration runs inside one transaction that
first takes a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction
advisory lock), so the second process waits, then finds the schema at head
and does nothing, instead of racing to create the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from hub.store.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Arbitrary constant key of the PostgreSQL advisory lock that serialises migrations.
_PG_MIGRATION_LOCK = 0x0ED1_0B57


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (``url`` only for Alembic's own CLI use)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
        config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of the hub."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _engine(target: str | URL | Engine) -> tuple[Engine, bool]:
    if isinstance(target, Engine):
        return target, False
    return make_engine(target), True


def upgrade(target: str | URL | Engine, revision: str = "head") -> None:
    """Migrate the database at ``target`` (a URL or an engine) to ``revision``.

    Pass the store's engine for ``sqlite:///:memory:``: a URL would open a
    second, different in-memory database.
    """
    _migrate(target, command.upgrade, revision)


def downgrade(target: str | URL | Engine, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` drops everything); for tests and emergencies."""
    _migrate(target, command.downgrade, revision)


def _migrate(target: str | URL | Engine, step: Any, revision: str) -> None:
    """Run an Alembic ``step`` (upgrade or downgrade) in one transaction holding the migration lock."""
    engine, own = _engine(target)
    try:
        with engine.begin() as connection:
            _lock(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        if own:
            engine.dispose()


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, ``None`` when it was never migrated."""
    engine, own = _engine(target)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        if own:
            engine.dispose()


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    # SQLite: the engine began this transaction with BEGIN IMMEDIATE, which already is the lock.
