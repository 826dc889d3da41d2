"""The content-addressed archive: names are digests, writes are atomic, big files stream."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from hub.store import Archive

BIG_MB = 60


def test_put_bytes_names_the_object_by_its_digest(tmp_path):
    archive = Archive(tmp_path / "archive")
    data = b"ISA*00*          *00*          *ZZ*ACME~"
    sha = archive.put_bytes(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert archive.path(sha) == tmp_path / "archive" / sha[:2] / sha
    assert archive.exists(sha)
    with archive.open(sha) as fh:
        assert fh.read() == data
    assert archive.read_bytes(sha) == data


def test_missing_and_malformed_digests(tmp_path):
    archive = Archive(tmp_path)
    absent = "f" * 64
    assert not archive.exists(absent)
    with pytest.raises(FileNotFoundError):
        archive.open(absent)
    for bad in ("../../etc/passwd", "A" * 64, "a" * 63, ""):
        with pytest.raises(ValueError):
            archive.path(bad)


def test_empty_content_is_an_object_too(tmp_path):
    archive = Archive(tmp_path)
    sha = archive.put_bytes(b"")
    assert sha == hashlib.sha256(b"").hexdigest()
    assert archive.read_bytes(sha) == b""


def test_objects_are_read_only_and_temp_files_do_not_linger(tmp_path):
    archive = Archive(tmp_path)
    sha = archive.put_bytes(b"UNA:+.? 'UNB+UNOC:3'")
    assert not os.access(archive.path(sha), os.W_OK) or os.geteuid() == 0
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_same_bytes_from_many_threads_end_as_one_object(tmp_path):
    archive = Archive(tmp_path)
    data = os.urandom(3 << 20)
    with ThreadPoolExecutor(8) as pool:
        digests = set(pool.map(lambda _: archive.put_bytes(data), range(16)))
    assert digests == {hashlib.sha256(data).hexdigest()}
    sha = digests.pop()
    assert archive.read_bytes(sha) == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [sha]


def _write_big_file(path, megabytes: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for i in range(megabytes):
            chunk = i.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


class PeakRss:
    """The highest resident set size seen while the block runs (sampled every few milliseconds)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> PeakRss:
        self.baseline = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / (1 << 20)


def test_put_file_streams_a_big_file_in_bounded_memory_and_is_idempotent(tmp_path):
    source = tmp_path / "big.edi"
    expected = _write_big_file(source, BIG_MB)
    archive = Archive(tmp_path / "archive")

    tracemalloc.start()
    try:
        with PeakRss() as rss:
            sha = archive.put_file(source)
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sha == expected
    assert archive.path(sha).stat().st_size == BIG_MB << 20
    # Reading the whole file would cost BIG_MB; streaming costs about one 1 MiB chunk.
    assert traced_peak < 8 << 20, f"put_file held {traced_peak / (1 << 20):.1f} MiB of Python objects"
    assert rss.growth_mb < 24, f"resident memory grew by {rss.growth_mb:.1f} MiB while archiving"

    stored = archive.path(sha).stat()
    assert archive.put_file(source) == sha  # again: same object, untouched
    again = archive.path(sha).stat()
    assert (again.st_ino, again.st_mtime_ns) == (stored.st_ino, stored.st_mtime_ns)
    assert list((tmp_path / "archive" / "tmp").iterdir()) == []
    assert [p.name for p in (tmp_path / "archive").rglob("*") if p.is_file()] == [sha]


def test_a_failed_put_leaves_nothing_behind(tmp_path):
    archive = Archive(tmp_path)

    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, size: int) -> bytes:
            self.calls += 1
            if self.calls > 2:
                raise OSError("connection reset")
            return b"x" * size

    with pytest.raises(OSError, match="connection reset"):
        archive.put_stream(Broken())  # type: ignore[arg-type]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
