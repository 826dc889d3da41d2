"""Valid profiles load into typed, frozen dataclasses; partners are found by envelope identity."""

from __future__ import annotations

import dataclasses

import pytest

from hub.partners import (
    AckPolicy,
    ControlNumberPolicy,
    EdifactSyntax,
    FolderChannel,
    X12Syntax,
    find_partner,
    load_profile,
    load_profiles,
    profile_schema,
    resolve_secret,
)
from tests.partners.helpers import ACME, GLOBEX, write


def test_a_minimal_x12_profile_loads_with_defaults(tmp_path):
    profile = load_profile(write(tmp_path, "acme.yaml", ACME))
    assert profile.id == "acme" and profile.name == "ACME Corp" and profile.active
    x12 = profile.identities.x12
    assert (x12.sender.qualifier, x12.sender.id) == ("ZZ", "ACMEBUYER")
    assert (x12.receiver.qualifier, x12.receiver.id) == ("ZZ", "EDIHUBSUPPLY")
    assert (x12.application_sender, x12.application_receiver) == ("ACMEBUYER", "EDIHUBSUPPLY")
    assert profile.identities.edifact is None
    (doc,) = profile.documents
    # Unquoted 850 and 004010 (octal 2056 to YAML) are read as written.
    assert (doc.type, doc.direction, doc.version, doc.mapping) == ("850", "inbound", "004010", "common/850.004010")
    assert doc.standard == "x12" and profile.standards == ("x12",)
    assert profile.channels.inbound == FolderChannel(path="inbound/acme/")
    assert profile.acknowledgments == AckPolicy()
    assert profile.syntax.x12 == X12Syntax()
    assert profile.control_numbers == ControlNumberPolicy()
    assert dict(profile.leniency) == {}
    assert profile.source == str(tmp_path / "acme.yaml")
    assert profile.where("documents[0].mapping") == f"{tmp_path / 'acme.yaml'}:11"
    assert profile.document("850", "inbound").version == "004010"
    assert profile.document("810", "outbound") is None


def test_profiles_are_frozen(tmp_path):
    profile = load_profile(write(tmp_path, "acme.yaml", ACME))
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.name = "other"
    with pytest.raises(TypeError):
        profile.leniency["SE01_COUNT"] = "ignore"


def test_an_edifact_profile_with_every_section(tmp_path):
    profile = load_profile(write(tmp_path, "globex.yaml", GLOBEX))
    ident = profile.identities.edifact
    assert (ident.sender.id, ident.sender.qualifier) == ("5412345000013", "14")
    assert [d.type for d in profile.documents_for("outbound")] == ["INVOIC", "CONTRL"]
    assert profile.documents[2].mapping is None
    assert profile.acknowledgments.edifact_contrl == "errors_only"
    assert profile.acknowledgments.expected_within_minutes is None
    syntax = profile.syntax.edifact
    assert syntax == EdifactSyntax(una=":+,? '", send_una=False, line_ending="crlf")
    delims = syntax.delimiters()
    assert (delims.component, delims.element, delims.decimal, delims.release, delims.segment) == (
        ":",
        "+",
        ",",
        "?",
        "'",
    )
    assert delims.repetition is None and delims.segment_suffix == "\r\n"


def test_every_section_of_a_full_x12_profile(tmp_path):
    text = (
        ACME
        + """\
active: false
acknowledgments:
  x12: {functional: 999, ta1: always}
  expected_within_minutes: 60
syntax:
  x12: {element: "|", component: "\\\\", repetition: null, segment: "\\x1c", line_ending: lf}
control_numbers:
  per_partner: false
  interchange: {start: 500, width: 9}
  transaction: {start: 7, width: 9}
leniency:
  SE01_COUNT: warning
  ELEMENT_UNKNOWN_CODE: ignore
"""
    )
    profile = load_profile(write(tmp_path, "acme.yaml", text))
    assert not profile.active
    assert profile.acknowledgments == AckPolicy("999", "always", "always", 60)
    assert profile.syntax.x12 == X12Syntax("|", "\\", None, "\x1c", "lf")
    assert profile.syntax.x12.delimiters().segment_suffix == "\n"
    numbers = profile.control_numbers
    assert not numbers.per_partner
    assert (numbers.interchange.start, numbers.group.start, numbers.transaction.width) == (500, 1, 9)
    assert numbers.interchange.format(500) == "000000500"
    assert dict(profile.leniency) == {"SE01_COUNT": "warning", "ELEMENT_UNKNOWN_CODE": "ignore"}


def test_load_profiles_reads_the_folder(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    write(tmp_path, "globex.yaml", GLOBEX)
    write(tmp_path, "notes.txt", "not a profile")
    write(tmp_path, ".hidden.yaml", "not: [a profile")
    profiles = load_profiles(tmp_path)
    assert sorted(profiles) == ["acme", "globex"]


def test_find_partner_by_envelope_identity(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    write(tmp_path, "globex.yaml", GLOBEX)
    write(tmp_path, "old.yaml", ACME.replace("acme", "old").replace("ACMEBUYER", "OLDBUYER") + "active: false\n")
    profiles = load_profiles(tmp_path)
    assert find_partner(profiles, "x12", "ZZ", "ACMEBUYER      ").id == "acme"  # ISA06 is space-padded
    assert find_partner(profiles, "x12", "01", "ACMEBUYER") is None
    assert find_partner(profiles, "edifact", "14", "5412345000013").id == "globex"
    assert find_partner(profiles, "edifact", None, "5412345000013") is None
    assert find_partner(profiles, "x12", "ZZ", "5412345000013") is None
    assert find_partner(profiles, "x12", "ZZ", "OLDBUYER") is None
    assert find_partner(profiles.values(), "x12", "ZZ", "OLDBUYER", active_only=False).id == "old"


def _defaults(schema, node):
    return {k: v.get("default") for k, v in node["properties"].items() if "default" in v}


def test_schema_defaults_are_the_dataclass_defaults():
    defs = profile_schema()["$defs"]
    assert _defaults(defs, defs["syntax"]["properties"]["x12"]) == dataclasses.asdict(X12Syntax())
    assert _defaults(defs, defs["syntax"]["properties"]["edifact"]) == dataclasses.asdict(EdifactSyntax())
    acks = defs["acknowledgments"]["properties"]
    assert acks["x12"]["properties"]["functional"]["default"] == AckPolicy().x12_functional
    assert acks["x12"]["properties"]["ta1"]["default"] == AckPolicy().ta1
    assert acks["edifact"]["properties"]["contrl"]["default"] == AckPolicy().edifact_contrl
    assert acks["expected_within_minutes"]["default"] == AckPolicy().expected_within_minutes


def test_resolve_secret(tmp_path):
    assert resolve_secret("${SFTP_PASSWORD}", {"SFTP_PASSWORD": "s3cret"}) == "s3cret"
    key = write(tmp_path, "key.txt", "k3y\n")
    assert resolve_secret(f"file:{key}") == "k3y"
    with pytest.raises(KeyError, match="SFTP_PASSWORD"):
        resolve_secret("${SFTP_PASSWORD}", {})
    with pytest.raises(ValueError, match="not a secret reference"):
        resolve_secret("hunter2", {})
