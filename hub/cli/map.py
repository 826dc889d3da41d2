"""``edihub map FILE [--partner ID]``: read X12 transaction sets into canonical JSON documents."""

from __future__ import annotations

import json
import sys

import click

from hub.cli.common import EXIT_FINDINGS, EXIT_NOT_STANDARD, fail, load_partner


def _mapping_name(tx, partner) -> str:
    from hub.edi.x12.schema import resolve_version

    if partner is None:
        return f"common/{tx.type}.{resolve_version(tx.version)}"
    spec = partner.document(tx.type, "inbound", tx.version) or partner.document(tx.type, "inbound")
    if spec is None or not spec.mapping:
        raise LookupError(f"partner {partner.id!r} has no inbound {tx.type} document with a mapping")
    return spec.mapping


@click.command("map")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--partner", "partner_id", help="Use this partner's mappings (partner_profiles/<ID>.yaml).")
@click.option("--profiles", default="partner_profiles", show_default=True, help="Folder of partner profiles.")
@click.option("--mappings", "mappings_dir", default="mappings", show_default=True, help="Folder of mappings.")
def map_command(file: str, partner_id: str | None, profiles: str, mappings_dir: str) -> None:
    """Map every transaction set of FILE to a canonical document; print them as one JSON array.

    Without --partner the common mapping of each set is used
    (mappings/common/<set>.<version>.yaml, version 004010 or 005010).
    Exit code 0 when every set mapped, 1 when a set has no mapping or does
    not map, 2 when FILE is not X12 or cannot be read.
    """
    from hub.edi.x12 import read_document
    from hub.mapping import MappingError, load_mapping

    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_NOT_STANDARD)
        return
    doc = read_document(data)
    if doc.not_x12:
        fail(f"{file}: not an X12 file", EXIT_NOT_STANDARD)
        return
    partner = load_partner(profiles, partner_id) if partner_id else None
    out = []
    loaded: dict = {}
    for tx in doc.transactions:
        try:
            name = _mapping_name(tx, partner)
            if name not in loaded:
                loaded[name] = load_mapping(name, [mappings_dir])
            out.append(loaded[name].to_canonical(tx))
        except (LookupError, MappingError) as exc:
            fail(f"{file}: transaction set {tx.type} {tx.control_number!r} (set {tx.index + 1}): {exc}", EXIT_FINDINGS)
            return
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    sys.exit(0)
