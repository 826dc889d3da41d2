"""Secrets are never inline: credential fields take only ${ENV_NAME} or file: references, and are never echoed."""

from __future__ import annotations

import pytest

from hub.partners import ProfileError, is_secret_reference, load_profile, parse_profile, profile_schema
from tests.partners.helpers import ACME, write


@pytest.mark.parametrize("value", ["${SFTP_PASSWORD}", "${acme_token_2}", "file:/run/secrets/acme", "file:keys/a.pem"])
def test_references_are_accepted(value):
    assert is_secret_reference(value)


@pytest.mark.parametrize("value", ["hunter2", "$SFTP_PASSWORD", "${1BAD}", "${}", "file:", "file: /x", "", 1234, None])
def test_anything_else_is_refused(value):
    assert not is_secret_reference(value)


@pytest.mark.parametrize(
    ("key", "line"),
    [("password", 14), ("private_key", 14), ("api_token", 14), ("client_secret", 14), ("passphrase", 14)],
)
def test_an_inline_secret_is_refused_naming_line_and_key_without_echoing_it(tmp_path, key, line):
    text = ACME.replace(
        "  outbound: {type: folder, path: outbound/acme/}",
        f"  outbound: {{type: folder, path: outbound/acme/, {key}: hunter2}}",
    )
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.messages == [
        f"{path}:{line}: channels.outbound.{key}: inline secret refused: "
        "use a '${ENV_NAME}' or 'file:/path' reference"
    ]
    assert "hunter2" not in str(info.value)


def test_a_secret_anywhere_is_refused_even_a_number(tmp_path):
    text = ACME + "syntax:\n  x12:\n    token: 123456\n"
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.messages[0].startswith(f"{path}:17: syntax.x12.token: inline secret refused")
    assert "123456" not in str(info.value)


def test_a_reference_in_a_credential_key_gets_the_schema_verdict_only(tmp_path):
    # A folder channel has no credentials: a reference is not an inline secret, but still an unknown key.
    text = ACME.replace("path: inbound/acme/}", "path: inbound/acme/, password: '${ACME_PW}'}")
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    (message,) = info.value.messages
    assert message.startswith(f"{path}:13: channels.inbound.password: unknown key")


def test_the_schema_secret_definition_refuses_inline_values_for_future_channel_types():
    import jsonschema

    schema = dict(profile_schema())
    secret = {"$defs": schema["$defs"], "$ref": "#/$defs/secret"}
    jsonschema.validate("${SFTP_PASSWORD}", secret)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("hunter2", secret)


def test_leniency_codes_that_look_like_credentials_are_not_secrets():
    profile = parse_profile(ACME + "leniency:\n  TOKEN: warning\n", "acme.yaml", "acme")
    assert dict(profile.leniency) == {"TOKEN": "warning"}
