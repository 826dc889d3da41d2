"""The adapter factory, the protocol, and the in-memory test double."""

from __future__ import annotations

import sys

import pytest

from hub.erp import ADAPTER_TYPES, Delivery, ErpAdapter, MemoryAdapter, OutboundDocument, build_adapter
from hub.erp.folder import FolderAdapter
from hub.errors import TerminalError, TransientError
from tests.erp.conftest import golden


def test_folder_is_the_default_and_options_can_be_flat_or_nested(tmp_path):
    flat = build_adapter({"inbox": str(tmp_path / "a"), "format": "xml"})
    assert isinstance(flat, FolderAdapter) and flat.format == "xml" and flat.inbox == tmp_path / "a"
    nested = build_adapter(
        {
            "type": "folder",
            "folder": {"inbox": str(tmp_path / "b"), "format": "csv"},
            "http": {"url": "http://ignored.invalid/"},  # another type's options are not read
            "format": "json",  # a flat key overrides the nested one (an environment override)
        }
    )
    assert isinstance(nested, FolderAdapter) and nested.inbox == tmp_path / "b" and nested.format == "json"
    assert isinstance(build_adapter(None), FolderAdapter)


def test_unknown_types_and_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown adapter 'sap'"):
        build_adapter({"type": "sap"})
    with pytest.raises(ValueError, match="unknown option"):
        build_adapter({"type": "folder", "folder": {"inbox": str(tmp_path), "colour": "red"}})
    with pytest.raises(ValueError, match="must be a mapping"):
        build_adapter({"type": "folder", "folder": "inbox"})


def test_tryton_is_imported_lazily_with_a_clear_error_when_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "hub.erp.tryton", None)  # as if hub/erp/tryton.py did not exist
    with pytest.raises(ValueError, match="Tryton adapter .*not installed"):
        build_adapter({"type": "tryton"})
    assert set(ADAPTER_TYPES) == {"folder", "http", "sql", "tryton"}


def test_every_adapter_satisfies_the_protocol(tmp_path):
    from hub.erp.http import HttpAdapter
    from hub.erp.sql import SqlAdapter

    adapters = [
        MemoryAdapter(),
        FolderAdapter(tmp_path / "in", tmp_path / "out"),
        HttpAdapter("http://127.0.0.1:9/erp"),
        SqlAdapter(f"sqlite:///{tmp_path / 'x.db'}"),
    ]
    for adapter in adapters:
        assert isinstance(adapter, ErpAdapter) and adapter.name
        adapter.close()


def test_memory_adapter_keeps_the_contract():
    erp = MemoryAdapter()
    assert erp.post(golden("850-basic"), "k") == Delivery("k", {"status": "created"}, False)
    assert erp.post(golden("850-basic"), "k").duplicate
    assert list(erp.posted) == ["k"] and len(erp.post_calls) == 2
    erp.fail_next(TransientError("ERP down"), times=2)
    for _ in range(2):
        with pytest.raises(TransientError):
            erp.post(golden("810-basic"), "k2")
    assert "k2" not in erp.posted
    assert not erp.post(golden("810-basic"), "k2").duplicate
    with pytest.raises(TerminalError):
        erp.post(golden("810-basic"), "")

    first = erp.add_outbound(golden("856-basic"))
    erp.add_failed_outbound("broken", "not JSON")
    items = erp.fetch_outbound()
    assert [i.id for i in items] == [first, "broken"] and [i.ok for i in items] == [True, False]
    assert erp.fetch_outbound() == items  # no side effect until settled
    items[0].document["number"] = "changed by the caller"
    assert erp.fetch_outbound()[0].document["number"] == golden("856-basic")["number"]
    for item in items:
        erp.settle(item)
    erp.settle(items[0])
    assert erp.settled == [first, "broken"] and erp.fetch_outbound() == [] and erp.pending_outbound() == []
    erp.close()
    assert erp.closed
    assert isinstance(build_adapter({"type": "memory"}), MemoryAdapter)


def test_outbound_document_ok_reflects_the_error():
    assert OutboundDocument("1", {}, "x").ok
    assert not OutboundDocument("1", None, "x", error=TerminalError("bad")).ok
