"""The packaged migrations build exactly the schema of the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from hub.store import Base, Store, current_revision, downgrade, head_revision, open_store, upgrade
from hub.store.migrate import MIGRATIONS
from tests.store._workers import upgrade_worker
from tests.store.processes import run_processes


def _diffs(store: Store) -> list:
    with store.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


def test_upgrade_to_head_matches_the_models(empty_url):
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision() == "0003"
    with Store(empty_url) as store:
        assert _diffs(store) == []
        tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_the_comparison_sees_a_difference(empty_url):
    """Guard against a vacuous check: a schema that differs from the models must produce diffs."""
    upgrade(empty_url)
    with Store(empty_url) as store:
        with store.engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_files_state_next_attempt_at"))
        diffs = _diffs(store)
    assert [d[0] for d in diffs] == ["add_index"]


def test_upgrade_is_idempotent_and_reversible(empty_url):
    with open_store(empty_url) as store:
        store.upgrade()  # at head already: nothing to do
        assert store.current_revision() == "0003"
    downgrade(empty_url, "base")
    with Store(empty_url) as store:
        assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    upgrade(empty_url)
    assert current_revision(empty_url) == "0003"


def test_migrations_ship_as_packages():
    """setuptools finds packages with include=["hub*"]: the folders need an __init__.py to be installed."""
    assert (MIGRATIONS / "__init__.py").is_file()
    assert (MIGRATIONS / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert not (MIGRATIONS.parent / "alembic.ini").exists()


def test_memory_database_is_migrated_in_place():
    with open_store("sqlite:///:memory:") as store:
        assert store.current_revision() == "0003"
        assert _diffs(store) == []
        row, duplicate = store.record_file("0" * 64, 1, "folder", "a.edi")
        assert not duplicate and store.get_file(row.id).sha256 == "0" * 64


def test_processes_upgrading_at_once_do_not_collide(empty_url):
    results = run_processes(upgrade_worker, [(empty_url,)] * 3)
    assert results == [("ok", "0003")] * 3
