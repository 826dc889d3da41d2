"""Validation leniency: a partner's finding code -> severity overrides, applied to reader/validator findings."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from hub.edi.core import Finding
from hub.partners.profile import PartnerProfile

IGNORE = "ignore"
LENIENCY_LEVELS = ("error", "warning", IGNORE)


def apply_leniency(findings: Iterable[Finding], leniency: Mapping[str, str] | PartnerProfile) -> list[Finding]:
    """New list of findings: a code listed as ``ignore`` is dropped, ``error``/``warning`` sets the severity.

    Changed findings are copies (the originals are untouched) whose ``extra``
    records ``original_severity``; findings whose code is not listed, or whose
    severity is already the one asked, are kept as they are.
    """
    rules = leniency.leniency if isinstance(leniency, PartnerProfile) else leniency
    out: list[Finding] = []
    for finding in findings:
        level = rules.get(finding.code)
        if level is None or level == finding.severity:
            out.append(finding)
        elif level == IGNORE:
            continue
        elif level in LENIENCY_LEVELS:
            extra = dict(finding.extra, original_severity=finding.severity)
            out.append(dataclasses.replace(finding, severity=level, extra=extra))
        else:
            raise ValueError(f"leniency for {finding.code}: {level!r} is not one of {list(LENIENCY_LEVELS)}")
    return out
