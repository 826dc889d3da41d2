"""Golden cases: tests/golden/<partner>/<case>/{input.x12, expected.json}.

EDIHUB_REGENERATE_GOLDEN=1 rewrites expected.json from the current output.
"""

from __future__ import annotations

import json
import os

import pytest

from hub.edi.x12 import read_document
from hub.edi.x12.schema import resolve_version
from hub.mapping import load_mapping
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/*") if (p / "input.x12").is_file())
MAPPINGS = [str(REPO / "mappings")]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_golden(case):
    doc = read_document((case / "input.x12").read_bytes())
    partner = case.parent.name
    out = []
    for tx in doc.transactions:
        name = f"{partner}/{tx.type}.{resolve_version(tx.version)}"
        out.append(load_mapping(name, MAPPINGS).to_canonical(tx))
    expected = case / "expected.json"
    if os.environ.get("EDIHUB_REGENERATE_GOLDEN") == "1":
        expected.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert out == json.loads(expected.read_text(encoding="utf-8"))


def test_there_is_a_golden_case():
    assert CASES
