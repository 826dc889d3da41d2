"""The partner profile as typed, frozen dataclasses (one ``partner_profiles/<id>.yaml``).

The YAML is checked against ``profile.schema.json`` and by :mod:`hub.partners.load`
before these are built, so the builders here trust their input.  Defaults live
here and are repeated as ``default`` in the JSON Schema (a test keeps them equal).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from hub.edi.core import Delimiters

X12 = "x12"
EDIFACT = "edifact"
STANDARDS = (X12, EDIFACT)

X12_DOCUMENTS = ("850", "855", "856", "810", "997", "999")
EDIFACT_DOCUMENTS = ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "CONTRL")
ACK_DOCUMENTS = ("997", "999", "CONTRL")

INBOUND = "inbound"
OUTBOUND = "outbound"

SECRET_PATTERN = r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:\S.*)$"
_SECRET_RE = re.compile(SECRET_PATTERN)
_ENV_RE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

LINE_ENDINGS = {"none": "", "lf": "\n", "crlf": "\r\n"}


def standard_of(document_type: str) -> str:
    """``x12`` for 850..999, ``edifact`` for ORDERS..CONTRL."""
    return X12 if document_type in X12_DOCUMENTS else EDIFACT


def is_secret_reference(value: object) -> bool:
    """True for ``${ENV_NAME}`` and ``file:/path``: the only forms a credential may take in a profile."""
    return isinstance(value, str) and _SECRET_RE.match(value) is not None


def resolve_secret(reference: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret a reference points to (environment variable, or the file's text without its final newline)."""
    environ = os.environ if environ is None else environ
    match = _ENV_RE.match(reference)
    if match:
        name = match.group(1)
        if name not in environ:
            raise KeyError(f"environment variable {name} is not set")
        return environ[name]
    if reference.startswith("file:") and is_secret_reference(reference):
        return Path(reference[5:]).read_text(encoding="utf-8").rstrip("\r\n")
    raise ValueError("not a secret reference: use '${ENV_NAME}' or 'file:/path'")


# ------------------------------------------------------------------ identities


@dataclass(frozen=True, slots=True)
class PartyId:
    """An envelope identity: X12 ISA05/06 (or 07/08), EDIFACT UNB 0004/0007 (or 0010/0007)."""

    id: str
    qualifier: str | None = None

    def key(self) -> tuple[str, str]:
        """What two identities are compared on (X12 IDs are space-padded in the ISA)."""
        return ((self.qualifier or "").strip(), self.id.strip())

    def __str__(self) -> str:
        return f"{self.qualifier}/{self.id}" if self.qualifier else self.id


@dataclass(frozen=True, slots=True)
class X12Identity:
    sender: PartyId
    """The partner: ISA05 qualifier, ISA06 id."""
    receiver: PartyId
    """Us: ISA07 qualifier, ISA08 id."""
    application_sender: str
    """GS02 (the partner's application code)."""
    application_receiver: str
    """GS03 (ours)."""


@dataclass(frozen=True, slots=True)
class EdifactIdentity:
    sender: PartyId
    """The partner: UNB S002 (0004 id, 0007 qualifier)."""
    receiver: PartyId
    """Us: UNB S003 (0010 id, 0007 qualifier)."""


@dataclass(frozen=True, slots=True)
class Identities:
    x12: X12Identity | None = None
    edifact: EdifactIdentity | None = None

    def sender(self, standard: str) -> PartyId | None:
        ident = self.x12 if standard == X12 else self.edifact if standard == EDIFACT else None
        return ident.sender if ident is not None else None


# ------------------------------------------------------------------- documents


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    """One document exchanged: ``type`` (850, ORDERS...), ``direction``, ``version``, ``mapping`` name."""

    type: str
    direction: str
    version: str
    mapping: str | None = None
    """A mapping name such as ``common/850.004010``, resolved under ``mappings/`` by the mapping loader."""

    @property
    def standard(self) -> str:
        return standard_of(self.type)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "direction": self.direction, "version": self.version}
        if self.mapping is not None:
            out["mapping"] = self.mapping
        return out


# -------------------------------------------------------------------- channels


@dataclass(frozen=True, slots=True)
class Channel:
    """A transport binding; ``type`` picks the subclass (folder, sftp, as2)."""

    type: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type}

    def describe(self) -> str:
        return self.type


@dataclass(frozen=True, slots=True)
class FolderChannel(Channel):
    type: ClassVar[str] = "folder"
    path: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path}

    def describe(self) -> str:
        return f"folder:{self.path}"


AFTER_PICKUP = ("delete", "move", "keep")
"""What an SFTP client channel does with a remote file once the store holds it."""


@dataclass(frozen=True, slots=True)
class SftpChannel(Channel):
    """A partner's (or a VAN's) SFTP server that the hub logs in to (see :mod:`hub.transports.sftp`).

    One class serves both directions: as ``channels.inbound`` the hub polls
    ``folder`` for files matching ``pattern`` and settles them by
    ``after_pickup``; as ``channels.outbound`` it uploads into ``folder``.
    Keys that only make sense inbound are ignored outbound, so that both
    channels can share their connection keys through a YAML anchor
    (``outbound: {<<: *acme_sftp, folder: /in}``).  Credentials are references
    (``${ENV}`` or ``file:``), resolved only when connecting; ``host_key`` is
    required because a server whose key is not the pinned one must be refused,
    never trusted on first use.
    """

    type: ClassVar[str] = "sftp"
    host: str = ""
    user: str = ""
    host_key: str = ""
    """``SHA256:<base64>`` (as ``ssh-keygen -lf`` prints it) or a known_hosts line / ``<type> <base64>``."""
    folder: str = "."
    """The remote folder: polled when inbound, written to when outbound (relative to the login folder or absolute)."""
    port: int = 22
    private_key: str | None = None
    """A reference to the private key's text (``file:/path/id_ed25519`` or ``${ENV}``)."""
    passphrase: str | None = None
    password: str | None = None
    pattern: str = "*"
    after_pickup: str = "delete"
    archive_folder: str | None = None
    """The remote folder files are moved to when ``after_pickup`` is ``move``."""
    min_age_seconds: float = 10.0
    """A remote file is taken when two listings at least this far apart saw the same size and mtime."""
    timeout_seconds: float = 30.0
    retries: int = 3
    """Further attempts after a connection failure, ``retry_delay_seconds`` apart and doubling each time."""
    retry_delay_seconds: float = 2.0

    def to_json(self) -> dict[str, Any]:
        """Everything but the credential references (they are not secrets, but nobody needs them in a listing)."""
        return {"type": self.type, "host": self.host, "port": self.port, "user": self.user, "folder": self.folder,
                "host_key": self.host_key}

    def describe(self) -> str:
        folder = self.folder if self.folder.startswith("/") else f"/{self.folder}"
        return f"sftp://{self.user}@{self.host}:{self.port}{folder}"


AS2_SIGN = ("sha1", "sha224", "sha256", "sha384", "sha512")
AS2_ENCRYPT = ("tripledes_192_cbc", "aes_128_cbc", "aes_192_cbc", "aes_256_cbc")
AS2_MDN_MODES = ("sync", "async", "none")
AS2_MDN_OVERDUE_ACTIONS = ("alert", "resend")


@dataclass(frozen=True, slots=True)
class As2Channel(Channel):
    """An AS2 (RFC 4130) partnership (see ``hub/as2/README.md``, "Profile keys").

    As ``channels.outbound`` the hub POSTs to the partner's ``url``
    (:class:`hub.transports.as2.As2Transport`); as ``channels.inbound`` the
    partner POSTs to the hub's endpoint (``as2.port`` of config.yaml) and each
    verified payload is written into the hub-managed folder
    ``<as2.folder>/inbound/<partner>/``, which the pipeline polls like any drop
    zone.  Both channels may share one YAML anchor; ``url`` is only needed
    outbound.  :meth:`partnership_config` is the mapping
    :func:`hub.as2.partnership_from_config` takes.
    """

    type: ClassVar[str] = "as2"
    as2_id: str = ""
    """The partner's AS2 name (AS2-From of what they send, AS2-To of what we send)."""
    url: str | None = None
    certificates: tuple[str, ...] = ()
    """The partner's certificates (paths, ``file:`` or ``${ENV}``); signatures verify against any (rollover)."""
    our_as2_id: str | None = None
    encrypt_certificate: str | None = None
    sign: str | None = "sha256"
    encrypt: str | None = "aes_256_cbc"
    key_encryption: str = "rsaes_pkcs1v15"
    compress: bool = False
    compress_before_sign: bool = True
    mdn: str = "sync"
    mdn_signed: bool = True
    mdn_micalg: str | None = None
    async_mdn_url: str | None = None
    mdn_overdue_seconds: float = 3600.0
    mdn_overdue_action: str = "alert"
    """An async MDN later than ``mdn_overdue_seconds``: ``alert`` (report it) or ``resend`` (the same message
    again, same Message-ID, up to ``mdn_overdue_resends`` times, then alert)."""
    mdn_overdue_resends: int = 2
    mdn_url_prefixes: tuple[str, ...] = ()
    content_type: str = "application/edi-x12"
    subject: str = "EDI message"
    require_signed: bool = True
    require_encrypted: bool = True
    timeout: float = 120.0
    attempts: int = 3
    backoff_base: float = 2.0
    backoff_cap: float = 60.0
    http_headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        certs = self.certificates
        object.__setattr__(self, "certificates", (certs,) if isinstance(certs, str) else tuple(certs))
        object.__setattr__(self, "mdn_url_prefixes", tuple(self.mdn_url_prefixes))
        headers = self.http_headers
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        object.__setattr__(self, "http_headers", tuple((str(k), str(v)) for k, v in pairs))

    def partnership_config(self) -> dict[str, Any]:
        """The ``as2:`` mapping of ``hub/as2/README.md`` for :func:`hub.as2.partnership_from_config`."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["certificates"] = list(self.certificates)
        out["mdn_url_prefixes"] = list(self.mdn_url_prefixes)
        out["http_headers"] = dict(self.http_headers)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "as2_id": self.as2_id, "url": self.url, "sign": self.sign,
                "encrypt": self.encrypt, "compress": self.compress, "mdn": self.mdn,
                "certificates": list(self.certificates)}

    def describe(self) -> str:
        return f"as2:{self.as2_id}" + (f"@{self.url}" if self.url else "")


CHANNEL_TYPES: dict[str, type[Channel]] = {"folder": FolderChannel, "sftp": SftpChannel, "as2": As2Channel}
"""``type`` -> class; a new transport adds its class here and its branch in profile.schema.json."""


@dataclass(frozen=True, slots=True)
class Channels:
    inbound: Channel
    outbound: Channel


@dataclass(frozen=True, slots=True)
class SftpAccount:
    """The partner's login on the hub's own SFTP drop zone (:mod:`hub.transports.sftp_server`).

    ``public_keys``: OpenSSH public key lines (``ssh-ed25519 AAAA... comment``)
    or ``file:`` paths of ``.pub`` / authorized_keys files.  Passwords are not
    offered: a drop zone on the internet takes keys only.
    """

    username: str
    public_keys: tuple[str, ...] = ()


# ------------------------------------------------------------ acknowledgments


@dataclass(frozen=True, slots=True)
class AckPolicy:
    x12_functional: str = "997"
    """The functional acknowledgment we send for X12: ``997``, ``999`` or ``none``."""
    ta1: str = "when_requested"
    """``never``, ``when_requested`` (ISA14 = 1) or ``always``."""
    edifact_contrl: str = "always"
    """``none``, ``errors_only`` or ``always``."""
    expected_within_minutes: int | None = 1440
    """SLA for the partner's acknowledgment of what we send; ``None``: none expected."""


# ---------------------------------------------------------------------- syntax


@dataclass(frozen=True, slots=True)
class X12Syntax:
    element: str = "*"
    component: str = ">"
    repetition: str | None = "^"
    segment: str = "~"
    line_ending: str = "none"

    def delimiters(self) -> Delimiters:
        return Delimiters(
            element=self.element,
            component=self.component,
            segment=self.segment,
            repetition=self.repetition,
            segment_suffix=LINE_ENDINGS[self.line_ending],
        )


@dataclass(frozen=True, slots=True)
class EdifactSyntax:
    una: str = ":+.? '"
    """Component, element, decimal mark, release, repetition (space: none), segment."""
    send_una: bool = True
    line_ending: str = "none"

    def delimiters(self) -> Delimiters:
        una = self.una
        return Delimiters(
            component=una[0],
            element=una[1],
            decimal=una[2],
            release=una[3],
            repetition=None if una[4] == " " else una[4],
            segment=una[5],
            segment_suffix=LINE_ENDINGS[self.line_ending],
        )


@dataclass(frozen=True, slots=True)
class Syntax:
    x12: X12Syntax = field(default_factory=X12Syntax)
    edifact: EdifactSyntax = field(default_factory=EdifactSyntax)


# ------------------------------------------------------------- control numbers


@dataclass(frozen=True, slots=True)
class Counter:
    start: int = 1
    width: int = 9

    def format(self, value: int) -> str:
        return str(value).zfill(self.width)


@dataclass(frozen=True, slots=True)
class ControlNumberPolicy:
    per_partner: bool = True
    """True: this partner has its own counters; False: the hub-wide ones."""
    interchange: Counter = field(default_factory=lambda: Counter(1, 9))
    group: Counter = field(default_factory=lambda: Counter(1, 9))
    transaction: Counter = field(default_factory=lambda: Counter(1, 4))


# --------------------------------------------------------------------- profile


@dataclass(frozen=True, slots=True)
class Schedule:
    """When ``edihub serve`` polls the partner: ``interval_seconds`` or a five-field ``cron`` (UTC); neither:
    the configuration's ``runtime.poll_seconds``."""

    interval_seconds: float | None = None
    cron: str | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """This partner's retry settings, each replacing the configuration's ``runtime`` value when given
    (``None``: the configuration's): attempts before an item fails, the longest wait between two attempts
    (a cap on the exponential backoff) and the duplicate-interchange window."""

    max_attempts: int | None = None
    max_delay_seconds: float | None = None
    duplicate_window_days: int | None = None


@dataclass(frozen=True, slots=True)
class PartnerProfile:
    """One trading partner, from ``partner_profiles/<id>.yaml``."""

    id: str
    name: str
    identities: Identities
    documents: tuple[DocumentSpec, ...]
    channels: Channels
    active: bool = True
    acknowledgments: AckPolicy = field(default_factory=AckPolicy)
    syntax: Syntax = field(default_factory=Syntax)
    control_numbers: ControlNumberPolicy = field(default_factory=ControlNumberPolicy)
    leniency: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    schedule: Schedule = field(default_factory=Schedule)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """Finding code -> ``error`` | ``warning`` | ``ignore``."""
    sftp_account: SftpAccount | None = None
    """The partner's account on the hub's hosted SFTP drop zone; ``None``: it has none."""
    source: str = field(default="", compare=False)
    """The file the profile was read from, as given."""
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)
    """Key path (``documents[0].mapping``) -> line in ``source``, for later error messages."""

    @property
    def standards(self) -> tuple[str, ...]:
        """The standards of the documents exchanged, in ``STANDARDS`` order."""
        used = {d.standard for d in self.documents}
        return tuple(s for s in STANDARDS if s in used)

    def documents_for(self, direction: str, standard: str | None = None) -> list[DocumentSpec]:
        return [d for d in self.documents if d.direction == direction and (standard is None or d.standard == standard)]

    def document(self, type: str, direction: str, version: str | None = None) -> DocumentSpec | None:
        for d in self.documents:
            if d.type == type and d.direction == direction and (version is None or d.version == version):
                return d
        return None

    def where(self, key_path: str) -> str:
        """``file:line`` of a key path (the closest enclosing key that has a line)."""
        path = key_path
        while path:
            if path in self.lines:
                return f"{self.source}:{self.lines[path]}"
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return f"{self.source}:1"

    def to_json(self) -> dict[str, Any]:
        """A summary for ``edihub partner list --json``."""
        return {
            "id": self.id,
            "name": self.name,
            "active": self.active,
            "standards": list(self.standards),
            "documents": [d.to_json() for d in self.documents],
            "channels": {"inbound": self.channels.inbound.to_json(), "outbound": self.channels.outbound.to_json()},
            **({"sftp_account": {"username": self.sftp_account.username}} if self.sftp_account else {}),
            "source": self.source,
        }


# -------------------------------------------------------------------- building


def _party(data: Mapping[str, Any]) -> PartyId:
    return PartyId(id=data["id"], qualifier=data.get("qualifier"))


def _counter(data: Mapping[str, Any] | None, width: int) -> Counter:
    data = data or {}
    return Counter(start=data.get("start", 1), width=data.get("width", width))


def build_profile(data: Mapping[str, Any], source: str = "", lines: Mapping[str, int] | None = None) -> PartnerProfile:
    """A :class:`PartnerProfile` from data already checked against the schema."""
    ids = data["identities"]
    x12 = edifact = None
    if "x12" in ids:
        d = ids["x12"]
        sender, receiver = _party(d["sender"]), _party(d["receiver"])
        x12 = X12Identity(
            sender=sender,
            receiver=receiver,
            application_sender=d.get("application_sender", sender.id),
            application_receiver=d.get("application_receiver", receiver.id),
        )
    if "edifact" in ids:
        d = ids["edifact"]
        edifact = EdifactIdentity(sender=_party(d["sender"]), receiver=_party(d["receiver"]))
    channels = data["channels"]
    acks = data.get("acknowledgments", {})
    default_acks = AckPolicy()
    syntax = data.get("syntax", {})
    numbers = data.get("control_numbers", {})
    return PartnerProfile(
        id=data["id"],
        name=data["name"],
        active=data.get("active", True),
        identities=Identities(x12=x12, edifact=edifact),
        documents=tuple(
            DocumentSpec(type=d["type"], direction=d["direction"], version=d["version"], mapping=d.get("mapping"))
            for d in data["documents"]
        ),
        channels=Channels(inbound=build_channel(channels["inbound"]), outbound=build_channel(channels["outbound"])),
        acknowledgments=AckPolicy(
            x12_functional=acks.get("x12", {}).get("functional", default_acks.x12_functional),
            ta1=acks.get("x12", {}).get("ta1", default_acks.ta1),
            edifact_contrl=acks.get("edifact", {}).get("contrl", default_acks.edifact_contrl),
            expected_within_minutes=acks.get("expected_within_minutes", default_acks.expected_within_minutes),
        ),
        syntax=Syntax(x12=X12Syntax(**syntax.get("x12", {})), edifact=EdifactSyntax(**syntax.get("edifact", {}))),
        control_numbers=ControlNumberPolicy(
            per_partner=numbers.get("per_partner", True),
            interchange=_counter(numbers.get("interchange"), 9),
            group=_counter(numbers.get("group"), 9),
            transaction=_counter(numbers.get("transaction"), 4),
        ),
        leniency=MappingProxyType(dict(data.get("leniency", {}))),
        schedule=Schedule(**data.get("schedule", {})),
        retry=RetryPolicy(**data.get("retry", {})),
        sftp_account=_sftp_account(data.get("sftp_account"), data["id"]),
        source=source,
        lines=MappingProxyType(dict(lines or {})),
    )


def _sftp_account(data: Mapping[str, Any] | None, partner_id: str) -> SftpAccount | None:
    if data is None:
        return None
    return SftpAccount(username=data.get("username", partner_id), public_keys=tuple(data["public_keys"]))


def build_channel(data: Mapping[str, Any]) -> Channel:
    cls = CHANNEL_TYPES[data["type"]]
    return cls(**{k: v for k, v in data.items() if k != "type"})
