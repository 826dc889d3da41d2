"""A new partner's profile YAML (``edihub partner add``): valid as written, commented for editing."""

from __future__ import annotations

import json

from hub.partners.profile import EDIFACT, X12

# The documents a new partner starts with: (type, direction) per standard.
STARTER_DOCUMENTS = {
    X12: (("850", "inbound"), ("855", "outbound"), ("856", "outbound"), ("810", "outbound")),
    EDIFACT: (("ORDERS", "inbound"), ("ORDRSP", "outbound"), ("DESADV", "outbound"), ("INVOIC", "outbound")),
}
DEFAULT_VERSION = {X12: "004010", EDIFACT: "D96A"}
DEFAULT_OUR_QUALIFIER = {X12: "ZZ", EDIFACT: "ZZZ"}
DEFAULT_OUR_ID = "EDIHUB"


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def render_profile(
    partner_id: str,
    name: str,
    standard: str,
    sender_qualifier: str | None,
    sender_id: str,
    our_qualifier: str | None = None,
    our_id: str = DEFAULT_OUR_ID,
    version: str | None = None,
) -> str:
    """The YAML text of a new profile with folder channels ``inbound/<id>/`` and ``outbound/<id>/``."""
    if standard not in STARTER_DOCUMENTS:
        raise ValueError(f"standard must be {X12} or {EDIFACT}, not {standard!r}")
    version = version or DEFAULT_VERSION[standard]
    our_qualifier = our_qualifier if our_qualifier is not None else DEFAULT_OUR_QUALIFIER[standard]
    lines = [
        f"# Partner profile of {name}: see hub/partners/profile.schema.json for every key.",
        '# Secrets are never written here: use "${ENV_NAME}" or "file:/path" references.',
        f"id: {_q(partner_id)}",
        f"name: {_q(name)}",
        "active: true",
        "",
        "identities:",
        f"  {standard}:",
    ]
    if standard == X12:
        lines += [
            "    sender:            # the partner: ISA05 / ISA06",
            f"      qualifier: {_q(sender_qualifier or '')}",
            f"      id: {_q(sender_id)}",
            "    receiver:          # us: ISA07 / ISA08",
            f"      qualifier: {_q(our_qualifier)}",
            f"      id: {_q(our_id)}",
            f"    application_sender: {_q(sender_id)}     # GS02",
            f"    application_receiver: {_q(our_id)}   # GS03",
        ]
    else:
        lines += ["    sender:            # the partner: UNB S002", f"      id: {_q(sender_id)}"]
        if sender_qualifier:
            lines.append(f"      qualifier: {_q(sender_qualifier)}")
        lines += ["    receiver:          # us: UNB S003", f"      id: {_q(our_id)}"]
        if our_qualifier:
            lines.append(f"      qualifier: {_q(our_qualifier)}")
    lines += ["", "documents:"]
    for doc_type, direction in STARTER_DOCUMENTS[standard]:
        lines += [
            f"  - type: {_q(doc_type)}",
            f"    direction: {direction}",
            f"    version: {_q(version)}",
            f"    mapping: {_q(f'common/{doc_type}.{version}')}",
        ]
    lines += [
        "",
        "channels:",
        "  inbound:",
        "    type: folder",
        f"    path: {_q(f'inbound/{partner_id}/')}",
        "  outbound:",
        "    type: folder",
        f"    path: {_q(f'outbound/{partner_id}/')}",
        "",
        "acknowledgments:",
    ]
    if standard == X12:
        lines += [
            "  x12:",
            '    functional: "997"         # 997 | 999 | none',
            "    ta1: when_requested      # never | when_requested | always",
        ]
    else:
        lines += ["  edifact:", "    contrl: always           # none | errors_only | always"]
    lines += [
        "  expected_within_minutes: 1440   # the partner acknowledges what we send within a day",
        "",
        "syntax:",
    ]
    if standard == X12:
        lines += [
            "  x12:",
            '    element: "*"',
            '    component: ">"',
            '    repetition: "^"',
            '    segment: "~"',
            "    line_ending: none       # none | lf | crlf",
        ]
    else:
        lines += ["  edifact:", '    una: ":+.? \'"', "    send_una: true"]
    lines += [
        "",
        "control_numbers:",
        "  per_partner: true",
        "  interchange: {start: 1, width: 9}",
        "  group: {start: 1, width: 9}",
        "  transaction: {start: 1, width: 4}",
        "",
        "# Finding code -> error | warning | ignore, for this partner only.",
        "leniency: {}",
        "",
    ]
    return "\n".join(lines)
