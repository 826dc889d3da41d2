"""MIME for AS2 on files: entities as byte ranges, multipart splitting, transfer decoding, hashing.

Why not :mod:`email` for the whole message: ``email`` parses into memory
and re-serialises on output, which both costs several copies of a 50 MB
payload and *changes bytes* (line endings, header folding) -- fatal when a
signature and a MIC cover the exact bytes.  Here an entity is a
:class:`Span` (a byte range of a file or of a bytes object): headers are
parsed with :mod:`email` (they are small), bodies are never loaded, and the
first part of a ``multipart/signed`` is hashed exactly as it was received.

Writing uses :func:`header_block`: one ``Name: value`` per line, CRLF, no
folding -- which is also how pyas2lib and other receivers re-create the
signed part's headers when they canonicalise, so signatures verify there.
"""

from __future__ import annotations

import binascii
import email.utils
import io
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import BinaryIO

from cryptography import x509

from hub.as2 import cms
from hub.as2.algorithms import digest_spec
from hub.as2.errors import IntegrityCheckFailed, MalformedMessage

__all__ = [
    "Entity",
    "Span",
    "decode_body",
    "entity_from_headers",
    "hash_span",
    "header_block",
    "make_boundary",
    "make_message_id",
    "parse_entity",
    "safe_filename",
    "split_multipart",
    "verify_signed_part",
]

CHUNK = 1 << 20
MAX_HEADER_BYTES = 64 << 10


# ============================================================================================ spans


class _SpanReader(io.RawIOBase):
    """A read-only stream over a byte range (what :meth:`Span.open` returns)."""

    def __init__(self, fh: BinaryIO, remaining: int) -> None:
        self._fh = fh
        self._remaining = remaining

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._remaining <= 0:
            return b""
        n = self._remaining if n is None or n < 0 else min(n, self._remaining)
        data = self._fh.read(n)
        self._remaining -= len(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


@dataclass(frozen=True)
class Span:
    """``length`` bytes at ``start`` of a file (``source`` a Path) or of a bytes object."""

    source: Path | bytes = field(repr=False)
    start: int
    length: int

    @classmethod
    def of(cls, source: Path | bytes | str) -> Span:
        if isinstance(source, bytes):
            return cls(source, 0, len(source))
        path = Path(source)
        return cls(path, 0, path.stat().st_size)

    def open(self) -> BinaryIO:
        if isinstance(self.source, bytes):
            fh: BinaryIO = io.BytesIO(self.source)
        else:
            fh = open(self.source, "rb")  # noqa: SIM115 - owned by the returned reader
        fh.seek(self.start)
        return io.BufferedReader(_SpanReader(fh, self.length), CHUNK)  # type: ignore[return-value]

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (relative to the span), clipped to the span."""
        n = max(0, min(n, self.length - offset))
        if n == 0 or offset < 0:
            return b""
        if isinstance(self.source, bytes):
            return self.source[self.start + offset : self.start + offset + n]
        with open(self.source, "rb") as fh:
            fh.seek(self.start + offset)
            return fh.read(n)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with self.open() as fh:
            while block := fh.read(size):
                yield block

    def read(self, limit: int = 16 << 20) -> bytes:
        """The whole span in memory -- only for parts known to be small (signatures, MDNs)."""
        if self.length > limit:
            raise MalformedMessage(f"part of {self.length} bytes where at most {limit} were expected")
        return self.read_at(0, self.length)

    def sub(self, offset: int, length: int) -> Span:
        if offset < 0 or length < 0 or offset + length > self.length:
            raise ValueError("sub-span outside the span")
        return Span(self.source, self.start + offset, length)

    def copy_to(self, fh: BinaryIO) -> int:
        total = 0
        for block in self.chunks():
            fh.write(block)
            total += len(block)
        return total


# ============================================================================================ entities


@dataclass(frozen=True)
class Entity:
    """A MIME entity: its parsed headers, its whole byte range (headers included) and its body's range."""

    headers: Message = field(repr=False)
    span: Span | None
    """Headers + body as received; ``None`` for the top level, whose headers came as HTTP headers."""
    body: Span

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type().lower()

    @property
    def smime_type(self) -> str | None:
        value = self.headers.get_param("smime-type")
        return value.lower() if isinstance(value, str) else None

    @property
    def boundary(self) -> str | None:
        return self.headers.get_boundary()

    @property
    def transfer_encoding(self) -> str:
        return str(self.headers.get("Content-Transfer-Encoding", "binary")).strip().lower()

    @property
    def filename(self) -> str | None:
        name = self.headers.get_filename()
        if name is None:
            name = self.headers.get_param("name")
        return name if isinstance(name, str) else None


def _message(pairs: Iterable[tuple[str, str]]) -> Message:
    msg = Message(policy=compat32)
    for name, value in pairs:
        msg[name] = value
    return msg


def entity_from_headers(pairs: Iterable[tuple[str, str]], body: Span) -> Entity:
    """The top-level entity of an HTTP request: its headers are the HTTP headers, its body the request body."""
    return Entity(_message(pairs), None, body)


def parse_entity(span: Span, *, max_header_bytes: int = MAX_HEADER_BYTES) -> Entity:
    """Split ``span`` into headers and body at the first empty line (CRLF or bare LF)."""
    head = span.read_at(0, max_header_bytes + 4)
    if head.startswith(b"\r\n"):
        end, body_start = 0, 2
    elif head.startswith(b"\n"):
        end, body_start = 0, 1
    else:
        crlf, lf = head.find(b"\r\n\r\n"), head.find(b"\n\n")
        candidates = [(i, i + 4) for i in (crlf,) if i >= 0] + [(i, i + 2) for i in (lf,) if i >= 0]
        if not candidates:
            if span.length > max_header_bytes:
                raise MalformedMessage("MIME headers do not end (no empty line within 64 KiB)")
            end, body_start = span.length, span.length  # headers only, empty body
        else:
            end, body_start = min(candidates)
    headers = BytesHeaderParser(policy=compat32).parsebytes(head[:end] + b"\r\n\r\n")
    return Entity(headers, span, span.sub(body_start, span.length - body_start))


def _find_all(span: Span, needle: bytes) -> Iterator[int]:
    carry = b""
    pos = 0
    keep = len(needle) - 1
    for chunk in span.chunks():
        buf = carry + chunk
        base = pos - len(carry)
        i = buf.find(needle)
        while i != -1:
            yield base + i
            i = buf.find(needle, i + 1)
        pos += len(chunk)
        carry = buf[-keep:] if keep else b""


def split_multipart(body: Span, boundary: str) -> list[Span]:
    """The parts of a multipart body, each exactly as received (no CRLF of the delimiters included).

    RFC 2046: a delimiter is CRLF ``--boundary`` at the start of a line; the
    CRLF before it belongs to the delimiter, not to the part -- which is why
    the bytes a signature covers end *before* that CRLF.
    """
    delim = b"--" + boundary.encode("ascii", "replace")
    found: list[tuple[int, int, bool]] = []  # (delimiter offset, content start after its line, is_close)
    for p in _find_all(body, delim):
        if p > 0 and body.read_at(p - 1, 1) != b"\n":
            continue
        after = body.read_at(p + len(delim), 256)
        is_close = after.startswith(b"--")
        rest = after[2:] if is_close else after
        nl = rest.find(b"\n")
        tail = rest if nl < 0 else rest[:nl]
        if tail.strip(b" \t\r"):
            continue  # the boundary is only a prefix of something else on this line
        line_end = p + len(delim) + (2 if is_close else 0) + (len(rest) if nl < 0 else nl + 1)
        found.append((p, line_end, is_close))
        if is_close:
            break
    if not found:
        raise MalformedMessage(f"multipart body without the boundary {boundary!r}")
    parts = []
    for (_p, start, close), nxt in zip(found, [*found[1:], None], strict=True):
        if close:
            break
        if nxt is None:  # no close delimiter: lenient, the part runs to the end
            end = body.length
            while end > start and body.read_at(end - 1, 1) in (b"\n", b"\r"):
                end -= 1
        else:
            end = nxt[0]
            if body.read_at(end - 2, 2) == b"\r\n":
                end -= 2
            elif body.read_at(end - 1, 1) == b"\n":
                end -= 1
        parts.append(body.sub(start, max(0, end - start)))
    return parts


# ============================================================================================ bodies


def _b64_decode_stream(src: Iterable[bytes], out: BinaryIO) -> None:
    rest = b""
    for block in src:
        data = rest + block.translate(None, b" \t\r\n")
        cut = len(data) - len(data) % 4
        out.write(binascii.a2b_base64(data[:cut]))
        rest = data[cut:]
    if rest.strip(b"="):
        out.write(binascii.a2b_base64(rest + b"=" * (-len(rest) % 4)))


def _qp_decode_stream(src: Iterable[bytes], out: BinaryIO) -> None:
    rest = b""
    for block in src:
        data = rest + block
        cut = data.rfind(b"\n") + 1
        out.write(binascii.a2b_qp(data[:cut]))
        rest = data[cut:]
    if rest:
        out.write(binascii.a2b_qp(rest))


def decode_body(entity: Entity, workdir: Path, name: str) -> Span:
    """The entity's body with its Content-Transfer-Encoding undone (written to ``workdir/name`` when it had one).

    ``binary``, ``8bit``, ``7bit`` and a missing header leave the bytes as
    they are (and the span is returned without copying).
    """
    cte = entity.transfer_encoding
    if cte in ("binary", "8bit", "7bit", ""):
        return entity.body
    if cte not in ("base64", "quoted-printable"):
        raise MalformedMessage(f"unknown Content-Transfer-Encoding {cte!r}")
    path = workdir / name
    try:
        with open(path, "wb") as out:
            if cte == "base64":
                _b64_decode_stream(entity.body.chunks(), out)
            else:
                _qp_decode_stream(entity.body.chunks(), out)
    except binascii.Error as exc:
        raise MalformedMessage(f"bad {cte} body: {exc}") from exc
    return Span.of(path)


def hash_span(span: Span, names: Iterable[str], *, canonical: bool = False) -> dict[str, bytes]:
    """Digests of the span for each digest name, in one pass.

    ``canonical=True`` hashes the text-canonical form instead (every bare LF
    as CRLF): the fallback for senders that signed canonical text but sent
    bare line feeds.
    """
    hashers = {n: digest_spec(n).new() for n in set(names)}
    held = b""
    for block in span.chunks():
        if canonical:
            block = held + block
            held = b""
            if block.endswith(b"\r"):
                block, held = block[:-1], b"\r"
            block = block.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        for h in hashers.values():
            h.update(block)
    if held:
        for h in hashers.values():
            h.update(held)
    return {n: h.digest() for n, h in hashers.items()}


@dataclass(frozen=True)
class SignedPart:
    """A verified ``multipart/signed`` first part: who signed, and the digests of the bytes they signed."""

    signature: cms.SignatureInfo
    canonical: bool
    """True when the signature only matched the text-canonical form (bare LFs as CRLF)."""
    digests: dict[str, bytes]


def verify_signed_part(signature: bytes, part: Span, trusted: Sequence[x509.Certificate],
                       extra_digests: Iterable[str] = ()) -> SignedPart:
    """Verify a detached signature over ``part`` (the first part, headers included, exactly as received).

    The part is hashed once for the signer's algorithm plus ``extra_digests``
    (the MIC algorithm the sender asked for, which may differ).  If the digest
    does not match, the canonical form is tried once before
    :class:`IntegrityCheckFailed` is raised.
    """
    wanted = set(extra_digests)
    cache: dict[tuple[bool, str], bytes] = {}

    def digests_for(canonical: bool) -> Callable[[str], bytes]:
        def get(name: str) -> bytes:
            if (canonical, name) not in cache:
                for alg, value in hash_span(part, wanted | {name}, canonical=canonical).items():
                    cache[(canonical, alg)] = value
            return cache[(canonical, name)]

        return get

    try:
        info = cms.verify_detached(signature, digests_for(False), trusted)
        canonical = False
    except IntegrityCheckFailed as exc:
        try:
            info = cms.verify_detached(signature, digests_for(True), trusted)
        except IntegrityCheckFailed:
            raise exc from None
        canonical = True
    get = digests_for(canonical)
    return SignedPart(info, canonical, {name: get(name) for name in wanted | {info.digest_alg}})


# ============================================================================================ writing


_UNSAFE_HEADER = re.compile(r"[\r\n\0]")


def header_block(pairs: Iterable[tuple[str, str]]) -> bytes:
    """``Name: value`` CRLF per header, then the empty line; refuses CR/LF inside a value (header injection)."""
    lines = []
    for name, value in pairs:
        if _UNSAFE_HEADER.search(name) or _UNSAFE_HEADER.search(value):
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(f"{name}: {value}\r\n")
    return ("".join(lines) + "\r\n").encode("utf-8")


def content_disposition(filename: str | None) -> str:
    """``attachment; filename="..."`` (RFC 2231 encoding for non-ASCII names)."""
    if not filename:
        return "attachment"
    if filename.isascii():
        return f'attachment; filename="{email.utils.quote(filename)}"'
    return "attachment; filename*=" + email.utils.encode_rfc2231(filename, "utf-8")


def make_boundary() -> str:
    return f"----=_edihub_{uuid.uuid4().hex}"


def make_message_id(domain: str) -> str:
    """``<uuid@domain>``: globally unique without asking DNS for a host name."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", domain) or "edihub"
    return f"<{uuid.uuid4().hex}@{host}>"


def safe_filename(name: str | None, fallback: str) -> str:
    """The AS2 filename reduced to a plain file name: no directories, no control characters, never empty.

    The filename comes from the partner; it must not be able to name a path
    outside the folder the pipeline writes to.
    """
    if name:
        base = re.split(r"[\\/]", name)[-1]
        base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip().strip(".")
        if base:
            return base[:200]
    return re.sub(r"[^A-Za-z0-9._-]", "_", fallback)[:200] or "payload"
