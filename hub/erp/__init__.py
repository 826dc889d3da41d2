"""ERP adapters: the edge where canonical documents are handed to the ERP and outbound ones taken from it.

>>> from hub.erp import build_adapter
>>> erp = build_adapter({"type": "folder", "inbox": "var/erp/inbox", "outbox": "var/erp/outbox"})
>>> delivery = erp.post(document, idempotency_key)      # Delivery(reference, response, duplicate)
>>> for item in erp.fetch_outbound():                   # OutboundDocument(id, document, source, error)
...     store.commit(item); erp.settle(item)            # settle only after the store committed

The protocol and the factory live in :mod:`hub.erp.base`; the adapters
(``folder``, ``http``, ``sql``, ``tryton``) are imported lazily by
:func:`build_adapter`, so that a client library only one of them needs is not
imported by the others.
"""

from hub.erp.base import (
    ADAPTER_TYPES,
    DEFAULT_TYPE,
    Delivery,
    ErpAdapter,
    MemoryAdapter,
    OutboundDocument,
    build_adapter,
)

__all__ = [
    "ADAPTER_TYPES",
    "DEFAULT_TYPE",
    "Delivery",
    "ErpAdapter",
    "MemoryAdapter",
    "OutboundDocument",
    "build_adapter",
]
