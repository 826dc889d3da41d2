"""CMS (RFC 5652) for AS2: detached signatures, EnvelopedData, CompressedData -- on cryptography + asn1crypto.

Library choice (issue 7, item 4): pyas2lib needs oscrypto 1.3.0, which cannot
even be imported against OpenSSL >= 3.0.10.  ``cryptography``'s own PKCS#7
module covers only part of AS2 (its builders cannot encrypt with 3DES, cannot
sign with SHA-1, it does not verify, and it works on whole byte strings), so
the structures are built and read here with asn1crypto, and every primitive
(RSA, ECDSA, AES, 3DES, hashes) comes from ``cryptography``.  Nothing in this
module patches or depends on oscrypto.

Streaming: the functions ending in ``_stream`` read and write binary file
objects so that a 50 MB payload never sits in memory; the small header parts
are parsed with asn1crypto, the large content is streamed (see
:mod:`hub.as2.der`).  The bytes-in/bytes-out functions are thin wrappers for
small data (MDNs, tests).

Failures raise the :mod:`hub.as2.errors` class that names their MDN
disposition: :class:`DecryptionFailed`, :class:`AuthenticationFailed` (no
trusted certificate made this signature), :class:`IntegrityCheckFailed` (the
partner's signature, but the content changed), :class:`DecompressionFailed`.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.as2.algorithms import CipherSpec, cipher_spec, digest_spec, normalize_digest
from hub.as2.certs import KeyPair
from hub.as2.der import CONTEXT, TAG_SEQUENCE, TAG_SET, UNIVERSAL, BerReader, encode_header
from hub.as2.errors import (
    As2Error,
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    IntegrityCheckFailed,
    MalformedMessage,
    UnsupportedAlgorithm,
)

__all__ = [
    "EnvelopeInfo",
    "SignatureInfo",
    "cms_content_type",
    "compress",
    "compress_stream",
    "decompress",
    "decompress_stream",
    "decrypt",
    "decrypt_stream",
    "encrypt",
    "encrypt_stream",
    "sign_detached",
    "sign_digest",
    "verify_detached",
]

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
OID_COMPRESSED_DATA = "1.2.840.113549.1.9.16.1.9"
OID_ZLIB = "1.2.840.113549.1.9.16.3.8"
_CONTENT_TYPES = {OID_DATA: "data", OID_SIGNED_DATA: "signed-data", OID_ENVELOPED_DATA: "enveloped-data",
                  OID_COMPRESSED_DATA: "compressed-data"}

KEY_ENCRYPTIONS = ("rsaes_pkcs1v15", "rsaes_oaep")
_CHUNK = 1 << 16
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _hash(name: str) -> hashes.HashAlgorithm:
    return _HASHES[normalize_digest(name)]()


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _oid(value: str) -> bytes:
    return core.ObjectIdentifier(value).dump()


# ============================================================================================ signing


@dataclass(frozen=True)
class SignatureInfo:
    """Who signed, with which digest, and when they say they did."""

    digest_alg: str
    signer: x509.Certificate
    signing_time: _dt.datetime | None


def _signed_attributes(digest: bytes, signing_time: _dt.datetime) -> cms.CMSAttributes:
    attrs = [
        cms.CMSAttribute({"type": "content_type", "values": [cms.ContentType("data")]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": core.UTCTime(signing_time)})]}),
        cms.CMSAttribute({"type": "message_digest", "values": [core.OctetString(digest)]}),
        cms.CMSAttribute({"type": "smime_capabilities", "values": [cms.SMIMECapabilites([
            cms.SMIMECapabilityIdentifier({"capability_id": oid})
            for oid in ("2.16.840.1.101.3.4.1.42", "2.16.840.1.101.3.4.1.22", "2.16.840.1.101.3.4.1.2",
                        "1.2.840.113549.3.7")
        ])]}),
    ]
    # DER wants a SET OF sorted by encoding; verifiers hash the bytes as sent, so sorting is for strict parsers.
    attrs.sort(key=lambda a: a.dump())
    return cms.CMSAttributes(attrs)


def sign_digest(digest: bytes, digest_alg: str, signer: KeyPair, *, signing_time: _dt.datetime | None = None,
                include_chain: bool = True) -> bytes:
    """A detached CMS SignedData (DER) over content whose ``digest_alg`` digest is ``digest``.

    Taking the digest rather than the content lets the caller hash a file of
    any size while writing it.  Signed attributes (content type, signing time,
    message digest, S/MIME capabilities) are always present, as RFC 5751 and
    every AS2 product expect; our certificate travels in the structure.
    """
    spec = digest_spec(digest_alg)
    signing_time = (signing_time or _dt.datetime.now(_dt.UTC)).replace(microsecond=0)
    attrs = _signed_attributes(digest, signing_time)
    to_sign = attrs.dump()
    key = signer.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(to_sign, asym_padding.PKCS1v15(), _hash(spec.name))
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"})
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(to_sign, ec.ECDSA(_hash(spec.name)))
        sig_alg = algos.SignedDigestAlgorithm({"algorithm": f"{spec.name}_ecdsa"})
    else:  # pragma: no cover - KeyPair only admits RSA and EC
        raise UnsupportedAlgorithm(f"cannot sign with a {type(key).__name__}")
    cert = _asn1_cert(signer.cert)
    certificates = [cms.CertificateChoices({"certificate": cert})]
    if include_chain:
        certificates += [cms.CertificateChoices({"certificate": _asn1_cert(c)}) for c in signer.chain]
    signer_info = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": cert.issuer, "serial_number": cert.serial_number})}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": spec.name}),
        "signed_attrs": attrs,
        "signature_algorithm": sig_alg,
        "signature": signature,
    })
    signed = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": spec.name})],
        "encap_content_info": {"content_type": "data"},
        "certificates": certificates,
        "signer_infos": [signer_info],
    })
    return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()


def sign_detached(data: bytes, digest_alg: str, signer: KeyPair, **kw: object) -> bytes:
    """:func:`sign_digest` over ``data`` held in memory."""
    h = digest_spec(digest_alg).new()
    h.update(data)
    return sign_digest(h.digest(), digest_alg, signer, **kw)  # type: ignore[arg-type]


def _sid_matches(sid: cms.SignerIdentifier, cert: asn1_x509.Certificate) -> bool:
    if sid.name == "issuer_and_serial_number":
        return sid.chosen["issuer"] == cert.issuer and sid.chosen["serial_number"].native == cert.serial_number
    return sid.chosen.native == cert.key_identifier


def _verify_raw(public_key: object, signer: cms.SignerInfo, data: bytes, digest_name: str,
                prehashed: bool) -> None:
    """Check one signature value; raises InvalidSignature (or TypeError for a key/algorithm mismatch)."""
    sig = signer["signature"].native
    sig_alg = signer["signature_algorithm"]
    algo = sig_alg.signature_algo
    h = _hash(digest_name)
    chosen: hashes.HashAlgorithm | utils.Prehashed = utils.Prehashed(h) if prehashed else h
    if algo == "rsassa_pkcs1v15" and isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(sig, data, asym_padding.PKCS1v15(), chosen)
    elif algo == "rsassa_pss" and isinstance(public_key, rsa.RSAPublicKey):
        params = sig_alg["parameters"]
        pss_hash = _hash(params["hash_algorithm"]["algorithm"].native)
        mgf_hash = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
        pad = asym_padding.PSS(asym_padding.MGF1(mgf_hash), params["salt_length"].native)
        public_key.verify(sig, data, pad, utils.Prehashed(pss_hash) if prehashed else pss_hash)
    elif algo == "ecdsa" and isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(sig, data, ec.ECDSA(chosen))
    else:
        raise TypeError(f"signature algorithm {algo} does not fit a {type(public_key).__name__}")


def verify_detached(signature: bytes, content_digest: Callable[[str], bytes],
                    trusted: Sequence[x509.Certificate]) -> SignatureInfo:
    """Check a detached SignedData against the content and the partner's certificates.

    ``content_digest(name)`` returns the digest of the signed content for a
    digest name (``sha256``...), so the caller can hash a file only for the
    algorithm the signer actually used.  Only ``trusted`` certificates count:
    certificates embedded in the signature are ignored, otherwise anyone could
    sign with a certificate of their own.  Any of several trusted certificates
    may match (rollover).

    Raises :class:`AuthenticationFailed` when no trusted certificate made the
    signature, :class:`IntegrityCheckFailed` when one did but the content's
    digest differs from the signed one.
    """
    try:
        info = cms.ContentInfo.load(signature)
        if info["content_type"].dotted != OID_SIGNED_DATA:
            raise AuthenticationFailed(f"signature part is {info['content_type'].native}, not signed-data")
        signer_infos = info["content"]["signer_infos"]
        _ = len(signer_infos)
    except As2Error:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise AuthenticationFailed(f"signature is not a readable CMS structure: {exc}") from exc
    if not trusted:
        raise AuthenticationFailed("no certificate is configured for the partner")
    candidates = [(c, _asn1_cert(c)) for c in trusted]
    problems: list[str] = []
    integrity_problem: str | None = None
    for signer in signer_infos:
        try:
            digest_name = normalize_digest(signer["digest_algorithm"]["algorithm"].dotted)
        except UnsupportedAlgorithm as exc:
            problems.append(str(exc))
            continue
        sid = signer["sid"]
        ordered = sorted(candidates, key=lambda pair: not _sid_matches(sid, pair[1]))
        signed_attrs = signer["signed_attrs"]
        if signed_attrs.native is not None and len(signed_attrs):
            raw = signed_attrs.dump()
            to_verify = b"\x31" + raw[1:]  # the signature covers the attributes as a SET, not as [0] IMPLICIT
            for cert, _asn1 in ordered:
                try:
                    _verify_raw(cert.public_key(), signer, to_verify, digest_name, prehashed=False)
                except (InvalidSignature, TypeError, ValueError):
                    continue
                # Authenticated: the partner made these attributes.  Now: do they describe this content?
                expected = None
                signing_time = None
                for attr in signed_attrs:
                    kind = attr["type"].native
                    if kind == "message_digest":
                        expected = attr["values"][0].native
                    elif kind == "signing_time":
                        signing_time = attr["values"][0].native
                if expected is None:
                    raise AuthenticationFailed("signed attributes carry no message digest")
                if expected != content_digest(digest_name):
                    integrity_problem = (f"content {digest_name} digest differs from the signed one "
                                         f"(signed by {cert.subject.rfc4514_string()})")
                    break
                return SignatureInfo(digest_name, cert, signing_time)
            else:
                problems.append("no configured certificate of the partner verifies the signature"
                                if not any(_sid_matches(sid, a) for _c, a in candidates) else
                                "the signature does not verify with the partner's certificate")
        else:
            digest = content_digest(digest_name)
            matched = False
            for cert, asn1 in ordered:
                matched = matched or _sid_matches(sid, asn1)
                try:
                    _verify_raw(cert.public_key(), signer, digest, digest_name, prehashed=True)
                except (InvalidSignature, TypeError, ValueError):
                    continue
                return SignatureInfo(digest_name, cert, None)
            if matched:
                integrity_problem = "signature (without signed attributes) does not match the content"
            else:
                problems.append("no configured certificate of the partner verifies the signature")
    if integrity_problem:
        raise IntegrityCheckFailed(integrity_problem)
    raise AuthenticationFailed("; ".join(problems) or "no signer in the signature")


# ============================================================================================ envelopes


@dataclass(frozen=True)
class EnvelopeInfo:
    """How an envelope was made: content cipher, key transport, and which of our certificates opened it."""

    cipher: str
    key_encryption: str
    recipient: x509.Certificate


def _cipher(spec: CipherSpec, key: bytes, iv: bytes) -> Cipher:
    algorithm = algorithms.AES(key) if spec.family == "aes" else TripleDES(key)
    return Cipher(algorithm, modes.CBC(iv))


def _recipient_info(cert: x509.Certificate, cek: bytes, key_encryption: str) -> cms.RecipientInfo:
    public = cert.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise UnsupportedAlgorithm("only RSA certificates can receive encrypted AS2 messages (key transport)")
    if key_encryption == "rsaes_pkcs1v15":
        encrypted_key = public.encrypt(cek, asym_padding.PKCS1v15())
        alg = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"})
    elif key_encryption == "rsaes_oaep":
        encrypted_key = public.encrypt(cek, asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(),
                                                              None))
        alg = cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_oaep", "parameters": algos.RSAESOAEPParams({
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        })})
    else:
        raise UnsupportedAlgorithm(f"unsupported key encryption {key_encryption!r} (use one of {KEY_ENCRYPTIONS})")
    asn1 = _asn1_cert(cert)
    return cms.RecipientInfo(name="ktri", value=cms.KeyTransRecipientInfo({
        "version": "v0",
        "rid": cms.RecipientIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber({
            "issuer": asn1.issuer, "serial_number": asn1.serial_number})}),
        "key_encryption_algorithm": alg,
        "encrypted_key": encrypted_key,
    }))


def encrypt_stream(src: BinaryIO, size: int, dst: BinaryIO, recipients: Sequence[x509.Certificate],
                   cipher: str = "aes_256_cbc", key_encryption: str = "rsaes_pkcs1v15") -> int:
    """Write a DER EnvelopedData of the ``size`` bytes read from ``src`` to ``dst``; returns bytes written.

    CBC with PKCS#7 padding makes the ciphertext length known up front
    (``size`` rounded up to the next whole block), so definite-length DER can
    be written before the content is streamed through the cipher.
    """
    spec = cipher_spec(cipher)
    if not recipients:
        raise UnsupportedAlgorithm("no certificate to encrypt to")
    cek, iv = os.urandom(spec.key_size), os.urandom(spec.block_size)
    recipient_infos = cms.RecipientInfos([_recipient_info(c, cek, key_encryption) for c in recipients]).dump()
    alg = algos.EncryptionAlgorithm({"algorithm": spec.oid, "parameters": core.OctetString(iv)}).dump()
    ct_len = (size // spec.block_size + 1) * spec.block_size
    content_hdr = encode_header(0x80, ct_len)  # [0] IMPLICIT OCTET STRING, primitive
    oid_data = _oid(OID_DATA)
    eci_len = len(oid_data) + len(alg) + len(content_hdr) + ct_len
    eci_hdr = encode_header(0x30, eci_len)
    version = core.Integer(0).dump()
    env_len = len(version) + len(recipient_infos) + len(eci_hdr) + eci_len
    env_hdr = encode_header(0x30, env_len)
    explicit = encode_header(0xA0, len(env_hdr) + env_len)
    oid_env = _oid(OID_ENVELOPED_DATA)
    head = (encode_header(0x30, len(oid_env) + len(explicit) + len(env_hdr) + env_len) + oid_env + explicit
            + env_hdr + version + recipient_infos + eci_hdr + oid_data + alg + content_hdr)
    dst.write(head)
    encryptor = _cipher(spec, cek, iv).encryptor()
    padder = sym_padding.PKCS7(spec.block_size * 8).padder()
    written, read = 0, 0
    while block := src.read(_CHUNK):
        read += len(block)
        out = encryptor.update(padder.update(block))
        written += len(out)
        dst.write(out)
    if read != size:
        raise ValueError(f"encrypt_stream: expected {size} bytes, read {read}")
    out = encryptor.update(padder.finalize()) + encryptor.finalize()
    written += len(out)
    dst.write(out)
    assert written == ct_len, (written, ct_len)
    return len(head) + written


def encrypt(data: bytes, recipients: Sequence[x509.Certificate], cipher: str = "aes_256_cbc",
            key_encryption: str = "rsaes_pkcs1v15") -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), len(data), out, recipients, cipher, key_encryption)
    return out.getvalue()


def _rid_matches(rid: cms.RecipientIdentifier, cert: asn1_x509.Certificate) -> bool:
    if rid.name == "issuer_and_serial_number":
        return rid.chosen["issuer"] == cert.issuer and rid.chosen["serial_number"].native == cert.serial_number
    return rid.chosen.native == cert.key_identifier


def _unwrap_key(recipient_infos: cms.RecipientInfos, keys: Sequence[KeyPair],
                spec: CipherSpec) -> tuple[bytes, str, KeyPair]:
    pairs = [(kp, _asn1_cert(kp.cert)) for kp in keys]
    attempts: list[tuple[cms.KeyTransRecipientInfo, KeyPair]] = []
    fallback: list[tuple[cms.KeyTransRecipientInfo, KeyPair]] = []
    kinds = []
    for ri in recipient_infos:
        kinds.append(ri.name)
        if ri.name != "ktri":
            continue
        ktri = ri.chosen
        for kp, asn1 in pairs:
            (attempts if _rid_matches(ktri["rid"], asn1) else fallback).append((ktri, kp))
    if not attempts and not fallback:
        raise DecryptionFailed(f"no key-transport recipient in the envelope (found: {', '.join(kinds) or 'none'})")
    # The recipient identifiers name our certificate; some senders get them wrong, so every key is tried last.
    for ktri, kp in attempts + fallback:
        if not isinstance(kp.key, rsa.RSAPrivateKey):
            continue
        alg = ktri["key_encryption_algorithm"]
        name = alg["algorithm"].native
        try:
            if name == "rsaes_pkcs1v15":
                cek = kp.key.decrypt(ktri["encrypted_key"].native, asym_padding.PKCS1v15())
            elif name == "rsaes_oaep":
                params = alg["parameters"]
                h = _hash(params["hash_algorithm"]["algorithm"].native)
                mgf = _hash(params["mask_gen_algorithm"]["parameters"]["algorithm"].native)
                cek = kp.key.decrypt(ktri["encrypted_key"].native,
                                     asym_padding.OAEP(asym_padding.MGF1(mgf), h, None))
            else:
                continue
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if len(cek) == spec.key_size:
            return cek, name, kp
    matched = "one names our certificate" if attempts else "none names our certificate(s)"
    raise DecryptionFailed(f"cannot recover the content key with our key(s) ({len(kinds)} recipient(s), {matched})")


def decrypt_stream(src: BinaryIO, dst: BinaryIO, keys: Sequence[KeyPair]) -> EnvelopeInfo:
    """Open an EnvelopedData (DER or BER) read from ``src``, writing the plaintext to ``dst``, in bounded memory.

    ``keys`` are all our current key pairs (two during our own certificate
    rollover); the recipient info naming one of their certificates is used.
    """
    r = BerReader(src)
    try:
        r.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo")
        oid = core.ObjectIdentifier.load(r.read_element()).dotted
        if oid != OID_ENVELOPED_DATA:
            raise DecryptionFailed(f"expected enveloped-data, found {_CONTENT_TYPES.get(oid, oid)}")
        r.expect(CONTEXT, 0, "[0] content", constructed=True)
        r.expect(UNIVERSAL, TAG_SEQUENCE, "EnvelopedData")
        r.read_element()  # version
        head = r.read_header()
        if head.is_(CONTEXT, 0):  # originatorInfo
            r.skip(head)
            head = r.read_header()
        if not head.is_(UNIVERSAL, TAG_SET):
            raise MalformedMessage("EnvelopedData without recipientInfos")
        recipient_infos = cms.RecipientInfos.load(r.read_element(head))
        r.expect(UNIVERSAL, TAG_SEQUENCE, "EncryptedContentInfo")
        r.read_element()  # content type
        alg = algos.EncryptionAlgorithm.load(r.read_element())
        content = r.read_header()
        if not content.is_(CONTEXT, 0):
            raise DecryptionFailed("the envelope carries no encrypted content")
        try:
            spec = cipher_spec(alg["algorithm"].dotted)
        except UnsupportedAlgorithm as exc:
            raise DecryptionFailed(f"content encrypted with {alg['algorithm'].native}: {exc}") from exc
        iv = alg["parameters"].native
        if not isinstance(iv, bytes) or len(iv) != spec.block_size:
            raise DecryptionFailed(f"bad IV for {spec.name}")
        cek, key_encryption, kp = _unwrap_key(recipient_infos, keys, spec)
        decryptor = _cipher(spec, cek, iv).decryptor()
        unpadder = sym_padding.PKCS7(spec.block_size * 8).unpadder()
        for block in r.iter_octets(content):
            dst.write(unpadder.update(decryptor.update(block)))
        try:
            dst.write(unpadder.update(decryptor.finalize()) + unpadder.finalize())
        except ValueError as exc:
            raise DecryptionFailed("content does not decrypt (wrong key or corrupted data)") from exc
    except As2Error as exc:
        if isinstance(exc, DecryptionFailed):
            raise
        raise DecryptionFailed(str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise DecryptionFailed(f"unreadable envelope: {exc}") from exc
    return EnvelopeInfo(spec.name, key_encryption, kp.cert)


def decrypt(data: bytes, keys: Sequence[KeyPair]) -> tuple[bytes, EnvelopeInfo]:
    out = io.BytesIO()
    info = decrypt_stream(io.BytesIO(data), out, keys)
    return out.getvalue(), info


# ============================================================================================ compression


def compress_stream(src: BinaryIO, dst: BinaryIO, *, level: int = 6, spool_dir: str | os.PathLike[str] | None = None
                    ) -> int:
    """Write a DER CompressedData (zlib, RFC 3274) of everything in ``src``; returns bytes written.

    The compressed size must be known before the DER headers can be written,
    so the zlib stream is spooled to a temporary file first.
    """
    with tempfile.TemporaryFile(dir=spool_dir) as spool:
        z = zlib.compressobj(level)
        size = 0
        while block := src.read(_CHUNK):
            out = z.compress(block)
            size += len(out)
            spool.write(out)
        out = z.flush()
        size += len(out)
        spool.write(out)
        spool.seek(0)
        octets = encode_header(0x04, size)
        explicit = encode_header(0xA0, len(octets) + size)
        oid_data = _oid(OID_DATA)
        eci_len = len(oid_data) + len(explicit) + len(octets) + size
        eci_hdr = encode_header(0x30, eci_len)
        version = core.Integer(0).dump()
        alg = encode_header(0x30, len(_oid(OID_ZLIB))) + _oid(OID_ZLIB)
        cd_len = len(version) + len(alg) + len(eci_hdr) + eci_len
        cd_hdr = encode_header(0x30, cd_len)
        outer = encode_header(0xA0, len(cd_hdr) + cd_len)
        oid_cd = _oid(OID_COMPRESSED_DATA)
        head = (encode_header(0x30, len(oid_cd) + len(outer) + len(cd_hdr) + cd_len) + oid_cd + outer + cd_hdr
                + version + alg + eci_hdr + oid_data + explicit + octets)
        dst.write(head)
        while block := spool.read(_CHUNK):
            dst.write(block)
    return len(head) + size


def compress(data: bytes, *, level: int = 6) -> bytes:
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, level=level)
    return out.getvalue()


def decompress_stream(src: BinaryIO, dst: BinaryIO, *, max_size: int) -> int:
    """Expand a CompressedData from ``src`` into ``dst``; returns the size.  Refuses to write more than
    ``max_size`` bytes (a few kilobytes of zlib can claim gigabytes: the decompression-bomb guard)."""
    r = BerReader(src)
    try:
        r.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo")
        oid = core.ObjectIdentifier.load(r.read_element()).dotted
        if oid != OID_COMPRESSED_DATA:
            raise DecompressionFailed(f"expected compressed-data, found {_CONTENT_TYPES.get(oid, oid)}")
        r.expect(CONTEXT, 0, "[0] content", constructed=True)
        r.expect(UNIVERSAL, TAG_SEQUENCE, "CompressedData")
        r.read_element()  # version
        alg = r.read_element()
        alg_oid = core.ObjectIdentifier.load(_first_element(alg)).dotted
        if alg_oid != OID_ZLIB:
            raise DecompressionFailed(f"unsupported compression algorithm {alg_oid}")
        r.expect(UNIVERSAL, TAG_SEQUENCE, "EncapsulatedContentInfo")
        r.read_element()  # eContentType
        r.expect(CONTEXT, 0, "[0] eContent", constructed=True)
        octets = r.read_header()
        if octets.tag != 4:
            raise DecompressionFailed("eContent is not an OCTET STRING")
        z = zlib.decompressobj()
        total = 0
        for block in r.iter_octets(octets):
            data = block
            while True:
                out = z.decompress(data, _CHUNK)
                total += len(out)
                if total > max_size:
                    raise DecompressionFailed(f"compressed content expands beyond the limit of {max_size} bytes")
                dst.write(out)
                data = z.unconsumed_tail
                if not data and len(out) < _CHUNK:
                    break
            if z.eof:
                break
        if not z.eof:
            raise DecompressionFailed("compressed content is truncated")
    except DecompressionFailed:
        raise
    except As2Error as exc:
        raise DecompressionFailed(str(exc)) from exc
    except (zlib.error, ValueError, TypeError) as exc:
        raise DecompressionFailed(f"corrupt compressed data: {exc}") from exc
    return total


def _first_element(sequence_der: bytes) -> bytes:
    """The first element inside a SEQUENCE (the OID of an AlgorithmIdentifier)."""
    r = BerReader(io.BytesIO(sequence_der))
    r.expect(UNIVERSAL, TAG_SEQUENCE, "AlgorithmIdentifier")
    return r.read_element()


def decompress(data: bytes, *, max_size: int = 1 << 30) -> bytes:
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, max_size=max_size)
    return out.getvalue()


# ============================================================================================ sniffing


def cms_content_type(head: bytes) -> str | None:
    """``enveloped-data``, ``compressed-data``, ``signed-data`` or ``data`` from the first bytes of a
    ContentInfo; ``None`` when it is not one (used when a sender leaves out the smime-type parameter)."""
    try:
        r = BerReader(io.BytesIO(head))
        r.expect(UNIVERSAL, TAG_SEQUENCE, "ContentInfo")
        oid = core.ObjectIdentifier.load(r.read_element(limit=64)).dotted
    except (As2Error, ValueError, TypeError):
        return None
    return _CONTENT_TYPES.get(oid)

