"""SFTP in partner profiles: the ``sftp`` channel type and the ``sftp_account`` of the hosted drop zone."""

from __future__ import annotations

import dataclasses

import pytest

from hub.partners import ProfileError, SftpAccount, SftpChannel, check_profiles, parse_profile, profile_schema
from tests.partners.helpers import ACME, write

FINGERPRINT = "SHA256:" + "q" * 43
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhNbp3M8o0Hh7ZKr6Eh0Gd7nP0UuR1F5d3OqjJ0Yw2c acme@laptop"

SFTP_CHANNELS = f"""\
channels:
  inbound: &acme_sftp
    type: sftp
    host: sftp.acme.example
    port: 2222
    user: edihub
    host_key: "{FINGERPRINT}"
    private_key: "file:/run/secrets/acme_sftp_key"
    folder: /outbox
    pattern: "*.x12"
    after_pickup: move
    archive_folder: /outbox/done
  outbound:
    <<: *acme_sftp
    folder: /inbox
"""


def sftp_profile(channels: str = SFTP_CHANNELS, extra: str = "") -> str:
    head = ACME[: ACME.index("channels:")]
    return head + channels + extra


def errors(text: str, tmp_path) -> list[str]:
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ProfileError) as info:
        parse_profile(path.read_text(), "acme.yaml", "acme")
    return info.value.messages


def test_an_sftp_channel_loads_with_its_defaults_and_shares_an_anchor():
    profile = parse_profile(sftp_profile(), "acme.yaml", "acme")
    inbound, outbound = profile.channels.inbound, profile.channels.outbound
    assert isinstance(inbound, SftpChannel) and isinstance(outbound, SftpChannel)
    assert (inbound.host, inbound.port, inbound.user) == ("sftp.acme.example", 2222, "edihub")
    assert inbound.folder == "/outbox"
    assert (inbound.after_pickup, inbound.archive_folder, inbound.pattern) == ("move", "/outbox/done", "*.x12")
    assert inbound.min_age_seconds == 10.0 and inbound.retries == 3 and inbound.timeout_seconds == 30.0
    assert outbound.folder == "/inbox" and outbound.host_key == FINGERPRINT
    assert inbound.describe() == "sftp://edihub@sftp.acme.example:2222/outbox"
    summary = profile.to_json()["channels"]["inbound"]
    assert "private_key" not in summary and summary["host_key"] == FINGERPRINT
    assert profile.sftp_account is None


def test_schema_defaults_are_the_dataclass_defaults():
    node = profile_schema()["$defs"]["sftp_channel"]["properties"]
    defaults = {k: v["default"] for k, v in node.items() if "default" in v}
    fields = {f.name: f.default for f in dataclasses.fields(SftpChannel)}
    assert defaults == {k: fields[k] for k in defaults}
    assert set(node) - {"type"} == set(fields), "every field is in the schema"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (f'    host_key: "{FINGERPRINT}"\n', "", "channels.inbound: 'host_key' is a required property"),
        (FINGERPRINT, "SHA1:abc", "channels.inbound.host_key: 'SHA1:abc' does not match"),
        ('"file:/run/secrets/acme_sftp_key"', "-----BEGIN", "channels.inbound.private_key: inline secret refused"),
        ("    archive_folder: /outbox/done\n", "", "channels.inbound: 'archive_folder' is a required property"),
        ("after_pickup: move", "after_pickup: forget", "channels.inbound.after_pickup: 'forget' is not one of"),
        ("port: 2222", "port: 70000", "channels.inbound.port: 70000 is greater than the maximum"),
        ("pattern:", "patern:", "channels.inbound.patern: unknown key"),
    ],
)
def test_sftp_channel_errors_name_the_key(tmp_path, old, new, expected):
    text = sftp_profile()
    assert old in text
    messages = errors(text.replace(old, new, 1), tmp_path)
    assert any(expected in m for m in messages), messages
    assert "BEGIN" not in "".join(messages)


def test_a_password_reference_instead_of_a_key():
    text = sftp_profile().replace('private_key: "file:/run/secrets/acme_sftp_key"', "password: '${ACME_SFTP_PW}'")
    profile = parse_profile(text, "acme.yaml", "acme")
    assert profile.channels.inbound.password == "${ACME_SFTP_PW}" and profile.channels.inbound.private_key is None


def test_a_known_hosts_line_pins_the_key():
    text = sftp_profile().replace(FINGERPRINT, "[sftp.acme.example]:2222 " + " ".join(KEY.split()[:2]))
    assert parse_profile(text, "acme.yaml", "acme").channels.inbound.host_key.startswith("[sftp.acme.example]")


def test_an_sftp_account_for_the_hosted_zone(tmp_path):
    text = ACME + f'sftp_account:\n  public_keys:\n    - "{KEY}"\n    - "file:keys/acme_2.pub"\n'
    profile = parse_profile(text, "acme.yaml", "acme")
    assert profile.sftp_account == SftpAccount("acme", (KEY, "file:keys/acme_2.pub"))
    assert profile.to_json()["sftp_account"] == {"username": "acme"}
    named = parse_profile(text.replace("sftp_account:\n", "sftp_account:\n  username: acme_edi\n"), "acme.yaml", "acme")
    assert named.sftp_account.username == "acme_edi"
    broken = text.replace(f'    - "{KEY}"\n', "    - not a key\n")
    assert any("sftp_account.public_keys[0]: 'not a key' does not match" in m for m in errors(broken, tmp_path))
    empty = errors(ACME + "sftp_account:\n  public_keys: []\n", tmp_path)
    assert any(m.startswith("acme.yaml:16: sftp_account.public_keys:") for m in empty), empty


def test_the_hosted_zone_needs_an_inbound_folder_channel(tmp_path):
    text = sftp_profile(extra=f'sftp_account:\n  public_keys: ["{KEY}"]\n')
    (message,) = errors(text, tmp_path)
    assert "sftp_account: the hosted SFTP zone delivers uploads into the partner's inbound folder" in message


def test_two_partners_cannot_share_a_login(tmp_path):
    account = f'sftp_account:\n  username: shared\n  public_keys: ["{KEY}"]\n'
    first = write(tmp_path, "acme.yaml", ACME + account)
    other = ACME.replace("id: acme", "id: initech").replace("ACMEBUYER", "INITECH") + account
    second = write(tmp_path, "initech.yaml", other)
    profiles, messages = check_profiles([first, second])
    assert list(profiles) == ["acme"]
    (message,) = messages
    assert "sftp_account.username: 'shared' is already the login of partner 'acme'" in message
