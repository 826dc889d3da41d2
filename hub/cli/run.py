"""``edihub run`` and ``edihub config``: the hub's own jobs and settings."""

from __future__ import annotations

import sys

import click
import yaml

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
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON object.")
def run(once: bool, config_path: str | None, as_json: bool) -> None:
    """Process everything waiting, then exit: every partner's inbound folder, the ERP's outbound documents.

    Files are archived (by sha256), parsed, checked against the partner they
    arrived for, validated and acknowledged (997/999/TA1, CONTRL into the
    partner's outbound folder), mapped to canonical documents and delivered to
    the ERP adapter; the ERP's outbound documents are rendered and sent.  The
    state is kept in the store (database.url).  Exit code 0 when nothing
    failed, 1 when an item failed (``edihub transactions list --state failed``),
    2 when the configuration or a profile is wrong.
    """
    import json

    from hub.errors import HubError
    from hub.runtime.app import run_once

    config = _config(config_path)
    try:
        report = run_once(config)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(
            f"{report.received} file(s) received ({report.duplicates} duplicate), {report.parsed} parsed, "
            f"{report.mapped} mapped, {report.delivered} delivered to the ERP, {report.outbound} outbound "
            f"document(s) from the ERP, {report.sent} sent to partners, {report.acks_matched} acknowledgment(s) "
            f"matched, {report.failed} failed, {report.retries} waiting to retry"
        )
        for error in report.errors:
            click.echo(f"  {error}")
    sys.exit(1 if report.failed else 0)


@click.command()
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to use.")
def serve(config_path: str | None) -> None:
    """Run the hub until SIGTERM: partner polls, drop-zone watching, retries, overdue acknowledgments and MDNs.

    Stops gracefully on SIGTERM or Ctrl-C: the item in hand is finished,
    nothing new is started.  Exit code 2 when the configuration or a profile
    is wrong.
    """
    import logging

    from hub.errors import HubError
    from hub.runtime.app import Server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = _config(config_path)
    try:
        server = Server(config)
    except HubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    report = server.serve_forever()
    click.echo(f"stopped: {report.received} file(s) received, {report.delivered} delivered, {report.sent} sent, "
               f"{report.failed} failed")


@click.group("config")
def config_group() -> None:
    """Show the settings in force (config.yaml, defaults, EDIHUB__* overrides)."""


@config_group.command("show")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="config.yaml to use.")
def config_show(config_path: str | None) -> None:
    """Print the effective configuration as YAML."""
    click.echo(yaml.safe_dump(_config(config_path), sort_keys=False), nl=False)
