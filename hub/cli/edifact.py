"""``edihub edifact ...``: inspect, validate and acknowledge (CONTRL) EDIFACT files.

The JSON shape and exit codes are those of ``edihub x12``: exit 0 without
error findings, 1 with error findings, 2 when the file is not EDIFACT at all
(or cannot be read).  UNH messages are the ``transactions``; messages sent
without UNG..UNE sit in one group whose ``id`` is null.
"""

from __future__ import annotations

import click

from hub.cli.common import run_ack, run_inspect, run_validate
from hub.edi.edifact.analyse import Analysis, analyse

STANDARD = "edifact"


def _not_edifact(result) -> bool:
    return result.not_edifact


def _describe(path: str, result: Analysis):
    yield f"{path}: {len(result.interchanges)} interchange(s)"
    for ic in result.interchanges:
        d = ic.delimiters
        yield (
            f"  UNB {ic.control_number} {ic.sender}:{ic.sender_qualifier} -> {ic.receiver}:{ic.receiver_qualifier}"
            f" syntax {ic.syntax_identifier}:{ic.syntax_version} ({ic.encoding})"
            f"{' UNA' if ic.una else ''} separators component={d.component!r} element={d.element!r}"
            f" release={d.release!r} repetition={d.repetition!r} terminator={d.segment!r}"
        )
        for g in ic.groups:
            if g.implicit:
                yield f"    (no UNG): {len(g.transactions)} message(s)"
            else:
                head = f"    UNG {g.functional_id} {g.control_number} version {g.version}"
                yield f"{head}: {len(g.transactions)} message(s)"
            for t in g.transactions:
                yield f"      UNH {t.type} {t.control_number} ({t.segment_count} segments)"


@click.group()
def edifact() -> None:
    """Read, validate and acknowledge (CONTRL) UN/EDIFACT interchanges."""


@edifact.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (see README).")
def inspect(file: str, as_json: bool) -> None:
    """Summarise FILE: interchanges, groups, messages and findings.

    Exit code 0 without error findings, 1 with error findings, 2 when FILE is
    not EDIFACT at all.
    """
    run_inspect(STANDARD, file, as_json, analyse, _not_edifact, lambda result: _describe(file, result))


@edifact.command()
@click.argument("file", type=click.Path(path_type=str))
def validate(file: str) -> None:
    """Validate FILE (envelopes, syntax and schemas) and list every finding.

    Same exit codes as ``inspect``.
    """
    run_validate(STANDARD, file, analyse, _not_edifact, "EDIFACT", "message")


@edifact.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the CONTRL here (default: standard output).",
)
@click.option("--only-rejected", is_flag=True, help="List only rejected messages (UCM) instead of every message.")
def ack(file: str, output: str | None, only_rejected: bool) -> None:
    """Write the CONTRL (syntax 3: CONTRL 2:2, syntax 4: CONTRL 4:1) for FILE.

    Same exit codes as ``inspect``: the CONTRL is written either way (a
    rejecting one when FILE has errors), except when FILE is not EDIFACT.
    """
    from hub.acks.edifact import acknowledge

    run_ack(STANDARD, file, output, lambda path: acknowledge(path, only_rejected=only_rejected), _not_edifact)
