"""DropZoneWatcher with real watchdog (inotify on Linux): prompt wake-ups, a periodic scan, a prompt stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from hub.transports import DropZoneWatcher, FolderTransport


@pytest.fixture
def inbound(tmp_path: Path) -> Path:
    folder = tmp_path / "inbound"
    folder.mkdir()
    return folder


def started(folders: list[Path], **kwargs: object) -> DropZoneWatcher:
    watcher = DropZoneWatcher(folders, **kwargs)  # type: ignore[arg-type]
    watcher.start()
    assert watcher.events_active
    assert watcher.wait(0) is True  # the catch-up scan right after start
    return watcher


def test_wakes_on_a_new_file_within_a_second(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=60)
    try:
        assert watcher.wait(0.2) is False  # nothing happened
        (inbound / "a.edi").write_bytes(b"ISA")
        start = time.monotonic()
        assert watcher.wait(5) is True
        assert time.monotonic() - start < 1.0
    finally:
        watcher.stop()


def test_wakes_a_thread_already_waiting(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=60)
    woke: list[float] = []
    waiter = threading.Thread(target=lambda: woke.append(watcher.wait(5) and time.monotonic()))
    try:
        waiter.start()
        time.sleep(0.1)
        written = time.monotonic()
        (inbound / "a.edi").write_bytes(b"ISA")
        waiter.join(5)
        assert woke and woke[0] - written < 1.0
    finally:
        watcher.stop()


def test_temporary_names_do_not_wake_but_the_final_rename_does(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=60)
    try:
        part = inbound / "a.edi.part"
        part.write_bytes(b"ISA")
        (inbound / ".hidden").write_bytes(b"x")
        assert watcher.wait(0.4) is False
        part.rename(inbound / "a.edi")
        assert watcher.wait(1.0) is True
    finally:
        watcher.stop()


def test_watches_several_folders_and_creates_missing_ones(tmp_path: Path) -> None:
    first, second = tmp_path / "in" / "acme", tmp_path / "in" / "globex"
    watcher = started([first, second], scan_interval=60)
    try:
        assert first.is_dir() and second.is_dir()
        (second / "x.edi").write_bytes(b"UNA")
        assert watcher.wait(1.0) is True
        third = tmp_path / "in" / "initech"
        watcher.add_folder(third)
        assert watcher.wait(0.5) is True  # adding a folder asks for a scan of it
        assert watcher.wait(0.2) is False
        (third / "y.edi").write_bytes(b"ISA")
        assert watcher.wait(1.0) is True
    finally:
        watcher.stop()


def test_bursts_of_events_are_coalesced(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=60, min_interval=0.2)
    try:
        with open(inbound / "big.edi", "wb") as fh:
            for _ in range(200):
                fh.write(b"x" * 1024)
                fh.flush()
        start = time.monotonic()
        wakes = 0
        while watcher.wait(0.5):
            wakes += 1
        assert 1 <= wakes <= 2  # not 400 wake-ups for 200 writes
        assert time.monotonic() - start < 2
    finally:
        watcher.stop()


def test_periodic_scan_wakes_without_events(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=0.3)
    try:
        start = time.monotonic()
        assert watcher.wait(2) is True
        assert 0.25 <= time.monotonic() - start < 1.0
        assert watcher.wait(0.1) is False  # the next scan is again 0.3 s away
    finally:
        watcher.stop()


def test_stop_returns_promptly_and_releases_waiters(inbound: Path) -> None:
    watcher = started([inbound], scan_interval=60)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(watcher.wait(30)))
    waiter.start()
    time.sleep(0.1)
    start = time.monotonic()
    watcher.stop()
    waiter.join(2)
    assert time.monotonic() - start < 1.0
    assert results == [False]
    assert watcher.stopped
    assert watcher.wait(1) is False
    assert not [t for t in threading.enumerate() if t.name.startswith(("InotifyEmitter", "Observer")) and t.is_alive()]


def test_start_twice_is_refused(inbound: Path) -> None:
    with DropZoneWatcher([inbound]) as watcher, pytest.raises(RuntimeError, match="twice"):
        watcher.start()


def test_watcher_and_transport_pick_up_a_dropped_file_end_to_end(tmp_path: Path) -> None:
    """The consumer loop from the folder module's docstring, with real time and a short settle."""
    transport = FolderTransport(tmp_path / "in", tmp_path / "out", settle_seconds=0.2)
    taken: list[bytes] = []
    with DropZoneWatcher([transport.inbound], scan_interval=60) as watcher:
        deadline = time.monotonic() + 5
        dropped = None
        while not taken and time.monotonic() < deadline:
            for item in transport.poll():
                taken.append(item.read())
                transport.settle(item)
            if taken:
                break
            if dropped is None:
                (transport.inbound / "po.edi.part").write_bytes(b"ISA*850~")
                (transport.inbound / "po.edi.part").rename(transport.inbound / "po.edi")
                dropped = time.monotonic()
            watcher.wait(transport.next_check_in())
    assert taken == [b"ISA*850~"]
    assert time.monotonic() - dropped < 1.5
    assert list(transport.inbound.iterdir()) == []
