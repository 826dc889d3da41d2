"""The ERP adapter protocol, its two value types, the factory, and an in-memory test double.

The runtime talks to *an* ERP through :class:`ErpAdapter` only (see
``../shared/DESIGN.md``, "Layers"): inbound documents are *posted* with an
idempotency key, outbound documents are *fetched* and later *settled*.  The
protocol is deliberately small so that a new ERP needs one class, and so that
the pipeline's crash-safety argument holds for every adapter:

* ``post`` is idempotent by key.  The pipeline writes ``delivered`` to its store
  *after* ``post`` returns; a crash in between re-posts with the same key, and
  the adapter answers ``Delivery(duplicate=True)`` instead of delivering twice.
* ``fetch_outbound`` has no side effect on the ERP.  ``settle`` (archive, mark
  sent, acknowledge) is called only after the hub's store committed the item,
  so a crash between the two re-delivers it, and the hub dedupes it by
  :attr:`OutboundDocument.id`.  Ids must therefore be stable across fetches.
* Every foreign exception leaves an adapter as :class:`~hub.errors.TransientError`
  (retry later) or :class:`~hub.errors.TerminalError` (a person must look).

An outbound item that cannot be read (a malformed file, a row whose JSON does
not parse, an invalid canonical document) is *returned* as a failed
:class:`OutboundDocument` (``error`` set, ``document`` ``None``) rather than
raised, so that one bad item does not block the ones behind it.  The runtime
records it as ``failed`` and then settles it; adapters settle a failed item
so that it is not served again (the folder adapter moves it to ``failed/``).

Configuration: :func:`build_adapter` takes the ``erp`` section of config.yaml,
either flat (``{"type": "http", "url": ...}``) or with one sub-mapping per
adapter type (``{"type": "http", "http": {"url": ...}, "folder": {...}}``);
only the selected type's options are read, and an unknown option is a
``ValueError`` naming it, so a typo cannot silently fall back to a default.
``type: memory`` builds the :class:`MemoryAdapter` test double (for tests of
the runtime that go through the factory; not documented for users).
"""

from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hub.errors import HubError, TerminalError

ADAPTER_TYPES = ("folder", "http", "sql", "tryton")
DEFAULT_TYPE = "folder"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the ERP said when a document was posted.

    ``reference``: the ERP's own handle for the document when it gave one (a
    file name, a row key, a record id), for the audit trail.  ``response``: the
    ERP's answer (parsed JSON when it sent JSON, else text), kept for people
    reading a failure later.  ``duplicate``: the ERP already had a document
    with this idempotency key, so nothing new was delivered; the pipeline treats
    that as delivered.
    """

    reference: str | None = None
    response: Any = None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class OutboundDocument:
    """One outbound document offered by the ERP, waiting to be sent to a partner.

    ``id`` is stable across fetches (the hub dedupes on it after a crash between
    fetch and settle); ``source`` describes where it came from for people (a
    path, a URL, a table row).  When the item could not be read, ``document``
    is ``None`` and ``error`` says why (see the module docstring).
    ``token`` is adapter-private data that ``settle`` needs (a content hash, a
    raw row id); the runtime passes the item back unchanged and ignores it.
    """

    id: str
    document: dict[str, Any] | None
    source: str
    error: TerminalError | None = None
    token: Any = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when ``document`` can be processed; False for a failed item."""
        return self.error is None


@runtime_checkable
class ErpAdapter(Protocol):
    """The edge between the hub and one ERP (see the module docstring for the contract)."""

    name: str

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        """Delivers ``document`` once per ``idempotency_key``; a repeat answers ``duplicate=True``."""
        ...

    def fetch_outbound(self) -> list[OutboundDocument]:
        """Outbound documents waiting in the ERP, without changing anything there."""
        ...

    def settle(self, item: OutboundDocument) -> None:
        """Marks ``item`` as taken (after the hub committed it); settling twice is harmless."""
        ...

    def close(self) -> None:
        """Releases connections and clients; the adapter is not used afterwards."""
        ...


# ------------------------------------------------------------------ helpers


def document_field(document: Any, name: str) -> str:
    """A required scalar header field as text, or :class:`TerminalError` (bad data never becomes a retry)."""
    if not isinstance(document, Mapping):
        raise TerminalError(f"a canonical document must be a JSON object, not {type(document).__name__}")
    value = document.get(name)
    if value is None or isinstance(value, (dict, list)) or str(value) == "":
        raise TerminalError(f"canonical document has no {name!r}")
    return str(value)


def endpoint_id(value: Any) -> str | None:
    """The ``id`` of a canonical ``sender``/``receiver`` endpoint (or the value itself when it is text)."""
    if isinstance(value, Mapping):
        ident = value.get("id")
        return None if ident is None else str(ident)
    return None if value is None else str(value)


def check_key(idempotency_key: Any) -> str:
    """The idempotency key, which must be non-empty text: without it nothing can be deduplicated."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise TerminalError("an idempotency key (non-empty text) is required to post a document")
    return idempotency_key


def options(defaults: Mapping[str, Any], config: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``defaults`` overlaid with ``config``; ``ValueError`` naming an unknown key (typos must not pass silently)."""
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"erp ({kind}): unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(defaults))})")
    merged = copy.deepcopy(dict(defaults))
    merged.update({k: v for k, v in config.items()})
    return merged


def _adapter_options(config: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The options for ``kind``: its sub-mapping (nested layout) overlaid with flat keys, other types' ignored."""
    merged: dict[str, Any] = {}
    nested = config.get(kind)
    if nested is not None:
        if not isinstance(nested, Mapping):
            raise ValueError(f"erp.{kind} must be a mapping of options")
        merged.update(nested)
    for key, value in config.items():
        if key in ("type", "memory", *ADAPTER_TYPES):
            continue
        merged[key] = value
    return merged


def build_adapter(config: Mapping[str, Any] | None = None) -> ErpAdapter:
    """The adapter that ``config["type"]`` names (``folder`` when absent), built from its options.

    ``ValueError`` for an unknown type or option, a missing required option, or
    the ``tryton`` type when :mod:`hub.erp.tryton` is not installed.
    """
    config = dict(config or {})
    kind = config.get("type") or DEFAULT_TYPE
    if kind not in ADAPTER_TYPES and kind != "memory":
        raise ValueError(f"erp.type: unknown adapter {kind!r} (known: {', '.join(ADAPTER_TYPES)})")
    opts = _adapter_options(config, kind)
    if kind == "folder":
        from hub.erp.folder import FolderAdapter

        return FolderAdapter.from_config(opts)
    if kind == "http":
        from hub.erp.http import HttpAdapter

        return HttpAdapter.from_config(opts)
    if kind == "sql":
        from hub.erp.sql import SqlAdapter

        return SqlAdapter.from_config(opts)
    if kind == "memory":
        return MemoryAdapter(**opts)
    return _build_tryton(opts)


def _build_tryton(opts: dict[str, Any]) -> ErpAdapter:
    """Imported lazily: the Tryton adapter (and its client library) is optional."""
    try:
        module = importlib.import_module("hub.erp.tryton")
    except ModuleNotFoundError as exc:
        if exc.name == "hub.erp.tryton":
            raise ValueError("erp.type 'tryton': the Tryton adapter (hub.erp.tryton) is not installed") from exc
        raise ValueError(f"erp.type 'tryton': a library it needs is missing ({exc.name})") from exc
    factory = getattr(module, "build_adapter", None)
    if callable(factory):
        return factory(opts)
    cls = getattr(module, "TrytonAdapter", None)
    if cls is None:
        raise ValueError("erp.type 'tryton': hub.erp.tryton defines neither build_adapter() nor TrytonAdapter")
    from_config = getattr(cls, "from_config", None)
    return from_config(opts) if callable(from_config) else cls(**opts)


# ---------------------------------------------------------------- test double


class MemoryAdapter:
    """An in-memory ERP: a **test double** for unit tests of other layers, never a production adapter.

    It keeps the contract the real adapters keep (idempotent ``post``,
    side-effect-free ``fetch_outbound``, idempotent ``settle``) so that tests of
    the runtime exercise the same semantics.  Tests drive it with:

    * ``posted`` — ``{idempotency_key: document}`` in posting order;
    * ``post_calls`` — every call, duplicates included;
    * ``add_outbound(document, id=None)`` / ``add_failed_outbound(id, reason)``;
    * ``settled`` — ids settled, in order (``pending_outbound()`` what is left);
    * ``fail_next(error, times=1)`` — the next ``post`` calls raise ``error``
      (a :class:`TransientError` or :class:`TerminalError`) before touching state.
    """

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.posted: dict[str, dict[str, Any]] = {}
        self.post_calls: list[tuple[str, dict[str, Any]]] = []
        self.settled: list[str] = []
        self.closed = False
        self._outbound: dict[str, OutboundDocument] = {}
        self._failures: list[HubError] = []
        self._lock = threading.Lock()
        self._counter = 0

    def fail_next(self, error: HubError, times: int = 1) -> None:
        """The next ``times`` posts raise ``error`` (nothing is recorded for them)."""
        with self._lock:
            self._failures.extend([error] * times)

    def post(self, document: dict[str, Any], idempotency_key: str) -> Delivery:
        check_key(idempotency_key)
        document_field(document, "document_type")
        with self._lock:
            self.post_calls.append((idempotency_key, copy.deepcopy(document)))
            if self._failures:
                raise self._failures.pop(0)
            if idempotency_key in self.posted:
                return Delivery(reference=idempotency_key, response={"status": "duplicate"}, duplicate=True)
            self.posted[idempotency_key] = copy.deepcopy(document)
            return Delivery(reference=idempotency_key, response={"status": "created"})

    def add_outbound(self, document: dict[str, Any], id: str | None = None) -> str:
        """Queues an outbound document; returns its id."""
        with self._lock:
            self._counter += 1
            item_id = id or f"memory-{self._counter}"
            self._outbound[item_id] = OutboundDocument(item_id, copy.deepcopy(document), f"memory:{item_id}")
            return item_id

    def add_failed_outbound(self, id: str, reason: str) -> None:
        """Queues an unreadable outbound item (as a malformed file would be)."""
        with self._lock:
            self._outbound[id] = OutboundDocument(id, None, f"memory:{id}", error=TerminalError(reason))

    def fetch_outbound(self) -> list[OutboundDocument]:
        with self._lock:
            return [
                OutboundDocument(i.id, copy.deepcopy(i.document), i.source, i.error) for i in self._outbound.values()
            ]

    def pending_outbound(self) -> list[str]:
        with self._lock:
            return list(self._outbound)

    def settle(self, item: OutboundDocument) -> None:
        with self._lock:
            if self._outbound.pop(item.id, None) is not None:
                self.settled.append(item.id)

    def close(self) -> None:
        self.closed = True
