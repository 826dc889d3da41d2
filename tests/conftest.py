"""Shared test fixtures: where the shared corpus lives, and whether it must be there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("EDIHUB_CORPUS", REPO.parent / "shared" / "corpus"))
REQUIRE_CORPUS = os.environ.get("EDIHUB_REQUIRE_CORPUS") == "1"


def corpus_path(*parts: str) -> Path:
    """A path inside the shared corpus; skips the test when the corpus is absent (fails under CI)."""
    if not CORPUS.is_dir():
        if REQUIRE_CORPUS:
            pytest.fail(f"EDIHUB_REQUIRE_CORPUS=1 but the shared corpus is missing at {CORPUS}")
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS.joinpath(*parts)


@pytest.fixture
def corpus_dir() -> Path:
    return corpus_path()
