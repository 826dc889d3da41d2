"""The content-addressed archive: every received file's raw bytes, named by their sha256.

Why content addressing: the name *is* the checksum, so the same bytes are kept
once however often they arrive, a duplicate is recognised by name, nothing is
ever overwritten with different content, and a ``files`` row needs only the
digest to find its bytes again.  Objects are sharded by the first two hex
digits (``ab/abcdef...``) so no folder grows to millions of entries.

Writes go to a temporary file in the archive's own ``tmp/`` folder (same file
system), are flushed to disk, then renamed into place: a reader never sees a
half-written object, a crash leaves at most a stray temp file, and two
processes storing the same bytes at once both succeed with the same result.
Files are streamed in chunks, so a 200 MB interchange costs one chunk of memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from hub.fsutil import fsync_dir as _fsync_dir

CHUNK_SIZE = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Archive:
    """A folder of immutable objects named by sha256 (created on first write)."""

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE, fsync: bool = True) -> None:
        self.root = Path(root)
        self.chunk_size = chunk_size
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"Archive({str(self.root)!r})"

    def path(self, sha: str) -> Path:
        """Where the object ``sha`` lives (whether or not it exists); refuses anything but 64 hex digits."""
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / sha[:2] / sha

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def open(self, sha: str) -> BinaryIO:
        """The object's bytes, opened for binary reading; ``FileNotFoundError`` when absent."""
        return open(self.path(sha), "rb")  # noqa: SIM115 - the caller closes it

    def read_bytes(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its sha256.  Storing the same bytes again is a no-op."""
        view = memoryview(data)
        return self._put(view[i : i + self.chunk_size] for i in range(0, len(view), self.chunk_size))

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a copy of the file at ``path``, streamed in chunks (constant memory); returns its sha256."""
        with open(path, "rb") as fh:
            return self._put(iter(lambda: fh.read(self.chunk_size), b""))

    def put_stream(self, stream: BinaryIO) -> str:
        """Store everything read from ``stream`` (an upload, a socket), in chunks; returns its sha256."""
        return self._put(iter(lambda: stream.read(self.chunk_size), b""))

    def _put(self, chunks: Iterable[bytes | memoryview]) -> str:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="put-", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path(sha)
            if final.is_file():
                tmp.unlink()  # same name, so same content: already archived
                return sha
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)  # objects are immutable; a stray write is refused
            os.replace(tmp, final)  # atomic; a concurrent put of the same bytes renames identical content
            if self.fsync:
                _fsync_dir(final.parent)
            return sha
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise


