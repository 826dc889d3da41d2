"""Who we are (our AS2 identity and keys) and how we deal with one partner (a partnership).

Why separate from the partner profile: the protocol layer must be testable
and usable without the YAML machinery, and the profile code belongs to
another part of the hub.  :func:`partnership_from_config` and
:func:`identity_from_config` turn plain mappings (the future ``as2:`` block of
a profile, the ``as2:`` section of ``config.yaml``) into these objects, so
wiring them into profiles is a matter of passing the dicts through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from hub.as2.algorithms import normalize_cipher, normalize_digest
from hub.as2.certs import KeyPair, load_certificates, load_key_pair
from hub.as2.cms import KEY_ENCRYPTIONS

__all__ = ["MDN_MODES", "MDN_OVERDUE_ACTIONS", "Identity", "Partnership", "identity_from_config",
           "partnership_from_config"]

MDN_MODES = ("sync", "async", "none")
MDN_OVERDUE_ACTIONS = ("alert", "resend")


@dataclass(frozen=True)
class Identity:
    """Our side: our AS2 name and key pairs.  The first key signs; every key may decrypt (our own rollover:
    partners switch to the new certificate at different times)."""

    as2_id: str
    keys: tuple[KeyPair, ...]

    def __post_init__(self) -> None:
        if not self.as2_id or not self.keys:
            raise ValueError("an AS2 identity needs an AS2 id and at least one key pair")

    @property
    def signer(self) -> KeyPair:
        return self.keys[0]

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        return tuple(k.cert for k in self.keys)


@dataclass(frozen=True)
class Partnership:
    """One trading partner over AS2, both directions.

    Outbound: ``sign``/``encrypt``/``compress`` say how messages are built,
    ``mdn`` which receipt is asked for.  Inbound: ``require_signed`` and
    ``require_encrypted`` refuse weaker messages (``insufficient-message-
    security``); signatures are accepted from any of ``certs`` (two during a
    rollover).
    """

    partner_id: str
    """The hub's partner id (the profile name), handed to the pipeline with each payload."""
    as2_id: str
    """The partner's AS2 name (AS2-From of what they send, AS2-To of what we send)."""
    our_as2_id: str
    certs: tuple[x509.Certificate, ...]
    url: str | None = None
    encrypt_cert: x509.Certificate | None = None
    """The certificate we encrypt to (default: the first of ``certs``)."""
    sign: str | None = "sha256"
    encrypt: str | None = "aes_256_cbc"
    key_encryption: str = "rsaes_pkcs1v15"
    compress: bool = False
    compress_before_sign: bool = True
    mdn: str = "sync"
    mdn_signed: bool = True
    mdn_micalg: str | None = None
    async_mdn_url: str | None = None
    """Our URL for asynchronous MDNs (``mdn: async``)."""
    mdn_overdue_seconds: float = 3600.0
    mdn_overdue_action: str = "alert"
    """What the hub does with an async MDN later than ``mdn_overdue_seconds``: ``alert`` (report it) or
    ``resend`` (POST the very same message again, same Message-ID, then alert once the resends are used up)."""
    mdn_overdue_resends: int = 2
    """``resend``: how many times the message is sent again before the alert."""
    mdn_url_prefixes: tuple[str, ...] = ()
    """Inbound: where we agree to post the partner's async MDNs (Receipt-Delivery-Option must start with one of
    these; empty: any http(s) URL).  Anyone can put a URL in a header, so this keeps our receiver from posting
    to addresses the partner never agreed on; a message asking for another URL gets its MDN synchronously."""
    content_type: str = "application/edi-x12"
    subject: str = "EDI message"
    require_signed: bool = True
    require_encrypted: bool = True
    timeout: float = 120.0
    attempts: int = 3
    backoff_base: float = 2.0
    backoff_cap: float = 60.0
    http_headers: tuple[tuple[str, str], ...] = ()
    identity: Identity | None = field(default=None, repr=False)
    """Our identity for this partnership when it differs from the hub's default one."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalising the fields of a frozen dataclass
        if self.sign is not None:
            set_(self, "sign", normalize_digest(self.sign))
        if self.encrypt is not None:
            set_(self, "encrypt", normalize_cipher(self.encrypt))
        if self.mdn_micalg is not None:
            set_(self, "mdn_micalg", normalize_digest(self.mdn_micalg))
        if self.mdn not in MDN_MODES:
            raise ValueError(f"mdn must be one of {MDN_MODES}, not {self.mdn!r}")
        if self.key_encryption not in KEY_ENCRYPTIONS:
            raise ValueError(f"key_encryption must be one of {KEY_ENCRYPTIONS}")
        if self.mdn == "async" and not self.async_mdn_url:
            raise ValueError(f"{self.partner_id}: mdn: async needs async_mdn_url (where the partner posts the MDN)")
        if self.encrypt and not (self.encrypt_cert or self.certs):
            raise ValueError(f"{self.partner_id}: encryption needs the partner's certificate")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.mdn_overdue_action not in MDN_OVERDUE_ACTIONS:
            raise ValueError(f"mdn_overdue_action must be one of {MDN_OVERDUE_ACTIONS}, "
                             f"not {self.mdn_overdue_action!r}")
        if self.mdn_overdue_resends < 0:
            raise ValueError("mdn_overdue_resends must be 0 or more")
        set_(self, "certs", tuple(self.certs))
        set_(self, "mdn_url_prefixes", tuple(self.mdn_url_prefixes))
        set_(self, "http_headers", tuple(tuple(h) for h in self.http_headers))

    @property
    def micalg(self) -> str:
        """The MIC algorithm we ask for: the configured one, else the signing digest, else SHA-256."""
        return self.mdn_micalg or self.sign or "sha256"

    @property
    def encryption_certificate(self) -> x509.Certificate:
        return self.encrypt_cert or self.certs[0]

    def accepts_mdn_url(self, url: str) -> bool:
        """May we post an async MDN to ``url`` (see ``mdn_url_prefixes``)?"""
        if not url.lower().startswith(("http://", "https://")):
            return False
        return not self.mdn_url_prefixes or url.startswith(self.mdn_url_prefixes)


# ============================================================================================ from config


def _flag(cfg: Mapping[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _algorithm(cfg: Mapping[str, Any], key: str, default: str | None) -> str | None:
    value = cfg.get(key, default)
    if value in (None, False, "none", ""):
        return None
    return str(value)


def _certs(refs: object, *, base_dir: str | os.PathLike[str] | None,
           environ: Mapping[str, str] | None) -> tuple[x509.Certificate, ...]:
    items = [refs] if isinstance(refs, str) else list(refs or [])  # type: ignore[call-overload]
    out: list[x509.Certificate] = []
    for ref in items:
        out.extend(load_certificates(ref, base_dir=base_dir, environ=environ))
    return tuple(out)


def identity_from_config(cfg: Mapping[str, Any], *, base_dir: str | os.PathLike[str] | None = None,
                         environ: Mapping[str, str] | None = None) -> Identity:
    """``{as2_id: EDIHUB, keys: [{key: certs/hub.p12, password: ${HUB_P12_PASS}}, {key: hub.pem, cert: hub.crt}]}``.

    The first key signs; all of them decrypt.
    """
    keys = cfg.get("keys") or []
    if isinstance(keys, Mapping):
        keys = [keys]
    pairs = [load_key_pair(k["key"], password=k.get("password"), cert=k.get("cert"), base_dir=base_dir,
                           environ=environ) for k in keys]
    return Identity(str(cfg["as2_id"]), tuple(pairs))


def partnership_from_config(partner_id: str, cfg: Mapping[str, Any], *, our_as2_id: str | None = None,
                            async_mdn_url: str | None = None, base_dir: str | os.PathLike[str] | None = None,
                            environ: Mapping[str, str] | None = None,
                            identity: Identity | None = None) -> Partnership:
    """A :class:`Partnership` from a profile's ``as2:`` mapping (keys documented in the module README).

    ``our_as2_id`` and ``async_mdn_url`` are the hub-wide defaults from
    ``config.yaml`` (a profile may override them).
    """
    certs = _certs(cfg.get("certificates") or cfg.get("certificate"), base_dir=base_dir, environ=environ)
    enc_ref = cfg.get("encrypt_certificate")
    encrypt_cert = load_certificates(enc_ref, base_dir=base_dir, environ=environ)[0] if enc_ref else None
    headers: Sequence[tuple[str, str]] = tuple((str(k), str(v)) for k, v in (cfg.get("http_headers") or {}).items())
    ours = cfg.get("our_as2_id") or our_as2_id or (identity.as2_id if identity else None)
    if not ours:
        raise ValueError(f"{partner_id}: our AS2 id is not configured (as2.as2_id in config.yaml)")
    return Partnership(
        partner_id=partner_id,
        as2_id=str(cfg["as2_id"]),
        our_as2_id=str(ours),
        certs=certs,
        url=cfg.get("url"),
        encrypt_cert=encrypt_cert,
        sign=_algorithm(cfg, "sign", "sha256"),
        encrypt=_algorithm(cfg, "encrypt", "aes_256_cbc"),
        key_encryption=str(cfg.get("key_encryption", "rsaes_pkcs1v15")),
        compress=_flag(cfg, "compress", False),
        compress_before_sign=_flag(cfg, "compress_before_sign", True),
        mdn=str(cfg.get("mdn", "sync")),
        mdn_signed=_flag(cfg, "mdn_signed", True),
        mdn_micalg=_algorithm(cfg, "mdn_micalg", None),
        async_mdn_url=cfg.get("async_mdn_url") or async_mdn_url,
        mdn_overdue_seconds=float(cfg.get("mdn_overdue_seconds", 3600)),
        mdn_overdue_action=str(cfg.get("mdn_overdue_action", "alert")),
        mdn_overdue_resends=int(cfg.get("mdn_overdue_resends", 2)),
        mdn_url_prefixes=tuple(str(u) for u in cfg.get("mdn_url_prefixes") or ()),
        content_type=str(cfg.get("content_type", "application/edi-x12")),
        subject=str(cfg.get("subject", "EDI message")),
        require_signed=_flag(cfg, "require_signed", True),
        require_encrypted=_flag(cfg, "require_encrypted", True),
        timeout=float(cfg.get("timeout", 120)),
        attempts=int(cfg.get("attempts", 3)),
        backoff_base=float(cfg.get("backoff_base", 2)),
        backoff_cap=float(cfg.get("backoff_cap", 60)),
        http_headers=tuple(headers),
        identity=identity,
    )
