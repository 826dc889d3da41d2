"""What the X12 and EDIFACT streaming readers share: opening a source and collecting findings."""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from hub.edi.core import ENVELOPE, ERROR, Finding

Source = str | bytes | bytearray | memoryview | os.PathLike | BinaryIO


def open_source(source: Source) -> tuple[BinaryIO, bool, str]:
    """A binary stream for ``source``, whether we opened it (and must close it), and a display name."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), True, "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True, os.fspath(source)  # noqa: SIM115 - closed by the reader
    return source, False, getattr(source, "name", "<stream>")


class FindingCollector:
    """Collects findings in file order, attached to the object they concern, up to ``max_findings``.

    Subclasses set ``findings``, ``max_findings``, ``_dropped_findings`` and
    ``_ic`` (the open interchange, whose index a finding gets by default).
    """

    findings: list[Finding]
    max_findings: int
    _dropped_findings: int
    _ic: object | None

    def _add(
        self,
        code: str,
        message: str,
        *,
        severity: str = ERROR,
        layer: str = ENVELOPE,
        target: object | None = None,
        **pos,
    ) -> Finding:
        ic = self._ic
        if "interchange" not in pos and ic is not None:
            pos["interchange"] = ic.index  # type: ignore[attr-defined]
        finding = Finding(code=code, severity=severity, layer=layer, message=message, **pos)
        if len(self.findings) < self.max_findings:
            self.findings.append(finding)
            if target is not None:
                target.findings.append(finding)  # type: ignore[attr-defined]
        else:  # memory stays bounded however broken the input
            self._dropped_findings += 1
        return finding
