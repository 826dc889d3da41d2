"""FolderTransport outbound: a partner never sees a partial file under its final name, and nothing is overwritten."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from hub.errors import TerminalError
from hub.transports import FolderTransport
from tests.transports.conftest import FakeClock

MiB = 1 << 20
TEMP = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{16}\.tmp$")


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_send_bytes_stream_and_chunks(transport: FolderTransport) -> None:
    assert transport.send("a.edi", b"ISA*~") == "a.edi"
    assert transport.send("b.edi", io.BytesIO(b"UNA:+.? 'UNB+~")) == "b.edi"
    assert transport.send("c.edi", iter([b"ISA", b"", bytearray(b"*~"), memoryview(b"IEA~")])) == "c.edi"
    assert (transport.outbound / "a.edi").read_bytes() == b"ISA*~"
    assert (transport.outbound / "b.edi").read_bytes() == b"UNA:+.? 'UNB+~"
    assert (transport.outbound / "c.edi").read_bytes() == b"ISA*~IEA~"
    assert listing(transport.outbound) == ["a.edi", "b.edi", "c.edi"]  # no temporaries left behind


def test_send_refuses_text(transport: FolderTransport) -> None:
    with pytest.raises(TypeError, match="not str"):
        transport.send("a.edi", "ISA*")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary stream"):
        transport.send("a.edi", io.StringIO("ISA*"))  # type: ignore[arg-type]
    assert listing(transport.outbound) == []


def test_name_collision_gets_a_unique_suffix(transport: FolderTransport) -> None:
    assert transport.send("855_0001.edi", b"first") == "855_0001.edi"
    assert transport.send("855_0001.edi", b"second") == "855_0001-1.edi"
    assert transport.send("855_0001.edi", b"third") == "855_0001-2.edi"
    assert transport.send("NOEXT", b"x") == "NOEXT"
    assert transport.send("NOEXT", b"y") == "NOEXT-1"
    assert (transport.outbound / "855_0001.edi").read_bytes() == b"first"
    assert (transport.outbound / "855_0001-1.edi").read_bytes() == b"second"
    assert (transport.outbound / "855_0001-2.edi").read_bytes() == b"third"


def test_resending_identical_content_reuses_the_name(transport: FolderTransport) -> None:
    assert transport.send("997.edi", b"ack one") == "997.edi"
    assert transport.send("997.edi", b"ack two") == "997-1.edi"
    # A resend after a crash between send and commit: the same bytes, not a duplicate file for the partner.
    assert transport.send("997.edi", b"ack two") == "997-1.edi"
    assert transport.send("997.edi", b"ack one") == "997.edi"
    assert listing(transport.outbound) == ["997-1.edi", "997.edi"]


def test_an_existing_file_written_by_someone_else_is_never_replaced(transport: FolderTransport) -> None:
    (transport.outbound / "810.edi").write_bytes(b"not ours")
    assert transport.send("810.edi", b"ours") == "810-1.edi"
    assert (transport.outbound / "810.edi").read_bytes() == b"not ours"


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b.edi", "../x.edi", "a\\b", " a.edi", "a\0b"])
def test_invalid_names_are_refused(transport: FolderTransport, name: str) -> None:
    with pytest.raises(TerminalError, match="not a valid outbound file name"):
        transport.send(name, b"x")


def test_no_partial_file_is_ever_visible_under_the_final_name(transport: FolderTransport, tmp_path: Path) -> None:
    """Mid-write, only a hidden temporary exists, and a folder pickup (ours) ignores it."""
    pickup = FolderTransport(transport.outbound, tmp_path / "elsewhere", settle_seconds=0)
    seen_mid_write: list[list[str]] = []

    def source() -> Iterator[bytes]:
        for index in range(8):
            if index == 4:
                seen_mid_write.append(listing(transport.outbound))
                assert pickup.poll() == []
            yield b"S" * MiB

    assert transport.send("ship.edi", source()) == "ship.edi"
    (names,) = seen_mid_write
    assert "ship.edi" not in names
    (temp,) = names
    match = TEMP.match(temp)
    assert match and match["name"] == "ship.edi"
    assert (transport.outbound / "ship.edi").stat().st_size == 8 * MiB
    assert listing(transport.outbound) == ["ship.edi"]


def test_a_concurrent_reader_only_ever_sees_the_complete_file(transport: FolderTransport) -> None:
    total = 32 * MiB
    final = transport.outbound / "big.edi"
    sizes: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(FileNotFoundError):
                sizes.append(final.stat().st_size)

    def slow_source() -> Iterator[bytes]:
        block = b"B" * MiB
        for _ in range(total // MiB):
            time.sleep(0.002)
            yield block

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        transport.send("big.edi", slow_source())
        time.sleep(0.05)
    finally:
        done.set()
        watcher.join()
    assert sizes, "the reader never saw the file"
    assert set(sizes) == {total}


def test_a_failing_source_leaves_nothing_behind(transport: FolderTransport) -> None:
    def broken() -> Iterator[bytes]:
        yield b"ISA*"
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        transport.send("a.edi", broken())
    assert listing(transport.outbound) == []


def test_outbound_folder_not_writable_is_terminal(transport: FolderTransport) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    transport.outbound.chmod(0o500)
    try:
        with pytest.raises(TerminalError, match="cannot create"):
            transport.send("a.edi", b"x")
    finally:
        transport.outbound.chmod(0o700)


def test_a_100_mb_stream_is_written_in_constant_memory(transport: FolderTransport) -> None:
    block = os.urandom(MiB)  # one block reused: the source itself holds no more than this
    count = 110
    process = psutil.Process()
    peak = [process.memory_info().rss]
    baseline = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        used = transport.send("huge.edi", (block for _ in range(count)))
    finally:
        done.set()
        sampler.join()
    assert used == "huge.edi"
    assert (transport.outbound / used).stat().st_size == count * MiB
    growth = peak[0] - baseline
    assert growth < 24 * MiB, f"RSS grew by {growth / MiB:.1f} MiB while writing {count} MiB"


def test_sweep_temporaries_removes_only_old_ones_of_ours(transport: FolderTransport) -> None:
    old = transport.outbound / ".a.edi.0123456789abcdef.tmp"
    fresh = transport.outbound / ".b.edi.fedcba9876543210.tmp"
    foreign = transport.outbound / ".someone-elses.tmp"
    for path in (old, fresh, foreign):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * 86_400,) * 2)
    os.utime(foreign, (time.time() - 2 * 86_400,) * 2)
    assert transport.sweep_temporaries() == 1
    assert listing(transport.outbound) == sorted([fresh.name, foreign.name])


def test_sent_files_are_picked_up_by_a_folder_transport(
    transport: FolderTransport, clock: FakeClock, tmp_path: Path
) -> None:
    """Our send and our poll agree: what one writes, the other (a partner running edihub) takes once, whole."""
    partner = FolderTransport(transport.outbound, tmp_path / "partner-out", settle_seconds=1, clock=clock)
    transport.send("a.edi", b"ISA*~")
    partner.poll()
    clock.advance(1)
    (item,) = partner.poll()
    assert item.read() == b"ISA*~"


def test_outbound_path_not_a_folder_is_terminal(transport: FolderTransport) -> None:
    transport.outbound.rmdir()
    transport.outbound.write_bytes(b"a file where the folder should be")
    with pytest.raises(TerminalError, match="cannot create"):
        transport.send("a.edi", b"x")


def test_without_hard_links_send_still_never_replaces(
    transport: FolderTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some SMB/FAT mounts refuse hard links: the fallback checks for the name, then renames."""

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert transport.send("a.edi", b"one") == "a.edi"
    assert transport.send("a.edi", b"two") == "a-1.edi"
    assert transport.send("a.edi", b"one") == "a.edi"
    assert listing(transport.outbound) == ["a-1.edi", "a.edi"]
    assert (transport.outbound / "a-1.edi").read_bytes() == b"two"
