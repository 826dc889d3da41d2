"""AS2 in partner profiles: the ``as2`` channel type, its schema, and the transports built from it."""

from __future__ import annotations

import dataclasses

import pytest

from hub.as2 import partnership_from_config
from hub.partners import CHANNEL_TYPES, As2Channel, ProfileError, parse_profile, profile_schema
from hub.transports import FolderTransport, SplitTransport, build_transport
from hub.transports.as2 import As2Transport
from tests.as2.pki import make_identity
from tests.partners.helpers import ACME, write

AS2_CHANNELS = """\
channels:
  inbound: &acme_as2
    type: as2
    as2_id: ACME
    certificates: [certs/acme-2025.pem, certs/acme-2026.pem]
    sign: sha1
    encrypt: tripledes_192_cbc
    compress: true
    mdn: async
    mdn_overdue_seconds: 600
    http_headers: {X-Test: "1"}
  outbound:
    <<: *acme_as2
    url: https://as2.acme.example/receive
"""


def as2_profile(channels: str = AS2_CHANNELS) -> str:
    return ACME[: ACME.index("channels:")] + channels


def errors(text: str, tmp_path) -> list[str]:
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ProfileError) as info:
        parse_profile(path.read_text(), "acme.yaml", "acme")
    return info.value.messages


def test_as2_is_a_channel_type():
    assert CHANNEL_TYPES["as2"] is As2Channel
    assert "as2" in profile_schema()["$defs"]["channel"]["properties"]["type"]["enum"]


def test_an_as2_channel_loads_and_shares_an_anchor():
    profile = parse_profile(as2_profile(), "acme.yaml", "acme")
    inbound, outbound = profile.channels.inbound, profile.channels.outbound
    assert isinstance(inbound, As2Channel) and isinstance(outbound, As2Channel)
    assert inbound.as2_id == outbound.as2_id == "ACME"
    assert inbound.certificates == ("certs/acme-2025.pem", "certs/acme-2026.pem")
    assert (inbound.sign, inbound.encrypt, inbound.compress, inbound.mdn) == ("sha1", "tripledes_192_cbc", True,
                                                                              "async")
    assert inbound.mdn_overdue_seconds == 600 and inbound.url is None
    assert outbound.url == "https://as2.acme.example/receive"
    assert outbound.http_headers == (("X-Test", "1"),)
    assert outbound.describe() == "as2:ACME@https://as2.acme.example/receive"
    assert profile.to_json()["channels"]["outbound"]["url"] == outbound.url


def test_schema_defaults_are_the_dataclass_defaults():
    node = profile_schema()["$defs"]["as2_channel"]["properties"]
    defaults = {f.name: f.default for f in dataclasses.fields(As2Channel) if f.name in node}
    for name, prop in node.items():
        if "default" in prop:
            expected = defaults[name]
            assert prop["default"] == ({} if name == "http_headers" else [] if expected == () else expected), name


def test_the_channel_builds_a_partnership(tmp_path):
    acme = make_identity(tmp_path, "acme")
    channel = As2Channel(as2_id="ACME", url="https://as2.acme.example/r", certificates=(str(acme.cert_pem),),
                         sign="sha384", mdn="none", mdn_overdue_seconds=60)
    p = partnership_from_config("acme", channel.partnership_config(), our_as2_id="HUB")
    assert (p.as2_id, p.our_as2_id, p.sign, p.mdn, p.url) == ("ACME", "HUB", "sha384", "none", channel.url)
    assert p.certs == (acme.cert,) and p.mdn_overdue_seconds == 60


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    url: https://as2.acme.example/receive\n", "", "channels.outbound: an outbound as2 channel needs 'url'"),
        ("    as2_id: ACME\n", "", "channels.inbound: 'as2_id' is a required property"),
        ("sign: sha1", "sign: md5", "channels.inbound.sign: 'md5' is not one of"),
        ("mdn: async", "mdn: later", "channels.inbound.mdn: 'later' is not one of"),
        ("mdn_overdue_seconds: 600", "mdn_overdue_seconds: -1", "channels.inbound.mdn_overdue_seconds: -1 is less"),
        ("compress: true", "compres: true", "channels.inbound.compres: unknown key"),
        ("url: https://as2", "url: ftp://as2", "channels.outbound.url: 'ftp://as2"),
        ("mdn: async", "mdn: async\n    mdn_overdue_action: retry",
         "channels.inbound.mdn_overdue_action: 'retry' is not one of ['alert', 'resend']"),
        ("mdn: async", "mdn: async\n    mdn_overdue_resends: -1", "channels.inbound.mdn_overdue_resends: -1 is less"),
    ],
)
def test_as2_channel_errors_name_the_key(tmp_path, old, new, expected):
    text = as2_profile()
    assert old in text
    found = errors(text.replace(old, new), tmp_path)
    assert any(expected in m for m in found), found


def test_build_transport_for_as2_channels(tmp_path):
    profile = parse_profile(as2_profile(), "acme.yaml", "acme")
    transport = build_transport(profile, as2_config={"folder": str(tmp_path / "as2")})
    assert isinstance(transport, SplitTransport)
    assert isinstance(transport.inbound_transport, FolderTransport)
    assert transport.inbound == tmp_path / "as2" / "inbound" / "acme" and transport.inbound.is_dir()
    assert isinstance(transport.outbound_transport, As2Transport)
    assert transport.poll() == [] and transport.outbound_transport.poll() == []
    # folder in, AS2 out
    folder_in = as2_profile("""\
channels:
  inbound: {type: folder, path: inbound/acme/}
  outbound: {type: as2, as2_id: ACME, certificates: [acme.pem], url: "https://as2.acme.example/r", mdn: none}
""")
    profile = parse_profile(folder_in, "acme.yaml", "acme")
    assert profile.channels.inbound.type == "folder" and profile.channels.outbound.type == "as2"
    transport = build_transport(profile, as2_config={})
    assert isinstance(transport.outbound_transport, As2Transport)
    assert transport.inbound == transport.inbound_transport.inbound


def test_overdue_mdn_settings_reach_the_partnership(tmp_path):
    text = as2_profile().replace("    mdn: async\n", "    mdn: async\n    mdn_overdue_action: resend\n"
                                                   "    mdn_overdue_resends: 4\n")
    profile = parse_profile(text, "acme.yaml", "acme")
    channel = profile.channels.outbound
    assert (channel.mdn_overdue_action, channel.mdn_overdue_resends) == ("resend", 4)
    assert isinstance(channel.mdn_overdue_resends, int)
    acme = make_identity(tmp_path, "acme")
    config = {**channel.partnership_config(), "certificates": [str(acme.cert_pem)]}
    p = partnership_from_config("acme", config, our_as2_id="HUB", async_mdn_url="https://hub.example/as2")
    assert (p.mdn_overdue_action, p.mdn_overdue_resends) == ("resend", 4)
    defaults = partnership_from_config("acme", {"as2_id": "ACME", "certificates": [str(acme.cert_pem)]},
                                       our_as2_id="HUB")
    assert (defaults.mdn_overdue_action, defaults.mdn_overdue_resends) == ("alert", 2)
    with pytest.raises(ValueError, match="mdn_overdue_action must be one of"):
        partnership_from_config("acme", {**config, "mdn_overdue_action": "later"}, our_as2_id="HUB",
                                async_mdn_url="https://hub.example/as2")
