"""The README, config.yaml and CLI help stay true to the code."""

from __future__ import annotations

import re

import click
import pytest
import yaml

from hub.cli import main
from hub.config import DEFAULTS, ConfigError, documented_keys, load_config
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
CONFIG_TEXT = (REPO / "config.yaml").read_text(encoding="utf-8")


def _leaf_commands(group: click.Group, prefix: str = "edihub") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            found.extend(_leaf_commands(cmd, path))
        else:
            found.append((path, cmd))
    return found


def test_readme_starts_with_exactly_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, re.S)
    assert first_block is not None and README.index("```sh") < README.index("\n## ")
    lines = [line for line in first_block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    assert "edihub run --once" in lines[0]
    assert lines[1] == "bash .ci/run"


def test_every_cli_command_is_documented_in_the_readme():
    commands = _leaf_commands(main)
    assert len(commands) >= 5
    for path, cmd in commands:
        assert f"`{path}" in README, f"{path} is not documented in README.md"
        assert cmd.help, f"{path} has no --help text"


def test_every_config_key_is_documented_with_its_default():
    shipped = yaml.safe_load(CONFIG_TEXT)
    assert shipped == DEFAULTS, "config.yaml must show every key with its embedded default"
    lines = CONFIG_TEXT.splitlines()
    for key in documented_keys():
        section, name = key.split(".")
        start = lines.index(f"{section}:")
        index = next(i for i in range(start + 1, len(lines)) if re.match(rf"\s+{name}:", lines[i]))
        assert lines[index - 1].strip().startswith("#"), f"{key} has no comment in config.yaml"


def test_environment_overrides_every_key():
    for key in documented_keys():
        section, name = key.split(".")
        default = DEFAULTS[section][name]
        if isinstance(default, dict):
            raw, expected = "{a: 1}", {"a": 1}
        elif isinstance(default, list):
            raw, expected = "[{key: k.pem}]", [{"key": "k.pem"}]
        elif isinstance(default, float):
            raw, expected = "1.5", 1.5
        elif isinstance(default, int):
            raw, expected = "123", 123
        else:
            raw, expected = "elsewhere", "elsewhere"
        env = {f"EDIHUB__{section.upper()}__{name.upper()}": raw}
        assert load_config(REPO / "config.yaml", environ=env)[section][name] == expected


def test_unknown_override_is_refused():
    with pytest.raises(ConfigError, match="no such setting"):
        load_config(None, environ={"EDIHUB__X12__NOPE": "1"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x12: [1, 2]\n", "'x12' must be a mapping"),
        ("x12:\n  nope: 1\n", "unknown key 'nope'"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("x12:\n  chunk_size: big\n", "x12.chunk_size must be a positive integer"),
        ("folders:\n  inbound: 3\n", "folders.inbound must be a non-empty string"),
        ("x12: {chunk_size: [\n", "cannot read"),
    ],
)
def test_a_bad_config_file_is_refused_naming_the_key(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_cli_reports_a_bad_config_without_traceback(tmp_path):
    from click.testing import CliRunner

    path = tmp_path / "config.yaml"
    path.write_text("x12:\n  chunk_size: -1\n")
    result = CliRunner().invoke(main, ["config", "show", "-c", str(path)])
    assert result.exit_code == 2
    assert "x12.chunk_size must be a positive integer" in result.output
    assert "Traceback" not in result.output
