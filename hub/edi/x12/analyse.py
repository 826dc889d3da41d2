"""Read and validate a whole X12 source in one streaming pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hub.edi.core import Finding
from hub.edi.x12.model import Interchange, Transaction
from hub.edi.x12.reader import Source, X12Reader
from hub.edi.x12.validate import X12Validator


@dataclass
class Analysis:
    interchanges: list[Interchange]
    findings: list[Finding]
    encoding: str
    not_x12: bool
    transactions: int = 0
    segments: int = 0


def analyse(
    source: Source,
    *,
    validate: bool = True,
    on_transaction: Callable[[Transaction, list[Finding]], None] | None = None,
    **reader_options,
) -> Analysis:
    """Read ``source``, validate every transaction set, and collect all findings in file order.

    ``on_transaction`` is called with each transaction set and its schema
    findings, while the set is still in memory.
    """
    reader = X12Reader(source, **reader_options)
    check = X12Validator().validate if validate else None
    findings: list[Finding] = []
    count = segments = 0
    seen = 0
    for item in reader:
        if isinstance(item, Transaction):
            count += 1
            segments += item.segment_count
            # envelope findings the reader made so far come first, in order
            findings.extend(reader.findings[seen:])
            seen = len(reader.findings)
            extra = check(item) if check is not None else []
            findings.extend(extra)
            if on_transaction is not None:
                on_transaction(item, extra)
    findings.extend(reader.findings[seen:])
    return Analysis(reader.interchanges, findings, reader.encoding or "latin-1", reader.not_x12, count, segments)
