"""A real OpenSSH ``sshd`` on 127.0.0.1 for the SFTP tests, started and stopped by the tests themselves.

Debian's ``openssh-server`` (``.ci/sftp_setup.sh`` installs it) runs as the
invoking user with a configuration of its own in a temporary folder: a
generated ed25519 *and* RSA host key (so that pinning a key other than the
one negotiated first is exercised), public-key authentication only, only the
test's own user allowed, ``internal-sftp`` as the SFTP subsystem.  Nothing in
``/etc/ssh`` is read or touched.  The files the tests exchange live under
``root`` and are addressed by absolute paths (no chroot, which would need
root-owned parent folders).

:meth:`Sshd.stop` kills the listener *and* the per-connection children it
forked (by their pids), so that "the server went away" is really true for a
client holding a connection.  :meth:`Sshd.start` after a stop listens again on
the same port with the same host keys: "down, then back".

Missing binaries skip the tests on a developer's machine and fail them under
``EDIHUB_REQUIRE_CORPUS=1`` (CI), where a skipped edge test would be a silent
hole.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from tests.conftest import REQUIRE_CORPUS

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def find_binary(name: str, candidates: tuple[str, ...] = ()) -> str | None:
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which(name)


def require_binary(name: str, candidates: tuple[str, ...] = ()) -> str:
    """The absolute path of ``name``; skips (fails under EDIHUB_REQUIRE_CORPUS=1) when it is not installed."""
    found = find_binary(name, candidates)
    if found is None:
        message = (
            f"{name} is not installed: run `bash .ci/sftp_setup.sh` (apt-get install -y --no-install-recommends "
            "openssh-server openssh-sftp-server openssh-client)"
        )
        if REQUIRE_CORPUS:
            pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but {message}", pytrace=False)
        pytest.skip(message)
    return os.path.abspath(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def openssh_private_key(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def openssh_public_key(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, comment: str = "") -> str:
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{line} {comment}".strip()


def fingerprint_of(public_line: str) -> str:
    """``SHA256:...`` of an OpenSSH public key line, as ``ssh-keygen -lf`` prints it."""
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def write_key(path: Path, key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, comment: str = "") -> Path:
    """The private key at ``path`` (mode 0600, as ssh insists) and its ``.pub`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(openssh_private_key(key))
    path.chmod(0o600)
    Path(f"{path}.pub").write_text(openssh_public_key(key, comment) + "\n")
    return path


def _running(process: psutil.Process) -> bool:
    """Still there and not a zombie (a zombie whose parent died may never be reaped in a container)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Sshd:
    """One loopback sshd: ``start()``, ``stop()``, connection facts as attributes (see the module docstring)."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.binary = require_binary("sshd", SSHD_CANDIDATES)
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.user = getpass.getuser()
        self.root = base / "files"  # what the tests exchange, addressed by absolute paths
        self.log = base / "sshd.log"
        self.proc: subprocess.Popen | None = None
        self._starts = 0
        keys = base / "keys"
        self.host_key_path = write_key(keys / "ssh_host_ed25519_key", ed25519.Ed25519PrivateKey.generate())
        self.rsa_host_key_path = write_key(
            keys / "ssh_host_rsa_key", rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self.client_key_path = write_key(keys / "client_ed25519", ed25519.Ed25519PrivateKey.generate(), "hub-test")
        self.host_public = Path(f"{self.host_key_path}.pub").read_text().strip()
        self.rsa_host_public = Path(f"{self.rsa_host_key_path}.pub").read_text().strip()
        self.fingerprint = fingerprint_of(self.host_public)
        self.rsa_fingerprint = fingerprint_of(self.rsa_host_public)
        self.known_hosts_line = f"[{self.host}]:{self.port} {' '.join(self.host_public.split()[:2])}"
        self.authorized_keys = base / "authorized_keys"
        self.authorized_keys.write_text(Path(f"{self.client_key_path}.pub").read_text())
        self.config = base / "sshd_config"
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            "# loopback test sshd (tests/transports/sshd.py); nothing in /etc/ssh is used",
            f"ListenAddress {self.host}",
            f"Port {self.port}",
            f"HostKey {self.host_key_path}",
            f"HostKey {self.rsa_host_key_path}",
            f"PidFile {self.base / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "StrictModes no",
            "PrintMotd no",
            "AllowAgentForwarding no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "MaxStartups 100",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
        ]
        # OpenSSH >= 9.8 penalises addresses that fail to log in: the wrong-credential tests would lock
        # 127.0.0.1 out for the following tests.  Older servers do not know the option and refuse it.
        self.config.write_text("\n".join([*lines, "PerSourcePenalties no", ""]))
        if self._check().returncode != 0:
            self.config.write_text("\n".join([*lines, ""]))
            check = self._check()
            if check.returncode != 0:
                raise RuntimeError(f"sshd refuses its test configuration: {check.stderr.strip()}")

    def _check(self) -> subprocess.CompletedProcess[str]:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # the privilege-separation folder root sshd needs
        return subprocess.run([self.binary, "-t", "-f", str(self.config)], capture_output=True, text=True)

    def start(self) -> Sshd:
        if self.proc is not None:
            return self
        self._check()  # also re-creates /run/sshd, which a reboot of a CI box empties
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "a")  # noqa: SIM115 - handed to the child; closed right after
        try:
            self.proc = subprocess.Popen(
                [self.binary, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        self._starts += 1
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        """Kill the listener and every connection it serves (by pid), and wait until they are gone."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            children = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        for member in children:  # the connections first, while the listener is alive to reap them
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_running(member) for member in children):
            time.sleep(0.01)
        proc.kill()
        proc.wait(timeout=5)

    def logins(self) -> int:
        """Successful logins so far (sshd logs one ``Accepted publickey`` line each)."""
        return self.log.read_text(errors="replace").count("Accepted publickey") if self.log.exists() else 0

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()



def running_sshd(tmp_path: Path) -> Iterator[Sshd]:
    """For a module's ``sshd`` fixture: a running loopback sshd, stopped with every connection it served."""
    server = Sshd(tmp_path / "sshd").start()
    try:
        yield server
    finally:
        server.stop()
