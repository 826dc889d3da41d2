"""Keys and certificates: loading ours and the partners', and reporting what expires when.

Why these forms: AS2 partners hand over certificates as PEM, DER or PKCS#7
bundles, and keys usually travel as PKCS#12 (``.p12``/``.pfx``) protected by a
password; operations keep them in files or inject them through the
environment (containers).  Every loader therefore takes a *reference*:

* a path (``certs/acme.pem``, relative to ``base_dir``) or ``file:/abs/path``
  -- the file's bytes;
* ``${ENV_NAME}`` -- the variable's value: PEM text, or base64 of DER/PKCS#12
  (binary cannot sit in an environment variable).

Passwords are secrets and follow the house rule: only ``${ENV}`` or
``file:`` references (read through :func:`hub.partners.profile.resolve_secret`),
never literal text in YAML.  Tests may pass ``bytes`` directly.

A partner may have several certificates at once (old and new during a
rollover); :func:`load_certificates` returns all of them and signature
verification accepts any.  :func:`list_certificates` is the body of the later
``edihub certs list``: subject, SHA-256 fingerprint, expiry, and a warning
when expiry is near.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from hub.as2.errors import CertificateError

__all__ = [
    "CertificateInfo",
    "KeyPair",
    "PrivateKey",
    "describe_certificate",
    "fingerprint",
    "list_certificates",
    "load_certificates",
    "load_key_pair",
    "read_reference",
    "resolve_password",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
Reference = str | os.PathLike[str] | bytes

_ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s.*?-----END \1-----", re.S)


@dataclass(frozen=True)
class KeyPair:
    """A private key with its certificate (and the CA chain to send along, if any)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        ours = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        theirs = self.cert.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
        if ours != theirs:
            subject = self.cert.subject.rfc4514_string()
            raise CertificateError(f"the private key does not belong to certificate {subject}")


# ------------------------------------------------------------------------------------------ references


def read_reference(ref: Reference, *, base_dir: str | os.PathLike[str] | None = None,
                   environ: Mapping[str, str] | None = None) -> bytes:
    """The bytes a key/certificate reference points to (see the module docstring for the forms)."""
    if isinstance(ref, bytes):
        return ref
    text = os.fspath(ref)
    match = _ENV_RE.match(text)
    if match:
        env = os.environ if environ is None else environ
        name = match.group(1)
        if name not in env:
            raise CertificateError(f"environment variable {name} is not set")
        value = env[name].strip()
        if value.startswith("-----BEGIN"):
            return value.encode("ascii") + b"\n"
        try:
            return base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise CertificateError(f"{name} holds neither PEM nor base64 data") from exc
    if text.startswith("file:"):
        text = text[5:]
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read {path}: {exc.strerror or exc}") from exc


def resolve_password(password: str | bytes | None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """A key password: ``None``, bytes (tests), or a ``${ENV}``/``file:`` reference -- never literal text."""
    if password is None or isinstance(password, bytes):
        return password
    from hub.partners.profile import is_secret_reference, resolve_secret

    if not is_secret_reference(password):
        raise CertificateError("a key password must be a ${ENV_NAME} or file: reference, not literal text")
    try:
        return resolve_secret(password, environ).encode("utf-8")
    except (KeyError, OSError, ValueError) as exc:
        raise CertificateError(f"cannot read the key password: {exc}") from exc


def _label(ref: Reference) -> str:
    return "<bytes>" if isinstance(ref, bytes) else os.fspath(ref)


# ------------------------------------------------------------------------------------------ loading


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode("ascii"), m.group(0)) for m in _PEM_RE.finditer(data)]


def _is_pkcs12(data: bytes) -> bool:
    """PKCS#12 is a DER SEQUENCE whose first element is INTEGER 3 (its version)."""
    if not data.startswith(b"\x30"):
        return False
    try:
        n = data[1]
        offset = 2 + (n & 0x7F if n & 0x80 else 0)
        return data[offset : offset + 3] == b"\x02\x01\x03"
    except IndexError:
        return False


def load_certificates(ref: Reference, *, password: str | bytes | None = None,
                      base_dir: str | os.PathLike[str] | None = None,
                      environ: Mapping[str, str] | None = None) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM file (one or more), a DER certificate, a PKCS#7 bundle or a PKCS#12 file."""
    data = read_reference(ref, base_dir=base_dir, environ=environ)
    label = _label(ref)
    certs: list[x509.Certificate] = []
    try:
        blocks = _pem_blocks(data)
        if blocks:
            for kind, block in blocks:
                if kind in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
                    certs.append(x509.load_pem_x509_certificate(block.replace(b"TRUSTED CERTIFICATE",
                                                                                b"CERTIFICATE")))
                elif kind == "PKCS7":
                    certs.extend(pkcs7.load_pem_pkcs7_certificates(block))
        elif _is_pkcs12(data):
            p12 = pkcs12.load_pkcs12(data, resolve_password(password, environ))
            if p12.cert is not None:
                certs.append(p12.cert.certificate)
            certs.extend(c.certificate for c in p12.additional_certs)
        else:
            try:
                certs.append(x509.load_der_x509_certificate(data))
            except ValueError:
                certs.extend(pkcs7.load_der_pkcs7_certificates(data))
    except CertificateError:
        raise
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{label}: not a readable certificate ({exc})") from exc
    if not certs:
        raise CertificateError(f"{label}: no certificate found")
    return tuple(certs)


def load_key_pair(ref: Reference, *, password: str | bytes | None = None, cert: Reference | None = None,
                  base_dir: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> KeyPair:
    """Our private key and certificate, from a PKCS#12 file or PEM (key and certificate in one file, or the
    certificate from ``cert``).  The chain is whatever other certificates came along."""
    data = read_reference(ref, base_dir=base_dir, environ=environ)
    label = _label(ref)
    secret = resolve_password(password, environ)
    key = None
    certs: list[x509.Certificate] = []
    try:
        if _is_pkcs12(data):
            p12 = pkcs12.load_pkcs12(data, secret)
            key = p12.key
            if p12.cert is not None:
                certs.append(p12.cert.certificate)
            certs.extend(c.certificate for c in p12.additional_certs)
        else:
            blocks = _pem_blocks(data)
            if blocks:
                for kind, block in blocks:
                    if kind.endswith("PRIVATE KEY") and key is None:
                        key = serialization.load_pem_private_key(block, secret)
                    elif kind == "CERTIFICATE":
                        certs.append(x509.load_pem_x509_certificate(block))
            else:
                key = serialization.load_der_private_key(data, secret)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"{label}: cannot read the private key (wrong password or format: {exc})") from exc
    if key is None:
        raise CertificateError(f"{label}: no private key found")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{label}: only RSA and EC keys are supported for AS2")
    if cert is not None:
        certs = list(load_certificates(cert, base_dir=base_dir, environ=environ)) + certs
    if not certs:
        raise CertificateError(f"{label}: no certificate for the private key (give cert=...)")
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    own = [c for c in certs if c.public_key().public_bytes(serialization.Encoding.DER,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo) == public]
    if not own:
        raise CertificateError(f"{label}: none of the certificates matches the private key")
    return KeyPair(key, own[0], tuple(c for c in certs if c is not own[0]))


# ------------------------------------------------------------------------------------------ listing


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated upper-case hex (the form ``openssl x509 -fingerprint`` prints)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


@dataclass(frozen=True)
class CertificateInfo:
    label: str
    subject: str
    issuer: str
    serial: str
    fingerprint_sha256: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    days_left: int
    status: str
    """``ok``, ``expiring`` (within the warning window), ``expired`` or ``not-yet-valid``."""
    warning: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label, "subject": self.subject, "issuer": self.issuer, "serial": self.serial,
            "fingerprint_sha256": self.fingerprint_sha256, "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(), "days_left": self.days_left, "status": self.status,
            "warning": self.warning,
        }


def describe_certificate(cert: x509.Certificate, *, label: str = "", now: _dt.datetime | None = None,
                         warn_days: int = 30) -> CertificateInfo:
    """Subject, fingerprint and validity of one certificate, with a warning inside ``warn_days`` of expiry."""
    now = now or _dt.datetime.now(_dt.UTC)
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    days_left = int((not_after - now).total_seconds() // 86400)
    subject = cert.subject.rfc4514_string()
    warning = None
    if now > not_after:
        status = "expired"
        warning = f"{label or subject}: expired on {not_after:%Y-%m-%d}"
    elif now < not_before:
        status = "not-yet-valid"
        warning = f"{label or subject}: not valid before {not_before:%Y-%m-%d}"
    elif not_after - now <= _dt.timedelta(days=warn_days):
        status = "expiring"
        warning = f"{label or subject}: expires on {not_after:%Y-%m-%d} (in {days_left} day(s))"
    else:
        status = "ok"
    return CertificateInfo(label, subject, cert.issuer.rfc4514_string(), format(cert.serial_number, "x"),
                           fingerprint(cert), not_before, not_after, days_left, status, warning)


def list_certificates(entries: Iterable[tuple[str, x509.Certificate]], *, now: _dt.datetime | None = None,
                      warn_days: int = 30) -> list[CertificateInfo]:
    """:func:`describe_certificate` for each ``(label, cert)``, soonest expiry first (what needs action first)."""
    now = now or _dt.datetime.now(_dt.UTC)
    infos = [describe_certificate(c, label=label, now=now, warn_days=warn_days) for label, c in entries]
    return sorted(infos, key=lambda i: (i.not_after, i.label))
