"""Fixtures for the transport tests: a fake clock and a folder transport on real temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.transports import FolderTransport


class FakeClock:
    """A monotonic clock the test moves by hand, so settle times cost no real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    inbound, outbound = tmp_path / "inbound", tmp_path / "outbound"
    return inbound, outbound


@pytest.fixture
def transport(folders: tuple[Path, Path], clock: FakeClock) -> FolderTransport:
    inbound, outbound = folders
    return FolderTransport(inbound, outbound, settle_seconds=2.0, clock=clock)
