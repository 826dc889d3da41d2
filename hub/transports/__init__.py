"""Edges that move files in and out: folder drop zones now, SFTP and AS2 later.

The runtime sees only the :class:`~hub.transports.base.Transport` protocol;
which implementation serves a partner comes from config.yaml and the partner
profile (see ``../shared/DESIGN.md``, "Layers").
"""

from __future__ import annotations

from hub.transports.base import CHUNK_SIZE, IncomingFile, MemoryTransport, Payload, Transport, iter_chunks
from hub.transports.folder import (
    DEFAULT_IGNORE,
    DropZoneWatcher,
    FolderTransport,
    PartnerFolders,
    partner_folders,
)

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_IGNORE",
    "DropZoneWatcher",
    "FolderTransport",
    "IncomingFile",
    "MemoryTransport",
    "PartnerFolders",
    "Payload",
    "Transport",
    "iter_chunks",
    "partner_folders",
]
