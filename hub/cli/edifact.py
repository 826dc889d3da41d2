"""``edihub edifact ...``: inspect, validate and acknowledge (CONTRL) EDIFACT files.

The JSON shape and exit codes are those of ``edihub x12``: exit 0 without
error findings, 1 with error findings, 2 when the file is not EDIFACT at all
(or cannot be read).  UNH messages are the ``transactions``; messages sent
without UNG..UNE sit in one group whose ``id`` is null.
"""

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
from hub.edi.edifact.analyse import Analysis, analyse

STANDARD = "edifact"


def _run(path: str) -> Analysis:
    return analyse(path)


def _unreadable(path: str, exc: OSError, as_json: bool) -> None:
    finding = Finding(code="FILE_UNREADABLE", severity="error", layer="envelope",
                      message=f"cannot read {path}: {exc.strerror or exc}")
    if as_json:
        print_json(inspect_payload(STANDARD, [], [finding]))
    else:
        click.echo(format_finding(finding, path), err=True)
    sys.exit(EXIT_NOT_STANDARD)


@click.group()
def edifact() -> None:
    """Read, validate and acknowledge (CONTRL) UN/EDIFACT interchanges."""


@edifact.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object (see README).")
def inspect(file: str, as_json: bool) -> None:
    """Summarise FILE: interchanges, groups, messages and findings.

    Exit code 0 without error findings, 1 with error findings, 2 when FILE is
    not EDIFACT at all.
    """
    try:
        result = _run(file)
    except OSError as exc:
        _unreadable(file, exc, as_json)
        return
    if as_json:
        print_json(inspect_payload(STANDARD, [ic.to_json() for ic in result.interchanges], result.findings))
    else:
        click.echo(f"{file}: {len(result.interchanges)} interchange(s)")
        for ic in result.interchanges:
            d = ic.delimiters
            click.echo(
                f"  UNB {ic.control_number} {ic.sender}:{ic.sender_qualifier} -> {ic.receiver}:{ic.receiver_qualifier}"
                f" syntax {ic.syntax_identifier}:{ic.syntax_version} ({ic.encoding})"
                f"{' UNA' if ic.una else ''} separators component={d.component!r} element={d.element!r}"
                f" release={d.release!r} repetition={d.repetition!r} terminator={d.segment!r}"
            )
            for g in ic.groups:
                if g.implicit:
                    click.echo(f"    (no UNG): {len(g.transactions)} message(s)")
                else:
                    click.echo(f"    UNG {g.functional_id} {g.control_number} version {g.version}: "
                               f"{len(g.transactions)} message(s)")
                for t in g.transactions:
                    click.echo(f"      UNH {t.type} {t.control_number} ({t.segment_count} segments)")
        errors = sum(1 for f in result.findings if f.is_error)
        click.echo(f"findings: {errors} error(s), {len(result.findings) - errors} warning(s)")
        print_findings(result.findings)
    sys.exit(exit_code(result.findings, result.not_edifact))


@edifact.command()
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
    messages = sum(len(g.transactions) for ic in result.interchanges for g in ic.groups)
    verdict = "not EDIFACT" if result.not_edifact else ("invalid" if errors else "valid")
    click.echo(f"{file}: {verdict}: {len(result.interchanges)} interchange(s), {messages} message(s), "
               f"{errors} error(s), {len(result.findings) - errors} warning(s)")
    sys.exit(exit_code(result.findings, result.not_edifact))


@edifact.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=str),
              help="Write the CONTRL here (default: standard output).")
@click.option("--only-rejected", is_flag=True, help="List only rejected messages (UCM) instead of every message.")
def ack(file: str, output: str | None, only_rejected: bool) -> None:
    """Write the CONTRL (syntax 3: CONTRL 2:2, syntax 4: CONTRL 4:1) for FILE.

    Same exit codes as ``inspect``: the CONTRL is written either way (a
    rejecting one when FILE has errors), except when FILE is not EDIFACT.
    """
    from hub.acks.edifact import acknowledge

    try:
        result = acknowledge(file, only_rejected=only_rejected)
    except OSError as exc:
        _unreadable(file, exc, False)
        return
    if result.not_edifact:
        print_findings(result.findings, file)
        sys.exit(EXIT_NOT_STANDARD)
    if output:
        Path(output).write_bytes(result.data)
        click.echo(f"{output}: {result.describe()}", err=True)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    sys.exit(exit_code(result.findings, False))
