"""Edges that move files in and out: folder drop zones, SFTP (client and hosted zone), AS2.

The runtime sees only the :class:`~hub.transports.base.Transport` protocol;
which implementation serves a partner comes from the partner profile's
channels, through :func:`build_transport` (see ``../shared/DESIGN.md``,
"Layers").  The SFTP modules (paramiko, asyncssh) are imported on first use
only, so that the command line does not pay for them when no partner uses SFTP.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.transports.base import CHUNK_SIZE, IncomingFile, MemoryTransport, Payload, Transport, iter_chunks
from hub.transports.folder import (
    DEFAULT_IGNORE,
    DropZoneWatcher,
    FolderTransport,
    PartnerFolders,
    partner_folders,
)

if TYPE_CHECKING:
    from hub.partners.profile import PartnerProfile
    from hub.transports.as2 import As2Transport
    from hub.transports.sftp import SftpTransport
    from hub.transports.sftp_server import HostedSftpZone

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_IGNORE",
    "As2Transport",
    "DropZoneWatcher",
    "FolderTransport",
    "HostedSftpZone",
    "IncomingFile",
    "MemoryTransport",
    "PartnerFolders",
    "Payload",
    "SftpTransport",
    "SplitTransport",
    "Transport",
    "build_transport",
    "iter_chunks",
    "partner_folders",
]

_LAZY = {"SftpTransport": "hub.transports.sftp", "HostedSftpZone": "hub.transports.sftp_server",
         "As2Transport": "hub.transports.as2"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SplitTransport:
    """One partner whose files come in one way and go out another (inbound SFTP, outbound folder, or the reverse).

    ``poll``, ``settle``, ``release`` and ``next_check_in`` go to ``inbound``,
    ``send`` to ``outbound``.  ``inbound`` (the folder) is exposed when the
    inbound side is a folder, so that ``edihub serve`` watches it like any drop zone.
    """

    def __init__(self, inbound: Any, outbound: Any) -> None:
        self.inbound_transport = inbound
        self.outbound_transport = outbound
        self.channel = getattr(inbound, "channel", "split")
        if isinstance(inbound, FolderTransport):
            self.inbound = inbound.inbound

    def __repr__(self) -> str:
        return f"SplitTransport({self.inbound_transport!r}, {self.outbound_transport!r})"

    def poll(self) -> list[IncomingFile]:
        return self.inbound_transport.poll()

    def settle(self, item: IncomingFile, archive_to: Any = None) -> None:
        self.inbound_transport.settle(item, archive_to)

    def release(self, item: IncomingFile) -> None:
        self.inbound_transport.release(item)

    def next_check_in(self) -> float | None:
        return self.inbound_transport.next_check_in()

    def send(self, name: str, data: Payload) -> str:
        return self.outbound_transport.send(name, data)

    def close(self) -> None:
        self.inbound_transport.close()
        self.outbound_transport.close()


def build_transport(
    profile: PartnerProfile,
    *,
    settle_seconds: float = 2.0,
    state_dir: str | os.PathLike[str] = "var/sftp",
    as2_config: Mapping[str, Any] | None = None,
    **options: Any,
) -> Transport:
    """The transport for ``profile``'s channels: folder, SFTP, or one of each (:class:`SplitTransport`).

    ``settle_seconds`` is the folder transports' quiet time (config
    ``folders.settle_seconds``; SFTP channels carry their own
    ``min_age_seconds``).  ``state_dir`` holds ``<partner>.json`` for SFTP
    channels with ``after_pickup: keep``.  ``options`` go to
    :class:`~hub.transports.sftp.SftpTransport` (``clock``, ``sleep``,
    ``environ``, ``redeliver_seconds``).  Folder outbound temporaries a killed
    worker left behind are swept here, as the runtime did before.  ``as2_config`` is the ``as2`` section of
    config.yaml: an ``as2`` outbound channel is an :class:`~hub.transports.as2.As2Transport`, an ``as2``
    inbound channel the hub-managed folder ``<as2.folder>/inbound/<partner>/`` the AS2 endpoint writes to.
    """
    from hub.partners.profile import As2Channel, FolderChannel, SftpChannel

    inbound, outbound = profile.channels.inbound, profile.channels.outbound
    known = (FolderChannel, SftpChannel, As2Channel)
    for role, channel in (("inbound", inbound), ("outbound", outbound)):
        if not isinstance(channel, known):
            raise ValueError(f"partner {profile.id}: channels.{role}: no transport for type {channel.type!r}")
    if isinstance(inbound, As2Channel) or isinstance(outbound, As2Channel):
        return _build_with_as2(profile, settle_seconds, state_dir, dict(as2_config or {}), options)
    if isinstance(inbound, FolderChannel) and isinstance(outbound, FolderChannel):
        folder = FolderTransport(inbound.path, outbound.path, settle_seconds=settle_seconds)
        folder.sweep_temporaries()
        return folder
    from hub.transports.sftp import SftpTransport

    state_path = Path(state_dir) / f"{profile.id}.json"
    if isinstance(inbound, SftpChannel) and isinstance(outbound, SftpChannel):
        return SftpTransport(inbound, outbound, state_path=state_path, **options)
    if isinstance(inbound, SftpChannel):
        assert isinstance(outbound, FolderChannel)
        out_folder = FolderTransport(outbound.path, outbound.path, settle_seconds=settle_seconds)
        out_folder.sweep_temporaries()
        return SplitTransport(SftpTransport(inbound, None, state_path=state_path, **options), out_folder)
    assert isinstance(inbound, FolderChannel) and isinstance(outbound, SftpChannel)
    in_folder = FolderTransport(inbound.path, inbound.path, settle_seconds=settle_seconds)
    return SplitTransport(in_folder, SftpTransport(None, outbound, **options))


def _build_with_as2(profile: PartnerProfile, settle_seconds: float, state_dir: str | os.PathLike[str],
                    as2_config: dict[str, Any], options: dict[str, Any]) -> Transport:
    from hub.partners.profile import As2Channel, FolderChannel
    from hub.transports.as2 import As2Transport, as2_inbound_folder

    inbound, outbound = profile.channels.inbound, profile.channels.outbound
    as2_options = {k: options.pop(k) for k in ("registry", "base_dir", "environ", "sender_factory") if k in options}
    in_side: Any
    if isinstance(inbound, As2Channel):
        folder = as2_inbound_folder(as2_config, profile.id)
        folder.mkdir(parents=True, exist_ok=True)
        # the endpoint links complete files into place: nothing to wait for
        in_side = FolderTransport(folder, folder, settle_seconds=0.0)
    elif isinstance(inbound, FolderChannel):
        in_side = FolderTransport(inbound.path, inbound.path, settle_seconds=settle_seconds)
    else:
        from hub.transports.sftp import SftpTransport

        in_side = SftpTransport(inbound, None, state_path=Path(state_dir) / f"{profile.id}.json", **options)
    out_side: Any
    if isinstance(outbound, As2Channel):
        out_side = As2Transport(profile.id, outbound, as2_config, **as2_options)
    elif isinstance(outbound, FolderChannel):
        out_side = FolderTransport(outbound.path, outbound.path, settle_seconds=settle_seconds)
        out_side.sweep_temporaries()
    else:
        from hub.transports.sftp import SftpTransport

        out_side = SftpTransport(None, outbound, **options)
    return SplitTransport(in_side, out_side)
