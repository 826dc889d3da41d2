"""Fixtures of the canonical document tests: the example documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).with_name("examples")
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def load_example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(params=[p.stem for p in EXAMPLE_FILES])
def example(request) -> dict:
    return load_example(request.param)
