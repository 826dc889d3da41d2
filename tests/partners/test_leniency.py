"""A partner's leniency changes the severity of findings, or drops them."""

from __future__ import annotations

import pytest

from hub.edi.core import Finding
from hub.edi.x12.analyse import analyse
from hub.partners import apply_leniency, parse_profile
from tests.partners.helpers import ACME

BAD_COUNT = (
    b"ISA*00*          *00*          *ZZ*ACMEBUYER      *ZZ*EDIHUBSUPPLY   *261126*0945*U*00401*000000102*0*T*>~"
    b"GS*PO*ACMEBUYER*EDIHUBSUPPLY*20261126*0945*102*X*004010~ST*850*0001~BEG*00*SA*PO-2**20261126~"
    b"PO1*1*5*EA*4.25**BP*WIDGET-100~CTT*1~SE*9*0001~GE*1*102~IEA*1*000000102~"
)


def finding(code, severity="error"):
    return Finding(code=code, severity=severity, layer="schema", message=code, segment=3, element=1)


def test_severities_changed_and_ignored_codes_dropped():
    rules = {"SE01_COUNT": "warning", "ELEMENT_UNKNOWN_CODE": "ignore", "ISA_WIDTH": "error"}
    findings = [
        finding("SE01_COUNT"),
        finding("ELEMENT_UNKNOWN_CODE", "warning"),
        finding("ISA_WIDTH", "warning"),
        finding("SEGMENT_MISSING"),
    ]
    out = apply_leniency(findings, rules)
    assert [(f.code, f.severity) for f in out] == [
        ("SE01_COUNT", "warning"),
        ("ISA_WIDTH", "error"),
        ("SEGMENT_MISSING", "error"),
    ]
    assert out[0] is not findings[0] and findings[0].severity == "error"  # the originals are untouched
    assert out[0].extra == {"original_severity": "error"}
    assert (out[0].segment, out[0].element, out[0].message) == (3, 1, "SE01_COUNT")
    assert out[2] is findings[3]


def test_no_rules_keep_everything():
    findings = [finding("SE01_COUNT")]
    assert apply_leniency(findings, {}) == findings


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="'loud'"):
        apply_leniency([finding("SE01_COUNT")], {"SE01_COUNT": "loud"})


def test_a_profile_applies_to_a_real_file(tmp_path):
    profile = parse_profile(ACME + "leniency:\n  SE01_COUNT: warning\n", "acme.yaml", "acme")
    path = tmp_path / "bad_count.x12"
    path.write_bytes(BAD_COUNT)
    result = analyse(str(path))
    assert any(f.code == "SE01_COUNT" and f.is_error for f in result.findings)
    lenient = apply_leniency(result.findings, profile)
    assert not any(f.code == "SE01_COUNT" and f.is_error for f in lenient)
    assert any(f.code == "SE01_COUNT" and f.severity == "warning" for f in lenient)
