"""Alembic environment of the store, driven from :mod:`hub.store.migrate` (not from an alembic.ini).

The caller hands over an open connection in ``config.attributes["connection"]``
so that migrations run inside its transaction (and, for ``sqlite:///:memory:``,
on the very database the store uses).  Without one (the ``alembic`` command
line pointed at this folder), an engine is made from ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context

from hub.store.engine import make_engine
from hub.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; batch mode lets later revisions use op.alter_column there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
