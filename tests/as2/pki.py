"""Test certificates, made with ``cryptography`` (self-signed RSA, as AS2 partners usually exchange them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from hub.as2.certs import KeyPair

P12_PASSWORD = b"test-p12-pass"


@dataclass(frozen=True)
class TestIdentity:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    name: str
    pair: KeyPair
    key_pem: Path
    cert_pem: Path
    p12: Path
    """Legacy PKCS#12 (PBE-SHA1-3DES, SHA-1 MAC): what oscrypto in the django-pyas2 peer can open."""

    @property
    def cert(self) -> x509.Certificate:
        return self.pair.cert


def make_certificate(cn: str, *, days: int = 365, not_before_days: int = 1,
                     key: rsa.RSAPrivateKey | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                       "edihub tests")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=not_before_days))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_identity(directory: Path, name: str, **kw: int) -> TestIdentity:
    key, cert = make_certificate(f"{name} AS2 test", **kw)
    directory.mkdir(parents=True, exist_ok=True)
    key_pem = directory / f"{name}.key"
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert_pem = directory / f"{name}.crt"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    legacy = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
              .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
              .build(P12_PASSWORD))
    p12 = directory / f"{name}.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(name.encode(), key, cert, None, legacy))
    return TestIdentity(name, KeyPair(key, cert), key_pem, cert_pem, p12)
