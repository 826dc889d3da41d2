"""Just enough streaming BER/DER to read and write CMS envelopes whose content does not fit in memory.

Why not asn1crypto alone: asn1crypto parses a whole structure from bytes, so
a 50 MB EnvelopedData would sit in memory several times (raw, parsed,
decrypted).  CMS puts the big part last (the encrypted or compressed
octets), so a sequential reader can parse the small header fields with
asn1crypto, then *stream* the octets through the cipher or zlib.  Senders
produce both DER (definite lengths, one primitive OCTET STRING) and BER
(``openssl cms -stream``: indefinite lengths, the content as a constructed
OCTET STRING of chunks); :meth:`BerReader.iter_octets` reads both.

Writing goes the other way: we know every length in advance (the plaintext
size gives the CBC ciphertext size; compressed data is spooled first), so
we emit definite-length DER headers and stream the content after them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hub.as2.errors import MalformedMessage

__all__ = ["BerReader", "Tlv", "encode_header", "encode_length"]

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, TAG_SET = 2, 4, 6, 16, 17

#: Largest element :meth:`BerReader.read_element` will buffer (certificates, recipient infos, algorithm ids).
MAX_SMALL_ELEMENT = 4 << 20
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Tlv:
    """One element header: class, constructed bit, tag number, content length (``None`` when indefinite)."""

    cls: int
    constructed: bool
    tag: int
    length: int | None
    raw: bytes
    """The header bytes as read (identifier and length octets)."""

    def is_(self, cls: int, tag: int) -> bool:
        return self.cls == cls and self.tag == tag

    @property
    def is_eoc(self) -> bool:
        return self.cls == UNIVERSAL and self.tag == 0 and not self.constructed and self.length == 0


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_header(identifier: int, length: int) -> bytes:
    """A definite-length header for a low tag number (``identifier`` is the whole first octet, e.g. 0x30)."""
    return bytes([identifier]) + encode_length(length)


class BerReader:
    """Reads BER elements sequentially from a binary stream, never more than a chunk at a time for big content."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.pos = 0

    # -- primitives -------------------------------------------------------------------------------------

    def read_exact(self, n: int) -> bytes:
        data = self.stream.read(n)
        if len(data) != n:
            raise MalformedMessage(f"CMS data ends early at byte {self.pos + len(data)} (wanted {n} more)")
        self.pos += n
        return data

    def read_header(self) -> Tlv:
        first = self.read_exact(1)
        raw = bytearray(first)
        ident = first[0]
        cls, constructed, tag = ident >> 6, bool(ident & 0x20), ident & 0x1F
        if tag == 0x1F:  # high tag number form
            tag = 0
            while True:
                b = self.read_exact(1)
                raw += b
                tag = (tag << 7) | (b[0] & 0x7F)
                if not b[0] & 0x80:
                    break
                if len(raw) > 6:
                    raise MalformedMessage("CMS tag number too large")
        lb = self.read_exact(1)
        raw += lb
        length: int | None
        if lb[0] == 0x80:
            if not constructed:
                raise MalformedMessage("indefinite length on a primitive element")
            length = None
        elif lb[0] & 0x80:
            count = lb[0] & 0x7F
            if count > 8:
                raise MalformedMessage("CMS element length too large")
            body = self.read_exact(count)
            raw += body
            length = int.from_bytes(body, "big")
        else:
            length = lb[0]
        return Tlv(cls, constructed, tag, length, bytes(raw))

    def expect(self, cls: int, tag: int, what: str, *, constructed: bool | None = None) -> Tlv:
        head = self.read_header()
        if not head.is_(cls, tag) or (constructed is not None and head.constructed != constructed):
            raise MalformedMessage(f"CMS: expected {what} at byte {self.pos - len(head.raw)}")
        return head

    # -- whole small elements -------------------------------------------------------------------------

    def read_content(self, head: Tlv, limit: int = MAX_SMALL_ELEMENT) -> bytes:
        """The content octets of ``head`` (re-encoded nested elements when indefinite), for small elements."""
        if head.length is not None:
            if head.length > limit:
                raise MalformedMessage(f"CMS element of {head.length} bytes where a small one was expected")
            return self.read_exact(head.length)
        parts = bytearray()
        while True:
            inner = self.read_header()
            if inner.is_eoc:
                return bytes(parts)
            parts += inner.raw + self.read_content(inner, limit - len(parts))
            if len(parts) > limit:
                raise MalformedMessage("CMS element too large")
            if inner.length is None:
                parts += b"\x00\x00"

    def read_element(self, head: Tlv | None = None, limit: int = MAX_SMALL_ELEMENT) -> bytes:
        """A whole element (header + content) as bytes, ready for ``asn1crypto ... .load()``."""
        head = head or self.read_header()
        content = self.read_content(head, limit)
        if head.length is None:
            return head.raw + content + b"\x00\x00"
        return head.raw + content

    def skip(self, head: Tlv) -> None:
        if head.length is not None:
            remaining = head.length
            while remaining:
                step = min(remaining, _CHUNK)
                self.read_exact(step)
                remaining -= step
            return
        while True:
            inner = self.read_header()
            if inner.is_eoc:
                return
            self.skip(inner)

    # -- big content ----------------------------------------------------------------------------------

    def iter_octets(self, head: Tlv, chunk: int = _CHUNK) -> Iterator[bytes]:
        """The bytes of an OCTET STRING (or an IMPLICIT one) of any size: primitive, or constructed BER."""
        if not head.constructed:
            assert head.length is not None
            remaining = head.length
            while remaining:
                data = self.read_exact(min(remaining, chunk))
                remaining -= len(data)
                yield data
            return
        end = None if head.length is None else self.pos + head.length
        while True:
            if end is not None and self.pos >= end:
                if self.pos != end:
                    raise MalformedMessage("CMS constructed OCTET STRING overruns its length")
                return
            inner = self.read_header()
            if inner.is_eoc:
                if end is not None:
                    raise MalformedMessage("end-of-contents inside a definite-length OCTET STRING")
                return
            if not inner.is_(UNIVERSAL, TAG_OCTET_STRING):
                raise MalformedMessage("constructed OCTET STRING holds something else than OCTET STRINGs")
            yield from self.iter_octets(inner, chunk)
