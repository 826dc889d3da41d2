"""SFTP client channel: the hub logs in to a partner's (or a VAN's) SFTP server, picks files up and delivers to it.

Configured by an :class:`~hub.partners.profile.SftpChannel` in the partner
profile (``channels.inbound`` and/or ``channels.outbound`` of ``type: sftp``);
paramiko does the SSH.  It implements the same
:class:`~hub.transports.base.Transport` protocol as the folder drop zone and
mirrors its semantics, remotely:

**Host key pinning.**  The profile's ``host_key`` is either a ``SHA256:``
fingerprint or a known_hosts line.  The key the server presents is checked
*before* any credential is sent; an unknown or changed key is refused with a
:class:`~hub.errors.TerminalError` naming both fingerprints, never accepted
(there is no trust-on-first-use: a person copies the key into the profile).
A server with several host keys negotiates one of them; when the pin is a
bare fingerprint of another, the other key types are tried one by one (and
the one that matched is remembered), so pinning the RSA key of a server that
prefers ed25519 works.

**One connection per poll.**  :meth:`SftpTransport.poll` opens the connection
(or keeps the one a moment ago still alive), lists the folder, and the same
connection then serves every download (:meth:`IncomingFile.open`) and every
remote delete or move (:meth:`SftpTransport.settle`) of that poll, and the
sends that follow: a partner with 500 files sees one login, not 500.  A
connection that died in between is replaced transparently.  Connecting is
retried ``retries`` times, ``retry_delay_seconds`` apart and doubling (the
server restarting, a VPN flapping); what is still down then is a
:class:`~hub.errors.TransientError`, for the runtime's own backoff.  Wrong
credentials and a wrong host key are terminal at once: retrying cannot fix them
and hammering a server with bad logins gets the hub's address blocked.
``timeout_seconds`` bounds every wait: the TCP connect, the banner and key
exchange, the login, the opening of the SFTP channel and each SFTP request,
so a server that accepts connections and then hangs costs a timeout, not a
stuck worker.

**Complete files only.**  A file is offered when two listings at least
``min_age_seconds`` apart saw the same size and mtime (measured on the hub's
clock, so clock skew with the server does not matter); names matching
``*.part``, ``*.filepart``, ``*.tmp``, ``*.partial`` or starting with a dot are
the temporaries writers use and are never looked at, nor are folders and
symlinks.  :meth:`SftpTransport.next_check_in` tells the runtime when the
second listing is due.  Like the folder transport, an offered file is not
offered again until it is settled, released or ``redeliver_seconds`` pass.

**Stored before removed.**  :meth:`SftpTransport.settle` is the only thing
that deletes, moves or remembers a remote file, and the runtime calls it only
after the store committed the raw bytes (sha256).  A crash between the two
leaves the file on the server: it is offered again after the restart, the
store recognises the same bytes from the same partner as a duplicate, and
settle then removes it, so nothing is lost and nothing is processed twice.
``settle`` re-checks size and mtime first: a file the partner replaced in the
meantime is left for the next poll.  ``after_pickup: keep`` leaves files on
the server and remembers them by name, size and mtime in a small JSON state
file (written atomically, after the store committed, and pruned of names that
left the server); a crash before that write only means one more duplicate.

**Downloads stream.**  :meth:`IncomingFile.open` returns a stream fed by
paramiko's pipelined prefetch; what is held in memory is bounded by the SSH
channel window, not by the file, so a 2 GB interchange costs a few MB.  The
stream checks at its end that the file still has the size and mtime it was
listed with.  A stream abandoned half way drops the connection (rather than
draining the rest of the prefetched file into memory) and the next use
reconnects.

**Uploads are atomic.**  :meth:`SftpTransport.send` writes
``.<name>.<random>.part`` (hidden *and* ``.part``, which every sensible pickup
ignores), pipelined in constant memory, checks the size the server reports,
then renames it to its final name: ``posix-rename@openssh.com`` where the
server offers it, the plain SFTP rename otherwise.  The final name is checked
first: taken by the same bytes (a resend after a crash) it is reused, taken by
other bytes the file gets a suffix (``x-1.edi``) as in the folder transport,
and a server that refuses a rename onto an existing name (plain SFTP v3
rename, Windows servers) is handled the same way.  Our own temporaries older
than a day (a crash mid-upload) are removed from the remote folder on the
first send of a transport's life.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fnmatch
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import paramiko
from cryptography.hazmat.primitives import serialization

from hub.errors import HubError, TerminalError, TransientError
from hub.fsutil import fsync_dir
from hub.partners.profile import SftpChannel, resolve_secret
from hub.transports.base import IncomingFile, Payload, iter_chunks, seconds_until_due
from hub.transports.folder import DEFAULT_IGNORE, _candidates, _check_name

__all__ = [
    "HostKeyPin",
    "SftpConnection",
    "SftpTransport",
    "key_fingerprint",
    "load_private_key",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Host-key algorithms grouped by key: an RSA key is one key whatever signature hash is negotiated.
_KEY_FAMILIES: dict[str, tuple[str, ...]] = {
    "ssh-ed25519": ("ssh-ed25519",),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256",),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384",),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521",),
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256"),
}

#: Our upload temporaries (for the sweep of those a crash left behind).
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{16}\.part$")

#: A connection unused this long is replaced rather than trusted (servers and firewalls drop idle sessions).
IDLE_SECONDS = 60.0

#: The longest wait between two connection attempts, however many retries a profile asks for.
MAX_RETRY_DELAY = 60.0


def key_fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64>`` of a public key, exactly as ``ssh-keygen -l`` and OpenSSH's own messages print it."""
    return _blob_fingerprint(key.asbytes())


def _blob_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class HostKeyPin:
    """The host key a profile pins: a fingerprint (any key type) or a whole public key (one type).

    ``parse`` accepts ``SHA256:<base64>``, a known_hosts line
    (``[host]:port ssh-ed25519 AAAA... comment``; the host names are not
    compared, the channel says which server this is) and ``<type> <base64>``.
    Hashed host names are fine, ``@cert-authority`` and ``@revoked`` lines
    are refused: they do not pin one key.
    """

    fingerprint: str
    key_type: str | None = None

    @classmethod
    def parse(cls, text: str) -> HostKeyPin:
        text = text.strip()
        if text.startswith("SHA256:"):
            body = text[len("SHA256:") :].rstrip("=")
            try:
                raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"host_key {text!r} is not a SHA256 fingerprint") from exc
            if len(raw) != 32:
                raise ValueError(f"host_key {text!r} is not a SHA256 fingerprint (32 bytes)")
            return cls("SHA256:" + body)
        if text.startswith("@"):
            raise ValueError("host_key: known_hosts markers (@cert-authority, @revoked) do not pin a key")
        fields = text.split()
        for index, word in enumerate(fields[:-1]):
            if word not in _KEY_FAMILIES:
                continue
            try:
                blob = base64.b64decode(fields[index + 1], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"host_key: the {word} key is not valid base64") from exc
            length = int.from_bytes(blob[:4], "big")
            if blob[4 : 4 + length].decode("ascii", "replace") != word:
                raise ValueError(f"host_key: the key data is not an {word} key")
            return cls(_blob_fingerprint(blob), word)
        raise ValueError("host_key must be 'SHA256:...' or a known_hosts line ('[host]:port ssh-ed25519 AAAA...')")

    def families(self) -> list[tuple[str, ...]]:
        """The host-key algorithm groups to try, in order (one when the key type is known)."""
        if self.key_type is not None:
            return [_KEY_FAMILIES[self.key_type]]
        return list(_KEY_FAMILIES.values())


def load_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """A paramiko key from its text (OpenSSH or PEM format), whatever its type."""
    data = text.encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"  # resolve_secret strips the final newline, which the PEM/OpenSSH readers want back
    password = passphrase.encode("utf-8") if passphrase is not None else None
    try:
        try:
            loaded = serialization.load_ssh_private_key(data, password=password)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise TerminalError(f"the private key cannot be read: {exc}") from exc
    name = type(loaded).__name__.lower()
    cls: type[paramiko.PKey]
    if "ed25519" in name:
        cls = paramiko.Ed25519Key
    elif "rsa" in name:
        cls = paramiko.RSAKey
    elif "elliptic" in name or "ec" in name:
        cls = paramiko.ECDSAKey
    else:
        raise TerminalError(f"private keys of type {type(loaded).__name__} are not supported")
    try:
        return cls.from_private_key(io.StringIO(data.decode("utf-8")), password=passphrase)
    except (paramiko.SSHException, ValueError) as exc:
        raise TerminalError(f"the private key cannot be read: {exc}") from exc


#: What paramiko raises from an SFTP operation: OSError for an SFTP status (and socket errors), the rest when the
#: connection or the protocol broke.
_WIRE_ERRORS = (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError)


def _is_connection_error(exc: BaseException) -> bool:
    """True for what says "the connection is gone" rather than "the server said no" (an SFTP status)."""
    if isinstance(exc, paramiko.AuthenticationException):
        return False
    if isinstance(exc, EOFError | paramiko.SSHException | paramiko.SFTPError | TimeoutError | ConnectionError):
        return True
    # SFTP statuses come as OSError with errno ENOENT / EACCES, or with no errno at all ("Failure").
    return isinstance(exc, OSError) and exc.errno not in (None, errno.ENOENT, errno.EACCES)


def _status_fault(what: str, exc: OSError) -> HubError:
    """An SFTP status the server answered: a missing folder or a refusal needs a person; a "Failure" may pass."""
    if exc.errno in (errno.ENOENT, errno.EACCES):
        return TerminalError(f"{what}: {exc.strerror or exc}")
    return TransientError(f"{what}: {exc}")


# --------------------------------------------------------------------------- one connection


class SftpConnection:
    """One SSH connection and its SFTP session, with the host key checked and the user authenticated.

    ``SftpConnection.open(channel)`` connects (one attempt; retrying is the
    caller's), raising :class:`TransientError` when the server cannot be
    reached and :class:`TerminalError` for a wrong host key, wrong
    credentials or an unreadable credential reference.  ``family`` is the
    host-key algorithm group that matched last time (see :class:`HostKeyPin`).
    """

    def __init__(
        self,
        channel: SftpChannel,
        transport: paramiko.Transport,
        sftp: paramiko.SFTPClient,
        host_key: paramiko.PKey,
        family: tuple[str, ...] | None,
        connect_seconds: float,
    ) -> None:
        self.channel = channel
        self.transport = transport
        self.sftp = sftp
        self.host_key = host_key
        self.host_key_fingerprint = key_fingerprint(host_key)
        self.family = family
        self.connect_seconds = connect_seconds
        self.server_version = transport.remote_version
        self.last_used = time.monotonic()
        self.posix_rename: bool | None = None  # unknown until tried

    @property
    def alive(self) -> bool:
        return self.transport.is_active()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sftp.close()
        with contextlib.suppress(Exception):
            self.transport.close()

    @classmethod
    def open(
        cls,
        channel: SftpChannel,
        *,
        environ: Mapping[str, str] | None = None,
        family: tuple[str, ...] | None = None,
    ) -> SftpConnection:
        where = f"{channel.user}@{channel.host}:{channel.port}"
        try:
            pin = HostKeyPin.parse(channel.host_key)
        except ValueError as exc:
            raise TerminalError(f"sftp {where}: {exc}") from exc
        started = time.monotonic()
        families = pin.families()
        if family is not None and family in families:
            families.remove(family)
            families.insert(0, family)
        presented: list[str] = []
        transport: paramiko.Transport | None = None
        matched: tuple[str, ...] | None = None
        # First the pinned key's type (or the one that matched last time); for a bare fingerprint, first the
        # server's own preference, then each other key type it may have.
        attempts: list[tuple[str, ...] | None] = (
            [families[0]] if pin.key_type is not None or family is not None else [None]
        )
        attempts += [f for f in families if f not in attempts]
        shown_families: set[tuple[str, ...]] = set()
        for key_types in attempts:
            if key_types in shown_families:
                continue  # that key was presented already
            candidate = cls._handshake(channel, where, key_types)
            if candidate is None:
                continue  # the server has no key of this type
            key = candidate.get_remote_server_key()
            key_family = key_types or _KEY_FAMILIES.get(key.get_name())
            fingerprint = key_fingerprint(key)
            if fingerprint == pin.fingerprint:
                transport, matched = candidate, key_family
                break
            presented.append(f"{key.get_name()} {fingerprint}")
            if key_family is not None:
                shown_families.add(key_family)
            candidate.close()
            if pin.key_type is not None:
                break
        if transport is None:
            shown = ", ".join(presented) or "no key of the pinned type"
            raise TerminalError(
                f"sftp {where}: HOST KEY MISMATCH: the server presented {shown}, the profile pins "
                f"{pin.fingerprint}; refused without logging in (if the partner really changed its key, put the "
                f"new one in host_key)"
            )
        try:
            cls._authenticate(transport, channel, where, environ)
            # Not SFTPClient.from_transport: its channel open waits up to an hour for a server that never answers.
            session = transport.open_session(timeout=channel.timeout_seconds)
            session.settimeout(channel.timeout_seconds)
            session.invoke_subsystem("sftp")
            sftp = paramiko.SFTPClient(session)
        except HubError:
            transport.close()
            raise
        except (OSError, EOFError, paramiko.SSHException) as exc:
            transport.close()
            raise TransientError(f"sftp {where}: cannot start SFTP: {exc}") from exc
        key = transport.get_remote_server_key()
        return cls(channel, transport, sftp, key, matched, time.monotonic() - started)

    @staticmethod
    def _handshake(channel: SftpChannel, where: str, key_types: tuple[str, ...] | None) -> paramiko.Transport | None:
        """TCP + SSH key exchange; ``None`` when the server has no host key among ``key_types``."""
        timeout = channel.timeout_seconds
        try:
            sock = socket.create_connection((channel.host, channel.port), timeout=timeout)
        except OSError as exc:
            raise TransientError(f"sftp {where}: cannot connect: {exc.strerror or exc}") from exc
        transport = paramiko.Transport(sock)
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        if key_types is not None:
            transport.get_security_options().key_types = key_types
        try:
            transport.start_client(timeout=timeout)
        except paramiko.SSHException as exc:
            transport.close()
            if key_types is not None and "host key" in str(exc).lower():
                return None
            raise TransientError(f"sftp {where}: SSH handshake failed: {exc}") from exc
        except (OSError, EOFError) as exc:
            transport.close()
            raise TransientError(f"sftp {where}: SSH handshake failed: {exc}") from exc
        try:
            transport.get_remote_server_key()  # start_client() returns silently when its timeout passes
        except paramiko.SSHException as exc:
            transport.close()
            raise TransientError(f"sftp {where}: no SSH handshake within {timeout:g}s") from exc
        return transport

    @staticmethod
    def _authenticate(
        transport: paramiko.Transport, channel: SftpChannel, where: str, environ: Mapping[str, str] | None
    ) -> None:
        def secret(field: str) -> str | None:
            reference = getattr(channel, field)
            if reference is None:
                return None
            try:
                return resolve_secret(reference, environ)
            except KeyError as exc:
                raise TerminalError(f"sftp {where}: {field}: {exc.args[0]}") from exc
            except (OSError, ValueError) as exc:
                raise TerminalError(f"sftp {where}: {field}: cannot read the reference: {exc}") from exc

        try:
            if channel.private_key is not None:
                text = secret("private_key")
                assert text is not None
                transport.auth_publickey(channel.user, load_private_key(text, secret("passphrase")))
            elif channel.password is not None:
                password = secret("password")
                assert password is not None
                transport.auth_password(channel.user, password)
            else:
                raise TerminalError(f"sftp {where}: the channel has neither private_key nor password")
        except paramiko.BadAuthenticationType as exc:
            raise TerminalError(
                f"sftp {where}: authentication refused: the server accepts only {', '.join(exc.allowed_types)}"
            ) from exc
        except paramiko.AuthenticationException as exc:
            if "timeout" in str(exc).lower():
                waited = f"{channel.timeout_seconds:g}s"
                raise TransientError(f"sftp {where}: no answer to the login within {waited}") from exc
            raise TerminalError(f"sftp {where}: authentication as {channel.user!r} refused: {exc}") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise TransientError(f"sftp {where}: connection lost while logging in: {exc}") from exc


# --------------------------------------------------------------------------- inbound bookkeeping


@dataclass
class _Seen:
    """Per-name observation kept between listings."""

    size: int
    mtime: int
    since: float  # clock() of the first listing that saw this size and mtime
    offered_at: float | None = None


@dataclass(frozen=True)
class _Ref:
    """``IncomingFile.ref`` of an SFTP item: which transport, which remote name, which version."""

    owner: int
    name: str
    size: int
    mtime: int


class _Remembered:
    """``after_pickup: keep``: the files already taken, by name, size and mtime, in a JSON file.

    Written atomically (temporary file, fsync, rename, fsync of the folder) so
    that a crash leaves the old or the new state, never a torn one.
    """

    def __init__(self, path: Path, channel: str) -> None:
        self.path = path
        self.channel = channel
        self._files: dict[str, tuple[int, int]] | None = None

    def _load(self) -> dict[str, tuple[int, int]]:
        if self._files is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._files = {name: (int(v[0]), int(v[1])) for name, v in data.get("files", {}).items()}
            except FileNotFoundError:
                self._files = {}
            except (OSError, ValueError, TypeError, IndexError) as exc:
                raise TerminalError(f"{self.channel}: the pickup state {self.path} cannot be read: {exc}") from exc
        return self._files

    def __contains__(self, item: tuple[str, int, int]) -> bool:
        name, size, mtime = item
        return self._load().get(name) == (size, mtime)

    def add(self, name: str, size: int, mtime: int) -> None:
        files = self._load()
        if files.get(name) != (size, mtime):
            files[name] = (size, mtime)
            self._write()

    def prune(self, present: set[str]) -> None:
        """Forget names no longer on the server (the partner cleaned up), so the state does not grow for ever."""
        files = self._load()
        gone = [name for name in files if name not in present]
        if gone:
            for name in gone:
                del files[name]
            self._write()

    def _write(self) -> None:
        files = self._load()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        payload = {"channel": self.channel, "files": {name: list(v) for name, v in sorted(files.items())}}
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TransientError(f"{self.channel}: cannot write the pickup state {self.path}: {exc}") from exc
        fsync_dir(self.path.parent)


# --------------------------------------------------------------------------- downloads


class _RemoteReader(io.RawIOBase):
    """A stream over one remote file, prefetched in the background; errors converted at the boundary."""

    def __init__(self, owner: SftpTransport, conn: SftpConnection, handle: Any, ref: _Ref, what: str) -> None:
        super().__init__()
        self._owner = owner
        self._conn = conn
        self._handle = handle
        self._ref = ref
        self._what = what
        self._pos = 0
        self._broken = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("read from a closed stream")
        remaining = self._ref.size - self._pos
        if remaining <= 0:
            self._check_unchanged()
            return 0
        try:
            data = self._handle.read(min(len(buffer), remaining))
        except _WIRE_ERRORS as exc:
            self._broken = True
            raise TransientError(f"{self._what}: download interrupted: {exc}") from exc
        except BaseException:
            self._broken = True
            raise
        if not data:
            self._broken = True
            raise TransientError(f"{self._what}: the file became shorter than listed; it will be offered again")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _check_unchanged(self) -> None:
        try:
            st = self._handle.stat()
        except _WIRE_ERRORS as exc:
            self._broken = True
            raise TransientError(f"{self._what}: cannot check the file after reading it: {exc}") from exc
        if st.st_size != self._ref.size or int(st.st_mtime or 0) != self._ref.mtime:
            self._broken = True
            raise TransientError(f"{self._what}: changed while it was read; it will be offered again")

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._broken or self._pos < self._ref.size:
                # Closing the handle would first drain every prefetched block of the rest of the file into
                # memory; dropping the connection costs one reconnect instead.
                self._owner._drop(self._conn)
            else:
                with contextlib.suppress(Exception):
                    self._handle.close()
        finally:
            super().close()


# --------------------------------------------------------------------------- the transport


class SftpTransport:
    """A :class:`~hub.transports.base.Transport` over a remote SFTP server (see the module docstring).

    ``inbound`` / ``outbound``: the profile's channels (either may be ``None``
    when that direction goes another way).  ``state_path``: the JSON file that
    remembers taken files when ``after_pickup`` is ``keep`` (required then).
    ``clock`` (monotonic) and ``sleep`` are replaceable in tests; ``environ``
    is where ``${ENV}`` references are looked up.  Safe to use from several
    threads; the connection is shared.
    """

    def __init__(
        self,
        inbound: SftpChannel | None = None,
        outbound: SftpChannel | None = None,
        *,
        state_path: str | os.PathLike[str] | None = None,
        redeliver_seconds: float | None = 600.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if inbound is None and outbound is None:
            raise ValueError("an SftpTransport needs an inbound or an outbound channel")
        if inbound is not None and inbound.after_pickup == "move" and not inbound.archive_folder:
            raise ValueError("after_pickup 'move' needs an archive_folder")
        # Not "inbound"/"outbound": the runtime takes a transport with an ``inbound`` attribute for a local folder.
        self.inbound_channel = inbound
        self.outbound_channel = outbound
        self.redeliver_seconds = redeliver_seconds
        self.channel = (inbound or outbound).describe()  # type: ignore[union-attr]
        self.connections = 0  # successful logins so far (for tests, metrics and test-connection)
        self._clock = clock
        self._sleep = sleep
        self._environ = environ
        self._lock = threading.RLock()
        self._conns: dict[tuple[str, int, str], SftpConnection] = {}
        self._families: dict[tuple[str, int, str], tuple[str, ...]] = {}
        self._seen: dict[str, _Seen] = {}
        self._swept = False
        self._remembered: _Remembered | None = None
        if inbound is not None and inbound.after_pickup == "keep":
            if state_path is None:
                raise ValueError("after_pickup 'keep' needs a state_path to remember what was taken")
            self._remembered = _Remembered(Path(state_path), self.channel)

    def __repr__(self) -> str:
        return f"SftpTransport({self.channel!r})"

    # ---------------------------------------------------------------- connections

    @staticmethod
    def _key(channel: SftpChannel) -> tuple[str, int, str]:
        return (channel.host, channel.port, channel.user)

    def connect(self, channel: SftpChannel, *, fresh: bool = False) -> SftpConnection:
        """The live connection for ``channel``'s server, opened (with retries and backoff) when needed."""
        key = self._key(channel)
        with self._lock:
            conn = self._conns.get(key)
            if conn is not None and (fresh or not conn.alive or time.monotonic() - conn.last_used > IDLE_SECONDS):
                self._drop(conn)
                conn = None
            if conn is not None:
                conn.last_used = time.monotonic()
                return conn
            last: TransientError | None = None
            for attempt in range(channel.retries + 1):
                if attempt:
                    self._sleep(min(MAX_RETRY_DELAY, channel.retry_delay_seconds * 2 ** (attempt - 1)))
                try:
                    conn = SftpConnection.open(channel, environ=self._environ, family=self._families.get(key))
                except TransientError as exc:
                    last = exc
                    log.info("%s: attempt %d of %d: %s", self.channel, attempt + 1, channel.retries + 1, exc)
                    continue
                self.connections += 1
                if conn.family is not None:
                    self._families[key] = conn.family
                self._conns[key] = conn
                return conn
            assert last is not None
            raise TransientError(f"{last} (after {channel.retries + 1} attempt(s))") from last

    def _drop(self, conn: SftpConnection) -> None:
        with self._lock:
            key = self._key(conn.channel)
            if self._conns.get(key) is conn:
                del self._conns[key]
        conn.close()

    def _run(self, channel: SftpChannel, what: str, operation: Callable[[SftpConnection], T]) -> T:
        """``operation(connection)`` on the live connection; a dead connection is replaced and the operation retried.

        A connection kept from earlier that turns out dead (the server
        restarted, a firewall dropped the idle session) is replaced at once
        and does not count as an attempt; after that, ``retries`` further
        attempts with backoff.  SFTP statuses (no such file, permission
        denied, failure) are the server's answer and are converted at once,
        not retried.
        """
        attempts = channel.retries + 1
        attempt = 0
        while True:
            opened_before = self.connections
            conn = self.connect(channel)
            reused = self.connections == opened_before
            try:
                result = operation(conn)
            except HubError:
                raise
            except _WIRE_ERRORS as exc:
                if not _is_connection_error(exc) and conn.alive:
                    raise _status_fault(f"{self.channel}: {what}", exc) from exc  # type: ignore[arg-type]
                self._drop(conn)
                if not reused:
                    attempt += 1
                    if attempt >= attempts:
                        raise TransientError(f"{self.channel}: {what}: connection lost: {exc}") from exc
                    self._sleep(min(MAX_RETRY_DELAY, channel.retry_delay_seconds * 2 ** (attempt - 1)))
                log.info("%s: %s: connection lost (%s); reconnecting", self.channel, what, exc)
                continue
            conn.last_used = time.monotonic()
            return result

    # ---------------------------------------------------------------- inbound

    def poll(self) -> list[IncomingFile]:
        """The remote files that are complete and not yet offered (oldest first); see the module docstring."""
        channel = self.inbound_channel
        if channel is None:
            return []
        folder = channel.folder
        entries = self._run(channel, f"list {folder}", lambda conn: conn.sftp.listdir_attr(folder))
        ready: list[IncomingFile] = []
        present: set[str] = set()
        with self._lock:
            now = self._clock()
            for attr in entries:
                name = attr.filename
                present.add(name)
                if not stat.S_ISREG(attr.st_mode or 0):
                    continue  # folders, symlinks (a link can point anywhere on the server), devices
                if any(fnmatch.fnmatchcase(name, p) for p in DEFAULT_IGNORE):
                    continue
                if not fnmatch.fnmatchcase(name, channel.pattern):
                    continue
                size, mtime = int(attr.st_size or 0), int(attr.st_mtime or 0)
                if self._remembered is not None and (name, size, mtime) in self._remembered:
                    continue
                seen = self._seen.get(name)
                if seen is None or (seen.size, seen.mtime) != (size, mtime):
                    self._seen[name] = _Seen(size, mtime, since=now)  # first sight, or still being written
                    continue
                if now - seen.since < channel.min_age_seconds:
                    continue
                if seen.offered_at is not None and (
                    self.redeliver_seconds is None or now - seen.offered_at < self.redeliver_seconds
                ):
                    continue
                seen.offered_at = now
                ready.append(self._item(channel, name, size, mtime))
            for name in list(self._seen):
                if name not in present:
                    del self._seen[name]
        if self._remembered is not None:
            self._remembered.prune(present)
        ready.sort(key=lambda item: (item.mtime, item.name))
        return ready

    def _item(self, channel: SftpChannel, name: str, size: int, mtime: int) -> IncomingFile:
        ref = _Ref(id(self), name, size, mtime)
        return IncomingFile(
            name=name,
            size=size,
            mtime=float(mtime),
            channel=self.channel,
            opener=lambda: self._open(channel, ref),
            ref=ref,
        )

    def _open(self, channel: SftpChannel, ref: _Ref) -> IO[bytes]:
        path = posixpath.join(channel.folder, ref.name)
        what = f"{self.channel}: {ref.name}"

        def start(conn: SftpConnection) -> IO[bytes]:
            try:
                handle = conn.sftp.open(path, "rb")
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    # Retrying the same item cannot bring it back; if it reappears it is a new item.
                    raise TerminalError(f"{what} vanished before it was read") from exc
                raise
            st = handle.stat()
            if st.st_size != ref.size or int(st.st_mtime or 0) != ref.mtime:
                handle.close()
                raise TransientError(f"{what} changed after it was listed; it will be offered again")
            if ref.size:
                handle.prefetch(ref.size)
            return io.BufferedReader(_RemoteReader(self, conn, handle, ref, what), buffer_size=1 << 20)

        return self._run(channel, f"open {ref.name}", start)

    def next_check_in(self) -> float | None:
        """Seconds until a file seen but not yet ready could be (or an offered one redelivered); ``None``: none."""
        if self.inbound_channel is None:
            return None
        with self._lock:
            return seconds_until_due(self._seen.values(), self.inbound_channel.min_age_seconds,
                                     self.redeliver_seconds, self._clock())

    def _own(self, item: IncomingFile) -> _Ref:
        ref = item.ref
        if not isinstance(ref, _Ref) or ref.owner != id(self):
            raise TerminalError(f"{self.channel}: {item.name} was not listed by this transport")
        return ref

    def release(self, item: IncomingFile) -> None:
        """Offer ``item`` again at the next poll (the consumer could not commit it)."""
        ref = self._own(item)
        with self._lock:
            seen = self._seen.get(ref.name)
            if seen is not None and (seen.size, seen.mtime) == (ref.size, ref.mtime):
                seen.offered_at = None

    def settle(self, item: IncomingFile, archive_to: str | None = None) -> None:
        """Delete, move (to ``archive_to`` or the channel's archive folder) or remember ``item``; after the commit.

        Already gone: nothing to do.  Replaced since it was listed (other size
        or mtime): the new file is left for a later poll.
        """
        ref = self._own(item)
        channel = self.inbound_channel
        assert channel is not None
        action = "move" if archive_to is not None else channel.after_pickup
        if action == "keep":
            assert self._remembered is not None
            self._remembered.add(ref.name, ref.size, ref.mtime)
        else:
            path = posixpath.join(channel.folder, ref.name)
            target = archive_to if archive_to is not None else channel.archive_folder

            def apply(conn: SftpConnection) -> str:
                sftp = conn.sftp
                try:
                    st = sftp.stat(path)
                except OSError as exc:
                    if exc.errno == errno.ENOENT:
                        return "gone"
                    raise
                if (st.st_size, int(st.st_mtime or 0)) != (ref.size, ref.mtime):
                    return "changed"
                if action == "delete":
                    try:
                        sftp.remove(path)
                    except OSError as exc:
                        if exc.errno != errno.ENOENT:
                            raise
                    return "deleted"
                assert target is not None
                return self._move(sftp, path, target, ref.name)

            outcome = self._run(channel, f"settle {ref.name}", apply)
            if outcome == "gone":
                log.info("%s: %s was already gone when settled", self.channel, ref.name)
            elif outcome == "changed":
                log.warning("%s: %s changed after it was taken in; the new file waits for a poll", self.channel,
                            ref.name)
        with self._lock:
            seen = self._seen.get(ref.name)
            if seen is not None and (seen.size, seen.mtime) == (ref.size, ref.mtime):
                del self._seen[ref.name]

    def _move(self, sftp: paramiko.SFTPClient, path: str, folder: str, name: str) -> str:
        """Rename ``path`` into the remote ``folder`` without replacing anything there (a suffix when taken)."""
        if _remote_stat(sftp, folder) is None:
            sftp.mkdir(folder)
        for candidate in _candidates(name):
            dest = posixpath.join(folder, candidate)
            if _remote_stat(sftp, dest) is not None:
                continue
            try:
                sftp.rename(path, dest)  # SFTP v3 rename refuses to replace: no archived file is ever overwritten
            except OSError as exc:
                if _is_connection_error(exc):
                    raise
                if _remote_stat(sftp, dest) is not None:
                    continue  # taken meanwhile
                if _remote_stat(sftp, path) is None:
                    return "gone"
                raise
            return "moved"
        raise TerminalError(f"{self.channel}: no free name for {name} in {folder}")

    # ---------------------------------------------------------------- outbound

    def send(self, name: str, data: Payload) -> str:
        """Upload ``name`` atomically into the remote outbound folder; return the name actually used."""
        channel = self.outbound_channel
        if channel is None:
            raise TerminalError(f"{self.channel}: this partner has no outbound SFTP channel")
        _check_name(name)
        folder = channel.folder
        if not self._swept:
            self._swept = True
            try:
                self.sweep_temporaries()
            except TransientError as exc:
                log.warning("%s: cannot sweep old temporaries: %s", self.channel, exc)
        # A cheap request first: a stale connection is replaced here, before the payload (maybe a stream that
        # cannot be rewound) starts flowing; and a missing folder is reported as such.
        self._run(channel, f"check {folder}", lambda conn: conn.sftp.stat(folder))
        conn = self.connect(channel)
        sftp = conn.sftp
        tmp = posixpath.join(folder, f".{name[:200]}.{secrets.token_hex(8)}.part")
        what = f"{self.channel}: send {name}"
        digest = hashlib.sha256()
        size = 0
        try:
            try:
                handle = sftp.open(tmp, "wb")
                handle.set_pipelined(True)
            except _WIRE_ERRORS as exc:
                raise self._fault(conn, f"{what}: cannot create {tmp}", exc) from exc
            try:
                for block in iter_chunks(data):
                    digest.update(block)
                    size += len(block)
                    try:
                        handle.write(block)
                    except _WIRE_ERRORS as exc:
                        raise self._fault(conn, f"{what}: upload failed", exc) from exc
            finally:
                try:
                    handle.close()  # waits for every pipelined write's status
                except _WIRE_ERRORS as exc:
                    raise self._fault(conn, f"{what}: upload failed", exc) from exc
            try:
                written = sftp.stat(tmp).st_size
                if written != size:
                    raise TransientError(f"{what}: the server holds {written} bytes of {size}")
                used = self._place(conn, tmp, folder, name, size, digest.digest())
            except _WIRE_ERRORS as exc:
                raise self._fault(conn, f"{what}: cannot put {tmp} in place", exc) from exc
        except BaseException:
            if conn.alive:
                with contextlib.suppress(Exception):
                    sftp.remove(tmp)
            raise
        conn.last_used = time.monotonic()
        return used

    def _fault(self, conn: SftpConnection, what: str, exc: BaseException) -> HubError:
        if _is_connection_error(exc) or not conn.alive:
            self._drop(conn)
            return TransientError(f"{what}: connection lost: {exc}")
        assert isinstance(exc, OSError)
        return _status_fault(what, exc)

    def _place(self, conn: SftpConnection, tmp: str, folder: str, name: str, size: int, digest: bytes) -> str:
        """Rename the finished temporary to ``name`` (or a suffixed name) without losing a file already there."""
        sftp = conn.sftp
        for candidate in _candidates(name):
            final = posixpath.join(folder, candidate)
            existing = _remote_stat(sftp, final)
            if existing is None and self._rename(conn, tmp, final):
                return candidate
            if existing is None:
                existing = _remote_stat(sftp, final)
                if existing is None:
                    raise TransientError(f"{self.channel}: the server refused to rename {tmp} to {final}")
            if existing.st_size == size and _remote_digest(sftp, final) == digest:
                sftp.remove(tmp)  # the same bytes are there already (a resend after a crash)
                return candidate
        raise TerminalError(f"{self.channel}: no free name for {name} in {folder}")

    @staticmethod
    def _rename(conn: SftpConnection, tmp: str, final: str) -> bool:
        """Give ``tmp`` the name ``final`` (checked free just before); False when the server refuses.

        posix-rename is atomic on every server that offers it; a server that
        does not answers with an error and gets the plain rename from then on.
        The window between the check and the rename is ours alone: only the
        hub writes into a partner's inbound folder, and two hub workers
        sending under one name send the same transaction's bytes.
        """
        sftp = conn.sftp
        if conn.posix_rename is not False:
            try:
                sftp.posix_rename(tmp, final)
            except OSError as exc:
                if _is_connection_error(exc):
                    raise
                if _remote_stat(sftp, final) is not None:
                    return False
                conn.posix_rename = False
            else:
                conn.posix_rename = True
                return True
        try:
            sftp.rename(tmp, final)
        except OSError as exc:
            if _is_connection_error(exc):
                raise
            return False
        return True

    def sweep_temporaries(self, max_age: float = 86_400.0) -> int:
        """Remove our upload temporaries older than ``max_age`` seconds from the remote outbound folder."""
        channel = self.outbound_channel
        if channel is None:
            return 0
        limit = time.time() - max_age

        def sweep(conn: SftpConnection) -> int:
            sftp = conn.sftp
            removed = 0
            for attr in sftp.listdir_attr(channel.folder):
                if _TEMP_NAME.match(attr.filename) and stat.S_ISREG(attr.st_mode or 0) and (attr.st_mtime or 0) < limit:
                    with contextlib.suppress(OSError):
                        sftp.remove(posixpath.join(channel.folder, attr.filename))
                        removed += 1
            return removed

        return self._run(channel, f"sweep {channel.folder}", sweep)

    def close(self) -> None:
        """Close the connections; the observations are kept (a later poll reconnects)."""
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            self._drop(conn)


def _remote_stat(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _remote_digest(sftp: paramiko.SFTPClient, path: str) -> bytes:
    digest = hashlib.sha256()
    with sftp.open(path, "rb") as handle:
        size = handle.stat().st_size or 0
        if size:
            handle.prefetch(size)
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.digest()
