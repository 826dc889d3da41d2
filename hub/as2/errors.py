"""AS2 failures, each carrying the MDN disposition modifier it must be reported with.

Why one class per disposition: the receiver turns *any* failure while
unwrapping a message into exactly one MDN ``Disposition`` (RFC 4130 section
7.5.3, RFC 5402 for ``decompression-failed``).  Raising the class that already
knows its wording keeps that mapping in one place, and a test can assert on
the class instead of on text.

They derive from :class:`~hub.errors.TerminalError` because retrying the same
bytes can never succeed: a message that failed to decrypt or verify fails the
same way next time (the partner must resend).  Transport-level faults (a
partner's server down) are :class:`~hub.errors.TransientError` and raised by
the sender, not here.
"""

from __future__ import annotations

from hub.errors import TerminalError

__all__ = [
    "As2Error",
    "AuthenticationFailed",
    "CertificateError",
    "DecompressionFailed",
    "DecryptionFailed",
    "InsufficientSecurity",
    "IntegrityCheckFailed",
    "MalformedMessage",
    "UnexpectedProcessingError",
    "UnknownPartnership",
    "UnsupportedAlgorithm",
]


class As2Error(TerminalError):
    """Base of the AS2 failures; ``modifier`` is the disposition text after ``processed/error:``."""

    modifier = "unexpected-processing-error"


class DecryptionFailed(As2Error):
    """No key of ours opens the envelope, or the content does not decrypt (wrong key, bad padding, cipher)."""

    modifier = "decryption-failed"


class AuthenticationFailed(As2Error):
    """The signature is not made by any certificate we hold for the partner (or cannot be checked at all)."""

    modifier = "authentication-failed"


class IntegrityCheckFailed(As2Error):
    """The signature is the partner's, but the content it covers has changed (message digest mismatch)."""

    modifier = "integrity-check-failed"


class InsufficientSecurity(As2Error):
    """The partnership requires signing/encryption and the message lacks it."""

    modifier = "insufficient-message-security"


class DecompressionFailed(As2Error):
    """Compressed data is corrupt, or would expand beyond the configured limit (a decompression bomb)."""

    modifier = "decompression-failed"


class UnexpectedProcessingError(As2Error):
    """Anything else: malformed MIME, a storage failure, an exception in the payload hand-off."""

    modifier = "unexpected-processing-error"


class MalformedMessage(UnexpectedProcessingError):
    """The MIME or CMS structure cannot be read."""


class UnknownPartnership(As2Error):
    """No partnership for this AS2-From/AS2-To pair (reported over HTTP, never with an async MDN)."""

    modifier = "unknown-trading-partner"


class UnsupportedAlgorithm(As2Error):
    """An algorithm name or OID we do not implement (or refuse, such as MD5 or RC2)."""


class CertificateError(TerminalError):
    """A key or certificate cannot be loaded (missing file, wrong password, not a certificate)."""
