"""The ``edihub`` command line."""

from __future__ import annotations

import click

from hub import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edihub")
def main() -> None:
    """edihub: a B2B/EDI file exchange hub (X12 and EDIFACT)."""


def _register() -> None:
    from hub.cli.as2 import as2
    from hub.cli.certs import certs
    from hub.cli.edifact import edifact
    from hub.cli.map import map_command
    from hub.cli.ops import acks, db, files, reprocess_command, resend_command, status, transactions
    from hub.cli.partner import partner
    from hub.cli.render import render
    from hub.cli.run import config_group, run, serve
    from hub.cli.schema import schema
    from hub.cli.x12 import x12

    main.add_command(x12)
    main.add_command(edifact)
    main.add_command(run)
    main.add_command(config_group)
    main.add_command(schema)
    main.add_command(partner)
    main.add_command(map_command)
    main.add_command(render)
    main.add_command(serve)
    main.add_command(status)
    main.add_command(files)
    main.add_command(transactions)
    main.add_command(reprocess_command)
    main.add_command(resend_command)
    main.add_command(acks)
    main.add_command(db)
    main.add_command(certs)
    main.add_command(as2)


_register()
