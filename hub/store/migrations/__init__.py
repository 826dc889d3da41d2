"""Alembic migrations of the hub's store (run them with :func:`hub.store.upgrade`; no alembic.ini needed)."""
