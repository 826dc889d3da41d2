"""Folder drop zones: partners (or their SFTP server, or a person) drop files into a local folder.

Three pieces, used together by the runtime::

    inbound, outbound = partner_folders("inbound", "outbound", "acme")
    transport = FolderTransport(inbound, outbound, settle_seconds=2)
    watcher = DropZoneWatcher([inbound], scan_interval=30)
    watcher.start()
    while running:
        for item in transport.poll():
            ...                            # intake: archive, hash, commit to the store
            transport.settle(item)         # only after the commit
        watcher.wait(transport.next_check_in())
    watcher.stop()

**Complete-file detection.**  A folder gives no signal that a writer has
finished: an SFTP upload, an SMB copy or ``cp`` all create the final name first
and fill it over seconds or hours.  Taking such a file too early means
parsing half an interchange.  So :meth:`FolderTransport.poll` keeps, between
polls, what it saw of every file (size, mtime, inode) and returns a file only
when that has stayed the same across observations at least
``settle_seconds`` apart.  A file that keeps growing is never returned; a
file renamed into place (``x.part`` → ``x``) is a new path and waits its turn
like any other, because the rename tells nothing about the writer on some
servers.  Names matching ``ignore`` (``*.part``, ``*.filepart``, ``*.tmp``,
``*.partial``, hidden files) are the temporary names writers use and are
never looked at.  Symlinks are ignored: settling one would only remove the
link, and a link can point anywhere on the host.  Subfolders are ignored
unless ``recursive=True`` (then names are relative paths such as
``sub/x.edi``, hidden and ignored folders are skipped, and so is the done
folder when it lies inside the inbound folder).

**Offered once.**  A ready file is returned by one poll and not again until it
changes, is settled, is :meth:`~FolderTransport.release` d, or
``redeliver_seconds`` pass (the runtime crashed or failed before its commit:
the file is offered again, and intake deduplicates by sha256).  That keeps a
pool of workers from taking the same file twice while still losing nothing.

**Settling.**  :meth:`FolderTransport.settle` deletes the file or moves it to the
done folder, but only if it is still the very file that was offered (same
inode, size and mtime): a partner who dropped a new file under the same name
meanwhile keeps it, and it is offered on the next poll.

**Outbound.**  :meth:`FolderTransport.send` writes to a hidden temporary name in
the outbound folder (``.name.<random>.tmp``, which every sensible pickup,
this module's included, ignores), flushes and fsyncs it, then gives it its final
name with a hard link, which fails instead of replacing an existing file.  If
the name is taken by different content the file gets a suffix (``x-1.edi``,
``x-2.edi``…) and the name used is returned; if it is taken by the *same*
content (a resend after a crash) the existing name is returned and nothing is
duplicated.  Filesystems without hard links fall back to ``os.replace`` after
an existence check.  Everything streams in :data:`~hub.transports.base.CHUNK_SIZE`
blocks, so memory stays flat for any size.

**Waking up.**  :class:`DropZoneWatcher` uses watchdog (inotify on Linux) to wake
the consumer as soon as something is created, written, closed or moved into a
watched folder, plus a full scan every ``scan_interval`` seconds for what events
miss: network filesystems (NFS/SMB deliver no inotify events for remote
writers), an overflowed event queue, or files that arrived while the process
was down.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, NamedTuple

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from hub.errors import HubError, TerminalError, TransientError
from hub.fsutil import fsync_dir as _fsync_dir
from hub.transports.base import CHUNK_SIZE, IncomingFile, Payload, iter_chunks, seconds_until_due

__all__ = [
    "DEFAULT_IGNORE",
    "DropZoneWatcher",
    "FolderTransport",
    "PartnerFolders",
    "partner_folders",
]

log = logging.getLogger(__name__)

#: Names writers use while a file is incomplete, and hidden files (our own temporaries included).
DEFAULT_IGNORE: tuple[str, ...] = ("*.part", "*.filepart", "*.tmp", "*.partial", ".*")

#: How many suffixed names are tried before giving up on a crowded folder.
_MAX_SUFFIX = 10_000

#: The temporary names :meth:`FolderTransport.send` writes (for :meth:`FolderTransport.sweep_temporaries`).
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{16}\.tmp$")

#: What ``os.link`` raises where hard links cannot be used (another filesystem, SMB/FAT mounts, link limits).
_NO_LINK_ERRNOS = frozenset({errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK})

#: watchdog event types that can mean "a file may be ready now".
_WAKE_EVENTS = frozenset({"created", "modified", "moved", "closed", "attrib"})


# --------------------------------------------------------------------------- helpers


class _Signature(NamedTuple):
    """What must stay the same for a file to count as settled (and as the same file when settling)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int


def _signature(st: os.stat_result) -> _Signature:
    return _Signature(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class _Seen:
    """Per-path observation kept between polls."""

    sig: _Signature
    since: float  # clock() when this signature was first seen
    offered_at: float | None = None  # clock() when poll() last handed the file out


@dataclass(frozen=True)
class _Ref:
    """``IncomingFile.ref`` for folder items: which transport, which relative path, which version."""

    owner: int
    rel: str
    sig: _Signature


def _ignored(name: str, patterns: Sequence[str]) -> bool:
    # fnmatchcase: the same answer on every OS (a partner's "X.PART" is not "*.part").
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _fault(what: str, exc: OSError) -> HubError:
    """Convert an OS error at the boundary: what a person must fix is terminal, the rest may pass."""
    if isinstance(exc, PermissionError | IsADirectoryError | NotADirectoryError) or exc.errno in (
        errno.EROFS,
        errno.ENAMETOOLONG,
        errno.EINVAL,
    ):
        return TerminalError(f"{what}: {exc}")
    return TransientError(f"{what}: {exc}")


def _check_name(name: str) -> None:
    """An outbound name must be one plain visible file name: no paths, no hidden or temporary look-alikes."""
    if (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or name != name.strip()
    ):
        raise TerminalError(f"not a valid outbound file name: {name!r}")


def _candidates(name: str) -> Iterator[str]:
    """``x.edi``, then ``x-1.edi``, ``x-2.edi``…: the suffix goes before the extension so patterns still match."""
    yield name
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension ("FILE")
        stem, dot, ext = name, "", ""
    for counter in range(1, _MAX_SUFFIX):
        yield f"{stem}-{counter}{dot}{ext}"


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_SIZE):
            digest.update(block)
    return digest.digest()


def _same_content(path: Path, size: int, digest: bytes) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
        return st.st_size == size and _file_digest(path) == digest
    except OSError:
        return False




def _write_atomic(directory: Path, name: str, chunks: Iterable[bytes]) -> str:
    """Stream ``chunks`` into ``directory/name`` so that the name only ever shows complete content.

    Returns the name used (see the module docstring, "Outbound").  Errors
    raised by ``chunks`` itself propagate unchanged (they are the caller's);
    OS errors are converted.
    """
    # Truncated so that a long final name still leaves room for the suffixes within NAME_MAX (255).
    tmp = directory / f".{name[:200]}.{secrets.token_hex(8)}.tmp"
    digest = hashlib.sha256()
    size = 0
    try:
        fh = open(tmp, "xb")  # noqa: SIM115 - closed below, and the temporary removed on every failure
    except OSError as exc:
        raise _fault(f"cannot create {tmp}", exc) from exc
    try:
        with fh:
            for block in chunks:
                digest.update(block)
                size += len(block)
                try:
                    fh.write(block)
                except OSError as exc:
                    raise _fault(f"cannot write {tmp}", exc) from exc
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                raise _fault(f"cannot flush {tmp}", exc) from exc
        used = _place(tmp, directory, name, size, digest.digest())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return used


def _place(tmp: Path, directory: Path, name: str, size: int, digest: bytes) -> str:
    """Give the finished temporary file its final name without ever replacing another file."""
    for candidate in _candidates(name):
        final = directory / candidate
        try:
            os.link(tmp, final)  # atomic and no-clobber: fails with EEXIST instead of replacing
        except FileExistsError:
            if _same_content(final, size, digest):
                tmp.unlink(missing_ok=True)
                return candidate
            continue
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise _fault(f"cannot name {final}", exc) from exc
            # No hard links here (some SMB/FAT mounts): check, then replace.  A writer racing
            # us for the same name between the two steps could be replaced; nothing better exists.
            if os.path.lexists(final):
                if _same_content(final, size, digest):
                    tmp.unlink(missing_ok=True)
                    return candidate
                continue
            try:
                os.replace(tmp, final)
            except OSError as exc2:
                raise _fault(f"cannot name {final}", exc2) from exc2
            return candidate
        tmp.unlink(missing_ok=True)
        return candidate
    raise TerminalError(f"{directory}: no free name for {name} after {_MAX_SUFFIX} tries")


# --------------------------------------------------------------------------- partner folders


class PartnerFolders(NamedTuple):
    """One partner's pair of folders (unpacks as ``inbound, outbound``)."""

    inbound: Path
    outbound: Path


def partner_folders(
    root_inbound: str | os.PathLike[str], root_outbound: str | os.PathLike[str], partner_id: str
) -> PartnerFolders:
    """``<root_inbound>/<partner>/`` and ``<root_outbound>/<partner>/``, created if missing.

    One folder per partner keeps the channel unambiguous (a file's folder says
    who sent it before its envelope is read) and lets each partner's account
    be confined to its own folder.  ``partner_id`` must be a plain folder name
    so that a profile can never point outside the roots.
    """
    if (
        not partner_id
        or partner_id in (".", "..")
        or partner_id.startswith(".")
        or any(ch in partner_id for ch in "/\\\0")
    ):
        raise ValueError(f"partner id {partner_id!r} cannot be used as a folder name")
    folders = PartnerFolders(Path(root_inbound) / partner_id, Path(root_outbound) / partner_id)
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fault(f"cannot create {folder}", exc) from exc
    return folders


# --------------------------------------------------------------------------- the transport


class FolderTransport:
    """A :class:`~hub.transports.base.Transport` over a local (or mounted) inbound and outbound folder.

    ``settle_seconds``: how long size and mtime must stay unchanged before a
    file is ready; ``0`` takes files at first sight (only for folders whose
    writers always rename complete files into place).  ``ignore``: name
    patterns never picked up.  ``after``: what :meth:`settle` does by default,
    ``"delete"`` or ``"move"`` (to ``done_folder``).  ``recursive``: look
    into subfolders too.  ``redeliver_seconds``: offer a file again when it has
    not been settled this long after it was handed out (``None``: only after a
    restart or :meth:`release`).  ``clock``: a monotonic clock, replaceable in
    tests.  Safe to use from several threads.
    """

    def __init__(
        self,
        inbound: str | os.PathLike[str],
        outbound: str | os.PathLike[str],
        settle_seconds: float = 2.0,
        ignore: Sequence[str] = DEFAULT_IGNORE,
        after: Literal["delete", "move"] = "delete",
        done_folder: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        recursive: bool = False,
        redeliver_seconds: float | None = 600.0,
    ) -> None:
        if after not in ("delete", "move"):
            raise ValueError(f"after must be 'delete' or 'move', not {after!r}")
        if after == "move" and done_folder is None:
            raise ValueError("after='move' needs a done_folder")
        if settle_seconds < 0:
            raise ValueError("settle_seconds cannot be negative")
        self.inbound = Path(inbound).absolute()
        self.outbound = Path(outbound).absolute()
        self.done_folder = Path(done_folder).absolute() if done_folder is not None else None
        self.settle_seconds = float(settle_seconds)
        self.ignore = tuple(ignore)
        self.after = after
        self.recursive = recursive
        self.redeliver_seconds = redeliver_seconds
        self.channel = f"folder:{self.inbound}"
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        for folder in (self.inbound, self.outbound, self.done_folder):
            if folder is not None:
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _fault(f"cannot create {folder}", exc) from exc

    def __repr__(self) -> str:
        return f"FolderTransport({str(self.inbound)!r}, {str(self.outbound)!r}, settle_seconds={self.settle_seconds})"

    # ---------------------------------------------------------------- inbound

    def _scan(self) -> dict[str, tuple[Path, os.stat_result]]:
        """Every candidate file under the inbound folder: relative name → (path, stat)."""
        found: dict[str, tuple[Path, os.stat_result]] = {}
        pending = [(self.inbound, "")]
        while pending:
            folder, prefix = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError as exc:
                if folder == self.inbound:
                    raise TransientError(f"{self.channel}: the inbound folder is missing") from exc
                continue  # a subfolder removed while we looked
            except OSError as exc:
                raise _fault(f"{self.channel}: cannot list {folder}", exc) from exc
            for entry in entries:
                if _ignored(entry.name, self.ignore):
                    continue
                try:
                    if entry.is_symlink():
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if self.recursive and Path(entry.path) != self.done_folder:
                            pending.append((Path(entry.path), f"{prefix}{entry.name}/"))
                        continue
                    if not entry.is_file(follow_symlinks=False):
                        continue  # fifos, sockets, devices
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed between listing and stat
                except OSError as exc:
                    log.warning("%s: cannot stat %s: %s", self.channel, entry.path, exc)
                    continue
                found[prefix + entry.name] = (Path(entry.path), st)
        return found

    def poll(self) -> list[IncomingFile]:
        """The files complete now and not already handed out, oldest first (see the module docstring)."""
        found = self._scan()
        ready: list[IncomingFile] = []
        with self._lock:
            now = self._clock()
            for rel in self._seen.keys() - found.keys():
                del self._seen[rel]
            for rel, (path, st) in found.items():
                sig = _signature(st)
                seen = self._seen.get(rel)
                if seen is None or seen.sig != sig:
                    seen = self._seen[rel] = _Seen(sig, now)
                    if self.settle_seconds > 0:
                        continue  # first sight of this version: it must be seen unchanged later
                if now - seen.since < self.settle_seconds:
                    continue
                if seen.offered_at is not None and (
                    self.redeliver_seconds is None or now - seen.offered_at < self.redeliver_seconds
                ):
                    continue
                seen.offered_at = now
                ready.append(self._item(rel, path, st, sig))
        ready.sort(key=lambda item: (item.mtime, item.name))
        return ready

    def _item(self, rel: str, path: Path, st: os.stat_result, sig: _Signature) -> IncomingFile:
        return IncomingFile(
            name=rel,
            size=st.st_size,
            mtime=st.st_mtime,
            channel=self.channel,
            path=path,
            opener=lambda: self._open_checked(path, rel, sig),
            ref=_Ref(id(self), rel, sig),
        )

    def _open_checked(self, path: Path, rel: str, sig: _Signature) -> IO[bytes]:
        """Open the file and make sure it is still the version that was listed."""
        try:
            fh = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except FileNotFoundError as exc:
            raise TerminalError(f"{self.channel}: {rel} vanished before it was read") from exc
        except OSError as exc:
            raise _fault(f"{self.channel}: cannot read {rel}", exc) from exc
        if _signature(os.fstat(fh.fileno())) != sig:
            fh.close()
            # The new version is a new item: poll() offers it once it has settled in its turn.
            raise TransientError(f"{self.channel}: {rel} changed after it was listed; it will be offered again")
        return fh

    def next_check_in(self) -> float | None:
        """Seconds until a file seen but not yet ready could become ready (or be redelivered); ``None``: none.

        The consumer passes this to :meth:`DropZoneWatcher.wait`, so that a
        file is taken ``settle_seconds`` after its last change rather than at
        the next periodic scan.
        """
        with self._lock:
            return seconds_until_due(self._seen.values(), self.settle_seconds, self.redeliver_seconds, self._clock())

    def _own(self, item: IncomingFile) -> _Ref:
        ref = item.ref
        if not isinstance(ref, _Ref) or ref.owner != id(self):
            raise TerminalError(f"{self.channel}: {item.name} was not listed by this transport")
        return ref

    def release(self, item: IncomingFile) -> None:
        """Offer ``item`` again at the next poll (the consumer could not commit it and wants it back)."""
        ref = self._own(item)
        with self._lock:
            seen = self._seen.get(ref.rel)
            if seen is not None and seen.sig == ref.sig:
                seen.offered_at = None

    def settle(self, item: IncomingFile, archive_to: str | os.PathLike[str] | None = None) -> None:
        """Delete ``item``, or move it to ``archive_to`` (a folder) or the done folder; after the store committed.

        ``archive_to`` wins over the ``after`` policy.  Already gone: nothing to
        do.  Replaced by a different file since it was listed: the new file is
        left alone (and offered by a later poll).
        """
        ref = self._own(item)
        path = self.inbound / ref.rel
        try:
            current = _signature(os.stat(path, follow_symlinks=False))
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise _fault(f"{self.channel}: cannot settle {ref.rel}", exc) from exc
        if current is None:
            log.info("%s: %s was already gone when settled", self.channel, ref.rel)
        elif current != ref.sig:
            log.warning("%s: %s changed after it was taken in; the new file waits for a poll", self.channel, ref.rel)
        else:
            target = archive_to if archive_to is not None else (self.done_folder if self.after == "move" else None)
            if target is None:
                try:
                    path.unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise _fault(f"{self.channel}: cannot delete {ref.rel}", exc) from exc
            else:
                rel = Path(ref.rel)
                self._move(path, Path(target).absolute() / rel.parent, rel.name)
        with self._lock:
            seen = self._seen.get(ref.rel)
            if seen is not None and seen.sig == ref.sig:
                del self._seen[ref.rel]

    def _move(self, src: Path, folder: Path, name: str) -> Path:
        """Move ``src`` into ``folder`` without replacing anything there (a suffix when the name is taken)."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fault(f"cannot create {folder}", exc) from exc
        digest: bytes | None = None
        for candidate in _candidates(name):
            dest = folder / candidate
            try:
                os.link(src, dest)
            except FileExistsError:
                if digest is None:
                    digest = _file_digest(src)
                if _same_content(dest, src.stat().st_size, digest):
                    break  # the same bytes were archived before (a settle retried after a crash)
                continue
            except OSError as exc:
                if exc.errno not in _NO_LINK_ERRNOS:
                    raise _fault(f"cannot move {src} to {dest}", exc) from exc
                # Another filesystem, or no hard links: copy atomically (same no-clobber rules), then delete.
                with open(src, "rb") as fh:
                    dest = folder / _write_atomic(folder, name, iter_chunks(fh))
                break
            _fsync_dir(folder)
            break
        else:
            raise TerminalError(f"{folder}: no free name for {name}")
        try:
            src.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _fault(f"cannot remove {src} after archiving it", exc) from exc
        return dest

    # ---------------------------------------------------------------- outbound

    def send(self, name: str, data: Payload) -> str:
        """Write ``outbound/<name>`` atomically (see the module docstring); return the name actually used."""
        _check_name(name)
        return _write_atomic(self.outbound, name, iter_chunks(data))

    def sweep_temporaries(self, max_age: float = 86_400.0) -> int:
        """Remove temporaries left in the outbound folder by a crash mid-``send``; return how many.

        Only our own pattern (``.name.<16 hex>.tmp``) and only when older than
        ``max_age`` seconds, so that a send in progress in another process is
        never touched.
        """
        removed = 0
        limit = time.time() - max_age
        try:
            entries = list(os.scandir(self.outbound))
        except OSError as exc:
            raise _fault(f"cannot list {self.outbound}", exc) from exc
        for entry in entries:
            if not _TEMP_NAME.match(entry.name):
                continue
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except OSError as exc:
                log.warning("cannot remove stale temporary %s: %s", entry.path, exc)
        return removed

    def close(self) -> None:
        """Nothing to release for a folder; forgets the observations (a reopened transport starts afresh)."""
        with self._lock:
            self._seen.clear()


# --------------------------------------------------------------------------- the watcher


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into one wake-up flag; runs on watchdog's thread."""

    def __init__(self, watcher: DropZoneWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _WAKE_EVENTS:
            return
        if event.is_directory and event.event_type in ("modified", "attrib", "closed"):
            return  # a folder's mtime changes with every file event already reported on its own
        path = event.dest_path if event.event_type == "moved" else event.src_path
        if _ignored(os.path.basename(os.fsdecode(path)), self._watcher.ignore):
            return  # a writer filling its temporary name; the rename to the final name will wake us
        self._watcher.wake()


class DropZoneWatcher:
    """Wakes a consumer when something changes in the inbound folders, and at least every ``scan_interval``.

    ``wait(timeout)`` blocks until an event arrived (True), the periodic scan is
    due (True), the timeout passed (False) or :meth:`stop` was called (False).
    The first ``wait`` after :meth:`start` returns True at once: files that
    arrived while the process was down produced no event.  Bursts of events
    (every ``write()`` of an upload is one) are coalesced: ``wait`` returns at
    most once per ``min_interval`` seconds because of events, so a large upload
    does not turn the consumer into a busy loop.  If the OS refuses event
    watching (inotify limits reached), the watcher logs it and goes on with the
    periodic scan alone.  Thread-safe; :meth:`stop` joins watchdog's threads.
    Missing folders are created, since a watch needs an existing folder.
    """

    def __init__(
        self,
        folders: Iterable[str | os.PathLike[str]],
        scan_interval: float = 30.0,
        *,
        ignore: Sequence[str] = DEFAULT_IGNORE,
        recursive: bool = False,
        min_interval: float = 0.1,
    ) -> None:
        if scan_interval <= 0:
            raise ValueError("scan_interval must be positive")
        self.folders = [Path(folder).absolute() for folder in folders]
        self.scan_interval = float(scan_interval)
        self.ignore = tuple(ignore)
        self.recursive = recursive
        self.min_interval = float(min_interval)
        self.events_active = False
        self._cond = threading.Condition()
        self._pending = False
        self._started = False
        self._stopped = False
        self._last_return = float("-inf")
        self._next_scan = time.monotonic() + self.scan_interval
        self._observer: BaseObserver | None = None
        self._handler = _Handler(self)

    def __enter__(self) -> DropZoneWatcher:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start watching; the first :meth:`wait` then returns True at once (a catch-up scan)."""
        with self._cond:
            if self._started:
                raise RuntimeError("DropZoneWatcher.start() called twice")
            self._started = True
        for folder in self.folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _fault(f"cannot create {folder}", exc) from exc
        observer: BaseObserver | None = Observer()
        try:
            for folder in self.folders:
                observer.schedule(self._handler, str(folder), recursive=self.recursive)
            observer.start()
        except OSError as exc:
            log.warning("file events unavailable (%s); relying on a scan every %ss", exc, self.scan_interval)
            observer = None
        with self._cond:
            self._observer = observer
            self.events_active = observer is not None
            self._next_scan = time.monotonic() + self.scan_interval
            self._pending = True
            self._cond.notify_all()

    def add_folder(self, folder: str | os.PathLike[str]) -> None:
        """Watch one more folder (a partner added while running)."""
        path = Path(folder).absolute()
        path.mkdir(parents=True, exist_ok=True)
        with self._cond:
            if path in self.folders:
                return
            self.folders.append(path)
            observer = self._observer
        if observer is not None:
            try:
                observer.schedule(self._handler, str(path), recursive=self.recursive)
            except OSError as exc:
                log.warning("no file events for %s (%s); the periodic scan covers it", path, exc)
        self.wake()

    def wake(self) -> None:
        """Wake a waiting consumer now (called by the event handler; usable by anyone, e.g. a signal)."""
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until there is a reason to poll (True) or ``timeout`` seconds pass or the watcher stops (False)."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                if self._stopped:
                    return False
                now = time.monotonic()
                event_ready_at = self._last_return + self.min_interval
                if (self._pending and now >= event_ready_at) or now >= self._next_scan:
                    self._pending = False
                    self._last_return = now
                    self._next_scan = now + self.scan_interval  # every wake is followed by a full poll
                    return True
                if deadline is not None and now >= deadline:
                    return False
                wake_at = self._next_scan
                if self._pending:
                    wake_at = min(wake_at, event_ready_at)
                if deadline is not None:
                    wake_at = min(wake_at, deadline)
                self._cond.wait(max(0.0, wake_at - now))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching, release any waiter (its ``wait`` returns False) and join watchdog's threads."""
        with self._cond:
            self._stopped = True
            observer, self._observer = self._observer, None
            self._cond.notify_all()
        if observer is not None:
            observer.stop()
            observer.join(timeout)
            if observer.is_alive():
                log.warning("the file-event observer did not stop within %ss", timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped
