"""The Transport protocol, IncomingFile, the in-memory transport and partner folders."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from hub.errors import TerminalError
from hub.transports import IncomingFile, MemoryTransport, Transport, iter_chunks, partner_folders


def test_incoming_file_reads_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "a.edi"
    path.write_bytes(b"ISA*00~")
    item = IncomingFile(name="a.edi", size=7, mtime=0.0, channel="test", path=path)
    assert item.read() == b"ISA*00~"
    assert list(item.chunks(4)) == [b"ISA*", b"00~"]
    path.unlink()
    with pytest.raises(TerminalError, match="vanished"):
        item.read()


def test_incoming_file_prefers_its_opener(tmp_path: Path) -> None:
    item = IncomingFile(
        name="a", size=3, mtime=0.0, channel="t", path=tmp_path / "nope", opener=lambda: io.BytesIO(b"abc")
    )
    assert item.read() == b"abc"
    with pytest.raises(TerminalError, match="neither a path nor an opener"):
        IncomingFile(name="a", size=0, mtime=0.0, channel="t").read()


def test_iter_chunks_accepts_every_payload_form() -> None:
    assert list(iter_chunks(b"abcdefg", 3)) == [b"abc", b"def", b"g"]
    assert list(iter_chunks(memoryview(b"abcd"), 3)) == [b"abc", b"d"]
    assert list(iter_chunks(io.BytesIO(b"abcd"), 3)) == [b"abc", b"d"]
    assert list(iter_chunks([b"ab", b"", b"cd"])) == [b"ab", b"cd"]
    assert list(iter_chunks(b"")) == []
    with pytest.raises(TypeError, match="must be bytes"):
        list(iter_chunks([b"ab", 3]))  # type: ignore[list-item]


def test_memory_transport_follows_the_protocol() -> None:
    transport = MemoryTransport()
    assert isinstance(transport, Transport)
    transport.put("a.edi", b"ISA")
    (item,) = transport.poll()
    assert transport.poll() == []  # offered once
    transport.release(item)
    (item,) = transport.poll()
    assert item.read() == b"ISA"
    transport.settle(item, archive_to="done")
    assert transport.settled == [("a.edi", "done")]
    assert transport.poll() == []
    assert transport.send("x.edi", b"1") == "x.edi"
    assert transport.send("x.edi", io.BytesIO(b"2")) == "x-1.edi"
    assert transport.send("x.edi", b"1") == "x.edi"
    assert transport.sent == {"x.edi": b"1", "x-1.edi": b"2"}
    transport.close()
    transport.close()
    assert transport.closed


def test_partner_folders_are_created(tmp_path: Path) -> None:
    folders = partner_folders(tmp_path / "inbound", tmp_path / "outbound", "acme")
    inbound, outbound = folders
    assert inbound == tmp_path / "inbound" / "acme" and inbound.is_dir()
    assert outbound == tmp_path / "outbound" / "acme" and outbound.is_dir()
    assert folders.inbound == inbound
    assert partner_folders(tmp_path / "inbound", tmp_path / "outbound", "acme") == folders  # idempotent


@pytest.mark.parametrize("partner", ["", ".", "..", ".hidden", "a/b", "..\\x", "a\0"])
def test_partner_folders_refuse_unsafe_ids(tmp_path: Path, partner: str) -> None:
    with pytest.raises(ValueError, match="cannot be used as a folder name"):
        partner_folders(tmp_path / "in", tmp_path / "out", partner)
