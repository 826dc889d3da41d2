"""MDNs (RFC 3798 as profiled by RFC 4130): what was asked for, building one, reading and verifying one.

An MDN is the receipt that makes AS2 non-repudiable: signed by the
receiver, naming the original Message-ID and carrying the MIC (a digest of
exactly what was received).  The sender keeps it as proof and compares the
MIC with the one it computed itself; a mismatch means the partner received
something else than what was sent.

Dispositions use RFC 4130's words: ``processed``,
``processed/error: decryption-failed`` (and ``authentication-failed``,
``integrity-check-failed``, ``insufficient-message-security``,
``unexpected-processing-error``, RFC 5402's ``decompression-failed``),
``processed/warning: duplicate-document``.  Reading is case-insensitive
(pyas2lib writes ``processed/Warning``).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from cryptography import x509

from hub.as2 import cms
from hub.as2.algorithms import digest_spec, normalize_digest
from hub.as2.certs import KeyPair
from hub.as2.errors import AuthenticationFailed, MalformedMessage, UnsupportedAlgorithm
from hub.as2.mime import (
    Entity,
    Span,
    entity_from_headers,
    header_block,
    make_boundary,
    make_message_id,
    parse_entity,
    split_multipart,
    verify_signed_part,
)

__all__ = [
    "DUPLICATE",
    "PROCESSED",
    "Disposition",
    "Mic",
    "MdnRequest",
    "OutgoingMdn",
    "ReceivedMdn",
    "as2_quote",
    "build_mdn",
    "disposition_notification_options",
    "error_disposition",
    "is_mdn_entity",
    "parse_mdn",
    "parse_mdn_request",
    "raw_http_message",
]

AS2_VERSION = "1.2"
EDIINT_FEATURES = "CMS"
REPORTING_UA = "edihub AS2"
MAX_MDN_BYTES = 1 << 20


# ============================================================================================ dispositions


@dataclass(frozen=True)
class Disposition:
    """``automatic-action/MDN-sent-automatically; processed/error: decryption-failed`` as three parts."""

    type: str = "processed"
    modifier: str | None = None
    """``error``, ``warning`` or ``failure`` (lower case)."""
    description: str | None = None
    mode: str = "automatic-action/MDN-sent-automatically"

    @property
    def status(self) -> str:
        """The part after the semicolon: ``processed``, ``processed/error: decryption-failed``..."""
        text = self.type
        if self.modifier:
            text += f"/{self.modifier}"
        if self.description:
            text += f": {self.description}"
        return text

    def __str__(self) -> str:
        return f"{self.mode}; {self.status}"

    @property
    def ok(self) -> bool:
        """The partner took the message (a duplicate warning is still a receipt: they already have it)."""
        return self.type == "processed" and self.modifier in (None, "warning")

    @property
    def duplicate(self) -> bool:
        return (self.description or "").lower() == "duplicate-document"

    @classmethod
    def parse(cls, value: str) -> Disposition:
        mode, _, status = value.partition(";")
        if not status:
            mode, status = "", mode
        status = " ".join(status.split())
        kind, _, description = status.partition(":")
        typ, _, modifier = kind.strip().partition("/")
        return cls(typ.strip().lower(), modifier.strip().lower() or None, description.strip().lower() or None,
                   " ".join(mode.split()))


PROCESSED = Disposition()
DUPLICATE = Disposition("processed", "warning", "duplicate-document")


def error_disposition(modifier: str) -> Disposition:
    return Disposition("processed", "error", modifier)


# ============================================================================================ MIC


@dataclass(frozen=True)
class Mic:
    """A Message Integrity Check: base64 digest and the algorithm (canonical name)."""

    value: str
    algorithm: str

    @classmethod
    def of_digest(cls, digest: bytes, algorithm: str) -> Mic:
        return cls(base64.b64encode(digest).decode("ascii"), normalize_digest(algorithm))

    @classmethod
    def parse(cls, text: str) -> Mic:
        value, _, alg = text.partition(",")
        if not alg.strip():
            raise MalformedMessage(f"Received-Content-MIC without an algorithm: {text!r}")
        return cls(value.strip(), normalize_digest(alg))

    def header(self) -> str:
        return f"{self.value}, {digest_spec(self.algorithm).micalg}"

    def __str__(self) -> str:
        return self.header()


# ============================================================================================ requests


@dataclass(frozen=True)
class MdnRequest:
    """What the sender of a message asked for, from Disposition-Notification-To/-Options and
    Receipt-Delivery-Option."""

    requested: bool
    signed: bool = False
    micalgs: tuple[str, ...] = ()
    """The requested MIC algorithms we support, in the sender's order of preference."""
    async_url: str | None = None

    @property
    def mode(self) -> str:
        if not self.requested:
            return "none"
        return "async" if self.async_url else "sync"

    @property
    def micalg(self) -> str | None:
        return self.micalgs[0] if self.micalgs else None


def _header(headers: Message | Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively whether ``headers`` is a :class:`Message` or a plain mapping."""
    if isinstance(headers, Message):
        value = headers.get(name)
    else:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return None if value is None else str(value).strip()


def parse_mdn_request(headers: Message | Mapping[str, str]) -> MdnRequest:
    """RFC 4130 7.3: an MDN is wanted when Disposition-Notification-To is present; signed when the options ask
    for ``pkcs7-signature``; asynchronous when Receipt-Delivery-Option names a URL."""
    if not _header(headers, "Disposition-Notification-To"):
        return MdnRequest(False)
    options = _header(headers, "Disposition-Notification-Options") or ""
    params: dict[str, list[str]] = {}
    for item in options.split(";"):
        name, _, values = item.partition("=")
        if not values:
            continue
        # "importance, value, value...": the first item is optional/required
        fields = [v.strip() for v in values.split(",") if v.strip()]
        params[name.strip().lower()] = fields[1:] if fields and fields[0].lower() in ("optional", "required") \
            else fields
    protocols = [p.lower() for p in params.get("signed-receipt-protocol", [])]
    signed = "pkcs7-signature" in protocols
    micalgs: list[str] = []
    for alg in params.get("signed-receipt-micalg", []):
        try:
            name = normalize_digest(alg)
        except UnsupportedAlgorithm:
            continue
        if name not in micalgs:
            micalgs.append(name)
    url = _header(headers, "Receipt-Delivery-Option") or None
    return MdnRequest(True, signed, tuple(micalgs), url)


def disposition_notification_options(micalg: str) -> str:
    """The option string asking for a signed receipt with the MIC in ``micalg``."""
    return (f"signed-receipt-protocol=optional, pkcs7-signature; "
            f"signed-receipt-micalg=optional, {digest_spec(micalg).micalg}")


def as2_quote(name: str) -> str:
    """AS2-From/AS2-To values: a quoted-string when the name has spaces or quotes (RFC 4130 6.2)."""
    if re.search(r'[\s"\\]', name):
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def as2_unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


# ============================================================================================ building


@dataclass(frozen=True)
class OutgoingMdn:
    """An MDN ready to be sent: HTTP headers (Content-Type included) and body."""

    message_id: str
    original_message_id: str
    disposition: Disposition
    mic: Mic | None
    signed: bool
    headers: tuple[tuple[str, str], ...]
    body: bytes = field(repr=False)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


_DEFAULT_TEXT = {
    True: "The AS2 message has been received and processed.",
    False: "The AS2 message could not be processed; the disposition notification below tells why.",
}


def build_mdn(*, original_message_id: str, our_as2_id: str, partner_as2_id: str, disposition: Disposition,
              mic: Mic | None, signer: KeyPair | None = None, micalg: str | None = None, text: str | None = None,
              message_id: str | None = None, reporting_ua: str = REPORTING_UA) -> OutgoingMdn:
    """The MDN for a message received from ``partner_as2_id``; signed with ``signer`` when given.

    The signature's digest is ``micalg`` (what the sender asked for), else the
    MIC's algorithm, else SHA-256.
    """
    message_id = message_id or make_message_id(our_as2_id)
    orig = original_message_id if original_message_id.startswith("<") else f"<{original_message_id}>"
    fields = [
        ("Reporting-UA", reporting_ua),
        ("Original-Recipient", f"rfc822; {our_as2_id}"),
        ("Final-Recipient", f"rfc822; {our_as2_id}"),
        ("Original-Message-ID", orig),
    ]
    if mic is not None:
        fields.append(("Received-Content-MIC", mic.header()))
    fields.append(("Disposition", str(disposition)))
    report_body = "".join(f"{k}: {v}\r\n" for k, v in fields).encode("utf-8")
    text = (text or _DEFAULT_TEXT[disposition.ok]).replace("\r\n", "\n").replace("\n", "\r\n")
    inner = make_boundary()
    report = (
        f"--{inner}\r\n".encode()
        + header_block([("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "8bit")])
        + text.encode("utf-8") + b"\r\n"
        + f"\r\n--{inner}\r\n".encode()
        + header_block([("Content-Type", "message/disposition-notification"),
                        ("Content-Transfer-Encoding", "7bit")])
        + report_body
        + f"\r\n--{inner}--\r\n".encode()
    )
    report_type = f'multipart/report; report-type=disposition-notification; boundary="{inner}"'
    if signer is not None:
        alg = normalize_digest(micalg or (mic.algorithm if mic else "sha256"))
        entity = header_block([("Content-Type", report_type)]) + report
        signature = cms.sign_digest(_digest(entity, alg), alg, signer)
        outer = make_boundary()
        body = (
            f"--{outer}\r\n".encode() + entity + f"\r\n--{outer}\r\n".encode()
            + header_block([("Content-Type", 'application/pkcs7-signature; name="smime.p7s"; smime-type=signed-data'),
                            ("Content-Transfer-Encoding", "base64"),
                            ("Content-Disposition", 'attachment; filename="smime.p7s"')])
            + base64.encodebytes(signature).replace(b"\n", b"\r\n")
            + f"\r\n--{outer}--\r\n".encode()
        )
        content_type = (f'multipart/signed; protocol="application/pkcs7-signature"; '
                        f'micalg={digest_spec(alg).micalg}; boundary="{outer}"')
    else:
        body, content_type = report, report_type
    headers = (
        ("AS2-Version", AS2_VERSION),
        ("EDIINT-Features", EDIINT_FEATURES),
        ("Message-ID", message_id),
        ("AS2-From", as2_quote(our_as2_id)),
        ("AS2-To", as2_quote(partner_as2_id)),
        ("Date", email.utils.formatdate(usegmt=True)),
        ("Subject", "Message Disposition Notification"),
        ("MIME-Version", "1.0"),
        ("Content-Type", content_type),
    )
    return OutgoingMdn(message_id, orig, disposition, mic, signer is not None, headers, body)


def _digest(data: bytes, alg: str) -> bytes:
    h = digest_spec(alg).new()
    h.update(data)
    return h.digest()


# ============================================================================================ reading


@dataclass(frozen=True)
class ReceivedMdn:
    """An MDN as read (and, when signed, verified) -- what the sender records as its receipt."""

    original_message_id: str
    disposition: Disposition
    mic: Mic | None
    signed: bool
    signer: x509.Certificate | None
    digest_alg: str | None
    message_id: str | None
    text: str
    reporting_ua: str | None
    as2_from: str | None
    as2_to: str | None
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: bytes = field(repr=False)

    @property
    def raw(self) -> bytes:
        """The MDN as received: its HTTP headers as a MIME header block, then the body (the signed receipt to
        keep; with ``MIME-Version: 1.0`` in front, ``openssl cms -verify`` reads it)."""
        return raw_http_message(self.headers, self.body)


def raw_http_message(headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    """HTTP headers (``Name: value`` CRLF each, then an empty line) followed by the body, byte for byte."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode("utf-8", "replace") + body


def is_mdn_entity(entity: Entity) -> bool:
    """True for ``multipart/report`` and for a ``multipart/signed`` whose signed part is one (an async MDN
    arrives on the same URL as messages)."""
    if entity.content_type == "multipart/report":
        return True
    if entity.content_type == "multipart/signed" and entity.boundary:
        try:
            first = split_multipart(entity.body, entity.boundary)[0]
        except (MalformedMessage, IndexError):
            return False
        return parse_entity(first).content_type == "multipart/report"
    return False


def _strip_id(value: str | None) -> str:
    return (value or "").strip().strip("<>").strip()


def parse_mdn(headers: Iterable[tuple[str, str]], body: bytes, *,
              partner_certs: Sequence[x509.Certificate]) -> ReceivedMdn:
    """Read an MDN (HTTP headers + body); when it is signed, verify it with the partner's certificates.

    Raises :class:`AuthenticationFailed` / :class:`IntegrityCheckFailed` for a
    bad signature and :class:`MalformedMessage` when it is not an MDN.
    """
    if len(body) > MAX_MDN_BYTES:
        raise MalformedMessage(f"MDN of {len(body)} bytes is too large")
    pairs = tuple((str(k), str(v)) for k, v in headers)
    top = entity_from_headers(pairs, Span.of(body))
    signed, signer, digest_alg = False, None, None
    report = top
    if top.content_type == "multipart/signed":
        if not top.boundary:
            raise MalformedMessage("multipart/signed MDN without a boundary")
        parts = split_multipart(top.body, top.boundary)
        if len(parts) < 2:
            raise MalformedMessage("signed MDN without a signature part")
        report = parse_entity(parts[0])
        sig_entity = parse_entity(parts[1])
        if sig_entity.content_type not in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
            raise AuthenticationFailed(f"signed MDN's second part is {sig_entity.content_type}")
        signed_part = verify_signed_part(_decoded(sig_entity), parts[0], partner_certs)
        info = signed_part.signature
        signed, signer, digest_alg = True, info.signer, info.digest_alg
    if report.content_type != "multipart/report" or not report.boundary:
        raise MalformedMessage(f"not an MDN: {report.content_type}")
    notification: Message | None = None
    text = ""
    for part in split_multipart(report.body, report.boundary):
        entity = parse_entity(part)
        if entity.content_type == "message/disposition-notification" and notification is None:
            notification = BytesHeaderParser(policy=compat32).parsebytes(_decoded(entity).lstrip(b"\r\n"))
        elif entity.content_type.startswith("text/") and not text:
            charset = entity.headers.get_content_charset() or "utf-8"
            text = _decoded(entity).decode(charset, "replace").strip()
    if notification is None:
        raise MalformedMessage("MDN without a message/disposition-notification part")
    disposition_text = notification.get("Disposition")
    if not disposition_text:
        raise MalformedMessage("MDN without a Disposition")
    mic_text = notification.get("Received-Content-MIC")
    mic = None
    if mic_text:
        try:
            mic = Mic.parse(str(mic_text))
        except (MalformedMessage, UnsupportedAlgorithm):
            mic = Mic(str(mic_text).partition(",")[0].strip(), str(mic_text).partition(",")[2].strip().lower())
    return ReceivedMdn(
        original_message_id=_strip_id(notification.get("Original-Message-ID")),
        disposition=Disposition.parse(str(disposition_text)),
        mic=mic,
        signed=signed,
        signer=signer,
        digest_alg=digest_alg,
        message_id=_strip_id(top.headers.get("Message-ID")) or None,
        text=text,
        reporting_ua=notification.get("Reporting-UA"),
        as2_from=as2_unquote(str(top.headers.get("AS2-From", ""))) or None,
        as2_to=as2_unquote(str(top.headers.get("AS2-To", ""))) or None,
        headers=pairs,
        body=body,
    )


def _decoded(entity: Entity) -> bytes:
    raw = entity.body.read(MAX_MDN_BYTES)
    cte = entity.transfer_encoding
    if cte == "base64":
        return base64.b64decode(b"".join(raw.split()))
    if cte == "quoted-printable":
        return binascii.a2b_qp(raw)
    return raw

