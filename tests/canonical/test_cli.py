"""``edihub schema canonical``, through click's CliRunner on the ``schema`` group."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hub.canonical import names
from hub.canonical import schema as canonical_schema
from hub.cli.schema import schema


def invoke(*args):
    return CliRunner().invoke(schema, list(args))


def test_prints_the_schema():
    for name in names():
        result = invoke("canonical", name)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output) == canonical_schema(name)


def test_list():
    result = invoke("canonical", "--list")
    assert result.exit_code == 0
    assert result.output.split() == names()


def test_unknown_name_exits_2_without_traceback():
    result = invoke("canonical", "despatch_advice")
    assert result.exit_code == 2
    assert "unknown canonical document 'despatch_advice'" in result.output
    assert "purchase_order" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_no_name_exits_2():
    result = invoke("canonical")
    assert result.exit_code == 2
    assert "--list" in result.output


def test_help():
    assert invoke("--help").exit_code == 0
    result = invoke("canonical", "--help")
    assert result.exit_code == 0 and "NAME" in result.output
