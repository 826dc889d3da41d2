"""Small file-system helpers shared by the edges that write files atomically (archive, drop zones, ERP folder)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: str | os.PathLike[str] | Path) -> None:
    """Make a rename or link into ``directory`` durable (its entry on disk); best effort where the platform
    cannot open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
