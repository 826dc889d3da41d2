"""The ``Transport`` protocol every edge that moves files implements (folder now; SFTP and AS2 later).

The runtime depends on this protocol only, never on a concrete transport, so
that a partner's channel can be a watched folder, an SFTP account or an AS2
endpoint without the pipeline knowing which (see ``../shared/DESIGN.md``,
"Layers").  The protocol is deliberately small:

``poll()``
    the files that are *complete and ready now*.  Deciding "complete" is the
    transport's job (a folder waits until size and mtime stop changing, an SFTP
    transport does the same remotely, AS2 only hands over verified messages),
    because only the transport knows how its writers behave.
``settle(item, archive_to)``
    the acknowledgment that travels with each item (the Benthos/dlt habit): it
    is called only *after* the store committed the item, so a crash between
    reading and committing leaves the source where it was and the file is
    simply offered again (intake deduplicates by sha256).
``send(name, data)``
    writes one outbound file so that the far side never sees it half written,
    and returns the name actually used (which may differ when the name was
    taken).
``close()``
    releases connections; calling it twice is harmless.

Transports convert their foreign exceptions at the boundary into
:class:`~hub.errors.TransientError` (retry later) or
:class:`~hub.errors.TerminalError` (a person must look), the only two kinds
the runtime needs to know.

:class:`MemoryTransport` is the in-memory implementation for unit tests of the
runtime (the httpx habit); it is never the only test of an edge.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from hub.errors import TerminalError, TransientError

__all__ = [
    "CHUNK_SIZE",
    "IncomingFile",
    "MemoryTransport",
    "Payload",
    "Transport",
    "iter_chunks",
]

#: Block size used when streaming: large enough for throughput, small enough that memory stays flat.
CHUNK_SIZE = 1 << 20

#: What ``send`` accepts: bytes, a binary file-like object with ``read(n)``, or an iterable of byte chunks
#: (a writer that yields segments as it renders them).  The last two are streamed in constant memory.
Payload = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes]


@dataclass(frozen=True)
class IncomingFile:
    """One complete inbound file, as handed out by :meth:`Transport.poll`.

    ``name`` is the file's name as the partner gave it (relative to the
    channel's folder; it may contain ``/`` when a transport looks into
    subfolders).  ``channel`` is a human description of where it came from
    (``folder:/data/inbound/acme``, ``sftp://acme@host/out``), recorded in
    the store and in logs.  Content is read through :meth:`open` (a stream, so
    a 2 GB interchange never sits in memory) or :meth:`read` (small files,
    tests).  ``path`` is set when the bytes are on the local disk;
    ``opener``, when set, is preferred because it can check that the file is
    still the one that was listed.  ``ref`` is private to the transport that
    made the item (what :meth:`Transport.settle` needs to find it again).
    """

    name: str
    size: int
    mtime: float
    channel: str
    path: Path | None = None
    opener: Callable[[], IO[bytes]] | None = field(default=None, repr=False, compare=False)
    ref: Any = field(default=None, repr=False, compare=False)

    def open(self) -> IO[bytes]:
        """A binary stream over the content; the caller closes it (use ``with``)."""
        if self.opener is not None:
            return self.opener()
        if self.path is None:
            raise TerminalError(f"{self.channel}: {self.name} has neither a path nor an opener")
        try:
            return open(self.path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except FileNotFoundError as exc:
            # Retrying the same item cannot bring it back; if it reappears it is a new item.
            raise TerminalError(f"{self.channel}: {self.name} vanished before it was read") from exc
        except PermissionError as exc:
            raise TerminalError(f"{self.channel}: {self.name} cannot be read: {exc}") from exc
        except OSError as exc:
            raise TransientError(f"{self.channel}: {self.name} cannot be read now: {exc}") from exc

    def read(self) -> bytes:
        """The whole content at once; prefer :meth:`open` for anything that may be large."""
        with self.open() as fh:
            return fh.read()

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The content in blocks of ``size`` bytes (for hashing or copying in constant memory)."""
        with self.open() as fh:
            while block := fh.read(size):
                yield block


@runtime_checkable
class Transport(Protocol):
    """What the runtime needs from an inbound/outbound channel (see the module docstring)."""

    def poll(self) -> list[IncomingFile]:
        """The files that are complete and ready to be taken in now (oldest first)."""
        ...

    def settle(self, item: IncomingFile, archive_to: str | None = None) -> None:
        """Remove ``item`` at its source, or move it to ``archive_to`` (or the transport's done folder).

        Called only after the store committed the item.  Idempotent: settling
        an item that is already gone is not an error.
        """
        ...

    def send(self, name: str, data: Payload) -> str:
        """Write one outbound file atomically; return the name actually used."""
        ...

    def close(self) -> None:
        """Release resources; safe to call more than once."""
        ...


def iter_chunks(data: Payload, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``data`` as byte blocks, whatever form of :data:`Payload` it came in.

    Shared by every transport's ``send`` so that bytes, file objects and
    generators are all accepted the same way, and so that streams are never
    read whole.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
        return
    read = getattr(data, "read", None)
    if callable(read):
        while True:
            block = read(size)
            if not block:
                return
            if isinstance(block, str):
                raise TypeError("send() needs a binary stream, got a text stream")
            yield bytes(block)
    if isinstance(data, str):
        raise TypeError("send() needs bytes, not str: encode the document first")
    for block in data:
        if not isinstance(block, bytes | bytearray | memoryview):
            raise TypeError(f"send() chunks must be bytes, not {type(block).__name__}")
        if block:
            yield bytes(block)


class MemoryTransport:
    """An in-memory :class:`Transport` for unit tests of the runtime.

    ``put(name, data)`` makes a file appear inbound; ``sent`` holds what was
    sent (name → bytes); ``settled`` lists ``(name, archive_to)`` in order.
    Like the real transports, an item is offered once and not again until it
    is settled or :meth:`release` d (the runtime's retry after a failed commit).
    """

    def __init__(self, channel: str = "memory:") -> None:
        self.channel = channel
        self.sent: dict[str, bytes] = {}
        self.settled: list[tuple[str, str | None]] = []
        self.closed = False
        self._inbox: dict[str, bytes] = {}
        self._offered: set[str] = set()
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        with self._lock:
            self._inbox[name] = bytes(data)
            self._offered.discard(name)

    def poll(self) -> list[IncomingFile]:
        with self._lock:
            ready = []
            for name, data in self._inbox.items():
                if name in self._offered:
                    continue
                self._offered.add(name)
                ready.append(
                    IncomingFile(
                        name=name,
                        size=len(data),
                        mtime=0.0,
                        channel=self.channel,
                        opener=lambda data=data: io.BytesIO(data),
                        ref=data,
                    )
                )
            return ready

    def release(self, item: IncomingFile) -> None:
        with self._lock:
            self._offered.discard(item.name)

    def settle(self, item: IncomingFile, archive_to: str | None = None) -> None:
        with self._lock:
            if self._inbox.get(item.name) is item.ref:
                del self._inbox[item.name]
                self._offered.discard(item.name)
            self.settled.append((item.name, archive_to))

    def send(self, name: str, data: Payload) -> str:
        content = b"".join(iter_chunks(data))
        with self._lock:
            used, counter = name, 0
            while used in self.sent and self.sent[used] != content:
                counter += 1
                used = f"{Path(name).stem}-{counter}{Path(name).suffix}"
            self.sent[used] = content
            return used

    def close(self) -> None:
        self.closed = True


def seconds_until_due(seen: Iterable[Any], settle_seconds: float, redeliver_seconds: float | None,
                      now: float) -> float | None:
    """When a transport that tracks files between listings should look again: the soonest of "a file seen
    but not offered becomes settled" (its ``since`` + ``settle_seconds``) and "an offered file not settled is
    offered again" (its ``offered_at`` + ``redeliver_seconds``); ``None`` when nothing is pending."""
    due: list[float] = []
    for item in seen:
        if item.offered_at is None:
            due.append(item.since + settle_seconds - now)
        elif redeliver_seconds is not None:
            due.append(item.offered_at + redeliver_seconds - now)
    return max(0.0, min(due)) if due else None
