"""The sample partner profiles shipped in partner_profiles/ are valid and match the sample files."""

from __future__ import annotations

from hub.edi.edifact import read_document as read_edifact
from hub.edi.x12 import read_document as read_x12
from hub.partners import find_partner, load_profiles
from tests.conftest import REPO


def test_shipped_profiles_load_and_identify_the_sample_senders():
    profiles = load_profiles(REPO / "partner_profiles")
    assert sorted(profiles) == ["acme", "nordbuy"]
    ic = read_x12(REPO / "inbound" / "acme" / "acme_850_4010.x12").interchanges[0]
    assert find_partner(profiles, "x12", ic.sender_qualifier, ic.sender).id == "acme"
    unb = read_edifact(REPO / "inbound" / "nordbuy" / "nordbuy_orders_d96a.edi").interchanges[0]
    assert find_partner(profiles, "edifact", unb.sender_qualifier, unb.sender).id == "nordbuy"
