"""Loading keys and certificates from every form partners and operations use, and the expiry report."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from hub.as2 import CertificateError, describe_certificate, list_certificates, load_certificates, load_key_pair
from hub.as2.certs import fingerprint
from hub.as2.partnership import identity_from_config, partnership_from_config
from tests.as2.conftest import Pki, openssl
from tests.as2.pki import P12_PASSWORD, make_certificate

pytestmark = pytest.mark.as2


def test_pem_der_bundle_and_pkcs7(pki: Pki, tmp_path: Path) -> None:
    assert load_certificates(pki.peer.cert_pem) == (pki.peer.cert,)
    der = tmp_path / "peer.cer"
    der.write_bytes(pki.peer.cert.public_bytes(serialization.Encoding.DER))
    assert load_certificates(str(der)) == (pki.peer.cert,)
    bundle = tmp_path / "both.pem"
    bundle.write_bytes(pki.peer.cert_pem.read_bytes() + b"\n" + pki.peer_next.cert_pem.read_bytes())
    assert load_certificates(f"file:{bundle}") == (pki.peer.cert, pki.peer_next.cert)
    p7 = tmp_path / "both.p7b"
    p7.write_bytes(pkcs7.serialize_certificates([pki.peer.cert, pki.peer_next.cert], serialization.Encoding.DER))
    assert set(load_certificates(p7)) == {pki.peer.cert, pki.peer_next.cert}
    assert load_certificates("both.pem", base_dir=tmp_path) == (pki.peer.cert, pki.peer_next.cert)


def test_key_pairs_from_pkcs12_and_pem(pki: Pki, tmp_path: Path) -> None:
    env = {"P12_PASS": P12_PASSWORD.decode()}
    pair = load_key_pair(pki.hub.p12, password="${P12_PASS}", environ=env)
    assert pair.cert == pki.hub.cert
    modern = tmp_path / "modern.p12"  # cryptography's (and OpenSSL 3's) default: PBES2/AES-256, SHA-256 MAC
    modern.write_bytes(pkcs12.serialize_key_and_certificates(
        b"hub", pki.hub.pair.key, pki.hub.cert, [pki.peer.cert], serialization.BestAvailableEncryption(b"s3cret")))
    secret = tmp_path / "pass.txt"
    secret.write_text("s3cret\n")
    pair = load_key_pair(modern, password=f"file:{secret}")
    assert (pair.cert, pair.chain) == (pki.hub.cert, (pki.peer.cert,))
    assert load_key_pair(pki.hub.key_pem, cert=pki.hub.cert_pem).cert == pki.hub.cert
    combined = tmp_path / "combined.pem"
    encrypted_key = pki.hub.pair.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.BestAvailableEncryption(b"pw"))
    combined.write_bytes(encrypted_key + pki.hub.cert_pem.read_bytes())
    assert load_key_pair(combined, password=b"pw").cert == pki.hub.cert


def test_openssl_made_pkcs12(pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "openssl.p12"
    subprocess.run([openssl(), "pkcs12", "-export", "-inkey", str(pki.peer.key_pem), "-in", str(pki.peer.cert_pem),
                    "-passout", "pass:abc", "-out", str(out)], check=True, capture_output=True)
    assert load_key_pair(out, password=b"abc").cert == pki.peer.cert


def test_environment_references(pki: Pki) -> None:
    env = {"PEER_CERT": pki.peer.cert_pem.read_text(), "HUB_P12": base64.b64encode(pki.hub.p12.read_bytes()).decode(),
           "HUB_P12_PASS": P12_PASSWORD.decode()}
    assert load_certificates("${PEER_CERT}", environ=env) == (pki.peer.cert,)
    assert load_key_pair("${HUB_P12}", password="${HUB_P12_PASS}", environ=env).cert == pki.hub.cert


def test_loading_errors(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="cannot read"):
        load_certificates(tmp_path / "missing.pem")
    with pytest.raises(CertificateError, match="not set"):
        load_certificates("${NOPE}", environ={})
    with pytest.raises(CertificateError, match="wrong password"):
        load_key_pair(pki.hub.p12, password=b"wrong")
    with pytest.raises(CertificateError, match="reference"):
        load_key_pair(pki.hub.p12, password="literal-password")
    with pytest.raises(CertificateError, match="matches"):
        load_key_pair(pki.hub.key_pem, cert=pki.peer.cert_pem)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(CertificateError):
        load_certificates(junk)


def test_certificate_listing_warns_before_expiry() -> None:
    now = dt.datetime.now(dt.UTC)
    _k1, soon = make_certificate("soon", days=10)
    _k2, later = make_certificate("later", days=400)
    _k3, gone = make_certificate("gone", days=-2, not_before_days=30)
    infos = list_certificates([("acme", later), ("globex", soon), ("old", gone)], now=now, warn_days=30)
    assert [(i.label, i.status) for i in infos] == [("old", "expired"), ("globex", "expiring"), ("acme", "ok")]
    assert infos[1].days_left in (9, 10)
    expiry = f"{soon.not_valid_after_utc:%Y-%m-%d}"
    assert infos[1].warning == f"globex: expires on {expiry} (in {infos[1].days_left} day(s))"
    assert infos[0].warning is not None and "expired on" in infos[0].warning
    assert infos[2].warning is None and infos[2].days_left >= 399
    info = describe_certificate(later, label="acme")
    assert info.fingerprint_sha256 == fingerprint(later) and len(info.fingerprint_sha256) == 95
    assert info.subject == "O=edihub tests,CN=later"
    assert info.to_json()["status"] == "ok"
    openssl_fp = subprocess.run([openssl(), "x509", "-noout", "-fingerprint", "-sha256"],
                                input=later.public_bytes(serialization.Encoding.PEM), capture_output=True,
                                check=True).stdout.decode()
    assert openssl_fp.strip().endswith(info.fingerprint_sha256)


def test_identity_and_partnership_from_config(pki: Pki) -> None:
    env = {"HUB_PASS": P12_PASSWORD.decode()}
    identity = identity_from_config({"as2_id": "HUB", "keys": [
        {"key": pki.hub.p12.name, "password": "${HUB_PASS}"},
        {"key": str(pki.hub_next.key_pem), "cert": str(pki.hub_next.cert_pem)},
    ]}, base_dir=pki.directory, environ=env)
    assert identity.signer.cert == pki.hub.cert and len(identity.keys) == 2
    p = partnership_from_config("acme", {
        "as2_id": "ACME", "url": "https://acme.example/as2",
        "certificates": [pki.peer.cert_pem.name, pki.peer_next.cert_pem.name],
        "encrypt_certificate": pki.peer_next.cert_pem.name,
        "sign": "SHA-384", "encrypt": "3des", "compress": True, "mdn": "async", "mdn_overdue_seconds": 600,
    }, our_as2_id="HUB", async_mdn_url="https://hub.example/as2", base_dir=pki.directory)
    assert (p.sign, p.encrypt, p.micalg, p.mdn, p.async_mdn_url) == ("sha384", "tripledes_192_cbc", "sha384", "async",
                                                                     "https://hub.example/as2")
    assert p.certs == (pki.peer.cert, pki.peer_next.cert) and p.encryption_certificate == pki.peer_next.cert
    unsigned = partnership_from_config("x", {"as2_id": "X", "certificate": str(pki.peer.cert_pem), "sign": None,
                                             "encrypt": "none"}, our_as2_id="HUB")
    assert (unsigned.sign, unsigned.encrypt) == (None, None)
    with pytest.raises(ValueError, match="async_mdn_url"):
        partnership_from_config("x", {"as2_id": "X", "certificate": str(pki.peer.cert_pem), "mdn": "async"},
                                our_as2_id="HUB")
