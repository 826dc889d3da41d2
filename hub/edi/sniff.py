"""Tell which EDI standard a file holds, from its first bytes."""

from __future__ import annotations

from pathlib import Path

X12 = "x12"
EDIFACT = "edifact"

_SKIP = b" \t\r\n\x00\xef\xbb\xbf"


def sniff_bytes(head: bytes) -> str | None:
    """``"x12"``, ``"edifact"`` or ``None`` for the first bytes of a file."""
    start = head.lstrip(_SKIP)
    if start.startswith(b"ISA") or start.lstrip(b"\x40\x25\x15\x0d\x05").startswith(b"\xc9\xe2\xc1"):
        return X12
    if start[:3] in (b"UNA", b"UNB"):
        return EDIFACT
    return None


def sniff(path: str | Path, size: int = 4096) -> str | None:
    with open(path, "rb") as fh:
        return sniff_bytes(fh.read(size))
