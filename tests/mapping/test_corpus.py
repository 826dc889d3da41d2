"""Every 850 of the shared corpus maps through the common mapping."""

from __future__ import annotations

import pytest

from hub.edi.core import element
from hub.edi.x12 import read_document
from hub.mapping import load_mapping
from tests.conftest import REPO, corpus_path


def test_every_corpus_850_maps():
    folder = corpus_path("x12", "850")
    files = sorted(p for p in folder.iterdir() if p.is_file())
    assert files
    mapping = load_mapping("common/850.004010", [str(REPO / "mappings")])
    sets = 0
    for path in files:
        doc = read_document(path.read_bytes())
        assert doc.transactions, path.name
        for tx in doc.transactions:
            if tx.type != "850":
                continue
            sets += 1
            try:
                out = mapping.to_canonical(tx)
            except Exception as exc:  # pragma: no cover - the message says which file
                pytest.fail(f"{path.name}: {exc}")
            beg = next(s for s in tx.segments if s[0] == "BEG")
            assert out["number"] == element(beg, 3).strip(), path.name
            assert len(out["lines"]) == sum(1 for s in tx.segments if s[0] == "PO1"), path.name
    assert sets >= len(files)
