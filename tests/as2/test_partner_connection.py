"""`edihub partner test-connection` for AS2 channels: certificates, and the partner's URL (the live django-pyas2
peer, or a closed port on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from tests.as2.conftest import Peer
from tests.as2.helpers import free_port, profile_yaml
from tests.as2.pki import TestIdentity, make_identity

pytestmark = pytest.mark.as2


def _setup(tmp_path: Path, url: str, partner: TestIdentity, ours: TestIdentity | None) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir(exist_ok=True)
    (folder / "djpeer.yaml").write_text(profile_yaml("djpeer", "DJPEER", f"""\
channels:
  inbound: &peer
    type: as2
    as2_id: DJPEER
    certificates: ["{partner.cert_pem}"]
    timeout: 5
  outbound:
    <<: *peer
    url: "{url}"
"""))
    keys = f"  keys:\n    - key: {ours.key_pem}\n      cert: {ours.cert_pem}\n" if ours else ""
    (tmp_path / "config.yaml").write_text(f"as2:\n  as2_id: HUB\n{keys}  cert_warn_days: 30\n")


def _test_connection(tmp_path: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["partner", "test-connection", "djpeer", "--folder", str(tmp_path / "profiles"),
                                     "-c", str(tmp_path / "config.yaml")])


def test_test_connection_to_the_live_peer(peer: Peer, tmp_path: Path) -> None:
    ours = make_identity(tmp_path / "certs", "hub", days=10)
    partner = make_identity(tmp_path / "certs", "djpeer", days=400)
    _setup(tmp_path, peer.url, partner, ours)
    result = _test_connection(tmp_path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"djpeer outbound: as2:DJPEER@{peer.url}" in out
    assert f"{peer.url}: reachable, HTTP " in out
    assert "our key [0] HUB: O=edihub tests,CN=hub AS2 test, not after " in out
    assert "warning: our key [0] HUB: expires on" in out  # within as2.cert_warn_days
    assert out.count("DJPEER certificate: O=edihub tests,CN=djpeer AS2 test") == 1  # shared anchor: checked once
    assert "FAILED" not in out


def test_test_connection_to_a_closed_port_fails_clearly(tmp_path: Path) -> None:
    partner = make_identity(tmp_path / "certs", "djpeer")
    url = f"http://127.0.0.1:{free_port()}/as2"
    _setup(tmp_path, url, partner, make_identity(tmp_path / "certs", "hub"))
    result = _test_connection(tmp_path)
    assert result.exit_code == 1, result.output
    assert f"FAILED: cannot reach {url}: ConnectError:" in result.output
    assert "Connection refused" in result.output
    assert "Traceback" not in result.output


def test_test_connection_fails_on_expired_or_missing_certificates_and_keys(tmp_path: Path) -> None:
    expired = make_identity(tmp_path / "certs", "old", days=-1, not_before_days=30)
    _setup(tmp_path, f"http://127.0.0.1:{free_port()}/as2", expired, None)
    result = _test_connection(tmp_path)
    assert result.exit_code == 1
    assert "FAILED: our AS2 identity is not configured (as2.as2_id and as2.keys in config.yaml)" in result.output
    assert "FAILED: DJPEER certificate: expired on" in result.output

    (tmp_path / "certs" / "old.crt").unlink()
    result = _test_connection(tmp_path)
    assert result.exit_code == 1 and "FAILED: certificate " in result.output and "Traceback" not in result.output
