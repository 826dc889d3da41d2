"""Canonical documents for the ERP adapter tests, taken from the golden files (real, valid documents)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden" / "common"
CASES = ("850-basic", "855-basic", "856-basic", "810-basic")


def golden(case: str) -> dict[str, Any]:
    """The first canonical document of a golden case's expected.json (a fresh copy each call)."""
    return copy.deepcopy(json.loads((GOLDEN / case / "expected.json").read_text(encoding="utf-8"))[0])


@pytest.fixture
def purchase_order() -> dict[str, Any]:
    return golden("850-basic")


@pytest.fixture(params=CASES)
def any_document(request: pytest.FixtureRequest) -> dict[str, Any]:
    return golden(request.param)
