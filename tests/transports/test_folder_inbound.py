"""FolderTransport inbound: only complete files are picked up, each once, and settled only as told."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from hub.errors import TerminalError, TransientError
from hub.transports import FolderTransport, IncomingFile, Transport
from tests.transports.conftest import FakeClock

X12 = b"ISA*00*          *00*          *ZZ*ACME           *ZZ*HUB            *240101*1200*U*00401*000000001*0*P*>~"


def names(items: list[IncomingFile]) -> list[str]:
    return [item.name for item in items]


def test_folder_transport_is_a_transport(transport: FolderTransport) -> None:
    assert isinstance(transport, Transport)


def test_complete_file_is_returned_after_settle_time(transport: FolderTransport, clock: FakeClock) -> None:
    (transport.inbound / "order.edi").write_bytes(X12)
    assert transport.poll() == []  # first sight: unknown whether the writer is done
    clock.advance(1.0)
    assert transport.poll() == []  # unchanged, but not for settle_seconds yet
    clock.advance(1.0)
    (item,) = transport.poll()
    assert item.name == "order.edi"
    assert item.size == len(X12)
    assert item.path == transport.inbound / "order.edi"
    assert item.channel == f"folder:{transport.inbound}"
    assert item.read() == X12
    assert b"".join(item.chunks(7)) == X12
    with item.open() as fh:
        assert fh.read(3) == b"ISA"


def test_complete_file_with_real_clock(tmp_path: Path) -> None:
    transport = FolderTransport(tmp_path / "in", tmp_path / "out", settle_seconds=0.2)
    (transport.inbound / "a.edi").write_bytes(X12)
    assert transport.poll() == []
    time.sleep(0.25)
    assert names(transport.poll()) == ["a.edi"]


def test_growing_file_is_not_returned_until_it_stops(transport: FolderTransport, clock: FakeClock) -> None:
    path = transport.inbound / "big.edi"
    path.write_bytes(b"ISA")
    for _ in range(5):
        assert transport.poll() == []
        clock.advance(3.0)  # longer than settle_seconds between polls, yet the size keeps changing
        with open(path, "ab") as fh:
            fh.write(b"*segment~" * 100)
    assert transport.poll() == []  # the last append is news
    clock.advance(1.9)
    assert transport.poll() == []
    clock.advance(0.2)
    (item,) = transport.poll()
    assert item.size == path.stat().st_size


def test_mtime_change_alone_restarts_the_wait(transport: FolderTransport, clock: FakeClock) -> None:
    path = transport.inbound / "same-size.edi"
    path.write_bytes(X12)
    transport.poll()
    clock.advance(1.5)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten in place, same size
    assert transport.poll() == []
    clock.advance(1.5)
    assert transport.poll() == []  # 3 s since first sight, but only 1.5 s since the change
    clock.advance(0.5)
    assert names(transport.poll()) == ["same-size.edi"]


@pytest.mark.parametrize("name", ["x.part", "x.filepart", "x.tmp", "x.partial", ".hidden", ".x.edi.0123.tmp"])
def test_partial_and_hidden_names_are_ignored(transport: FolderTransport, clock: FakeClock, name: str) -> None:
    (transport.inbound / name).write_bytes(X12)
    for _ in range(3):
        assert transport.poll() == []
        clock.advance(5.0)
    assert transport.next_check_in() is None  # not even tracked


def test_custom_ignore_patterns(folders: tuple[Path, Path], clock: FakeClock) -> None:
    transport = FolderTransport(*folders, settle_seconds=1, ignore=["*.lock"], clock=clock)
    (transport.inbound / "a.lock").write_bytes(b"x")
    (transport.inbound / "a.part").write_bytes(b"x")  # no longer ignored
    transport.poll()
    clock.advance(1)
    assert names(transport.poll()) == ["a.part"]


def test_rename_from_part_to_final_name_is_picked_up_as_new(transport: FolderTransport, clock: FakeClock) -> None:
    part = transport.inbound / "invoice.edi.part"
    part.write_bytes(X12)
    transport.poll()
    clock.advance(10.0)
    assert transport.poll() == []
    part.rename(transport.inbound / "invoice.edi")
    assert transport.poll() == []  # a new path: first sight
    clock.advance(2.0)
    (item,) = transport.poll()
    assert item.name == "invoice.edi"
    assert item.read() == X12


def test_zero_settle_seconds_takes_files_at_first_sight(folders: tuple[Path, Path], clock: FakeClock) -> None:
    transport = FolderTransport(*folders, settle_seconds=0, clock=clock)
    (transport.inbound / "a.edi").write_bytes(X12)
    assert names(transport.poll()) == ["a.edi"]


def test_subfolders_symlinks_and_fifos_are_ignored(transport: FolderTransport, clock: FakeClock) -> None:
    (transport.inbound / "sub").mkdir()
    (transport.inbound / "sub" / "nested.edi").write_bytes(X12)
    outside = transport.inbound.parent / "outside.edi"
    outside.write_bytes(X12)
    (transport.inbound / "link.edi").symlink_to(outside)
    os.mkfifo(transport.inbound / "pipe.edi")
    (transport.inbound / "real.edi").write_bytes(X12)
    transport.poll()
    clock.advance(2.0)
    assert names(transport.poll()) == ["real.edi"]


def test_recursive_mode_uses_relative_names_and_skips_the_done_folder(tmp_path: Path, clock: FakeClock) -> None:
    inbound = tmp_path / "in"
    transport = FolderTransport(
        inbound,
        tmp_path / "out",
        settle_seconds=1,
        after="move",
        done_folder=inbound / "done",
        clock=clock,
        recursive=True,
    )
    (inbound / "a" / "b").mkdir(parents=True)
    (inbound / "a" / "b" / "deep.edi").write_bytes(X12)
    (inbound / ".hidden").mkdir()
    (inbound / ".hidden" / "x.edi").write_bytes(X12)
    (inbound / "done" / "old.edi").write_bytes(X12)
    transport.poll()
    clock.advance(1)
    (item,) = transport.poll()
    assert item.name == "a/b/deep.edi"
    transport.settle(item)
    assert (inbound / "done" / "a" / "b" / "deep.edi").read_bytes() == X12
    assert not (inbound / "a" / "b" / "deep.edi").exists()


def test_files_come_oldest_first(transport: FolderTransport, clock: FakeClock) -> None:
    for index, name in enumerate(["c.edi", "a.edi", "b.edi"]):
        path = transport.inbound / name
        path.write_bytes(X12)
        os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))
    transport.poll()
    clock.advance(2)
    assert names(transport.poll()) == ["c.edi", "a.edi", "b.edi"]


def test_a_ready_file_is_offered_once_until_released_or_redelivered(
    folders: tuple[Path, Path], clock: FakeClock
) -> None:
    transport = FolderTransport(*folders, settle_seconds=1, redeliver_seconds=60, clock=clock)
    (transport.inbound / "a.edi").write_bytes(X12)
    transport.poll()
    clock.advance(1)
    (item,) = transport.poll()
    assert transport.poll() == []  # in flight: a second worker must not take it too
    transport.release(item)
    (again,) = transport.poll()
    assert again.name == "a.edi"
    clock.advance(59)
    assert transport.poll() == []
    clock.advance(1)
    assert names(transport.poll()) == ["a.edi"]  # never settled: the consumer must have died


def test_next_check_in_says_when_a_pending_file_may_be_ready(transport: FolderTransport, clock: FakeClock) -> None:
    assert transport.next_check_in() is None
    (transport.inbound / "a.edi").write_bytes(X12)
    transport.poll()
    clock.advance(0.5)
    assert transport.next_check_in() == pytest.approx(1.5)
    clock.advance(5)
    assert transport.next_check_in() == 0.0
    (item,) = transport.poll()
    transport.settle(item)
    assert transport.next_check_in() is None


def ready(transport: FolderTransport, clock: FakeClock, name: str, data: bytes = X12) -> IncomingFile:
    (transport.inbound / name).write_bytes(data)
    transport.poll()
    clock.advance(transport.settle_seconds)
    (item,) = [item for item in transport.poll() if item.name == name]
    return item


def test_settle_deletes_by_default(transport: FolderTransport, clock: FakeClock) -> None:
    item = ready(transport, clock, "a.edi")
    assert (transport.inbound / "a.edi").exists()  # poll never removes: only settle, after the commit
    transport.settle(item)
    assert not (transport.inbound / "a.edi").exists()
    transport.settle(item)  # idempotent: already gone
    clock.advance(10)
    assert transport.poll() == []


def test_settle_moves_to_the_done_folder(tmp_path: Path, clock: FakeClock) -> None:
    done = tmp_path / "done"
    transport = FolderTransport(
        tmp_path / "in", tmp_path / "out", settle_seconds=1, after="move", done_folder=done, clock=clock
    )
    assert done.is_dir()
    item = ready(transport, clock, "a.edi")
    transport.settle(item)
    assert not (transport.inbound / "a.edi").exists()
    assert (done / "a.edi").read_bytes() == X12


def test_settle_move_never_replaces_an_archived_file(tmp_path: Path, clock: FakeClock) -> None:
    done = tmp_path / "done"
    transport = FolderTransport(
        tmp_path / "in", tmp_path / "out", settle_seconds=1, after="move", done_folder=done, clock=clock
    )
    (done / "a.edi").write_bytes(b"yesterday's a.edi")
    transport.settle(ready(transport, clock, "a.edi"))
    assert (done / "a.edi").read_bytes() == b"yesterday's a.edi"
    assert (done / "a-1.edi").read_bytes() == X12
    transport.settle(ready(transport, clock, "a.edi", X12))  # the same bytes again: no third copy
    assert sorted(p.name for p in done.iterdir()) == ["a-1.edi", "a.edi"]
    assert not (transport.inbound / "a.edi").exists()


def test_settle_archive_to_overrides_the_policy(transport: FolderTransport, clock: FakeClock, tmp_path: Path) -> None:
    item = ready(transport, clock, "a.edi")
    transport.settle(item, archive_to=str(tmp_path / "archive" / "2024"))
    assert (tmp_path / "archive" / "2024" / "a.edi").read_bytes() == X12
    assert not (transport.inbound / "a.edi").exists()


def test_settle_leaves_a_file_replaced_after_it_was_listed(transport: FolderTransport, clock: FakeClock) -> None:
    item = ready(transport, clock, "a.edi")
    path = transport.inbound / "a.edi"
    path.unlink()
    path.write_bytes(X12 + b"GS*PO~")  # the partner dropped a new file under the same name meanwhile
    transport.settle(item)
    assert path.exists()
    transport.poll()
    clock.advance(2)
    (new,) = transport.poll()
    assert new.read() == X12 + b"GS*PO~"


def test_open_refuses_a_file_changed_after_it_was_listed(transport: FolderTransport, clock: FakeClock) -> None:
    item = ready(transport, clock, "a.edi")
    with open(transport.inbound / "a.edi", "ab") as fh:
        fh.write(b"more~")
    with pytest.raises(TransientError, match="changed after it was listed"):
        item.read()
    (transport.inbound / "a.edi").unlink()
    with pytest.raises(TerminalError, match="vanished"):
        item.read()


def test_settle_refuses_items_from_another_transport(transport: FolderTransport, tmp_path: Path) -> None:
    stranger = IncomingFile(name="a.edi", size=1, mtime=0.0, channel="x", path=transport.inbound / "a.edi")
    with pytest.raises(TerminalError, match="not listed by this transport"):
        transport.settle(stranger)


def test_missing_inbound_folder_is_a_transient_error(transport: FolderTransport) -> None:
    transport.inbound.rmdir()
    with pytest.raises(TransientError, match="missing"):
        transport.poll()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"after": "archive"}, "after must be"),
        ({"after": "move"}, "needs a done_folder"),
        ({"settle_seconds": -1}, "negative"),
    ],
)
def test_bad_settings_are_refused(folders: tuple[Path, Path], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FolderTransport(*folders, **kwargs)


def test_settle_move_to_another_filesystem_copies_then_deletes(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = tmp_path / "done"
    transport = FolderTransport(
        tmp_path / "in", tmp_path / "out", settle_seconds=1, after="move", done_folder=done, clock=clock
    )
    (done / "a.edi").write_bytes(b"older")
    item = ready(transport, clock, "a.edi")

    def cross_device(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    transport.settle(item)
    assert not (transport.inbound / "a.edi").exists()
    assert (done / "a.edi").read_bytes() == b"older"
    assert (done / "a-1.edi").read_bytes() == X12
    assert sorted(p.name for p in done.iterdir()) == ["a-1.edi", "a.edi"]  # no temporary left
