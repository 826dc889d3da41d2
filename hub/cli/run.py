"""``edihub run`` and ``edihub config``: the hub's own jobs and settings."""

from __future__ import annotations

import sys

import click
import yaml

from hub.cli.common import format_finding
from hub.config import ConfigError, load_config


def _config(path: str | None) -> dict:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


@click.command()
@click.option("--once", is_flag=True, required=True, help="Process what is waiting now, then exit.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to use.")
def run(once: bool, config_path: str | None) -> None:
    """Process every file in the inbound folder: archive, validate, acknowledge.

    Each file's raw bytes go to the archive folder (named by sha256) with a
    JSON report of every finding; acknowledgments go to <outbound>/acks/.
    Exit code 1 when any file was rejected.
    """
    from hub.runtime.folder_job import run_once

    config = _config(config_path)
    reports = run_once(config)
    rejected = 0
    for report in reports:
        errors = sum(1 for f in report.findings if f.severity == "error")
        rejected += report.status == "rejected"
        ack = f", ack {report.ack}" if report.ack else ""
        click.echo(f"{report.name}: {report.standard or '?'} {report.status} ({errors} error(s)){ack}")
        for f in report.findings:
            click.echo("  " + format_finding(f))
    click.echo(f"{len(reports)} file(s) processed from {config['folders']['inbound']}, {rejected} rejected")
    sys.exit(1 if rejected else 0)


@click.group("config")
def config_group() -> None:
    """Show the settings in force (config.yaml, defaults, EDIHUB__* overrides)."""


@config_group.command("show")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to use.")
def config_show(config_path: str | None) -> None:
    """Print the effective configuration as YAML."""
    click.echo(yaml.safe_dump(_config(config_path), sort_keys=False), nl=False)
