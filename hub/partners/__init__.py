"""Partner profiles: ``partner_profiles/<id>.yaml``, checked against ``profile.schema.json``.

>>> from hub.partners import load_profiles, find_partner, apply_leniency
>>> profiles = load_profiles("partner_profiles")        # ProfileError lists every file:line: key: problem
>>> acme = find_partner(profiles, "x12", "ZZ", "ACMEBUYER")
>>> findings = apply_leniency(findings, acme)           # per-partner severities, "ignore" dropped
"""

from hub.partners.leniency import LENIENCY_LEVELS, apply_leniency
from hub.partners.load import (
    DEFAULT_FOLDER,
    PROFILE_SUFFIX,
    ProfileError,
    check_profiles,
    find_partner,
    format_path,
    load_profile,
    load_profiles,
    parse_profile,
    profile_files,
    profile_schema,
)
from hub.partners.profile import (
    CHANNEL_TYPES,
    EDIFACT,
    STANDARDS,
    X12,
    AckPolicy,
    Channel,
    Channels,
    ControlNumberPolicy,
    Counter,
    DocumentSpec,
    EdifactIdentity,
    EdifactSyntax,
    FolderChannel,
    Identities,
    PartnerProfile,
    PartyId,
    Syntax,
    X12Identity,
    X12Syntax,
    is_secret_reference,
    resolve_secret,
    standard_of,
)
from hub.partners.scaffold import render_profile

__all__ = [
    "CHANNEL_TYPES",
    "DEFAULT_FOLDER",
    "EDIFACT",
    "LENIENCY_LEVELS",
    "PROFILE_SUFFIX",
    "STANDARDS",
    "X12",
    "AckPolicy",
    "Channel",
    "Channels",
    "ControlNumberPolicy",
    "Counter",
    "DocumentSpec",
    "EdifactIdentity",
    "EdifactSyntax",
    "FolderChannel",
    "Identities",
    "PartnerProfile",
    "PartyId",
    "ProfileError",
    "Syntax",
    "X12Identity",
    "X12Syntax",
    "apply_leniency",
    "check_profiles",
    "find_partner",
    "format_path",
    "is_secret_reference",
    "load_profile",
    "load_profiles",
    "parse_profile",
    "profile_files",
    "profile_schema",
    "render_profile",
    "resolve_secret",
    "standard_of",
]
