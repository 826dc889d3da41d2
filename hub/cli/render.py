"""``edihub render DOC.json --partner ID``: write a canonical document as a partner's X12 or EDIFACT interchange."""

from __future__ import annotations

import json
import sys

import click

from hub.cli.common import EXIT_FINDINGS, fail, load_partner
from hub.cli.map import default_profiles


@click.command("render")
@click.argument("document_file", metavar="DOC.json", type=click.Path(path_type=str))
@click.option("--partner", "partner_id", required=True, help="The partner to write for (<profiles>/<ID>.yaml).")
@click.option("--profiles", default=None, help="Folder of partner profiles [default: partners.folder of config.yaml].")
@click.option("--mappings", "mappings_dir", default="mappings", show_default=True, help="Folder of mappings.")
@click.option("-o", "--output", type=click.Path(path_type=str), help="Write the interchange here instead of stdout.")
def render(document_file: str, partner_id: str, profiles: str | None, mappings_dir: str, output: str | None) -> None:
    """Write the canonical document DOC.json as one interchange for a partner: X12 (ISA/GS/ST..SE/GE/IEA) or
    EDIFACT ([UNA] UNB/UNH..UNT/UNZ), as the partner's profile exchanges that document.

    DOC.json holds one canonical document (or a JSON array of exactly one, as
    ``edihub map`` prints).  The mapping is the one the partner's profile names
    for the outbound document type; identities, delimiters and line ending come
    from the profile, control numbers start at 1.  Exit code 0 when written, 1 on
    any error (unreadable file, unknown partner, no mapping, a value that cannot
    be written).
    """
    from hub.mapping import MappingError
    from hub.mapping import render as render_document

    try:
        with open(document_file, encoding="utf-8") as fh:
            document = json.load(fh)
    except OSError as exc:
        fail(f"cannot read {document_file}: {exc.strerror or exc}", EXIT_FINDINGS)
        return
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{document_file}: not JSON: {exc}", EXIT_FINDINGS)
        return
    if isinstance(document, list) and len(document) == 1:
        document = document[0]
    if not isinstance(document, dict):
        fail(f"{document_file}: expected one canonical document (a JSON object)", EXIT_FINDINGS)
        return
    partner = load_partner(profiles or default_profiles(), partner_id)
    try:
        data = render_document(document, partner, mappings=[mappings_dir])
    except (MappingError, ValueError) as exc:
        fail(f"{document_file}: {exc}", EXIT_FINDINGS)
        return
    if output:
        try:
            with open(output, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}", EXIT_FINDINGS)
            return
    else:
        click.echo(data, nl=False)
    sys.exit(0)
