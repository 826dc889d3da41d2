"""Fixtures of the acknowledgment tests: pyx12's maps (stock and relaxed) and a checker."""

from __future__ import annotations

import pytest

from tests.acks.pyx12_check import relaxed_map_dir, validate_ack


@pytest.fixture(scope="session")
def pyx12_maps(tmp_path_factory):
    return relaxed_map_dir(tmp_path_factory.mktemp("pyx12") / "map")


@pytest.fixture(scope="session")
def check_pyx12(pyx12_maps):
    """``check_pyx12(result, hipaa=False)``: pyx12 must report no error in any interchange of the ack.

    With ``hipaa=True`` the ack is also checked with pyx12's stock maps and
    unchanged versions (it must be a valid HIPAA 997/999 as is); TA1s are
    always checked with the X12.5 interchange shape (see pyx12_check).
    """

    def check(result, hipaa: bool = False) -> None:
        assert result.data, "no acknowledgment was written"
        for r in validate_ack(result.data, result.encoding, pyx12_maps):
            assert r, f"pyx12 rejects our acknowledgment: {r.errors}\n{r.text}"
        if hipaa:
            for r in validate_ack(result.data, result.encoding, None, normalise=False):
                assert r, f"pyx12 (stock HIPAA maps) rejects our acknowledgment: {r.errors}\n{r.text}"

    return check
