"""``edihub x12 ...``: inspect, validate and acknowledge X12 files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hub.cli.common import (
    EXIT_NOT_STANDARD,
    exit_code,
    format_finding,
    inspect_payload,
    print_findings,
    print_json,
)
from hub.edi.core import Finding
from hub.edi.x12.analyse import Analysis, analyse


def _run(path: str) -> Analysis:
    return analyse(path)


def _unreadable(path: str, exc: OSError, as_json: bool) -> None:
    finding = Finding(
        code="FILE_UNREADABLE", severity="error", layer="envelope", message=f"cannot read {path}: {exc.strerror or exc}"
    )
    if as_json:
        print_json(inspect_payload("x12", [], [finding]))
    else:
        click.echo(format_finding(finding, path), err=True)
    sys.exit(EXIT_NOT_STANDARD)


@click.group()
def x12() -> None:
    """Read, validate and acknowledge X12 interchanges."""


@x12.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (see README).")
def inspect(file: str, as_json: bool) -> None:
    """Summarise FILE: interchanges, groups, transaction sets and findings.

    Exit code 0 without error findings, 1 with error findings, 2 when FILE is
    not X12 at all.
    """
    try:
        result = _run(file)
    except OSError as exc:
        _unreadable(file, exc, as_json)
        return
    if as_json:
        print_json(inspect_payload("x12", [ic.to_json() for ic in result.interchanges], result.findings))
    else:
        click.echo(f"{file}: {len(result.interchanges)} interchange(s), encoding {result.encoding}")
        for ic in result.interchanges:
            d = ic.delimiters
            click.echo(
                f"  ISA {ic.control_number} {ic.sender_qualifier}:{ic.sender} -> {ic.receiver_qualifier}:{ic.receiver}"
                f" version {ic.version} delimiters element={d.element!r} component={d.component!r}"
                f" segment={d.segment!r} repetition={d.repetition!r}"
            )
            for g in ic.groups:
                click.echo(
                    f"    GS {g.functional_id} {g.control_number} version {g.version}: {len(g.transactions)} set(s)"
                )
                for t in g.transactions:
                    click.echo(f"      ST {t.type} {t.control_number} ({t.segment_count} segments)")
            if ic.ta1s:
                click.echo(f"    TA1 x{len(ic.ta1s)}")
        errors = sum(1 for f in result.findings if f.is_error)
        click.echo(f"findings: {errors} error(s), {len(result.findings) - errors} warning(s)")
        print_findings(result.findings)
    sys.exit(exit_code(result.findings, result.not_x12))


@x12.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
def validate(file: str) -> None:
    """Validate FILE (envelopes, syntax and schemas) and list every finding.

    Same exit codes as ``inspect``.
    """
    try:
        result = _run(file)
    except OSError as exc:
        _unreadable(file, exc, False)
        return
    print_findings(result.findings, file)
    errors = sum(1 for f in result.findings if f.is_error)
    sets = sum(len(g.transactions) for ic in result.interchanges for g in ic.groups)
    verdict = "not X12" if result.not_x12 else ("invalid" if errors else "valid")
    click.echo(
        f"{file}: {verdict}: {len(result.interchanges)} interchange(s), {sets} transaction set(s), "
        f"{errors} error(s), {len(result.findings) - errors} warning(s)"
    )
    sys.exit(exit_code(result.findings, result.not_x12))


@x12.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the acknowledgment here (default: standard output).",
)
def ack(file: str, output: str | None) -> None:
    """Write the 997 (004010-style groups), 999 (005010) and/or TA1 for FILE.

    Same exit codes as ``inspect``: the acknowledgment is written either way
    (a rejecting one when FILE has errors), except when FILE is not X12.
    """
    from hub.acks.x12 import acknowledge

    try:
        result = acknowledge(file)
    except OSError as exc:
        _unreadable(file, exc, False)
        return
    if result.not_x12:
        print_findings(result.findings, file)
        sys.exit(EXIT_NOT_STANDARD)
    if output:
        Path(output).write_bytes(result.data)
        click.echo(f"{output}: {result.describe()}", err=True)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    sys.exit(exit_code(result.findings, False))
