"""``edihub schema``: the JSON Schemas the hub publishes."""

from __future__ import annotations

import json

import click

from hub.cli.common import EXIT_NOT_STANDARD, fail


@click.group("schema")
def schema() -> None:
    """JSON Schemas of the hub's documents."""


@schema.command("canonical")
@click.argument("name", required=False)
@click.option("--list", "list_names", is_flag=True, help="List the canonical document names.")
def canonical(name: str | None, list_names: bool) -> None:
    """Print the JSON Schema of the canonical document NAME (e.g. purchase_order)."""
    from hub.canonical import names
    from hub.canonical import schema as canonical_schema

    if list_names:
        for known in names():
            click.echo(known)
        return
    if not name:
        fail(f"give a canonical document name ({', '.join(names())}) or --list", EXIT_NOT_STANDARD)
        return
    if name not in names():
        fail(f"unknown canonical document {name!r}; known: {', '.join(names())}", EXIT_NOT_STANDARD)
        return
    click.echo(json.dumps(canonical_schema(name), indent=2, ensure_ascii=False))
