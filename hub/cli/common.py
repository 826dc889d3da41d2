"""What every standard's CLI commands share: the inspect JSON shape and exit codes.

Exit codes: 0 no error findings, 1 error findings, 2 the input is not of the
standard at all (or cannot be opened).  Commands never print a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

import click

from hub.edi.core import ERROR, Finding

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_NOT_STANDARD = 2


def exit_code(findings: Iterable[Finding], not_standard: bool) -> int:
    if not_standard:
        return EXIT_NOT_STANDARD
    return EXIT_FINDINGS if any(f.severity == ERROR for f in findings) else EXIT_OK


def inspect_payload(standard: str, interchanges: list[dict[str, Any]], findings: Iterable[Finding]) -> dict[str, Any]:
    """The one JSON object ``edihub <standard> inspect --json`` prints."""
    return {
        "standard": standard,
        "interchanges": interchanges,
        "findings": [f.to_json() for f in findings],
    }


def print_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


def format_finding(f: Finding, name: str | None = None) -> str:
    head = f"{name}: " if name else ""
    return f"{head}{f.severity.upper()} [{f.layer}/{f.code}] {f.where()}: {f.message}"


def print_findings(findings: Iterable[Finding], name: str | None = None) -> None:
    for f in findings:
        click.echo(format_finding(f, name))


def fail(message: str, code: int = EXIT_NOT_STANDARD) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


# ------------------------------------------------------------- shared commands
#
# ``edihub x12`` and ``edihub edifact`` have the same three commands; these
# bodies serve both.  ``analyse`` returns an object with ``interchanges`` and
# ``findings``; ``not_standard`` tells from it whether the input was not of
# the standard at all.


def unreadable(standard: str, path: str, exc: OSError, as_json: bool) -> None:
    finding = Finding(
        code="FILE_UNREADABLE", severity="error", layer="envelope", message=f"cannot read {path}: {exc.strerror or exc}"
    )
    if as_json:
        print_json(inspect_payload(standard, [], [finding]))
    else:
        click.echo(format_finding(finding, path), err=True)
    sys.exit(EXIT_NOT_STANDARD)


def run_inspect(standard, path, as_json, analyse, not_standard, describe) -> None:
    """``inspect``: the JSON object, or ``describe(result)`` lines followed by the findings."""
    try:
        result = analyse(path)
    except OSError as exc:
        unreadable(standard, path, exc, as_json)
        return
    if as_json:
        print_json(inspect_payload(standard, [ic.to_json() for ic in result.interchanges], result.findings))
    else:
        for line in describe(result):
            click.echo(line)
        errors = sum(1 for f in result.findings if f.is_error)
        click.echo(f"findings: {errors} error(s), {len(result.findings) - errors} warning(s)")
        print_findings(result.findings)
    sys.exit(exit_code(result.findings, not_standard(result)))


def run_validate(standard, path, analyse, not_standard, name, noun) -> None:
    """``validate``: every finding on a line, then a one-line verdict."""
    try:
        result = analyse(path)
    except OSError as exc:
        unreadable(standard, path, exc, False)
        return
    print_findings(result.findings, path)
    errors = sum(1 for f in result.findings if f.is_error)
    sets = result.transactions
    verdict = f"not {name}" if not_standard(result) else ("invalid" if errors else "valid")
    click.echo(
        f"{path}: {verdict}: {len(result.interchanges)} interchange(s), {sets} {noun}(s), "
        f"{errors} error(s), {len(result.findings) - errors} warning(s)"
    )
    sys.exit(exit_code(result.findings, not_standard(result)))


def run_ack(standard, path, output, acknowledge, not_standard) -> None:
    """``ack``: write the acknowledgment to ``output`` or standard output; exit as ``inspect`` would."""
    try:
        result = acknowledge(path)
    except OSError as exc:
        unreadable(standard, path, exc, False)
        return
    if not_standard(result):
        print_findings(result.findings, path)
        sys.exit(EXIT_NOT_STANDARD)
    if output:
        with open(output, "wb") as fh:
            fh.write(result.data)
        click.echo(f"{output}: {result.describe()}", err=True)
    else:
        sys.stdout.buffer.write(result.data)
        sys.stdout.flush()
    sys.exit(exit_code(result.findings, False))


def load_partner(profiles: str, partner_id: str):
    """The profile ``partner_id`` from the folder ``profiles``; exits 1 with a message when it cannot be had."""
    from hub.partners import ProfileError, load_profiles

    try:
        partner = load_profiles(profiles).get(partner_id)
    except ProfileError as exc:
        fail(f"partner profiles: {exc}", EXIT_FINDINGS)
    if partner is None:
        fail(f"no partner {partner_id!r} in {profiles}/", EXIT_FINDINGS)
    return partner
