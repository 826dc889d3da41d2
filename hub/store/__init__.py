"""The hub's state store: tables, migrations, repositories, work claiming, and the raw-bytes archive.

Typical use::

    from hub.store import Archive, open_store

    store = open_store("sqlite:///var/edihub.db")  # or postgresql+psycopg://user@host/db
    archive = Archive("var/archive/objects")
    sha = archive.put_file(path)
    row, duplicate = store.record_file(sha, size, "folder", path.name)
    for file_id in store.claim("file", ["received"], worker_id="w1", limit=10):
        ...
        store.set_state("file", file_id, "parsed", worker_id="w1")
        store.release("file", file_id, "w1")

See :mod:`hub.store.store` for the guarantees (one transaction per call, events
written with the state, claims never shared between workers).
"""

from __future__ import annotations

from hub.store.archive import Archive
from hub.store.engine import DEFAULT_URL, make_engine
from hub.store.migrate import current_revision, downgrade, head_revision, upgrade
from hub.store.models import (
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
from hub.store.store import (
    ENTITIES,
    STATEFUL,
    AckMatch,
    AlreadyDelivered,
    LeaseLost,
    NotFound,
    Store,
    StoreError,
    open_store,
)

__all__ = [
    "DEFAULT_URL",
    "ENTITIES",
    "STATEFUL",
    "AckDirection",
    "AckKind",
    "AckMatch",
    "AckResult",
    "Acknowledgment",
    "AlreadyDelivered",
    "Archive",
    "As2Message",
    "As2State",
    "Base",
    "ControlCounter",
    "CounterKind",
    "Delivery",
    "DeliveryStatus",
    "Direction",
    "Event",
    "File",
    "GroupRow",
    "InterchangeRow",
    "LeaseLost",
    "NotFound",
    "Standard",
    "State",
    "Store",
    "StoreError",
    "TransactionRow",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "open_store",
    "upgrade",
    "utcnow",
]
