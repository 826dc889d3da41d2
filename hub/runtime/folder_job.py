"""``edihub run --once``: process every file waiting in the inbound folder.

For each file: its raw bytes are archived first (named by sha256, so nothing
is ever lost and a second copy of the same bytes is recognised as a
duplicate), the standard is sniffed, the file is read and validated, the
acknowledgment (997/999/TA1 for X12, CONTRL for EDIFACT) is written to ``outbound/acks/``, a JSON
report with every finding is written beside the archived bytes, and only then
is the inbound file removed.  A file still being written (``.filepart``,
``.tmp``, hidden) is left alone.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.config import x12_reader_options
from hub.edi.core import ERROR, Finding
from hub.edi.sniff import EDIFACT, X12, sniff

PARTIAL_SUFFIXES = (".filepart", ".part", ".tmp", ".partial")


@dataclass
class FileReport:
    name: str
    sha256: str
    standard: str | None
    status: str  # "accepted", "rejected", "unknown", "duplicate"
    findings: list[Finding] = field(default_factory=list)
    ack: str | None = None  # path of the acknowledgment written, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "standard": self.standard,
            "status": self.status,
            "ack": self.ack,
            "findings": [f.to_dict() for f in self.findings],
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def waiting_files(inbound: Path) -> list[Path]:
    if not inbound.is_dir():
        return []
    return sorted(
        p
        for p in inbound.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIXES)
    )


def process_file(path: Path, config: Mapping[str, Any]) -> FileReport:
    folders = config["folders"]
    archive = Path(folders["archive"])
    acks = Path(folders["outbound"]) / "acks"
    archive.mkdir(parents=True, exist_ok=True)
    sha = _sha256(path)
    stored = archive / f"{sha}.edi"
    report_path = archive / f"{sha}.json"
    if report_path.exists():
        report = FileReport(path.name, sha, None, "duplicate")
        report.findings.append(
            Finding(
                code="DUPLICATE_FILE",
                severity="warning",
                layer="envelope",
                message=f"{path.name}: these bytes were processed before (sha256 {sha[:16]}...); not processed again",
            )
        )
        path.unlink()
        return report
    if not stored.exists():
        tmp = stored.with_suffix(".edi.tmp")
        shutil.copyfile(path, tmp)
        tmp.replace(stored)
    standard = sniff(stored)
    report = FileReport(path.name, sha, standard, "unknown")
    if standard in (X12, EDIFACT):
        if standard == X12:
            from hub.acks.x12 import acknowledge

            result = acknowledge(stored, reader_options=x12_reader_options(config))
            suffix = "ack.x12"
        else:
            from hub.acks.edifact import acknowledge as contrl

            result = contrl(stored)
            suffix = "contrl.edi"
        report.findings = list(result.findings)
        report.status = "rejected" if any(f.severity == ERROR for f in result.findings) else "accepted"
        if result.data:
            acks.mkdir(parents=True, exist_ok=True)
            ack_path = acks / f"{path.stem}.{sha[:12]}.{suffix}"
            ack_path.write_bytes(result.data)
            report.ack = str(ack_path)
    else:
        report.findings.append(
            Finding(
                code="UNKNOWN_STANDARD",
                severity="error",
                layer="envelope",
                message=f"{path.name} is neither X12 (ISA) nor EDIFACT (UNA/UNB); kept in the archive",
            )
        )
        report.status = "rejected"
    tmp = report_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(report_path)
    path.unlink()  # settled only after the archive copy and the report exist
    return report


def run_once(config: Mapping[str, Any]) -> list[FileReport]:
    return [process_file(p, config) for p in waiting_files(Path(config["folders"]["inbound"]))]
