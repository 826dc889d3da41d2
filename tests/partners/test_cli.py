"""``edihub partner validate | list | add`` through click's CliRunner on the ``partner`` group."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hub.cli.partner import partner
from hub.partners import load_profile, load_profiles
from tests.conftest import REPO
from tests.partners.helpers import ACME, GLOBEX, write


def invoke(*args):
    return CliRunner().invoke(partner, [str(a) for a in args])


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "partner_profiles"
    write(folder, "acme.yaml", ACME)
    write(folder, "globex.yaml", GLOBEX)
    return folder


def test_validate_a_good_folder(folder):
    result = invoke("validate", "--folder", folder)
    assert result.exit_code == 0, result.output
    assert result.output == "2 profile(s) valid\n"


def test_validate_prints_every_error_line_and_exits_1(folder):
    write(folder, "bad.yaml", ACME.replace("id: acme", "id: bad").replace("direction: inbound", "direction: sideways"))
    result = invoke("validate", "--folder", folder)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert (
        lines[0] == f"{folder / 'bad.yaml'}:9: documents[0].direction: 'sideways' is not one of ['inbound', 'outbound']"
    )
    assert lines[-1] == "1 error(s) in 1 of 3 profile(s)"
    assert "Traceback" not in result.output


def test_validate_named_files_checks_them_against_each_other(folder, tmp_path):
    other = write(tmp_path / "elsewhere", "zeta.yaml", ACME.replace("id: acme", "id: zeta"))
    assert invoke("validate", other).exit_code == 0
    result = invoke("validate", folder / "acme.yaml", other)
    assert result.exit_code == 1
    assert f"{other}:5: identities.x12.sender: X12 identity ZZ/ACMEBUYER is already partner 'acme'" in result.output


def test_validate_a_missing_folder_or_file(tmp_path):
    result = invoke("validate", "--folder", tmp_path / "nope")
    assert result.exit_code == 2 and "no such folder" in result.output
    result = invoke("validate", tmp_path / "nope.yaml")
    assert result.exit_code == 1 and "cannot read" in result.output


def test_the_folder_defaults_to_partner_profiles_in_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "partner_profiles", "acme.yaml", ACME)
    config = write(tmp_path, "config.yaml", "folders:\n  inbound: in\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("validate", "-c", config, "--mappings", REPO / "mappings")
    assert result.exit_code == 0, result.output
    assert result.output == "1 profile(s) valid\n"


def test_the_folder_comes_from_the_partners_folder_setting(tmp_path, monkeypatch):
    import hub.cli.partner as cli

    write(tmp_path / "elsewhere", "acme.yaml", ACME)
    monkeypatch.setattr(cli, "load_config", lambda path: {"partners": {"folder": str(tmp_path / "elsewhere")}})
    result = invoke("list")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("acme: ACME Corp\n")


def test_a_bad_config_exits_2(tmp_path):
    config = write(tmp_path, "config.yaml", "nope: 1\n")
    result = invoke("validate", "-c", config)
    assert result.exit_code == 2 and "unknown key 'nope'" in result.output


def test_list(folder):
    result = invoke("list", "--folder", folder)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "acme: ACME Corp",
        "  standards: x12",
        "  documents: 850 in",
        "  channels: inbound folder:inbound/acme/, outbound folder:outbound/acme/",
        "globex: Globex GmbH",
        "  standards: edifact",
        "  documents: ORDERS in, INVOIC out, CONTRL out",
        "  channels: inbound folder:inbound/globex/, outbound folder:outbound/globex/",
    ]


def test_list_json(folder):
    result = invoke("list", "--json", "--folder", folder)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    acme, globex = payload["partners"]
    assert acme == {
        "id": "acme",
        "name": "ACME Corp",
        "active": True,
        "standards": ["x12"],
        "documents": [{"type": "850", "direction": "inbound", "version": "004010", "mapping": "common/850.004010"}],
        "channels": {
            "inbound": {"type": "folder", "path": "inbound/acme/"},
            "outbound": {"type": "folder", "path": "outbound/acme/"},
        },
        "source": str(folder / "acme.yaml"),
    }
    assert globex["standards"] == ["edifact"]


def test_list_leaves_out_invalid_profiles_and_exits_1(folder):
    write(folder, "bad.yaml", "id: bad\n")
    result = invoke("list", "--json", "--folder", folder)
    assert result.exit_code == 1
    assert [p["id"] for p in json.loads(result.stdout)["partners"]] == ["acme", "globex"]
    assert f"{folder / 'bad.yaml'}:1: 'name' is a required property" in result.stderr


@pytest.mark.parametrize(
    ("standard", "qualifier", "sender", "docs"),
    [
        ("x12", "ZZ", "INITECH", ["850", "855", "856", "810"]),
        ("edifact", "14", "4012345000009", ["ORDERS", "ORDRSP", "DESADV", "INVOIC"]),
    ],
)
def test_add_then_validate(tmp_path, standard, qualifier, sender, docs):
    folder = tmp_path / "profiles"
    result = invoke(
        "add", "initech", "--name", "Initech, Inc. \"IT\"", "--standard", standard,
        "--sender-qualifier", qualifier, "--sender-id", sender, "--folder", folder,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    path = folder / "initech.yaml"
    assert result.output == f"wrote {path}\n"
    assert invoke("validate", "--folder", folder).exit_code == 0
    profile = load_profile(path)
    assert profile.name == 'Initech, Inc. "IT"'
    assert profile.identities.sender(standard).key() == (qualifier, sender)
    assert [d.type for d in profile.documents] == docs
    assert all(d.mapping == f"common/{d.type}.{d.version}" for d in profile.documents)
    assert profile.channels.inbound.path == "inbound/initech/"
    assert profile.channels.outbound.path == "outbound/initech/"


def test_add_refuses_to_overwrite(folder):
    before = (folder / "acme.yaml").read_text()
    result = invoke("add", "acme", "--name", "X", "--standard", "x12", "--sender-qualifier", "ZZ",
                    "--sender-id", "NEWID", "--folder", folder)  # fmt: skip
    assert result.exit_code == 1 and "already exists" in result.output
    assert (folder / "acme.yaml").read_text() == before


def test_add_refuses_another_partners_identity(folder):
    result = invoke("add", "acme2", "--name", "X", "--standard", "x12", "--sender-qualifier", "ZZ",
                    "--sender-id", "ACMEBUYER", "--folder", folder)  # fmt: skip
    assert result.exit_code == 1
    assert "X12 identity ZZ/ACMEBUYER is already partner 'acme'" in result.output
    assert not (folder / "acme2.yaml").exists()
    assert sorted(load_profiles(folder)) == ["acme", "globex"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Id", "--sender-qualifier", "ZZ", "--sender-id", "X"], "id: 'Bad Id' does not match"),
        (["toolong", "--sender-qualifier", "ZZ", "--sender-id", "X" * 16], "identities.x12.sender.id:"),
        (["noqual", "--sender-id", "X"], "--sender-qualifier is required for x12"),
    ],
)
def test_add_refuses_what_would_not_validate(tmp_path, args, message):
    folder = tmp_path / "profiles"
    result = invoke("add", *args[:1], "--name", "X", "--standard", "x12", *args[1:], "--folder", folder)
    assert result.exit_code != 0
    assert message in result.output
    assert not folder.exists() or not list(folder.iterdir())


def test_help():
    for command in ([], ["validate"], ["list"], ["add"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_validate_loads_the_mappings_the_profile_names(folder):
    write(folder, "acme.yaml", ACME.replace("mapping: common/850.004010", "mapping: zeta/850.004010"))
    result = invoke("validate", "--folder", folder)
    assert result.exit_code == 1
    assert (
        f"{folder / 'acme.yaml'}:11: documents[0].mapping: mapping 'zeta/850.004010' does not load: "
        "no mapping 'zeta/850.004010'" in result.output
    )


def test_validate_refuses_a_mapping_of_another_document_type(folder):
    write(folder, "acme.yaml", ACME.replace("mapping: common/850.004010", "mapping: common/855.004010"))
    result = invoke("validate", "--folder", folder)
    assert result.exit_code == 1
    assert "documents[0].mapping: mapping 'common/855.004010' is for 855, not 850" in result.output


def test_schedule_and_retry_are_checked(folder):
    both = ACME + "schedule: {interval_seconds: 60, cron: '* * * * *'}\nretry: {max_attempts: 0}\n"
    write(folder, "acme.yaml", both)
    result = invoke("validate", "--folder", folder)
    assert result.exit_code == 1
    assert "acme.yaml:15: schedule:" in result.output and "acme.yaml:16: retry.max_attempts:" in result.output
    write(folder, "acme.yaml", ACME + "schedule: {cron: '*/15 6-20 * * mon-fri'}\nretry: {max_delay_seconds: 600}\n")
    assert invoke("validate", "--folder", folder).exit_code == 0
    profile = load_profile(folder / "acme.yaml")
    assert profile.schedule.cron == "*/15 6-20 * * mon-fri" and profile.retry.max_delay_seconds == 600
