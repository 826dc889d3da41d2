"""Building an outbound AS2 message and unwrapping an inbound one, layer by layer, on files.

Outbound (:func:`build_message`), innermost first::

    payload part     Content-Type: application/edi-x12, Content-Transfer-Encoding: binary, filename
    [compressed]     application/pkcs7-mime; smime-type=compressed-data   (before signing, RFC 5402 default)
    [signed]         multipart/signed: the part above + application/pkcs7-signature
    [compressed]     ... or after signing when ``compress_before_sign`` is false
    [encrypted]      application/pkcs7-mime; smime-type=enveloped-data
    HTTP             the outermost layer's headers become HTTP headers, its body the request body

Every layer is written to a file in a work folder and streamed into the
next, so memory stays flat whatever the payload size.  The signed part is
hashed while it is written; that digest is both the signature's and the MIC.

The MIC (RFC 4130 7.3.1) -- the same rule on both sides, so that the
sender's and the receiver's agree:

* signed: over the signed part exactly as sent, its MIME headers included;
* encrypted, unsigned: over the decrypted MIME entity, headers included;
* neither: over the message body without headers (the payload as sent).

Inbound (:func:`unwrap`) peels the layers in whatever order they come,
checks each (decrypt, verify, decompress with the size guard) and returns the
payload as a span of a file, with the MIC computed the same way.
"""

from __future__ import annotations

import base64
import email.utils
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from hub.as2 import cms
from hub.as2.algorithms import digest_spec, normalize_digest
from hub.as2.certs import KeyPair
from hub.as2.errors import (
    AuthenticationFailed,
    InsufficientSecurity,
    MalformedMessage,
)
from hub.as2.mdn import AS2_VERSION, EDIINT_FEATURES, Mic, as2_quote, disposition_notification_options
from hub.as2.mime import (
    Entity,
    Span,
    content_disposition,
    decode_body,
    hash_span,
    header_block,
    make_boundary,
    make_message_id,
    parse_entity,
    split_multipart,
    verify_signed_part,
)
from hub.as2.partnership import Identity, Partnership

__all__ = ["BuiltMessage", "Unwrapped", "build_message", "unwrap"]

_CHUNK = 1 << 20
PKCS7_MIME = ("application/pkcs7-mime", "application/x-pkcs7-mime")
PKCS7_SIGNATURE = ("application/pkcs7-signature", "application/x-pkcs7-signature")


# ============================================================================================ building


@dataclass(frozen=True)
class BuiltMessage:
    """A message ready to POST: HTTP headers, body file, and what we must find again in the MDN."""

    message_id: str
    headers: tuple[tuple[str, str], ...]
    body: Path
    size: int
    mic: Mic | None
    """The MIC we ask the partner to return (in the requested algorithm)."""
    accepted_mics: tuple[Mic, ...]
    """Every MIC we accept back: the requested one, and the signing digest's (some receivers use that)."""
    signed: bool
    encrypted: bool
    compressed: bool
    filename: str | None

    def chunks(self, size: int = _CHUNK) -> Iterable[bytes]:
        with open(self.body, "rb") as fh:
            while block := fh.read(size):
                yield block


@dataclass
class _Layer:
    headers: list[tuple[str, str]]
    body: Path

    def head(self) -> bytes:
        return header_block(self.headers)

    def entity_size(self) -> int:
        return len(self.head()) + self.body.stat().st_size

    def entity_reader(self) -> BinaryIO:
        return _Chain([io.BytesIO(self.head()), open(self.body, "rb")])  # noqa: SIM115 - closed by _Chain


class _Chain(io.RawIOBase):
    """Several binary streams read one after another (headers, then a body file)."""

    def __init__(self, streams: Sequence[BinaryIO]) -> None:
        self._streams = list(streams)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while self._streams:
            data = self._streams[0].read(n)
            if data:
                return data
            self._streams.pop(0).close()
        return b""

    def close(self) -> None:
        for s in self._streams:
            s.close()
        self._streams = []
        super().close()


class _Hashing(io.RawIOBase):
    """A reader that hashes what passes through it (the MIC of an unsigned, encrypted message)."""

    def __init__(self, inner: BinaryIO, algorithms: Iterable[str]) -> None:
        self._inner = inner
        self.hashers = {a: digest_spec(a).new() for a in set(algorithms)}

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        for h in self.hashers.values():
            h.update(data)
        return data


def _copy(src: BinaryIO, dst: BinaryIO, hashers: Iterable[object] = ()) -> int:
    total = 0
    hs = list(hashers)
    while block := src.read(_CHUNK):
        for h in hs:
            h.update(block)  # type: ignore[attr-defined]
        dst.write(block)
        total += len(block)
    return total


def _compress_layer(layer: _Layer, workdir: Path, name: str) -> _Layer:
    out = workdir / name
    with layer.entity_reader() as src, open(out, "wb") as dst:
        cms.compress_stream(src, dst, spool_dir=workdir)
    return _Layer([("Content-Type", 'application/pkcs7-mime; smime-type=compressed-data; name="smime.p7z"'),
                   ("Content-Transfer-Encoding", "binary"),
                   ("Content-Disposition", 'attachment; filename="smime.p7z"')], out)


def build_message(payload: Path | bytes | BinaryIO, *, partnership: Partnership, identity: Identity,
                  workdir: Path, filename: str | None, content_type: str | None = None,
                  message_id: str | None = None, subject: str | None = None) -> BuiltMessage:
    """Write the message for ``payload`` into ``workdir`` as ``partnership`` says (see the module docstring)."""
    p = partnership
    message_id = message_id or make_message_id(p.our_as2_id)
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    micalg = p.micalg
    # 1. the payload part
    body_path = workdir / "payload"
    with open(body_path, "wb") as dst:
        if isinstance(payload, bytes | bytearray | memoryview):
            dst.write(payload)
        elif isinstance(payload, Path):
            with open(payload, "rb") as src:
                _copy(src, dst)
        else:
            _copy(payload, dst)
    layer = _Layer([("Content-Type", content_type or p.content_type), ("Content-Transfer-Encoding", "binary"),
                    ("Content-Disposition", content_disposition(filename))], body_path)
    compressed = signed = encrypted = False
    mics: dict[str, Mic] = {}
    if p.compress and (p.compress_before_sign or not p.sign):
        layer = _compress_layer(layer, workdir, "compressed")
        compressed = True
    # 2. signature: hash the part while writing it into the multipart body
    if p.sign:
        signer = identity.signer
        boundary = make_boundary()
        algs = {p.sign, micalg}
        hashers = {a: digest_spec(a).new() for a in algs}
        signed_path = workdir / "signed"
        with open(signed_path, "wb") as dst:
            dst.write(f"--{boundary}\r\n".encode())
            head = layer.head()
            for h in hashers.values():
                h.update(head)
            dst.write(head)
            with open(layer.body, "rb") as src:
                _copy(src, dst, hashers.values())
            digests = {a: h.digest() for a, h in hashers.items()}
            signature = cms.sign_digest(digests[p.sign], p.sign, signer)
            dst.write(f"\r\n--{boundary}\r\n".encode())
            dst.write(header_block([
                ("Content-Type", 'application/pkcs7-signature; name="smime.p7s"; smime-type=signed-data'),
                ("Content-Transfer-Encoding", "base64"),
                ("Content-Disposition", 'attachment; filename="smime.p7s"'),
            ]))
            dst.write(base64.encodebytes(signature).replace(b"\n", b"\r\n"))
            dst.write(f"\r\n--{boundary}--\r\n".encode())
        mics = {a: Mic.of_digest(d, a) for a, d in digests.items()}
        layer = _Layer([("Content-Type", f'multipart/signed; protocol="application/pkcs7-signature"; '
                                         f'micalg={digest_spec(p.sign).micalg}; boundary="{boundary}"')],
                       signed_path)
        signed = True
    if p.compress and not compressed:
        layer = _compress_layer(layer, workdir, "compressed-outer")
        compressed = True
    # 3. envelope
    if p.encrypt:
        out = workdir / "enveloped"
        with layer.entity_reader() as raw, open(out, "wb") as dst:
            src = _Hashing(raw, [] if signed else [micalg])
            cms.encrypt_stream(src, layer.entity_size(), dst, [p.encryption_certificate], p.encrypt,
                               p.key_encryption)
        if not signed:
            mics = {a: Mic.of_digest(h.digest(), a) for a, h in src.hashers.items()}
        layer = _Layer([("Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'),
                        ("Content-Transfer-Encoding", "binary"),
                        ("Content-Disposition", 'attachment; filename="smime.p7m"')], out)
        encrypted = True
    if not mics:
        mics = {micalg: Mic.of_digest(hash_span(Span.of(layer.body), [micalg])[micalg], micalg)}
    # 4. HTTP headers
    headers = [
        ("AS2-Version", AS2_VERSION),
        ("EDIINT-Features", EDIINT_FEATURES),
        ("Message-ID", message_id),
        ("AS2-From", as2_quote(p.our_as2_id)),
        ("AS2-To", as2_quote(p.as2_id)),
        ("Subject", subject or p.subject),
        ("Date", email.utils.formatdate(usegmt=True)),
        ("MIME-Version", "1.0"),
    ]
    if p.mdn != "none":
        headers.append(("Disposition-Notification-To", p.async_mdn_url or f"as2@{p.our_as2_id}"))
        if p.mdn_signed:
            headers.append(("Disposition-Notification-Options", disposition_notification_options(micalg)))
        if p.mdn == "async":
            headers.append(("Receipt-Delivery-Option", str(p.async_mdn_url)))
    headers += layer.headers
    headers += list(p.http_headers)
    primary = mics.get(micalg) or next(iter(mics.values()))
    return BuiltMessage(message_id, tuple(headers), layer.body, layer.body.stat().st_size, primary,
                        tuple(mics.values()), signed, encrypted, compressed, filename)


# ============================================================================================ unwrapping


@dataclass(frozen=True)
class Unwrapped:
    """What an inbound message turned out to be, once every layer was opened and checked."""

    payload: Span
    filename: str | None
    content_type: str
    signed: bool = False
    signer: x509.Certificate | None = field(default=None, repr=False)
    digest_alg: str | None = None
    encrypted: bool = False
    cipher: str | None = None
    compressed: bool = False
    mic: Mic | None = None


def unwrap(top: Entity, *, keys: Sequence[KeyPair], partner_certs: Sequence[x509.Certificate], workdir: Path,
           micalg: str | None, require_signed: bool, require_encrypted: bool,
           max_decompressed: int) -> Unwrapped:
    """Decrypt, verify and decompress ``top`` (the HTTP entity) down to the payload; compute the MIC.

    Raises the :mod:`hub.as2.errors` class of the matching disposition.
    ``micalg`` is the MIC algorithm the sender asked for (``None``: the
    signature's digest, or SHA-256 for unsigned messages).
    """
    if require_encrypted and not (top.content_type in PKCS7_MIME
                                  and (top.smime_type in (None, "enveloped-data"))):
        raise InsufficientSecurity("the partnership requires encrypted messages; this one is not encrypted")
    entity = top
    signed = encrypted = compressed = False
    signer = digest_alg = cipher = None
    mic: Mic | None = None
    decrypted_entity: Span | None = None
    for depth in range(8):
        ct = entity.content_type
        if ct in PKCS7_MIME:
            body = decode_body(entity, workdir, f"layer{depth}.der")
            kind = entity.smime_type or cms.cms_content_type(body.read_at(0, 64))
            out = workdir / f"layer{depth}.out"
            if kind == "enveloped-data":
                with body.open() as src, open(out, "wb") as dst:
                    info = cms.decrypt_stream(src, dst, keys)
                encrypted, cipher = True, info.cipher
                if decrypted_entity is None:
                    decrypted_entity = Span.of(out)
            elif kind == "compressed-data":
                with body.open() as src, open(out, "wb") as dst:
                    cms.decompress_stream(src, dst, max_size=max_decompressed)
                compressed = True
            else:
                raise MalformedMessage(f"unsupported S/MIME content: {kind or 'unknown'} (AS2 signs with "
                                       f"multipart/signed)")
            entity = parse_entity(Span.of(out))
            continue
        if ct == "multipart/signed":
            if not entity.boundary:
                raise MalformedMessage("multipart/signed without a boundary")
            parts = split_multipart(entity.body, entity.boundary)
            if len(parts) < 2:
                raise AuthenticationFailed("multipart/signed without a signature part")
            sig_entity = parse_entity(parts[1])
            if sig_entity.content_type not in PKCS7_SIGNATURE:
                raise AuthenticationFailed(f"second part of multipart/signed is {sig_entity.content_type}")
            signature = decode_body(sig_entity, workdir, f"layer{depth}.p7s").read(1 << 20)
            verified = verify_signed_part(signature, parts[0], partner_certs, [micalg] if micalg else [])
            if not signed:  # the MIC covers the outermost signed content
                alg = micalg or verified.signature.digest_alg
                mic = Mic.of_digest(verified.digests[alg], alg)
                signed, signer, digest_alg = True, verified.signature.signer, verified.signature.digest_alg
            entity = parse_entity(parts[0])
            continue
        break
    else:
        raise MalformedMessage("too many nested MIME layers")
    if require_encrypted and not encrypted:
        raise InsufficientSecurity("the partnership requires encrypted messages; this one is not encrypted")
    if require_signed and not signed:
        raise InsufficientSecurity("the partnership requires signed messages; this one is not signed")
    if mic is None:
        alg = normalize_digest(micalg or "sha256")
        span = decrypted_entity if decrypted_entity is not None else top.body
        mic = Mic.of_digest(hash_span(span, [alg])[alg], alg)
    payload = decode_body(entity, workdir, "payload.decoded")
    filename = entity.filename or (top.filename if entity is top else None)
    return Unwrapped(payload, filename, entity.content_type, signed, signer, digest_alg, encrypted, cipher,
                     compressed, mic)
