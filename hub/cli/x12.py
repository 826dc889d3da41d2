"""``edihub x12 ...``: inspect, validate and acknowledge X12 files."""

from __future__ import annotations

import click

from hub.cli.common import run_ack, run_inspect, run_validate
from hub.edi.x12.analyse import Analysis, analyse

STANDARD = "x12"


def _not_x12(result) -> bool:
    return result.not_x12


def _describe(path: str, result: Analysis):
    yield f"{path}: {len(result.interchanges)} interchange(s), encoding {result.encoding}"
    for ic in result.interchanges:
        d = ic.delimiters
        yield (
            f"  ISA {ic.control_number} {ic.sender_qualifier}:{ic.sender} -> {ic.receiver_qualifier}:{ic.receiver}"
            f" version {ic.version} delimiters element={d.element!r} component={d.component!r}"
            f" segment={d.segment!r} repetition={d.repetition!r}"
        )
        for g in ic.groups:
            yield f"    GS {g.functional_id} {g.control_number} version {g.version}: {len(g.transactions)} set(s)"
            for t in g.transactions:
                yield f"      ST {t.type} {t.control_number} ({t.segment_count} segments)"
        if ic.ta1s:
            yield f"    TA1 x{len(ic.ta1s)}"


@click.group()
def x12() -> None:
    """Read, validate and acknowledge X12 interchanges."""


@x12.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (see README).")
def inspect(file: str, as_json: bool) -> None:
    """Summarise FILE: interchanges, groups, transaction sets and findings.

    Exit code 0 without error findings, 1 with error findings, 2 when FILE is
    not X12 at all.
    """
    run_inspect(STANDARD, file, as_json, analyse, _not_x12, lambda result: _describe(file, result))


@x12.command()
@click.argument("file", type=click.Path(path_type=str))
def validate(file: str) -> None:
    """Validate FILE (envelopes, syntax and schemas) and list every finding.

    Same exit codes as ``inspect``.
    """
    # no per-set summaries: validate only counts them, so memory stays flat on huge files
    run_validate(STANDARD, file, lambda path: analyse(path, keep_summaries=False), _not_x12, "X12", "transaction set")


@x12.command()
@click.argument("file", type=click.Path(path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the acknowledgment here (default: stdout).",
)
def ack(file: str, output: str | None) -> None:
    """Write the 997 (004010-style groups), 999 (005010) and/or TA1 for FILE.

    Same exit codes as ``inspect``: the acknowledgment is written either way
    (a rejecting one when FILE has errors), except when FILE is not X12.
    """
    from hub.acks.x12 import acknowledge

    run_ack(STANDARD, file, output, acknowledge, _not_x12)
