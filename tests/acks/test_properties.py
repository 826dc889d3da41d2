"""Property tests: whatever findings the validator reports, the 997 / 999 is valid (pyx12) and reads back."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.acks.x12 import ACCEPTED, ACCEPTED_WITH_ERRORS, REJECTED, acknowledge, read_acks
from hub.acks.x12_read import AK304_CODES, AK403_CODES, AK502_CODES, IK304_CODES, IK403_CODES, IK502_CODES
from hub.edi.core import ERROR, WARNING
from tests.acks import samples as s

WHEN = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)
SEGMENT_IDS = ["BHT", "NM1", "HL", "CLM", "SV1", "ZZZ", "N1"]


def _findings(kind: str):
    severity = st.sampled_from([ERROR, WARNING])
    seg_codes = st.sampled_from(sorted(AK304_CODES))
    el_codes = st.sampled_from(sorted(AK403_CODES))
    ik_seg = st.one_of(st.none(), st.sampled_from(sorted(IK304_CODES)))
    ik_el = st.one_of(st.none(), st.sampled_from(sorted(IK403_CODES)))
    bad = st.one_of(st.none(), st.text(max_size=120))
    loop = st.one_of(st.none(), st.sampled_from(["2300", "N1", "2010AA", "*~"]))
    segment = st.builds(
        s.segment_finding,
        st.integers(1, 12),
        st.sampled_from(SEGMENT_IDS),
        seg_codes,
        ik=ik_seg,
        severity=severity,
        loop_id=loop,
        ctx=st.one_of(st.none(), st.just([{"name": "CLM01", "reference": "A37*YH~556"}])),
    )
    element = st.builds(
        s.element_finding,
        st.integers(1, 12),
        st.sampled_from(SEGMENT_IDS),
        st.integers(1, 120),
        el_codes,
        component=st.one_of(st.none(), st.integers(1, 120)),
        repetition=st.one_of(st.none(), st.integers(1, 20000)),
        ref=st.one_of(st.none(), st.sampled_from(["66", "1332", "I12", "12345"])),
        bad=bad,
        ik=ik_el,
        severity=severity,
        loop_id=loop,
    )
    tx_codes = sorted(AK502_CODES) if kind == "997" else sorted(IK502_CODES)
    transaction = st.builds(
        s.transaction_finding, st.sampled_from(tx_codes), ik=st.one_of(st.none(), st.sampled_from(["I5", "I6"])),
        severity=severity,
    )
    return st.lists(st.one_of(segment, element, transaction), max_size=12)


def _check(data: bytes, by_control, check_pyx12):
    result = acknowledge(data, when=WHEN, validator=s.validator_of(by_control))
    check_pyx12(result, hipaa=True)
    [report] = read_acks(result.data)
    assert not [f for f in report.findings if f.is_error], [f.message for f in report.findings]
    for st_ack, n in zip(report.sets, ("0001", "0002"), strict=True):
        found = by_control.get(n, [])
        if any(f.severity == ERROR for f in found):
            assert st_ack.status == REJECTED
        elif found:
            assert st_ack.status == ACCEPTED_WITH_ERRORS
        else:
            assert st_ack.status == ACCEPTED
    return report


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(first=_findings("999"), second=_findings("999"))
def test_any_findings_make_a_valid_999(first, second, check_pyx12):
    _check(s.claim_5010(sets=2), {"0001": first, "0002": second}, check_pyx12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(first=_findings("997"), second=_findings("997"))
def test_any_findings_make_a_valid_997(first, second, check_pyx12):
    report = _check(s.claim_4010(sets=2), {"0001": first, "0002": second}, check_pyx12)
    if report.sets[0].status == ACCEPTED and report.sets[1].status == ACCEPTED:
        assert report.status == ACCEPTED
