"""Algorithm names: one canonical spelling per digest and cipher, and every spelling AS2 products use.

Why a table: the same algorithm arrives as ``sha256``, ``sha-256``, ``SHA256``
(micalg parameters, Disposition-Notification-Options, MIC lines, profile
YAML) and as OIDs inside CMS.  Normalising at the edge means the rest of the
code compares plain strings.  The canonical names are the ones django-pyas2
and pyas2lib use (``sha256``, ``aes_256_cbc``, ``tripledes_192_cbc``), so a
profile written for either reads the same here.

MD5, RC2, RC4 and single DES are refused on purpose: AS2 partners still offer
them, but RFC 4130 era security is not a reason to accept broken primitives.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hub.as2.errors import UnsupportedAlgorithm

__all__ = [
    "CIPHERS",
    "DIGESTS",
    "CipherSpec",
    "DigestSpec",
    "cipher_spec",
    "digest_spec",
    "normalize_cipher",
    "normalize_digest",
]


@dataclass(frozen=True)
class DigestSpec:
    name: str
    """Canonical name, also the :mod:`hashlib` name."""
    micalg: str
    """The RFC 5751 ``micalg`` spelling (``sha1``, ``sha-256``)."""
    oid: str

    def new(self) -> hashlib._Hash:
        return hashlib.new(self.name)


@dataclass(frozen=True)
class CipherSpec:
    name: str
    oid: str
    family: str
    """``aes`` or ``tripledes``."""
    key_size: int
    """Key length in bytes."""
    block_size: int
    """Block (and IV) length in bytes."""


DIGESTS: dict[str, DigestSpec] = {
    d.name: d
    for d in (
        DigestSpec("sha1", "sha1", "1.3.14.3.2.26"),
        DigestSpec("sha224", "sha-224", "2.16.840.1.101.3.4.2.4"),
        DigestSpec("sha256", "sha-256", "2.16.840.1.101.3.4.2.1"),
        DigestSpec("sha384", "sha-384", "2.16.840.1.101.3.4.2.2"),
        DigestSpec("sha512", "sha-512", "2.16.840.1.101.3.4.2.3"),
    )
}

CIPHERS: dict[str, CipherSpec] = {
    c.name: c
    for c in (
        CipherSpec("tripledes_192_cbc", "1.2.840.113549.3.7", "tripledes", 24, 8),
        CipherSpec("aes_128_cbc", "2.16.840.1.101.3.4.1.2", "aes", 16, 16),
        CipherSpec("aes_192_cbc", "2.16.840.1.101.3.4.1.22", "aes", 24, 16),
        CipherSpec("aes_256_cbc", "2.16.840.1.101.3.4.1.42", "aes", 32, 16),
    )
}

_DIGEST_BY_OID = {d.oid: d for d in DIGESTS.values()}
_CIPHER_BY_OID = {c.oid: c for c in CIPHERS.values()}

_CIPHER_ALIASES = {
    "3des": "tripledes_192_cbc",
    "des3": "tripledes_192_cbc",
    "tripledes": "tripledes_192_cbc",
    "tripledes_3key": "tripledes_192_cbc",  # asn1crypto's name for the OID
    "des_ede3_cbc": "tripledes_192_cbc",
    "aes128": "aes_128_cbc",
    "aes192": "aes_192_cbc",
    "aes256": "aes_256_cbc",
    "aes128_cbc": "aes_128_cbc",
    "aes192_cbc": "aes_192_cbc",
    "aes256_cbc": "aes_256_cbc",
}


def normalize_digest(value: str) -> str:
    """``SHA-256``, ``sha_256``, ``rsa-sha256``... -> ``sha256``; an OID works too.  Raises for MD5 and unknowns."""
    text = value.strip().lower()
    if text in _DIGEST_BY_OID:
        return _DIGEST_BY_OID[text].name
    for prefix in ("rsa-", "rsa_"):
        text = text.removeprefix(prefix)
    text = text.replace("-", "").replace("_", "")
    if text in DIGESTS:
        return text
    raise UnsupportedAlgorithm(f"unsupported digest algorithm {value!r} (use one of {', '.join(DIGESTS)})")


def digest_spec(value: str) -> DigestSpec:
    return DIGESTS[normalize_digest(value)]


def normalize_cipher(value: str) -> str:
    """``aes256``, ``AES-256-CBC``, ``3des``, an OID... -> the canonical name.  Raises for RC2/RC4/DES/unknowns."""
    text = value.strip().lower()
    if text in _CIPHER_BY_OID:
        return _CIPHER_BY_OID[text].name
    text = text.replace("-", "_")
    if text in CIPHERS:
        return text
    if text in _CIPHER_ALIASES:
        return _CIPHER_ALIASES[text]
    raise UnsupportedAlgorithm(f"unsupported content encryption {value!r} (use one of {', '.join(CIPHERS)})")


def cipher_spec(value: str) -> CipherSpec:
    return CIPHERS[normalize_cipher(value)]
