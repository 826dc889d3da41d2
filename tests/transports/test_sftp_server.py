"""The hosted SFTP drop zone (asyncssh) with real clients: paramiko and OpenSSH's own ``sftp`` in batch mode.

Uploads complete on close (or on the rename of a temporary name) and land in
the partner's inbound folder channel, where the folder transport takes them;
what the hub writes to the outbound folder is there to download; keys only,
SFTP only; one partner can neither read nor write another's folders (``..``,
absolute paths, symlinks); an upload abandoned half way never reaches the
pipeline; 200 MB each way with flat memory on the server side.
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import psutil
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from hub.errors import TerminalError, TransientError
from hub.partners import ProfileError, parse_profile
from hub.partners.profile import PartnerProfile, SftpChannel
from hub.transports import FolderTransport, HostedSftpZone
from hub.transports.sftp import SftpConnection
from tests.transports.sshd import require_binary, write_key

pytestmark = pytest.mark.sftp

X12_850 = (
    b"ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIHUBSUPPLY   *240101*1200*U*00401*000000101*0*P*>~"
    b"GS*PO*ACMEBUYER*EDIHUBSUPPLY*20240101*1200*101*X*004010~ST*850*0001~BEG*00*SA*PO101**20240101~"
    b"SE*3*0001~GE*1*101~IEA*1*000000101~"
)
X12_997 = X12_850.replace(b"ST*850*0001~BEG*00*SA*PO101**20240101~SE*3*0001~", b"ST*997*0001~AK1*PO*101~"
                          b"AK9*A*1*1*1~SE*4*0001~")

PROFILE = """\
id: {pid}
name: {pid} partner
identities:
  x12:
    sender: {{qualifier: ZZ, id: {sender}}}
    receiver: {{qualifier: ZZ, id: EDIHUBSUPPLY}}
documents:
  - {{type: 850, direction: inbound, version: 004010, mapping: common/850.004010}}
channels:
  inbound: {{type: folder, path: {root}/inbound/{pid}}}
  outbound: {{type: folder, path: {root}/outbound/{pid}}}
sftp_account:
  public_keys:
    - "{key}"
"""


class Partner:
    """A partner with a key, a profile and the folders the zone serves it."""

    def __init__(self, root: Path, pid: str, sender: str) -> None:
        self.id = pid
        self.key = write_key(root / "keys" / pid, ed25519.Ed25519PrivateKey.generate(), pid)
        public = Path(f"{self.key}.pub").read_text().strip()
        self.profile: PartnerProfile = parse_profile(
            PROFILE.format(pid=pid, sender=sender, root=root, key=public), f"{pid}.yaml", pid
        )
        self.inbound = root / "inbound" / pid
        self.outbound = root / "outbound" / pid


class Zone:
    """The running zone, its partners and the completed-upload events it reported."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.acme = Partner(root, "acme", "ACMEBUYER")
        self.globex = Partner(root, "globex", "GLOBEX")
        self.events: list[tuple[str, Path]] = []
        self.event = threading.Event()
        self.server = HostedSftpZone(
            [self.acme.profile, self.globex.profile], root, port=0, host_key=root / "zone" / "host_key",
            on_file_complete=self._completed,
        ).start()
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(self.server.known_hosts_line() + "\n")

    def _completed(self, partner_id: str, path: Path) -> None:
        self.events.append((partner_id, path))
        self.event.set()

    def channel(self, partner: Partner, **overrides: object) -> SftpChannel:
        values: dict[str, object] = {
            "host": "127.0.0.1", "port": self.server.port, "user": partner.id,
            "host_key": self.server.known_hosts_line(), "folder": "inbound",
            "private_key": f"file:{partner.key}", "timeout_seconds": 5.0, "retries": 0,
        }
        values.update(overrides)
        return SftpChannel(**values)  # type: ignore[arg-type]

    def login(self, partner: Partner) -> SftpConnection:
        return SftpConnection.open(self.channel(partner))

    def sftp_batch(self, partner: Partner, commands: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """OpenSSH's ``sftp`` client in batch mode, pinned to the zone's host key, with the partner's key only."""
        binary = require_binary("sftp")
        result = subprocess.run(
            [binary, "-F", "/dev/null", "-b", "-", "-P", str(self.server.port), "-i", str(partner.key),
             "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
             "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
             f"{partner.id}@127.0.0.1"],
            input=commands, capture_output=True, text=True, timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def wait_for_events(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture
def zone(tmp_path: Path) -> Iterator[Zone]:
    z = Zone(tmp_path)
    try:
        yield z
    finally:
        z.server.stop()


def visible(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------- uploads


def test_an_upload_is_complete_when_the_client_closes_it(zone: Zone) -> None:
    conn = zone.login(zone.acme)
    sftp = conn.sftp
    assert sorted(sftp.listdir("/")) == ["inbound", "outbound"]
    with sftp.open("inbound/po101.x12", "wb") as fh:
        fh.write(X12_850[:40])
        fh.flush()
        assert sftp.stat("inbound/po101.x12").st_size == 40, "the client sees its upload in progress"
        assert [n for n in visible(zone.acme.inbound) if not n.startswith(".")] == [], "the pipeline sees nothing"
        assert FolderTransport(zone.acme.inbound, zone.acme.outbound, settle_seconds=0).poll() == []
        fh.write(X12_850[40:])
    zone.wait_for_events(1)
    assert zone.events == [("acme", zone.acme.inbound / "po101.x12")]
    assert visible(zone.acme.inbound) == ["po101.x12"], "named atomically, no temporary left"
    assert (zone.acme.inbound / "po101.x12").read_bytes() == X12_850
    # paramiko's put() confirms the size with a stat() after closing: the file must still be there for it.
    sftp.putfo(io.BytesIO(X12_850), "inbound/po102.x12")
    # The pipeline's own folder transport takes them (settle 0: the zone only ever shows complete files).
    taken = FolderTransport(zone.acme.inbound, zone.acme.outbound, settle_seconds=0).poll()
    assert sorted(item.name for item in taken) == ["po101.x12", "po102.x12"]
    conn.close()


def test_an_upload_abandoned_before_close_never_reaches_the_pipeline(zone: Zone) -> None:
    conn = zone.login(zone.acme)
    fh = conn.sftp.open("inbound/half.x12", "wb")
    fh.write(X12_850[:50])
    fh.flush()
    conn.transport.close()  # the client vanishes without closing the file
    deadline = time.monotonic() + 5
    while visible(zone.acme.inbound) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert visible(zone.acme.inbound) == [], "neither the file nor its temporary"
    # The same when the client ends its SFTP session (channel EOF) with the file still open.
    conn = zone.login(zone.acme)
    fh = conn.sftp.open("inbound/half.x12", "wb")
    fh.write(X12_850[:50])
    fh.flush()
    conn.sftp.close()
    deadline = time.monotonic() + 5
    while visible(zone.acme.inbound) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert visible(zone.acme.inbound) == []
    conn.close()
    assert zone.events == []


def test_a_temporary_name_completes_on_rename(zone: Zone) -> None:
    conn = zone.login(zone.acme)
    sftp = conn.sftp
    sftp.putfo(io.BytesIO(X12_850), "inbound/po.x12.filepart")
    assert visible(zone.acme.inbound) == ["po.x12.filepart"]
    assert FolderTransport(zone.acme.inbound, zone.acme.outbound, settle_seconds=0).poll() == []
    assert zone.events == []
    sftp.posix_rename("inbound/po.x12.filepart", "inbound/po.x12")
    zone.wait_for_events(1)
    assert zone.events == [("acme", zone.acme.inbound / "po.x12")]
    assert visible(zone.acme.inbound) == ["po.x12"]
    with pytest.raises(PermissionError):
        sftp.rename("inbound/po.x12", "inbound/other.x12")  # handed to the hub: no longer the partner's to rename
    with pytest.raises(PermissionError):
        sftp.open("inbound/po.x12", "ab").write(b"more")  # nor to change
    conn.close()


def test_replacing_a_file_not_taken_yet_keeps_the_earlier_one(zone: Zone) -> None:
    conn = zone.login(zone.acme)
    conn.sftp.putfo(io.BytesIO(X12_850), "inbound/orders.x12")
    second = X12_850.replace(b"PO101", b"PO202")
    conn.sftp.putfo(io.BytesIO(second), "inbound/orders.x12")
    assert (zone.acme.inbound / "orders.x12").read_bytes() == second
    assert (zone.acme.inbound / "orders-1.x12").read_bytes() == X12_850, "the earlier order is not lost"
    conn.close()


# ---------------------------------------------------------------------------- outbound


def test_what_the_hub_sends_appears_in_outbound(zone: Zone) -> None:
    hub_side = FolderTransport(zone.acme.inbound, zone.acme.outbound, settle_seconds=0)
    assert hub_side.send("ack_101.997.x12", X12_997) == "ack_101.997.x12"
    writing = zone.acme.outbound / ".ack_102.997.x12.0123456789abcdef.tmp"  # a send in progress
    writing.write_bytes(X12_997[:30])
    conn = zone.login(zone.acme)
    sftp = conn.sftp
    assert sftp.listdir("outbound") == ["ack_101.997.x12"], "the hub's temporaries are never shown"
    with pytest.raises(FileNotFoundError):
        sftp.open(f"outbound/{writing.name}", "rb")
    writing.unlink()
    got = io.BytesIO()
    sftp.getfo("outbound/ack_101.997.x12", got)
    assert got.getvalue() == X12_997
    with pytest.raises(PermissionError):
        sftp.putfo(io.BytesIO(b"x"), "outbound/mine.x12")
    sftp.remove("outbound/ack_101.997.x12")  # collected
    assert visible(zone.acme.outbound) == []
    conn.close()


# ---------------------------------------------------------------------------- isolation


def test_one_partner_cannot_read_or_write_another_partners_folders(zone: Zone) -> None:
    (zone.acme.inbound / "secret.x12").write_bytes(X12_850)
    (zone.acme.outbound / "their_997.x12").write_bytes(X12_997)
    (zone.globex.inbound / "link.x12").symlink_to(zone.acme.inbound / "secret.x12")
    (zone.globex.inbound / "linkdir").symlink_to(zone.acme.outbound)
    conn = zone.login(zone.globex)
    sftp = conn.sftp
    assert sorted(sftp.listdir("/")) == ["inbound", "outbound"]
    assert sftp.listdir("/inbound") == [], "the planted symlinks are not shown"
    assert sftp.normalize("../../..") == "/"
    attempts = [
        "/../acme/inbound/secret.x12",
        "../../acme/inbound/secret.x12",
        "inbound/../../acme/inbound/secret.x12",
        "/acme/inbound/secret.x12",
        str(zone.acme.inbound / "secret.x12"),
        "inbound/link.x12",
        "inbound/linkdir/their_997.x12",
        "inbound/" + os.path.relpath(zone.acme.inbound / "secret.x12", zone.globex.inbound),
    ]
    for path in attempts:
        with pytest.raises(OSError):
            sftp.open(path, "rb").read()
        with pytest.raises(OSError):
            sftp.stat(path)
        if path == "inbound/link.x12":
            continue  # a name in globex's own folder: checked below
        with pytest.raises(OSError):
            sftp.putfo(io.BytesIO(b"overwritten"), path)
        with pytest.raises(OSError):
            sftp.remove(path)
    # Uploading to the planted link's name replaces the link itself, never writes through it.
    sftp.putfo(io.BytesIO(b"globex's own"), "inbound/link.x12")
    assert not (zone.globex.inbound / "link.x12").is_symlink()
    assert (zone.globex.inbound / "link.x12").read_bytes() == b"globex's own"
    zone.wait_for_events(1)
    assert zone.events == [("globex", zone.globex.inbound / "link.x12")]
    zone.events.clear()
    for folder in ("/../acme", "/acme", "/acme/inbound", str(zone.acme.inbound), "inbound/linkdir", "/../../.."):
        if folder == "/../../..":
            assert sorted(sftp.listdir(folder)) == ["inbound", "outbound"], "above the root is the root"
            continue
        with pytest.raises(OSError):
            sftp.listdir(folder)
    sftp.putfo(io.BytesIO(X12_850), "inbound/x.part")
    for target in ("../acme/inbound/x.x12", "/acme/inbound/x.x12", "outbound/x.x12", "inbound/sub/x.x12"):
        with pytest.raises(OSError):
            sftp.posix_rename("inbound/x.part", target)
    with pytest.raises(OSError):
        sftp.symlink(str(zone.acme.inbound / "secret.x12"), "inbound/new_link.x12")
    with pytest.raises(OSError):
        sftp.mkdir("inbound/sub")
    assert visible(zone.acme.inbound) == ["secret.x12"] and visible(zone.acme.outbound) == ["their_997.x12"]
    assert (zone.acme.inbound / "secret.x12").read_bytes() == X12_850
    assert zone.events == []
    conn.close()


def test_keys_only_and_sftp_only(zone: Zone, tmp_path: Path) -> None:
    stranger = write_key(tmp_path / "stranger", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(TerminalError, match="refused"):
        SftpConnection.open(zone.channel(zone.acme, private_key=f"file:{stranger}"))
    with pytest.raises(TerminalError, match="refused"):
        SftpConnection.open(zone.channel(zone.acme, user="nobody"))
    with pytest.raises(TerminalError, match="refused"):
        SftpConnection.open(zone.channel(zone.acme, user="globex"))  # acme's key is not globex's
    with pytest.raises(TerminalError, match="accepts only publickey"):
        SftpConnection.open(zone.channel(zone.acme, private_key=None, password="${X}"), environ={"X": "pw"})
    conn = zone.login(zone.acme)
    attempts = (lambda ch: ch.exec_command("id"), lambda ch: ch.invoke_shell(), lambda ch: ch.invoke_subsystem("x"))
    for attempt in attempts:
        channel = conn.transport.open_session()
        with pytest.raises(paramiko.SSHException):
            attempt(channel)
    with pytest.raises(paramiko.ChannelException):
        conn.transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 0))
    with pytest.raises(paramiko.SSHException, match="forwarding request denied"):
        conn.transport.request_port_forward("127.0.0.1", 0)
    conn.close()


def test_the_host_key_is_generated_once_and_kept(zone: Zone, tmp_path: Path) -> None:
    key_file = zone.root / "zone" / "host_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = HostedSftpZone([zone.acme.profile], tmp_path, port=0, host_key=key_file)
    assert again.fingerprint == zone.server.fingerprint
    assert zone.login(zone.acme).host_key_fingerprint == zone.server.fingerprint
    assert again.accounts == {"acme": "acme"}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = HostedSftpZone([zone.acme.profile], tmp_path, port=busy.getsockname()[1], host_key=key_file)
        with pytest.raises(TerminalError, match="cannot listen"):
            taken.start()


def test_a_hosted_partner_needs_an_inbound_folder_channel(zone: Zone) -> None:
    text = PROFILE.format(pid="initech", sender="INITECH", root=zone.root, key="ssh-ed25519 AAAA").replace(
        "inbound: {type: folder, path: " + str(zone.root) + "/inbound/initech}",
        "inbound: {type: sftp, host: h, user: u, folder: /out, host_key: 'SHA256:" + "A" * 43 + "', "
        "private_key: 'file:/k'}",
    )
    with pytest.raises(ProfileError, match="sftp_account: the hosted SFTP zone delivers uploads"):
        parse_profile(text, "initech.yaml", "initech")


# ---------------------------------------------------------------------------- OpenSSH's sftp as a client


def test_openssh_sftp_client_uploads_and_downloads(zone: Zone, tmp_path: Path) -> None:
    local = tmp_path / "local"
    local.mkdir()
    (local / "po555.x12").write_bytes(X12_850)
    FolderTransport(zone.acme.inbound, zone.acme.outbound, settle_seconds=0).send("ack_555.997.x12", X12_997)
    result = zone.sftp_batch(zone.acme, f"""\
ls -1 inbound outbound
put {local / 'po555.x12'} inbound/po555.x12
put {local / 'po555.x12'} inbound/po556.x12.part
rename inbound/po556.x12.part inbound/po556.x12
get outbound/ack_555.997.x12 {local / 'got.x12'}
rm outbound/ack_555.997.x12
""")
    assert "ack_555.997.x12" in result.stdout
    zone.wait_for_events(2)
    assert sorted(zone.events) == [("acme", zone.acme.inbound / "po555.x12"), ("acme", zone.acme.inbound / "po556.x12")]
    assert (zone.acme.inbound / "po555.x12").read_bytes() == X12_850
    assert (local / "got.x12").read_bytes() == X12_997
    assert visible(zone.acme.outbound) == []
    refused = zone.sftp_batch(zone.acme, "get /../globex/inbound/x local\n", check=False)
    assert refused.returncode != 0
    refused = zone.sftp_batch(zone.acme, f"put {local / 'po555.x12'} outbound/x.x12\n", check=False)
    assert refused.returncode != 0 and "ermission denied" in refused.stderr
    shell = subprocess.run(
        [require_binary("ssh"), "-F", "/dev/null", "-p", str(zone.server.port), "-i", str(zone.acme.key),
         "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
         "-o", f"UserKnownHostsFile={zone.known_hosts}", "acme@127.0.0.1", "id"],
        capture_output=True, text=True, timeout=30,
    )
    assert shell.returncode != 0 and "uid=" not in shell.stdout


def test_200_mb_both_ways_with_openssh_sftp_in_flat_memory(zone: Zone, tmp_path: Path) -> None:
    size = 200 << 20
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with open(big, "wb") as fh:
        for n in range(size // len(block)):
            chunk = n.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            fh.write(chunk)
    process = psutil.Process()
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    zone.sftp_batch(zone.acme, f"put {big} inbound/big.bin\n")
    up = time.monotonic() - started
    zone.wait_for_events(1, timeout=30)
    assert zone.events == [("acme", zone.acme.inbound / "big.bin")]
    os.replace(zone.acme.inbound / "big.bin", zone.acme.outbound / "big.bin")
    started = time.monotonic()
    zone.sftp_batch(zone.acme, f"get outbound/big.bin {tmp_path / 'back.bin'}\n")
    down = time.monotonic() - started
    done.set()
    sampler.join()
    got = hashlib.sha256()
    with open(tmp_path / "back.bin", "rb") as fh:
        while chunk := fh.read(1 << 20):
            got.update(chunk)
    assert got.digest() == digest.digest()
    growth = (peak[0] - before) >> 20
    print(f"hosted zone 200 MB: up {up:.1f}s, down {down:.1f}s, server RSS growth {growth} MB")
    assert growth < 64, f"the zone's memory grew by {growth} MB moving 200 MB"


def test_the_zone_stops_cleanly_and_refuses_new_logins(zone: Zone) -> None:
    conn = zone.login(zone.acme)
    zone.server.stop()
    deadline = time.monotonic() + 5
    while conn.transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not conn.transport.is_active(), "open sessions are closed"
    with pytest.raises(TransientError, match="cannot connect"):
        zone.login(zone.acme)
