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
