"""Read and validate a whole EDIFACT source in one streaming pass (the mirror of X12's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.edi.core import SCHEMA, WARNING, Finding
from hub.edi.edifact.model import Interchange, Message
from hub.edi.edifact.reader import EdifactReader, Source
from hub.edi.edifact.validate import EdifactValidator

MAX_SCHEMA_FINDINGS = 10_000


@dataclass
class Analysis:
    interchanges: list[Interchange]
    findings: list[Finding]
    encoding: str
    not_edifact: bool
    transactions: int = 0
    segments: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def not_standard(self) -> bool:
        return self.not_edifact


def analyse(
    source: Source,
    *,
    validate: bool = True,
    on_transaction: Callable[[Message, list[Finding]], None] | None = None,
    **reader_options,
) -> Analysis:
    """Read ``source``, validate every message, and collect all findings in file order.

    ``on_transaction`` is called with each message and its schema findings
    while the message is still in memory (the CONTRL builder uses it).
    """
    reader = EdifactReader(source, **reader_options)
    validator = EdifactValidator() if validate else None
    findings: list[Finding] = []
    count = segments = 0
    seen = 0
    dropped = 0
    for item in reader:
        if isinstance(item, Message):
            count += 1
            segments += item.segment_count
            findings.extend(reader.findings[seen:])
            seen = len(reader.findings)
            extra = validator.validate(item) if validator is not None else []
            if extra:
                room = max(0, MAX_SCHEMA_FINDINGS - len(findings))
                if len(extra) > room:  # memory stays bounded however broken the input
                    dropped += len(extra) - room
                    extra = extra[:room]
                item.findings.extend(extra)
                findings.extend(extra)
            if on_transaction is not None:
                on_transaction(item, extra)
    findings.extend(reader.findings[seen:])
    if dropped:
        findings.append(Finding(code="FINDINGS_TRUNCATED", severity=WARNING, layer=SCHEMA,
                                message=f"{dropped} further schema findings were not recorded"))
    result = Analysis(reader.interchanges, findings, reader.encoding, reader.not_edifact, count, segments)
    if validator is not None:
        result.extra["without_schema"] = dict(validator.unknown)
    return result
