"""The SFTP client channel against a real OpenSSH sshd on 127.0.0.1 (see tests/transports/sshd.py).

Pickup of many files over one connection, a file still growing, pinned host
keys (mismatch refused before any credential is sent), wrong credentials,
the server down then back, uploads of a 997 and an 855 (atomic, idempotent,
no clobbering), 200 MB both ways in flat memory, and the crash between
"stored" and "deleted remotely" for every after_pickup policy.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from hub.cli import main
from hub.errors import TerminalError, TransientError
from hub.partners import parse_profile
from hub.partners.profile import SftpChannel
from hub.runtime.pipeline import Pipeline, RunReport, Settings
from hub.store import Archive, open_store
from hub.store.models import File
from hub.transports import IncomingFile, SftpTransport, SplitTransport, Transport, build_transport
from tests.transports.conftest import FakeClock
from tests.transports.sshd import Sshd, running_sshd, write_key

pytestmark = pytest.mark.sftp

X12_997 = (
    b"ISA*00*          *00*          *ZZ*EDIHUBSUPPLY   *ZZ*ACMEBUYER      *240101*1200*U*00401*000000007*0*P*>~"
    b"GS*FA*EDIHUBSUPPLY*ACMEBUYER*20240101*1200*7*X*004010~ST*997*0001~AK1*PO*101~AK9*A*1*1*1~SE*4*0001~"
    b"GE*1*7~IEA*1*000000007~"
)
X12_855 = X12_997.replace(b"ST*997*0001~AK1*PO*101~AK9*A*1*1*1~SE*4*0001~", b"ST*855*0001~BAK*00*AC*PO101*20240101~"
                          b"SE*3*0001~").replace(b"GS*FA", b"GS*PR")


def order(n: int) -> bytes:
    return (
        b"ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIHUBSUPPLY   *240101*1200*U*00401*%09d*0*P*>~"
        b"GS*PO*ACMEBUYER*EDIHUBSUPPLY*20240101*1200*%d*X*004010~ST*850*0001~BEG*00*SA*PO%d**20240101~"
        b"SE*3*0001~GE*1*%d~IEA*1*%09d~" % (n, n, n, n, n)
    )


def make_channel(server: Sshd, folder: str = "out", **overrides: object) -> SftpChannel:
    """A channel to ``server``'s folder ``folder`` that takes files at the second listing (min_age 0)."""
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "host_key": server.known_hosts_line,
        "folder": str(server.folder(folder)),
        "private_key": f"file:{server.client_key_path}",
        "min_age_seconds": 0.0,
        "timeout_seconds": 5.0,
        "retries": 0,
        "retry_delay_seconds": 0.01,
    }
    values.update(overrides)
    return SftpChannel(**values)  # type: ignore[arg-type]


class Sleeps:
    """Records the backoff waits instead of sleeping them (or sleeps them for real when asked)."""

    def __init__(self, real: bool = False) -> None:
        self.waits: list[float] = []
        self.real = real

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    yield from running_sshd(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport(sshd: Sshd, clock: FakeClock, tmp_path: Path) -> Iterator[SftpTransport]:
    t = SftpTransport(make_channel(sshd), make_channel(sshd, "in"), clock=clock, state_path=tmp_path / "state.json")
    yield t
    t.close()


def ready(transport: SftpTransport, clock: FakeClock, seconds: float = 1.0) -> list[IncomingFile]:
    """Two listings ``seconds`` apart: what a real runtime gets after its second poll."""
    first = transport.poll()
    clock.advance(seconds)
    return first + transport.poll()


def names(items: list[IncomingFile]) -> list[str]:
    return sorted(item.name for item in items)


# ---------------------------------------------------------------------------- inbound


def test_pickup_of_many_files_over_one_connection(sshd: Sshd, transport: SftpTransport, clock: FakeClock) -> None:
    out = sshd.folder("out")
    for n in range(1, 151):
        (out / f"po{n:03d}.x12").write_bytes(order(n))
    assert isinstance(transport, Transport)
    assert transport.poll() == []  # first sight: nobody knows whether the writer is done
    clock.advance(1)
    items = transport.poll()
    assert len(items) == 150
    assert items[0].channel == f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{out}"
    assert transport.poll() == []  # offered once
    for item in items:
        n = int(item.name[2:5])
        assert item.read() == order(n)
        assert item.size == len(order(n))
        transport.settle(item)
    assert sorted(os.listdir(out)) == []
    assert transport.connections == 1
    assert sshd.logins() == 1, "one login served the listing, 150 downloads and 150 deletes"


def test_a_file_still_growing_is_not_taken(sshd: Sshd, transport: SftpTransport, clock: FakeClock) -> None:
    channel = replace(transport.inbound_channel, min_age_seconds=5.0)  # type: ignore[type-var]
    transport.inbound_channel = channel
    path = sshd.folder("out") / "big.x12"
    path.write_bytes(b"ISA*00")
    assert transport.poll() == []
    for _ in range(3):
        clock.advance(10)  # far longer than min_age between listings, yet the size keeps changing
        with open(path, "ab") as fh:
            fh.write(b"*segment~" * 1000)
        assert transport.poll() == []
    assert transport.next_check_in() == pytest.approx(5.0)
    clock.advance(4)
    assert transport.poll() == []  # unchanged now, but not for min_age_seconds yet
    clock.advance(1)
    (item,) = transport.poll()
    assert item.size == path.stat().st_size
    assert item.read() == path.read_bytes()


def test_temporaries_folders_links_and_other_patterns_are_never_taken(
    sshd: Sshd, transport: SftpTransport, clock: FakeClock
) -> None:
    transport.inbound_channel = replace(transport.inbound_channel, pattern="*.x12")  # type: ignore[type-var]
    out = sshd.folder("out")
    for name in ("a.x12.part", "b.x12.filepart", ".hidden.x12", "c.x12.tmp", "d.txt", "ok.x12"):
        (out / name).write_bytes(order(1))
    (out / "sub.x12").mkdir()
    (out / "link.x12").symlink_to(sshd.folder("elsewhere") / "secret.x12")
    (sshd.folder("elsewhere") / "secret.x12").write_bytes(b"not yours")
    assert names(ready(transport, clock)) == ["ok.x12"]


def test_a_file_replaced_after_it_was_offered_is_not_settled(
    sshd: Sshd, transport: SftpTransport, clock: FakeClock
) -> None:
    path = sshd.folder("out") / "po.x12"
    path.write_bytes(order(1))
    (item,) = ready(transport, clock)
    path.write_bytes(order(22))  # the partner replaced it: other size
    with pytest.raises(TransientError, match="changed after it was listed"):
        item.read()
    transport.settle(item)
    assert path.read_bytes() == order(22), "the new file waits for its own pickup"
    clock.advance(1)
    transport.poll()
    clock.advance(1)
    (again,) = transport.poll()
    assert again.read() == order(22)


# paramiko's prefetch thread, still sending read requests when the server dies, ends with an EOFError of its own.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_interrupted_download_is_transient_and_nothing_is_settled(
    sshd: Sshd, transport: SftpTransport, clock: FakeClock
) -> None:
    path = sshd.folder("out") / "big.bin"
    path.write_bytes(os.urandom(32 << 20))
    (item,) = ready(transport, clock)
    with pytest.raises(TransientError, match="interrupted|connection|cannot check"), item.open() as fh:
        fh.read(1 << 20)
        sshd.stop()
        while fh.read(1 << 20):
            pass
    assert path.exists()
    sshd.start()
    transport.release(item)
    (again,) = transport.poll()
    assert hashlib.sha256(again.read()).digest() == hashlib.sha256(path.read_bytes()).digest()


# ---------------------------------------------------------------------------- host keys and credentials


def test_host_key_mismatch_is_refused_before_logging_in(sshd: Sshd, tmp_path: Path) -> None:
    other = write_key(tmp_path / "other", ed25519.Ed25519PrivateKey.generate())
    other_line = "[127.0.0.1]:22 " + " ".join(Path(f"{other}.pub").read_text().split()[:2])
    for pin in (other_line, "SHA256:" + "A" * 43):
        t = SftpTransport(make_channel(sshd, host_key=pin))
        with pytest.raises(TerminalError, match="HOST KEY MISMATCH") as info:
            t.poll()
        assert sshd.fingerprint in str(info.value), "the message names the key the server presented"
        assert "refused without logging in" in str(info.value)
    assert sshd.logins() == 0
    log = sshd.log.read_text()
    assert "Failed publickey" not in log and "Accepted" not in log, "no credential was offered to that server"


def test_pinning_by_fingerprint_finds_the_servers_other_key(sshd: Sshd, clock: FakeClock) -> None:
    # The server prefers its ed25519 key; the profile pins its RSA key.
    t = SftpTransport(make_channel(sshd, host_key=sshd.rsa_fingerprint), clock=clock)
    (sshd.folder("out") / "a.x12").write_bytes(order(1))
    assert names(ready(t, clock)) == ["a.x12"]
    conn = t.connect(t.inbound_channel)  # type: ignore[arg-type]
    assert conn.host_key_fingerprint == sshd.rsa_fingerprint
    t.close()
    ed = SftpTransport(make_channel(sshd, host_key=sshd.fingerprint))
    assert ed.connect(ed.inbound_channel).host_key_fingerprint == sshd.fingerprint  # type: ignore[arg-type]
    ed.close()


def test_wrong_credentials_are_terminal_at_once(sshd: Sshd, tmp_path: Path, monkeypatch) -> None:
    stranger = write_key(tmp_path / "stranger", ed25519.Ed25519PrivateKey.generate())
    sleeps = Sleeps()
    t = SftpTransport(make_channel(sshd, private_key=f"file:{stranger}", retries=3), sleep=sleeps)
    with pytest.raises(TerminalError, match="authentication as .* refused"):
        t.poll()
    assert sleeps.waits == [], "a wrong key is not retried"
    monkeypatch.setenv("ACME_SFTP_PASSWORD", "hunter2")
    t = SftpTransport(make_channel(sshd, private_key=None, password="${ACME_SFTP_PASSWORD}"))
    with pytest.raises(TerminalError, match="accepts only publickey"):
        t.poll()
    t = SftpTransport(make_channel(sshd, private_key="${NOT_SET_ANYWHERE}"), environ={})
    with pytest.raises(TerminalError, match="NOT_SET_ANYWHERE"):
        t.poll()
    assert sshd.logins() == 0


def test_server_down_then_back(sshd: Sshd, clock: FakeClock) -> None:
    sleeps = Sleeps()
    t = SftpTransport(make_channel(sshd, retries=2, retry_delay_seconds=0.5), clock=clock, sleep=sleeps)
    (sshd.folder("out") / "a.x12").write_bytes(order(1))
    assert t.poll() == []
    sshd.stop()
    with pytest.raises(TransientError, match="cannot connect.*after 3 attempt"):
        t.poll()
    assert sleeps.waits == [0.5, 1.0], "retries wait with exponential backoff"
    sshd.start()
    clock.advance(1)
    (item,) = t.poll()
    assert item.read() == order(1)
    assert t.connections == 2
    t.close()


def test_a_connection_the_server_dropped_is_replaced_without_a_retry(sshd: Sshd, clock: FakeClock) -> None:
    sleeps = Sleeps()
    t = SftpTransport(make_channel(sshd), make_channel(sshd, "in"), clock=clock, sleep=sleeps)  # retries: 0
    assert t.poll() == []
    sshd.stop()
    sshd.start()  # restarted between two polls: the kept connection is dead
    assert t.poll() == []
    assert t.send("after-restart.997", X12_997) == "after-restart.997"
    assert t.connections == 2 and sleeps.waits == []
    t.close()


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    """A port that accepts the connection but never speaks SSH (a hung server, a half-open firewall)."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        channel = SftpChannel(host="127.0.0.1", port=silent.getsockname()[1], user="u", host_key="SHA256:" + "A" * 43,
                              folder="/", private_key="file:/nonexistent", timeout_seconds=0.5, retries=1,
                              retry_delay_seconds=0.01)
        t = SftpTransport(channel)
        started = time.monotonic()
        with pytest.raises(TransientError, match="after 2 attempt"):
            t.poll()
        assert time.monotonic() - started < 5


def test_server_back_during_the_retries(sshd: Sshd) -> None:
    sshd.stop()
    t = SftpTransport(make_channel(sshd, retries=4, retry_delay_seconds=0.2), sleep=Sleeps(real=True))
    timer = threading.Timer(0.3, sshd.start)
    timer.start()
    try:
        assert t.poll() == []  # listed after one or two retries
    finally:
        timer.join()
    assert t.connections == 1
    t.close()


# ---------------------------------------------------------------------------- outbound


def test_997_and_855_are_delivered_atomically(sshd: Sshd, transport: SftpTransport) -> None:
    inbox = sshd.folder("in")
    assert transport.send("ack_7.997.x12", X12_997) == "ack_7.997.x12"
    assert transport.send("po101.855.x12", iter([X12_855[:50], X12_855[50:]])) == "po101.855.x12"
    assert sorted(os.listdir(inbox)) == ["ack_7.997.x12", "po101.855.x12"], "no temporary left behind"
    assert (inbox / "ack_7.997.x12").read_bytes() == X12_997
    assert (inbox / "po101.855.x12").read_bytes() == X12_855
    conn = transport.connect(transport.outbound_channel)  # type: ignore[arg-type]
    assert conn.posix_rename is True, "OpenSSH offers posix-rename@openssh.com"
    # A resend after a crash finds its own bytes: the same name, nothing duplicated.
    assert transport.send("ack_7.997.x12", X12_997) == "ack_7.997.x12"
    # Another document under a taken name never replaces the partner's uncollected file.
    assert transport.send("ack_7.997.x12", X12_855) == "ack_7.997-1.x12"
    assert (inbox / "ack_7.997.x12").read_bytes() == X12_997
    assert sorted(os.listdir(inbox)) == ["ack_7.997-1.x12", "ack_7.997.x12", "po101.855.x12"]
    with pytest.raises(TerminalError, match="not a valid outbound file name"):
        transport.send("../escape.x12", X12_997)
    assert sshd.logins() == 1


def test_a_server_refusing_rename_onto_an_existing_name(sshd: Sshd, transport: SftpTransport, monkeypatch) -> None:
    """Plain SFTP rename (no posix-rename) refuses to replace; a name taken in the meantime gets a suffix."""
    inbox = sshd.folder("in")
    conn = transport.connect(transport.outbound_channel)  # type: ignore[arg-type]
    conn.posix_rename = False  # as on a server without the OpenSSH extension
    real_rename = SftpTransport._rename

    def racing(conn, tmp, final):  # someone takes the name between our check and our rename
        if final.endswith("/race.x12"):
            (inbox / "race.x12").write_bytes(b"theirs")
        return real_rename(conn, tmp, final)

    monkeypatch.setattr(SftpTransport, "_rename", staticmethod(racing))
    assert transport.send("race.x12", X12_997) == "race-1.x12"
    assert (inbox / "race.x12").read_bytes() == b"theirs"
    assert (inbox / "race-1.x12").read_bytes() == X12_997
    assert sorted(os.listdir(inbox)) == ["race-1.x12", "race.x12"]


def test_old_temporaries_are_swept_on_the_first_send(sshd: Sshd, transport: SftpTransport) -> None:
    inbox = sshd.folder("in")
    stale = inbox / ".ack.x12.0123456789abcdef.part"
    fresh = inbox / ".ack.x12.fedcba9876543210.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"in progress elsewhere")
    os.utime(stale, (time.time() - 2 * 86_400, time.time() - 2 * 86_400))
    transport.send("x.x12", X12_997)
    assert not stale.exists() and fresh.exists()


# ---------------------------------------------------------------------------- big files


def _rss() -> int:
    return psutil.Process().memory_info().rss


def test_200_mb_both_ways_in_flat_memory(sshd: Sshd, transport: SftpTransport, clock: FakeClock) -> None:
    size = 200 << 20
    block = os.urandom(1 << 20)
    expected = hashlib.sha256()

    def blocks() -> Iterator[bytes]:
        for n in range(size // len(block)):
            chunk = n.to_bytes(8, "big") + block[8:]
            expected.update(chunk)
            yield chunk

    before = _rss()
    peak = before
    started = time.monotonic()
    assert transport.send("big.bin", blocks()) == "big.bin"
    up = time.monotonic() - started
    peak = max(peak, _rss())
    remote = sshd.folder("in") / "big.bin"
    assert remote.stat().st_size == size
    (sshd.folder("out") / "big.bin").hardlink_to(remote)
    (item,) = ready(transport, clock)
    got = hashlib.sha256()
    started = time.monotonic()
    with item.open() as fh:
        while chunk := fh.read(1 << 20):
            got.update(chunk)
            peak = max(peak, _rss())
    down = time.monotonic() - started
    assert got.digest() == expected.digest()
    growth = (peak - before) >> 20
    print(f"200 MB: up {up:.1f}s, down {down:.1f}s, RSS growth {growth} MB")
    assert growth < 64, f"memory grew by {growth} MB moving 200 MB"


# ---------------------------------------------------------------------------- crash between store and settle


class Crash(BaseException):
    """The process dying right after the store committed (not an Exception: nothing may catch it)."""


PROFILE = """\
id: acme
name: ACME Corp
identities:
  x12:
    sender: {{qualifier: ZZ, id: ACMEBUYER}}
    receiver: {{qualifier: ZZ, id: EDIHUBSUPPLY}}
documents:
  - {{type: 850, direction: inbound, version: 004010, mapping: common/850.004010}}
channels:
  inbound: &acme_sftp
    type: sftp
    host: 127.0.0.1
    port: {port}
    user: {user}
    host_key: "{host_key}"
    private_key: "file:{key}"
    folder: {out}
    after_pickup: {after}
    archive_folder: {archive}
    min_age_seconds: 0
    retries: 0
  outbound:
    <<: *acme_sftp
    folder: {inbox}
"""


def acme_profile(server: Sshd, after: str):
    text = PROFILE.format(
        port=server.port, user=server.user, host_key=server.known_hosts_line, key=server.client_key_path,
        out=server.folder("out"), inbox=server.folder("in"), after=after, archive=server.folder("done"),
    )
    return parse_profile(text, "acme.yaml", "acme")


def test_the_profile_builds_an_sftp_transport(sshd: Sshd, tmp_path: Path) -> None:
    profile = acme_profile(sshd, "delete")
    assert profile.channels.inbound.port == sshd.port
    assert profile.channels.outbound.folder == str(sshd.folder("in"))
    assert profile.channels.outbound.host == "127.0.0.1", "the outbound channel shares the anchor's keys"
    transport = build_transport(profile, state_dir=tmp_path)
    assert isinstance(transport, SftpTransport)
    assert transport.send("x.997", X12_997) == "x.997"
    outbox = tmp_path / "outbox"
    mixed = parse_profile(
        PROFILE.replace("<<: *acme_sftp\n    folder: {inbox}", "type: folder\n    path: {inbox}").format(
            port=sshd.port, user=sshd.user, host_key=sshd.fingerprint, key=sshd.client_key_path,
            out=sshd.folder("out"), inbox=outbox, after="delete", archive=sshd.folder("done"),
        ),
        "acme.yaml",
        "acme",
    )
    split = build_transport(mixed, state_dir=tmp_path)
    assert isinstance(split, SplitTransport)
    assert split.send("y.997", X12_997) == "y.997"
    assert (tmp_path / "outbox" / "y.997").read_bytes() == X12_997


def stored_names(store) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(File.original_name)).all())


@pytest.mark.parametrize("after", ["delete", "move", "keep"])
def test_a_crash_between_store_and_remote_settle_loses_nothing_and_processes_once(
    sshd: Sshd, tmp_path: Path, after: str
) -> None:
    profile = acme_profile(sshd, after)
    out, done = sshd.folder("out"), sshd.folder("done")
    for n in (1, 2):
        (out / f"po{n}.x12").write_bytes(order(n))
    store = open_store(f"sqlite:///{tmp_path / 'edihub.db'}")
    archive = Archive(tmp_path / "archive")
    settings = Settings(worker_id="t", settle_seconds=0)

    def pipeline() -> Pipeline:
        transport = build_transport(profile, state_dir=tmp_path / "state")
        return Pipeline(store, archive, {"acme": profile}, erp=None, settings=settings, transports={"acme": transport})

    first = pipeline()
    transport = first.transports["acme"]
    report = RunReport()
    first.poll_partner("acme", report)  # first sight
    real_settle = transport.settle
    settled: list[str] = []

    def settle_then_crash(item, archive_to=None):
        if settled:
            raise Crash  # the second file: stored, then the process dies before the remote side is touched
        real_settle(item, archive_to)
        settled.append(item.name)

    transport.settle = settle_then_crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        first.poll_partner("acme", report)
    assert stored_names(store) == ["po1.x12", "po2.x12"], "both files were stored"
    crashed = "po2.x12" if settled == ["po1.x12"] else "po1.x12"
    assert (out / crashed).exists(), "the file the crash interrupted is still on the server"
    first.close()

    second = pipeline()  # the restarted hub: a new transport that knows nothing
    again = RunReport()
    second.poll_partner("acme", again)
    second.poll_partner("acme", again)
    assert again.received == 0 and again.duplicates == 1, "offered again, recognised by sha256: not processed twice"
    assert stored_names(store) == ["po1.x12", "po2.x12"], "still one record per file"
    with store.session() as session:
        shas = session.scalars(select(File.sha256)).all()
    assert {archive.read_bytes(sha) for sha in shas} == {order(1), order(2)}, "the raw bytes are in the archive"
    if after == "delete":
        assert os.listdir(out) == []
    elif after == "move":
        assert os.listdir(out) == [] and sorted(os.listdir(done)) == ["po1.x12", "po2.x12"]
    else:
        assert sorted(os.listdir(out)) == ["po1.x12", "po2.x12"]
        state = json.loads((tmp_path / "state" / "acme.json").read_text())
        assert sorted(state["files"]) == ["po1.x12", "po2.x12"]
        third = RunReport()
        second.poll_partner("acme", third)
        second.poll_partner("acme", third)
        assert third.received == third.duplicates == 0, "remembered files are not offered again"
    second.close()


def test_keep_forgets_files_that_left_the_server_and_takes_a_new_version(
    sshd: Sshd, tmp_path: Path, clock: FakeClock
) -> None:
    t = SftpTransport(make_channel(sshd, after_pickup="keep"), clock=clock, state_path=tmp_path / "keep.json")
    path = sshd.folder("out") / "po.x12"
    path.write_bytes(order(1))
    (item,) = ready(t, clock)
    t.settle(item)
    assert json.loads((tmp_path / "keep.json").read_text())["files"] == {"po.x12": [len(order(1)), item.mtime]}
    assert ready(t, clock) == []
    path.write_bytes(order(12345))  # a new version under the same name
    (new,) = ready(t, clock)
    assert new.read() == order(12345)
    t.settle(new)
    path.unlink()
    t.poll()
    assert json.loads((tmp_path / "keep.json").read_text())["files"] == {}


def test_an_850_picked_up_by_sftp_and_its_997_delivered_back(sshd: Sshd, tmp_path: Path) -> None:
    """The pipeline end to end over the SFTP channel: the partner's 850 in, our 997 back on its server."""
    from hub.erp import MemoryAdapter
    from tests.conftest import REPO

    profile = acme_profile(sshd, "delete")
    sample = (REPO / "inbound" / "acme" / "acme_850_4010.x12").read_bytes()
    (sshd.folder("out") / "po.x12").write_bytes(sample)
    store = open_store(f"sqlite:///{tmp_path / 'edihub.db'}")
    settings = Settings(worker_id="t", settle_seconds=0, mappings=(str(REPO / "mappings"),))
    transport = build_transport(profile, state_dir=tmp_path)
    pipeline = Pipeline(store, Archive(tmp_path / "archive"), {"acme": profile}, MemoryAdapter(), settings,
                        transports={"acme": transport})
    report = pipeline.run_until_idle(wait=time.sleep)
    pipeline.close()
    assert (report.received, report.delivered, report.failed) == (1, 1, 0), report.errors
    assert os.listdir(sshd.folder("out")) == [], "taken, stored, then deleted on the partner's server"
    (ack,) = os.listdir(sshd.folder("in"))
    data = (sshd.folder("in") / ack).read_bytes()
    assert data.startswith(b"ISA*") and b"ST*997*" in data and b"AK9*A*" in data
    assert sshd.logins() == 1


# ---------------------------------------------------------------------------- edihub partner test-connection


def test_cli_test_connection(sshd: Sshd, tmp_path: Path) -> None:
    folder = tmp_path / "partner_profiles"
    folder.mkdir()
    text = PROFILE.format(
        port=sshd.port, user=sshd.user, host_key=sshd.known_hosts_line, key=sshd.client_key_path,
        out=sshd.folder("out"), inbox=sshd.folder("in"), after="delete", archive=sshd.folder("done"),
    )
    (folder / "acme.yaml").write_text(text)
    (sshd.folder("out") / "waiting.x12").write_bytes(order(1))
    result = CliRunner().invoke(main, ["partner", "test-connection", "acme", "--folder", str(folder)])
    assert result.exit_code == 0, result.output
    assert sshd.fingerprint in result.output
    assert "round trip" in result.output
    assert "1 file(s)" in result.output
    assert (sshd.folder("out") / "waiting.x12").exists(), "testing a connection takes nothing"

    stranger = write_key(tmp_path / "stranger", ed25519.Ed25519PrivateKey.generate())
    (folder / "acme.yaml").write_text(text.replace(sshd.known_hosts_line, Path(f"{stranger}.pub").read_text().strip()))
    result = CliRunner().invoke(main, ["partner", "test-connection", "acme", "--folder", str(folder)])
    assert result.exit_code == 1
    assert "HOST KEY MISMATCH" in result.output

    result = CliRunner().invoke(main, ["partner", "test-connection", "nobody", "--folder", str(folder)])
    assert result.exit_code == 1
    assert "no partner 'nobody'" in result.output


# ---------------------------------------------------------------------------- the fixture itself


def test_missing_openssh_skips_on_a_laptop_and_fails_in_ci(monkeypatch) -> None:
    from tests.transports import sshd as fixture

    monkeypatch.setattr(fixture, "find_binary", lambda *args: None)
    monkeypatch.setattr(fixture, "REQUIRE_CORPUS", True)
    with pytest.raises(pytest.fail.Exception, match="EDIHUB_REQUIRE_CORPUS=1 but sshd is not installed"):
        fixture.require_binary("sshd")
    monkeypatch.setattr(fixture, "REQUIRE_CORPUS", False)
    with pytest.raises(pytest.skip.Exception, match="sftp_setup.sh"):
        fixture.require_binary("sftp")
