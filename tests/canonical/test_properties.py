"""Property test: random valid documents round-trip and validate against their shipped schema."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from hub.canonical import DOCUMENT_CLASSES, load_document, validate_document
from tests.canonical.strategies import documents

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _floats(value) -> bool:
    if isinstance(value, dict):
        return any(_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(_floats(v) for v in value)
    return isinstance(value, float)


@pytest.mark.parametrize("name", list(DOCUMENT_CLASSES))
def test_random_documents_round_trip(name):
    @SETTINGS
    @given(documents(name))
    def check(doc):
        data = doc.to_json()
        assert validate_document(data) == []
        text = json.dumps(data, allow_nan=False)  # plain JSON: no Decimal, date or float sneaks in
        assert not _floats(data)
        back = type(doc).from_json(json.loads(text))
        assert back == doc
        assert back.to_json() == data
        assert load_document(data) == doc

    check()
