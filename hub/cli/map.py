"""``edihub map FILE [--partner ID]``: read X12 transaction sets or EDIFACT messages into canonical JSON documents."""

from __future__ import annotations

import json
import sys

import click

from hub.cli.common import EXIT_FINDINGS, EXIT_NOT_STANDARD, fail, load_partner


def _mapping_name(standard: str, tx, partner, mappings_dir: str) -> str:
    from hub.mapping import common_mapping_name

    if partner is None:
        return common_mapping_name(standard, tx.type, tx.version, [mappings_dir])
    spec = partner.document(tx.type, "inbound", tx.version) or partner.document(tx.type, "inbound")
    if spec is None or not spec.mapping:
        raise LookupError(f"partner {partner.id!r} has no inbound {tx.type} document with a mapping")
    return spec.mapping


def default_profiles() -> str:
    """``partners.folder`` of the configuration (config.yaml, EDIHUB__PARTNERS__FOLDER), else partner_profiles."""
    from hub.config import ConfigError, load_config

    try:
        return load_config()["partners"]["folder"]
    except ConfigError:
        return "partner_profiles"


@click.command("map")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--partner", "partner_id", help="Use this partner's mappings (<profiles>/<ID>.yaml).")
@click.option("--profiles", default=None, help="Folder of partner profiles [default: partners.folder of config.yaml].")
@click.option("--mappings", "mappings_dir", default="mappings", show_default=True, help="Folder of mappings.")
def map_command(file: str, partner_id: str | None, profiles: str | None, mappings_dir: str) -> None:
    """Map every transaction set (X12) or message (EDIFACT) of FILE to a canonical document; print them as one
    JSON array.

    Without --partner the common mapping of each set is used:
    mappings/common/<set>.<version>.yaml, version 004010 or 005010 for X12,
    the message's directory for EDIFACT (D96A for D.9x, D01B for D.00A and
    later when there is no mapping for the directory itself).  Exit code 0 when
    every set mapped, 1 when a set has no mapping or does not map, 2 when FILE
    is neither X12 nor EDIFACT or cannot be read.
    """
    from hub.edi.sniff import EDIFACT, X12, sniff_bytes
    from hub.mapping import MappingError, load_mapping

    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", EXIT_NOT_STANDARD)
        return
    standard = sniff_bytes(data[:4096])
    if standard == X12:
        from hub.edi.x12 import read_document

        doc = read_document(data)
        what = "transaction set"
    elif standard == EDIFACT:
        from hub.edi.edifact import read_document as read_edifact

        doc = read_edifact(data)
        what = "message"
    else:
        fail(f"{file}: neither X12 nor EDIFACT", EXIT_NOT_STANDARD)
        return
    partner = load_partner(profiles or default_profiles(), partner_id) if partner_id else None
    out = []
    loaded: dict = {}
    for tx in doc.transactions:
        try:
            name = _mapping_name(standard, tx, partner, mappings_dir)
            if name not in loaded:
                loaded[name] = load_mapping(name, [mappings_dir])
            out.append(loaded[name].to_canonical(tx))
        except (LookupError, MappingError) as exc:
            fail(f"{file}: {what} {tx.type} {tx.control_number!r} ({what.split()[-1]} {tx.index + 1}): {exc}",
                 EXIT_FINDINGS)
            return
    click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    sys.exit(0)
