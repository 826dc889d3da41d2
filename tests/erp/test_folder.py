"""The folder adapter against a real directory: formats, idempotency, atomic writes, outbox reading and settling."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from lxml import etree

from hub.canonical import validate_document
from hub.erp import build_adapter
from hub.erp.folder import FolderAdapter, safe_part
from hub.erp.formats import flatten, from_xml, to_xml
from hub.errors import TerminalError, TransientError
from tests.erp.conftest import golden


def adapter(tmp_path: Path, **kwargs: Any) -> FolderAdapter:
    kwargs.setdefault("min_age", 0)
    return FolderAdapter(tmp_path / "inbox", tmp_path / "outbox", **kwargs)


def visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


# ----------------------------------------------------------------- posting


def test_posts_canonical_json_named_after_type_number_and_key(tmp_path, any_document):
    erp = adapter(tmp_path)
    delivery = erp.post(any_document, "key-1")
    name = f"{any_document['document_type']}_{any_document['number']}_key-1.json"
    assert delivery.reference == name and not delivery.duplicate
    written = tmp_path / "inbox" / name
    assert json.loads(written.read_text(encoding="utf-8")) == any_document
    assert validate_document(json.loads(written.read_bytes())) == []
    assert os.listdir(tmp_path / "inbox") == [name]  # no temporary file left behind


def test_same_key_twice_writes_once_and_reports_duplicate(tmp_path, purchase_order):
    erp = adapter(tmp_path)
    first = erp.post(purchase_order, "k")
    path = tmp_path / "inbox" / first.reference
    before = path.stat()
    changed = dict(purchase_order, currency="EUR")  # even if the caller sends other bytes, the key decides
    second = erp.post(changed, "k")
    assert second.duplicate and second.reference == first.reference
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino
    assert json.loads(path.read_text())["currency"] == "USD"
    assert visible(tmp_path / "inbox") == [first.reference]
    third = erp.post(purchase_order, "other-key")
    assert not third.duplicate and len(visible(tmp_path / "inbox")) == 2


def test_ledger_keeps_idempotency_after_the_erp_consumed_the_file(tmp_path, purchase_order):
    erp = adapter(tmp_path, ledger=tmp_path / "ledger")
    first = erp.post(purchase_order, "k1")
    (tmp_path / "inbox" / first.reference).unlink()  # the ERP imported and removed it
    again = erp.post(purchase_order, "k1")
    assert again.duplicate and again.reference == first.reference
    assert visible(tmp_path / "inbox") == []
    # without a ledger the same situation would deliver twice: that is what the option is for
    plain = adapter(tmp_path)
    assert not plain.post(purchase_order, "k1").duplicate


def test_unsafe_keys_and_numbers_give_distinct_safe_names(tmp_path, purchase_order):
    erp = adapter(tmp_path)
    purchase_order["number"] = "PO/../../etc 1"
    a = erp.post(purchase_order, "a/b").reference
    b = erp.post(purchase_order, "a_b").reference
    assert a != b and "/" not in a and "\\" not in a and (tmp_path / "inbox" / a).is_file()
    assert sorted(visible(tmp_path / "inbox")) == sorted([a, b])
    assert safe_part("plain-key_1.x") == "plain-key_1.x"
    long = safe_part("x" * 300)
    assert len(long) < 100 and long != safe_part("x" * 301)


def test_file_appears_only_complete_under_its_final_name(tmp_path, purchase_order, monkeypatch):
    """While the bytes are written and fsynced, only a hidden .tmp exists; the final name appears whole."""
    erp = adapter(tmp_path)
    inbox = tmp_path / "inbox"
    seen_during_fsync: list[list[str]] = []
    real_fsync = os.fsync

    def spying_fsync(fd: int) -> None:
        if inbox.is_dir():
            seen_during_fsync.append(sorted(os.listdir(inbox)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spying_fsync)
    delivery = erp.post(purchase_order, "atomic")
    first = seen_during_fsync[0]  # the file's own fsync, before the link
    assert len(first) == 1 and first[0].startswith(".") and first[0].endswith(".tmp")
    assert visible(inbox) == [delivery.reference] == os.listdir(inbox)


def test_a_failed_write_leaves_nothing_and_is_transient(tmp_path, purchase_order, monkeypatch):
    erp = adapter(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(TransientError, match="No space left"):
        erp.post(purchase_order, "k")
    assert os.listdir(tmp_path / "inbox") == []
    monkeypatch.undo()
    assert not erp.post(purchase_order, "k").duplicate  # and a retry then delivers it


def test_bad_input_is_terminal(tmp_path, purchase_order):
    erp = adapter(tmp_path)
    with pytest.raises(TerminalError, match="idempotency key"):
        erp.post(purchase_order, "")
    with pytest.raises(TerminalError, match="number"):
        erp.post({k: v for k, v in purchase_order.items() if k != "number"}, "k")
    with pytest.raises(TerminalError, match="JSON object"):
        erp.post(["not", "a", "document"], "k")  # type: ignore[arg-type]


# --------------------------------------------------------------------- XML


def test_xml_is_utf8_with_declaration_and_maps_the_json_faithfully(tmp_path, any_document):
    erp = adapter(tmp_path, format="xml")
    delivery = erp.post(any_document, "x1")
    assert delivery.reference.endswith(".xml")
    data = (tmp_path / "inbox" / delivery.reference).read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    root = etree.fromstring(data)
    assert root.tag == any_document["document_type"]
    assert root.findtext("number") == any_document["number"]
    assert root.findtext("sender/id") == any_document["sender"]["id"]
    lines = root.find("lines")
    assert lines.get("type") == "list"
    assert len(lines.findall("item")) == len(any_document["lines"])
    assert lines.findtext("item/line_number") == any_document["lines"][0]["line_number"]
    assert from_xml(data) == any_document  # the mapping loses nothing


def test_xml_mapping_keeps_json_types_and_edge_cases():
    document = {
        "document_type": "purchase_order",
        "number": "Ünïcødé & <stuff>",
        "flag": True,
        "off": False,
        "count": 3,
        "ratio": 0.5,
        "nothing": None,
        "empty_list": [],
        "empty_object": {},
        "empty_text": "",
        "nested": [[1, "a"], {"k": [None]}],
        "lines": [{"line_number": "1"}],
    }
    data = to_xml(document)
    assert from_xml(data) == document
    root = etree.fromstring(data)
    assert root.find("flag").get("type") == "boolean" and root.findtext("flag") == "true"
    assert root.find("count").get("type") == "number"
    assert root.find("number").get("type") is None
    with pytest.raises(TerminalError, match="XML element name"):
        to_xml({"document_type": "purchase_order", "bad key": "x"})
    with pytest.raises(TerminalError, match="XML"):
        to_xml({"document_type": "purchase_order", "number": "control \x01 char"})


# --------------------------------------------------------------------- CSV


def test_csv_has_one_row_per_line_with_the_header_repeated(tmp_path, any_document):
    erp = adapter(tmp_path, format="csv")
    delivery = erp.post(any_document, "c1")
    assert delivery.reference.endswith(".csv")
    frame = pd.read_csv(tmp_path / "inbox" / delivery.reference, dtype=str, keep_default_na=False)
    lines = any_document["lines"]
    assert len(frame) == len(lines)
    assert (frame["number"] == any_document["number"]).all()
    assert (frame["sender.id"] == any_document["sender"]["id"]).all()
    assert (frame["document_type"] == any_document["document_type"]).all()
    assert list(frame["lines.line_number"]) == [line["line_number"] for line in lines]
    assert list(frame["lines.product_ids.0.value"]) == [line["product_ids"][0]["value"] for line in lines]
    header_columns = [c for c in frame.columns if not c.startswith("lines.")]
    assert frame.columns[: len(header_columns)].tolist() == header_columns  # header fields come first
    for index, line in enumerate(lines):
        row = frame.iloc[index]
        for name, text in flatten(line, "lines"):
            assert row[name] == text, name
        for name in frame.columns:
            if name.startswith("lines.") and name not in dict(flatten(line, "lines")):
                assert row[name] == ""  # another line's field: empty here


def test_csv_of_the_purchase_order_reads_back_as_expected(tmp_path, purchase_order):
    erp = adapter(tmp_path, format="csv")
    path = tmp_path / "inbox" / erp.post(purchase_order, "c2").reference
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert frame["lines.quantity.value"].tolist() == ["10", "3.5"]
    assert frame["lines.quantity.unit"].tolist() == ["CA", "EA"]
    assert frame["parties.0.address.lines.1"].tolist() == ["SUITE 4", "SUITE 4"]
    assert frame["source.test"].tolist() == ["true", "true"]
    assert frame["lines.other_prices.0.amount"].tolist() == ["19.99", ""]


def test_csv_of_a_document_without_lines_is_one_header_row(tmp_path):
    erp = adapter(tmp_path, format="csv")
    document = {"document_type": "functional_ack", "number": "1", "sender": {"id": "A"}, "lines": []}
    frame = pd.read_csv(tmp_path / "inbox" / erp.post(document, "c3").reference, dtype=str, keep_default_na=False)
    assert frame.to_dict("records") == [{"document_type": "functional_ack", "number": "1", "sender.id": "A"}]


# ---------------------------------------------------------------- outbound


def write_outbox(tmp_path: Path, name: str, content: str | bytes) -> Path:
    outbox = tmp_path / "outbox"
    outbox.mkdir(exist_ok=True)
    path = outbox / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_reads_outbox_json_ignoring_partial_hidden_and_other_files(tmp_path):
    asn, invoice = golden("856-basic"), golden("810-basic")
    write_outbox(tmp_path, "b-asn.json", json.dumps(asn))
    write_outbox(tmp_path, "a-invoice.json", json.dumps(invoice))
    write_outbox(tmp_path, "c.json.tmp", "{partial")
    write_outbox(tmp_path, "d.json.part", "{partial")
    write_outbox(tmp_path, ".hidden.json", "{}")
    write_outbox(tmp_path, "notes.txt", "hello")
    (tmp_path / "outbox" / "sent").mkdir()
    write_outbox(tmp_path, "sent/old.json", json.dumps(asn))
    items = adapter(tmp_path).fetch_outbound()
    assert [Path(i.source).name for i in items] == ["a-invoice.json", "b-asn.json"]
    assert [i.document for i in items] == [invoice, asn]
    assert all(i.ok and i.error is None for i in items)
    assert items[0].id.startswith("a-invoice.json:")
    assert [i.id for i in adapter(tmp_path).fetch_outbound()] == [i.id for i in items]  # stable ids


def test_too_young_files_wait(tmp_path):
    path = write_outbox(tmp_path, "young.json", json.dumps(golden("856-basic")))
    assert adapter(tmp_path, min_age=60).fetch_outbound() == []
    old = time.time() - 120
    os.utime(path, (old, old))
    assert len(adapter(tmp_path, min_age=60).fetch_outbound()) == 1


def test_settle_moves_to_sent_and_a_second_settle_is_harmless(tmp_path):
    content = json.dumps(golden("856-basic")).encode()
    path = write_outbox(tmp_path, "asn.json", content)
    erp = adapter(tmp_path)
    (item,) = erp.fetch_outbound()
    assert erp.fetch_outbound() == [item]  # fetching changes nothing: a crash before settle re-delivers
    erp.settle(item)
    assert not path.exists()
    assert (tmp_path / "outbox" / "sent" / "asn.json").read_bytes() == content
    erp.settle(item)
    assert erp.fetch_outbound() == []


def test_settle_keeps_an_earlier_sent_file_with_the_same_name(tmp_path):
    erp = adapter(tmp_path)
    write_outbox(tmp_path, "asn.json", json.dumps(golden("856-basic")))
    erp.settle(erp.fetch_outbound()[0])
    second = golden("856-basic") | {"number": "SHIP-2"}
    write_outbox(tmp_path, "asn.json", json.dumps(second))
    (item,) = erp.fetch_outbound()
    erp.settle(item)
    sent = sorted((tmp_path / "outbox" / "sent").iterdir())
    assert len(sent) == 2
    assert {json.loads(p.read_text())["number"] for p in sent} == {golden("856-basic")["number"], "SHIP-2"}


def test_settle_delete_mode_and_custom_sent_dir(tmp_path):
    path = write_outbox(tmp_path, "asn.json", json.dumps(golden("856-basic")))
    erp = adapter(tmp_path, on_settle="delete")
    erp.settle(erp.fetch_outbound()[0])
    assert not path.exists() and not (tmp_path / "outbox" / "sent").exists()
    write_outbox(tmp_path, "asn.json", json.dumps(golden("856-basic")))
    erp = adapter(tmp_path, sent_dir=tmp_path / "archive")
    erp.settle(erp.fetch_outbound()[0])
    assert (tmp_path / "archive" / "asn.json").is_file()


def test_a_file_rewritten_after_fetch_is_not_settled_away(tmp_path):
    erp = adapter(tmp_path)
    path = write_outbox(tmp_path, "asn.json", json.dumps(golden("856-basic")))
    (item,) = erp.fetch_outbound()
    path.write_text(json.dumps(golden("856-basic") | {"number": "NEW"}))
    erp.settle(item)
    assert path.exists()
    (again,) = erp.fetch_outbound()
    assert again.id != item.id and again.document["number"] == "NEW"


def test_malformed_files_are_failed_items_and_the_rest_continue(tmp_path):
    write_outbox(tmp_path, "1-broken.json", '{"document_type": "ship_notice", ')
    write_outbox(tmp_path, "2-list.json", "[1, 2]")
    write_outbox(tmp_path, "3-invalid.json", json.dumps({"document_type": "ship_notice", "number": "X"}))
    write_outbox(tmp_path, "4-latin1.json", b'{"number": "\xe9"}')
    write_outbox(tmp_path, "5-good.json", json.dumps(golden("856-basic")))
    erp = adapter(tmp_path)
    items = erp.fetch_outbound()
    assert [i.ok for i in items] == [False, False, False, False, True]
    for item in items[:4]:
        assert item.document is None and isinstance(item.error, TerminalError)
        assert Path(item.source).name in str(item.error)  # the message names the file
    assert "not valid UTF-8 JSON" in str(items[0].error)
    assert "JSON object" in str(items[1].error)
    assert "not a valid canonical document" in str(items[2].error)
    for item in items:
        erp.settle(item)
    assert visible(tmp_path / "outbox" / "failed") == [
        "1-broken.json",
        "2-list.json",
        "3-invalid.json",
        "4-latin1.json",
    ]
    assert visible(tmp_path / "outbox" / "sent") == ["5-good.json"]
    assert erp.fetch_outbound() == []


def test_validation_can_be_switched_off(tmp_path):
    write_outbox(tmp_path, "loose.json", json.dumps({"document_type": "ship_notice", "number": "X"}))
    (item,) = adapter(tmp_path, validate=False).fetch_outbound()
    assert item.ok and item.document["number"] == "X"


def test_missing_outbox_is_empty_and_config_is_checked(tmp_path):
    assert FolderAdapter(tmp_path / "in", tmp_path / "nowhere").fetch_outbound() == []
    erp = build_adapter({"type": "folder", "inbox": str(tmp_path / "in"), "outbox": str(tmp_path / "out")})
    assert isinstance(erp, FolderAdapter) and erp.format == "json" and erp.min_age == 1.0
    with pytest.raises(ValueError, match="format"):
        build_adapter({"inbox": str(tmp_path), "format": "yaml"})
    with pytest.raises(ValueError, match="on_settle"):
        build_adapter({"inbox": str(tmp_path), "on_settle": "archive"})
    with pytest.raises(ValueError, match="unknown option.*inbx"):
        build_adapter({"inbx": str(tmp_path)})
