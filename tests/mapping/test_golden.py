"""Golden cases, one parametrised test: ``tests/golden/<partner>/<case>/``.

Two kinds of case:

* inbound: ``input.x12`` or ``input.edi`` -> ``expected.json`` (every set/message mapped, as a JSON array) ->
  ``expected.out.x12`` / ``expected.out.edi`` (each document rendered back with the same mapping for the
  partner, at a fixed time, control numbers from 1) -> read again -> the same canonical documents, but for
  what the envelope decides by design (``source``, ``sender``, ``receiver``: we are the sender then);
* outbound: ``input.json`` (one canonical document) -> ``expected.x12`` (rendered for the partner with the
  partner's outbound mapping) -> ``expected.json`` (read back).

``<partner>`` is a profile in partner_profiles/ (its own mappings are used), or ``common`` (the common
mappings, rendered for the sample partner of the standard: acme for X12, nordbuy for EDIFACT).
EDIHUB_REGENERATE_GOLDEN=1 rewrites the expected files from the current output.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from hub.edi.edifact import read_document as read_edifact
from hub.edi.x12 import read_document as read_x12
from hub.mapping import ControlNumbers, common_mapping_name, load_mapping, render
from hub.partners import load_profiles
from tests.conftest import REPO

GOLDEN = REPO / "tests" / "golden"
INPUTS = ("input.x12", "input.edi", "input.json")
CASES = sorted(p for p in GOLDEN.glob("*/*") if any((p / name).is_file() for name in INPUTS))
MAPPINGS = [str(REPO / "mappings")]
PROFILES = load_profiles(REPO / "partner_profiles")
SAMPLE_PARTNER = {"x12": "acme", "edifact": "nordbuy"}
WHEN = dt.datetime(2024, 1, 6, 10, 0)
NOT_ROUND_TRIPPED = ("source", "sender", "receiver")
REGENERATE = os.environ.get("EDIHUB_REGENERATE_GOLDEN") == "1"


def _read(data: bytes, standard: str):
    doc = read_x12(data) if standard == "x12" else read_edifact(data)
    return doc.transactions


def _inbound_mapping(partner_dir: str, standard: str, tx):
    profile = PROFILES.get(partner_dir)
    if profile is not None:
        spec = profile.document(tx.type, "inbound", tx.version) or profile.document(tx.type, "inbound")
        if spec is None:  # a document the partner receives from us, read back with that mapping
            spec = profile.document(tx.type, "outbound")
        assert spec is not None and spec.mapping, f"{partner_dir} exchanges no {tx.type}"
        return load_mapping(spec.mapping, MAPPINGS)
    return load_mapping(common_mapping_name(standard, tx.type, tx.version, MAPPINGS), MAPPINGS)


def _check(path, data: bytes | str) -> None:
    if REGENERATE:
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
    expected = path.read_text(encoding="utf-8") if isinstance(data, str) else path.read_bytes()
    assert data == expected, f"{path} differs (EDIHUB_REGENERATE_GOLDEN=1 rewrites it)"


def _json(docs) -> str:
    return json.dumps(docs, indent=2, ensure_ascii=False) + "\n"


def strip(doc):
    return {k: v for k, v in doc.items() if k not in NOT_ROUND_TRIPPED}


def _inbound_case(case, standard: str, data: bytes) -> None:
    partner_dir = case.parent.name
    profile = PROFILES.get(partner_dir) or PROFILES[SAMPLE_PARTNER[standard]]
    docs, mappings = [], []
    for tx in _read(data, standard):
        mapping = _inbound_mapping(partner_dir, standard, tx)
        mappings.append(mapping)
        docs.append(mapping.to_canonical(tx))
    _check(case / "expected.json", _json(docs))
    counter = ControlNumbers()
    out = b"".join(render(d, profile, counter, mapping=m, when=WHEN) for d, m in zip(docs, mappings, strict=True))
    ext = "x12" if standard == "x12" else "edi"
    _check(case / f"expected.out.{ext}", out)
    again = [m.to_canonical(tx) for m, tx in zip(mappings, _read(out, standard), strict=True)]
    assert [strip(d) for d in again] == [strip(d) for d in docs]


def _outbound_case(case) -> None:
    partner_dir = case.parent.name
    document = json.loads((case / "input.json").read_text(encoding="utf-8"))
    standard = "edifact" if (case / "expected.edi").is_file() else "x12"
    profile = PROFILES.get(partner_dir) or PROFILES[SAMPLE_PARTNER[standard]]
    data = render(document, profile, mappings=MAPPINGS, when=WHEN)
    _check(case / ("expected.edi" if standard == "edifact" else "expected.x12"), data)
    out = []
    for tx in _read(data, standard):
        spec = profile.document(tx.type, "outbound")
        out.append(load_mapping(spec.mapping, MAPPINGS).to_canonical(tx))
    _check(case / "expected.json", _json(out))
    assert [strip(d) for d in out] == [strip(document)]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_golden(case):
    if (case / "input.json").is_file():
        _outbound_case(case)
        return
    x12 = case / "input.x12"
    if x12.is_file():
        _inbound_case(case, "x12", x12.read_bytes())
    else:
        _inbound_case(case, "edifact", (case / "input.edi").read_bytes())


def test_there_are_golden_cases_of_every_kind():
    kinds = {next(n for n in INPUTS if (c / n).is_file()) for c in CASES}
    assert kinds == set(INPUTS)
    assert {c.parent.name for c in CASES} >= {"common", "acme", "nordbuy"}
