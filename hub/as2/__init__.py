"""AS2 (RFC 4130): signed, encrypted, compressed messages over HTTP with signed receipts (MDNs).

Built on ``cryptography`` (every primitive) and ``asn1crypto`` (the CMS
structures) -- not on pyas2lib, whose oscrypto dependency cannot be imported
against OpenSSL >= 3.0.10 (issue 7, item 4).  Everything that touches a
payload streams through files, so memory stays flat for large messages.

Modules, bottom up:

``algorithms``   digest and cipher names, every spelling AS2 products use
``der``          streaming BER/DER for the big CMS contents
``cms``          sign/verify (detached), encrypt/decrypt (EnvelopedData), compress/decompress
``certs``        loading keys and certificates (PEM, DER, PKCS#7, PKCS#12, ``${ENV}``/``file:``), expiry report
``mime``         entities as byte ranges of files, multipart splitting, transfer decoding, hashing
``mdn``          MDN requests, building, reading and verifying; dispositions; MIC
``partnership``  our identity and one partner's settings (and building them from config mappings)
``message``      building an outbound message, unwrapping an inbound one
``state``        the Message-ID ledger and the async-MDN registry the store implements (+ in-memory ones)
``receiver``     the endpoint (:class:`As2Receiver`, :class:`As2HttpServer`)
``sender``       :class:`As2Sender`
"""

from __future__ import annotations

from hub.as2.certs import (
    CertificateInfo,
    KeyPair,
    describe_certificate,
    list_certificates,
    load_certificates,
    load_key_pair,
)
from hub.as2.errors import (
    As2Error,
    AuthenticationFailed,
    CertificateError,
    DecompressionFailed,
    DecryptionFailed,
    InsufficientSecurity,
    IntegrityCheckFailed,
    UnexpectedProcessingError,
)
from hub.as2.mdn import DUPLICATE, PROCESSED, Disposition, Mic, OutgoingMdn, ReceivedMdn, build_mdn, parse_mdn
from hub.as2.partnership import Identity, Partnership, identity_from_config, partnership_from_config
from hub.as2.receiver import As2HttpServer, As2Receiver, HttpReply, ReceiveOutcome
from hub.as2.sender import As2Sender, SendResult
from hub.as2.state import (
    AsyncMdnRegistry,
    MdnOutcome,
    MemoryAsyncMdnRegistry,
    MemorySeenMessageIds,
    PendingMdn,
    SeenMessageIds,
    overdue_mdns,
)

__all__ = [
    "DUPLICATE",
    "PROCESSED",
    "As2Error",
    "As2HttpServer",
    "As2Receiver",
    "As2Sender",
    "AsyncMdnRegistry",
    "AuthenticationFailed",
    "CertificateError",
    "CertificateInfo",
    "DecompressionFailed",
    "DecryptionFailed",
    "Disposition",
    "HttpReply",
    "Identity",
    "InsufficientSecurity",
    "IntegrityCheckFailed",
    "KeyPair",
    "MdnOutcome",
    "MemoryAsyncMdnRegistry",
    "MemorySeenMessageIds",
    "Mic",
    "OutgoingMdn",
    "Partnership",
    "PendingMdn",
    "ReceiveOutcome",
    "ReceivedMdn",
    "SendResult",
    "SeenMessageIds",
    "UnexpectedProcessingError",
    "build_mdn",
    "describe_certificate",
    "identity_from_config",
    "list_certificates",
    "load_certificates",
    "load_key_pair",
    "overdue_mdns",
    "parse_mdn",
    "partnership_from_config",
]
