"""The hub's own SFTP drop zone (asyncssh): partners log in to the hub instead of the hub logging in to them.

``edihub serve`` starts one :class:`HostedSftpZone` on the configured port.
Every active partner profile with an ``sftp_account`` gets a login:

* **Keys only.**  The public keys of ``sftp_account.public_keys``; no
  passwords, no keyboard-interactive.  An unknown user or key simply fails.
* **SFTP only.**  No shell, no exec, no scp, no port forwarding: the session
  can start the ``sftp`` subsystem and nothing else.
* **A virtual root per partner** holding exactly two folders: ``/inbound``
  (the partner's inbound *folder channel*, the very folder the pipeline's
  :class:`~hub.transports.folder.FolderTransport` polls) and ``/outbound``
  (its outbound folder channel, where the hub's 997s, 855s... are written).
  Nothing else exists for the partner: paths are normalised against the
  virtual root (``..`` cannot climb out), the folders are flat (no
  subfolders), symlinks are neither followed nor listed nor created, and
  another partner's folders have no name in this tree.
* **Complete when closed.**  An upload to ``inbound/x.edi`` is written to a
  hidden temporary in the same folder (``.x.edi.<random>.upload``, which the
  folder transport ignores) and given its name, atomically, when the client
  *closes* the file; a client that disconnects without closing leaves
  nothing behind (the temporary is removed).  A client that uploads under a
  temporary name (``x.edi.filepart``, ``*.part``, ``*.tmp``, ``*.partial``,
  hidden names: written in place, invisible to the pipeline) completes the
  file by renaming it.  Either way ``on_file_complete(partner_id, path)`` is
  called at once, so ``edihub serve`` wakes that partner's poll: the file
  "goes straight into the pipeline".  Replacing a name whose earlier file the
  pipeline has not taken yet keeps the earlier one under a suffixed name
  (``x-1.edi``): an order is never lost to an overwrite.  Files handed to the
  hub cannot be modified or renamed afterwards (only removed, as any drop zone
  allows before pickup).
* **Outbound is read-only** for the partner, who may list, download and
  delete what the hub wrote there; the hub's own temporaries (a 997 being
  written) are neither listed nor readable.

The hand-off to the pipeline is therefore the folder drop zone itself: no new
code path in the runtime, the store dedupes and archives as for any folder,
and a hub restart loses nothing because completed uploads are plain files.

The zone runs its own asyncio loop in a background thread (``start`` /
``stop``, or ``with``), so the synchronous runtime needs no changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import io
import logging
import os
import posixpath
import re
import secrets
import stat
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from hub.errors import TerminalError
from hub.fsutil import fsync_dir
from hub.partners.profile import FolderChannel, PartnerProfile
from hub.transports.folder import DEFAULT_IGNORE, _candidates

__all__ = ["HostedSftpZone", "ZoneAccount"]

log = logging.getLogger(__name__)

#: Our own upload temporaries: hidden from the partner, ignored by the folder transport.
_UPLOAD_TEMP = re.compile(r"^\..+\.[0-9a-f]{16}\.upload$")

_WRITE_FLAGS = asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC

#: Called with (partner id, path of the completed file) from the zone's thread; must return quickly.
FileCompleteCallback = Callable[[str, Path], None]


@dataclass(frozen=True)
class ZoneAccount:
    """One partner's login: who it is, which keys open it, which folders it sees."""

    username: str
    partner_id: str
    authorized_keys: Any  # asyncssh.SSHAuthorizedKeys
    inbound: Path
    outbound: Path | None


def _read_keys(profile: PartnerProfile, root: Path) -> Any:
    assert profile.sftp_account is not None
    lines: list[str] = []
    for entry in profile.sftp_account.public_keys:
        if entry.startswith("file:"):
            path = Path(entry[len("file:") :])
            path = path if path.is_absolute() else root / path
            try:
                lines.append(path.read_text(encoding="utf-8"))
            except OSError as exc:
                where = f"partner {profile.id}: sftp_account.public_keys"
                raise TerminalError(f"{where}: cannot read {path}: {exc}") from exc
        else:
            lines.append(entry)
    try:
        return asyncssh.import_authorized_keys("\n".join(lines) + "\n")
    except (ValueError, asyncssh.KeyImportError) as exc:
        raise TerminalError(f"partner {profile.id}: sftp_account.public_keys: {exc}") from exc


def accounts_from_profiles(
    profiles: Mapping[str, PartnerProfile] | Iterable[PartnerProfile], root_folder: str | os.PathLike[str] = "."
) -> dict[str, ZoneAccount]:
    """The logins of every active profile with an ``sftp_account``, by user name.

    Relative folder paths are resolved against ``root_folder`` (the hub's
    working directory, against which the pipeline resolves them too); the
    folders are created when missing.
    """
    root = Path(root_folder).absolute()
    values = profiles.values() if isinstance(profiles, Mapping) else profiles
    accounts: dict[str, ZoneAccount] = {}
    for profile in values:
        account = profile.sftp_account
        if account is None or not profile.active:
            continue
        inbound, outbound = profile.channels.inbound, profile.channels.outbound
        if not isinstance(inbound, FolderChannel):
            raise TerminalError(
                f"partner {profile.id}: sftp_account needs channels.inbound of type folder (the zone delivers there)"
            )
        if account.username in accounts:
            other = accounts[account.username].partner_id
            raise TerminalError(f"partner {profile.id}: sftp_account.username {account.username!r} is also {other}'s")
        folders: list[Path | None] = []
        for channel in (inbound, outbound):
            if not isinstance(channel, FolderChannel):
                folders.append(None)
                continue
            folder = Path(channel.path)
            folder = (folder if folder.is_absolute() else root / folder).resolve()
            folder.mkdir(parents=True, exist_ok=True)
            folders.append(folder)
        assert folders[0] is not None
        accounts[account.username] = ZoneAccount(
            account.username, profile.id, _read_keys(profile, root), folders[0], folders[1]
        )
    return accounts


def _temporary(name: str) -> bool:
    """A name writers use while a file is incomplete (the folder transport's ignore list)."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in DEFAULT_IGNORE)


# --------------------------------------------------------------------------- one partner's SFTP session


class _Upload(io.FileIO):
    """An open upload: the temporary being written and the name it gets when the client closes it."""

    temp: Path
    final: Path | None  # None: the client writes a temporary name itself (completed by a rename)
    virtual: bytes


@dataclass(frozen=True)
class _Location:
    """Where a virtual path points: the root, an area folder, or one file in an area."""

    area: str | None = None
    folder: Path | None = None
    name: str | None = None

    @property
    def disk(self) -> Path:
        assert self.folder is not None and self.name is not None
        return self.folder / self.name


class _ZoneSFTP(asyncssh.SFTPServer):
    """The SFTP server of one session, confined to its partner's virtual root (see the module docstring)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, zone: HostedSftpZone) -> None:
        super().__init__(chan)
        username = chan.get_extra_info("username")
        self._zone = zone
        self._account = zone.account(username)
        self._areas: dict[str, Path] = {"inbound": self._account.inbound}
        if self._account.outbound is not None:
            self._areas["outbound"] = self._account.outbound
        self._uploads: dict[str, _Upload] = {}  # virtual name in inbound -> its open upload
        log.info("sftp zone: %s (partner %s) connected", username, self._account.partner_id)

    # ------------------------------------------------------------------ paths

    def _locate(self, path: bytes) -> _Location:
        if b"\0" in path:
            raise asyncssh.SFTPInvalidFilename("invalid file name")
        # Normalised against the virtual root: ".." at the top stays at the top, never above it.
        parts = [p for p in posixpath.normpath(posixpath.join(b"/", path)).split(b"/") if p]
        if not parts:
            return _Location()
        area = os.fsdecode(parts[0])
        folder = self._areas.get(area)
        if folder is None:
            raise asyncssh.SFTPNoSuchFile(f"no such file: /{os.fsdecode(b'/'.join(parts))}")
        if len(parts) == 1:
            return _Location(area, folder)
        if len(parts) > 2:
            raise asyncssh.SFTPNoSuchPath("inbound/ and outbound/ have no subfolders")
        name = os.fsdecode(parts[1])
        if self._hidden(area, name):
            raise asyncssh.SFTPNoSuchFile(f"no such file: /{area}/{name}")
        return _Location(area, folder, name)

    @staticmethod
    def _hidden(area: str, name: str) -> bool:
        """Our upload temporaries, and in outbound/ the hub's send temporaries (a half-written 997 is not yours)."""
        return bool(_UPLOAD_TEMP.match(name)) or (area == "outbound" and _temporary(name))

    def _file(self, path: bytes) -> _Location:
        location = self._locate(path)
        if location.name is None:
            raise asyncssh.SFTPFileIsADirectory(f"{os.fsdecode(path)} is a folder")
        return location

    def _lstat_file(self, location: _Location) -> os.stat_result:
        """The stat of a regular file in an area; anything else (symlink, folder, missing) does not exist."""
        try:
            st = os.lstat(location.disk)
        except FileNotFoundError as exc:
            raise asyncssh.SFTPNoSuchFile(f"no such file: /{location.area}/{location.name}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise asyncssh.SFTPNoSuchFile(f"no such file: /{location.area}/{location.name}")
        return st

    def _writable(self, location: _Location) -> None:
        if location.area != "inbound":
            raise asyncssh.SFTPPermissionDenied(f"/{location.area} is read-only: it holds what the hub sends you")

    @staticmethod
    def _root_attrs() -> asyncssh.SFTPAttrs:
        return asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, permissions=stat.S_IFDIR | 0o555)

    # ------------------------------------------------------------------ reading the tree

    def realpath(self, path: bytes) -> bytes:
        parts = [p for p in posixpath.normpath(posixpath.join(b"/", path)).split(b"/") if p]
        return b"/" + b"/".join(parts)

    def stat(self, path: bytes) -> Any:
        return self.lstat(path)

    def lstat(self, path: bytes) -> Any:
        location = self._locate(path)
        if location.area is None:
            return self._root_attrs()
        if location.name is None:
            assert location.folder is not None
            return os.stat(location.folder)
        upload = self._uploads.get(location.name) if location.area == "inbound" else None
        if upload is not None and not upload.closed:
            return os.fstat(upload.fileno())
        return self._lstat_file(location)

    async def scandir(self, path: bytes) -> Any:
        location = self._locate(path)
        if location.name is not None:
            raise asyncssh.SFTPNotADirectory(f"{os.fsdecode(path)} is a file")
        yield asyncssh.SFTPName(b".", attrs=self._root_attrs())
        yield asyncssh.SFTPName(b"..", attrs=self._root_attrs())
        if location.area is None:
            for area, folder in self._areas.items():
                yield asyncssh.SFTPName(area.encode(), attrs=asyncssh.SFTPAttrs.from_local(os.stat(folder)))
            return
        assert location.folder is not None
        with os.scandir(location.folder) as entries:
            for entry in entries:
                if self._hidden(location.area, entry.name):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # taken by the pipeline while we listed
                if stat.S_ISREG(st.st_mode):
                    yield asyncssh.SFTPName(os.fsencode(entry.name), attrs=asyncssh.SFTPAttrs.from_local(st))

    def statvfs(self, path: bytes) -> Any:
        location = self._locate(path)
        return os.statvfs(location.folder or self._account.inbound)

    # ------------------------------------------------------------------ files

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> Any:
        location = self._file(path)
        if not pflags & _WRITE_FLAGS:
            self._lstat_file(location)
            fd = os.open(location.disk, os.O_RDONLY | os.O_NOFOLLOW)
            return io.FileIO(fd, "rb", closefd=True)
        self._writable(location)
        assert location.name is not None and location.folder is not None
        if location.name in self._uploads:
            raise asyncssh.SFTPFailure(f"inbound/{location.name} is being uploaded in this session already")
        exists = os.path.lexists(location.disk)
        if pflags & asyncssh.FXF_EXCL and exists:
            raise asyncssh.SFTPFileAlreadyExists(f"inbound/{location.name} exists")
        flags = os.O_NOFOLLOW | (os.O_RDWR if pflags & asyncssh.FXF_READ else os.O_WRONLY)
        if _temporary(location.name):
            # The client's own temporary: written in place (and resumable); a rename completes it.
            for flag, os_flag in ((asyncssh.FXF_CREAT, os.O_CREAT), (asyncssh.FXF_TRUNC, os.O_TRUNC),
                                  (asyncssh.FXF_EXCL, os.O_EXCL), (asyncssh.FXF_APPEND, os.O_APPEND)):
                if pflags & flag:
                    flags |= os_flag
            upload = _Upload(os.open(location.disk, flags, 0o644), "rb+" if pflags & asyncssh.FXF_READ else "wb")
            upload.temp, upload.final, upload.virtual = location.disk, None, path
            return upload
        if exists and not pflags & asyncssh.FXF_TRUNC:
            raise asyncssh.SFTPPermissionDenied(
                f"inbound/{location.name} was handed to the hub and cannot be changed; upload under a new name"
            )
        if not pflags & asyncssh.FXF_CREAT and not exists:
            raise asyncssh.SFTPNoSuchFile(f"no such file: inbound/{location.name}")
        temp = location.folder / f".{location.name[:200]}.{secrets.token_hex(8)}.upload"
        fd = os.open(temp, flags | os.O_CREAT | os.O_EXCL, 0o644)
        upload = _Upload(fd, "rb+" if pflags & asyncssh.FXF_READ else "wb")
        upload.temp, upload.final, upload.virtual = temp, location.disk, path
        self._uploads[location.name] = upload
        return upload

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs) -> Any:
        raise asyncssh.SFTPOpUnsupported("this server speaks SFTP version 3")

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        if not isinstance(file_obj, _Upload):
            raise asyncssh.SFTPPermissionDenied("the file is open for reading only")
        return super().write(file_obj, offset, data)  # type: ignore[return-value]

    async def close(self, file_obj: object) -> None:
        if not isinstance(file_obj, _Upload):
            file_obj.close()  # type: ignore[attr-defined]
            return
        if file_obj.final is None:
            file_obj.close()  # the client's temporary name: complete when renamed
            return
        assert file_obj.final is not None
        self._uploads.pop(file_obj.final.name, None)
        if not self._client_closed_it():
            # Called while the session is torn down (the client vanished or quit without closing the file):
            # the upload is incomplete and must not reach the pipeline.
            file_obj.close()
            with contextlib.suppress(OSError):
                file_obj.temp.unlink()
            log.warning("sftp zone: %s: upload of inbound/%s abandoned before it was closed; discarded",
                        self._account.partner_id, file_obj.final.name)
            return
        loop = asyncio.get_running_loop()
        final = await loop.run_in_executor(None, self._publish, file_obj)
        self._zone.completed(self._account.partner_id, final)

    def _client_closed_it(self) -> bool:
        """True when the client sent CLOSE; False when asyncssh closes leftover handles at the session's end.

        asyncssh calls ``close`` in both cases; only the channel's state tells
        them apart (open both ways while a CLOSE request is served).
        """
        chan = self.channel
        return not chan.is_closing() and getattr(chan, "_recv_state", "open") == "open"

    def _publish(self, upload: _Upload) -> Path:
        """Give the finished upload its name atomically; an earlier file of that name not yet taken is kept."""
        assert upload.final is not None
        try:
            os.fsync(upload.fileno())
        finally:
            upload.close()
        self._keep_earlier(upload.final)
        os.replace(upload.temp, upload.final)
        fsync_dir(upload.final.parent)
        return upload.final

    @staticmethod
    def _keep_earlier(final: Path) -> None:
        """A file the pipeline has not taken yet keeps its bytes under a suffixed name (hard link, no copy)."""
        try:
            st = os.lstat(final)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        for candidate in list(_candidates(final.name))[1:]:
            try:
                os.link(final, final.parent / candidate)
            except FileExistsError:
                continue
            except FileNotFoundError:
                return  # taken by the pipeline meanwhile
            log.info("sftp zone: %s replaced before it was taken; the earlier file is kept as %s", final, candidate)
            return

    def fstat(self, file_obj: object) -> Any:
        return os.fstat(file_obj.fileno())  # type: ignore[attr-defined]

    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        if not isinstance(file_obj, _Upload):
            raise asyncssh.SFTPPermissionDenied("the file is open for reading only")
        if attrs.size is not None:
            os.ftruncate(file_obj.fileno(), attrs.size)
        self._set_times(file_obj.fileno(), attrs)

    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        """Times only (clients preserve mtimes after an upload); sizes only on the client's own temporaries."""
        location = self._file(path)
        self._writable(location)
        self._lstat_file(location)
        assert location.name is not None
        if attrs.size is not None:
            if not _temporary(location.name):
                raise asyncssh.SFTPPermissionDenied(f"inbound/{location.name} was handed to the hub already")
            os.truncate(location.disk, attrs.size)
        fd = os.open(location.disk, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            self._set_times(fd, attrs)
        finally:
            os.close(fd)

    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self.setstat(path, attrs)

    @staticmethod
    def _set_times(fd: int, attrs: asyncssh.SFTPAttrs) -> None:
        if attrs.atime is None and attrs.mtime is None:
            return
        st = os.fstat(fd)
        atime = int(attrs.atime * 1_000_000_000) if attrs.atime is not None else st.st_atime_ns
        mtime = int(attrs.mtime * 1_000_000_000) if attrs.mtime is not None else st.st_mtime_ns
        os.utime(fd, ns=(atime, mtime))

    def fsync(self, file_obj: object) -> None:
        os.fsync(file_obj.fileno())  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ names

    def remove(self, path: bytes) -> None:
        location = self._file(path)
        self._lstat_file(location)
        try:
            os.unlink(location.disk)
        except FileNotFoundError as exc:
            raise asyncssh.SFTPNoSuchFile(f"no such file: /{location.area}/{location.name}") from exc

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._rename(oldpath, newpath, replace=False)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._rename(oldpath, newpath, replace=True)

    def _rename(self, oldpath: bytes, newpath: bytes, *, replace: bool) -> None:
        """Only the client's temporaries may be renamed (within inbound/); a final name completes the upload."""
        old, new = self._file(oldpath), self._file(newpath)
        self._writable(old)
        self._writable(new)
        assert old.name is not None and new.name is not None
        self._lstat_file(old)
        if not _temporary(old.name):
            raise asyncssh.SFTPPermissionDenied(f"inbound/{old.name} was handed to the hub and cannot be renamed")
        if new.name in self._uploads:
            raise asyncssh.SFTPFailure(f"inbound/{new.name} is being uploaded")
        if os.path.lexists(new.disk):
            if not replace:
                raise asyncssh.SFTPFailure(f"inbound/{new.name} exists")  # SFTP v3 rename never replaces
            if not _temporary(new.name):
                self._keep_earlier(new.disk)
        os.replace(old.disk, new.disk)
        fsync_dir(new.disk.parent)
        if not _temporary(new.name):
            self._zone.completed(self._account.partner_id, new.disk)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        raise asyncssh.SFTPPermissionDenied("inbound/ and outbound/ have no subfolders")

    def rmdir(self, path: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("inbound/ and outbound/ cannot be removed")

    def readlink(self, path: bytes) -> bytes:
        raise asyncssh.SFTPNoSuchFile("there are no links here")

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created here")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPPermissionDenied("links cannot be created here")

    def exit(self) -> None:
        for upload in list(self._uploads.values()):  # not reached in practice: close() ran for each first
            with contextlib.suppress(OSError):
                upload.close()
                upload.temp.unlink()
        self._uploads.clear()


# --------------------------------------------------------------------------- the SSH side


class _SshServer(asyncssh.SSHServer):
    """Public-key logins of the zone's accounts; nothing else is offered."""

    def __init__(self, zone: HostedSftpZone) -> None:
        self._zone = zone
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._zone._connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._zone._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        account = self._zone._accounts.get(username)
        if account is not None and self._conn is not None:
            self._conn.set_authorized_keys(account.authorized_keys)
        return True  # unknown users are asked for a key too, and fail: no hint which names exist

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class HostedSftpZone:
    """The hub's SFTP server for partners (see the module docstring).

    ``profiles``: the partner profiles (those active with an ``sftp_account``
    get a login).  ``root_folder``: what relative folder paths in profiles are
    relative to (the hub's working directory).  ``port``: 0 picks a free one
    (read :attr:`port` after :meth:`start`).  ``host_key``: the private key
    file of the zone, generated (ed25519, mode 0600) when it does not exist;
    partners pin its :attr:`fingerprint`.  ``on_file_complete(partner_id,
    path)``: called from the zone's thread for every completed upload.
    ``host``: the address to listen on.
    """

    def __init__(
        self,
        profiles: Mapping[str, PartnerProfile] | Iterable[PartnerProfile],
        root_folder: str | os.PathLike[str] = ".",
        port: int = 2222,
        host_key: str | os.PathLike[str] = "var/sftp/ssh_host_ed25519_key",
        on_file_complete: FileCompleteCallback | None = None,
        *,
        host: str = "127.0.0.1",
    ) -> None:
        self.root_folder = Path(root_folder).absolute()
        self.host = host
        self.port = port
        self.on_file_complete = on_file_complete
        self.host_key_path = Path(host_key)
        self._host_key = self._load_or_create_key(self.host_key_path)
        self._accounts = accounts_from_profiles(profiles, self.root_folder)
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ keys and accounts

    @staticmethod
    def _load_or_create_key(path: Path) -> Any:
        try:
            return asyncssh.read_private_key(str(path))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, asyncssh.KeyImportError) as exc:
            raise TerminalError(f"sftp zone: cannot read the host key {path}: {exc}") from exc
        key = asyncssh.generate_private_key("ssh-ed25519", comment="edihub sftp zone")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.export_private_key())
        Path(f"{path}.pub").write_bytes(key.export_public_key())
        log.info("sftp zone: generated the host key %s", path)
        return key

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` of the zone's host key: what partners pin."""
        return self._host_key.get_fingerprint("sha256")

    def known_hosts_line(self, name: str | None = None) -> str:
        """A known_hosts line for partners (``[host]:port type base64``)."""
        host = name or self.host
        target = host if self.port == 22 else f"[{host}]:{self.port}"
        return f"{target} {self._host_key.export_public_key('openssh').decode().strip()}"

    def account(self, username: str) -> ZoneAccount:
        return self._accounts[username]

    @property
    def accounts(self) -> dict[str, str]:
        """User name -> partner id."""
        return {name: account.partner_id for name, account in self._accounts.items()}

    def update_profiles(self, profiles: Mapping[str, PartnerProfile] | Iterable[PartnerProfile]) -> None:
        """New logins, keys and folders for new sessions (sessions already open keep theirs)."""
        self._accounts = accounts_from_profiles(profiles, self.root_folder)

    def completed(self, partner_id: str, path: Path) -> None:
        log.info("sftp zone: %s uploaded %s", partner_id, path.name)
        if self.on_file_complete is not None:
            try:
                self.on_file_complete(partner_id, path)
            except Exception:  # the upload is safe on disk; a failing hook must not fail the client
                log.exception("sftp zone: on_file_complete failed for %s", path)

    # ------------------------------------------------------------------ running

    def start(self, timeout: float = 10.0) -> HostedSftpZone:
        """Listen (in a background thread); returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("HostedSftpZone.start() called twice")
        self._thread = threading.Thread(target=self._run, name="edihub-sftp-zone", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TerminalError(f"sftp zone: not listening after {timeout}s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            raise TerminalError(f"sftp zone: cannot listen on {self.host}:{self.port}: {self._error}") from self._error
        log.info("sftp zone: listening on %s:%d for %d partner(s), host key %s", self.host, self.port,
                 len(self._accounts), self.fingerprint)
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            try:
                self._acceptor = loop.run_until_complete(self._listen())
            except BaseException as exc:  # reported by start()
                self._error = exc
                return
            finally:
                self._ready.set()
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _listen(self) -> Any:
        acceptor = await asyncssh.listen(
            self.host,
            self.port,
            server_factory=lambda: _SshServer(self),
            server_host_keys=[self._host_key],
            sftp_factory=lambda chan: _ZoneSFTP(chan, self),
            allow_scp=False,
            agent_forwarding=False,
            x11_forwarding=False,
            login_timeout=60,
        )
        self.port = acceptor.get_port()
        return acceptor

    async def _shutdown(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            with contextlib.suppress(Exception):
                await self._acceptor.wait_closed()
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listening, close every session (an upload not yet closed is discarded), join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None

    def __enter__(self) -> HostedSftpZone:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

