"""The short way a clean set is acknowledged writes exactly what the long way writes."""

from __future__ import annotations

import datetime as _dt

import pytest

from hub.acks import x12_build
from hub.acks.x12 import acknowledge
from tests.conftest import corpus_path

WHEN = _dt.datetime(2026, 11, 27, 12, 0, tzinfo=_dt.UTC)


def _corpus_files():
    base = corpus_path("x12")
    return sorted(p for kind in ("850", "855", "856", "810", "999", "malformed") for p in (base / kind).glob("*")
                  if p.is_file())


def test_corpus_acks_are_byte_identical_with_and_without_the_short_way(monkeypatch):
    files = _corpus_files()
    calls = []
    original = x12_build._InterchangeAck.accept

    def counting(self, tx):
        ok = original(self, tx)
        calls.append(ok)
        return ok

    monkeypatch.setattr(x12_build._InterchangeAck, "accept", counting)
    short = [acknowledge(p, when=WHEN, ack_acks=True) for p in files]
    monkeypatch.setattr(x12_build._InterchangeAck, "accept", lambda self, tx: False)
    long = [acknowledge(p, when=WHEN, ack_acks=True) for p in files]
    for path, a, b in zip(files, short, long, strict=True):
        assert a.data == b.data, path.name
        assert a.acks == b.acks, path.name
        assert [f.to_json() for f in a.findings] == [f.to_json() for f in b.findings], path.name
    assert sum(calls) > 20, "the short way was never taken"
    assert any(b"AK5*A" in a.data or b"IK5*A" in a.data for a in short)


@pytest.mark.parametrize("version, st03, end", [("004010", "", "AK5"), ("005010X231A1", "", "IK5"),
                                                ("005010X231A1", "005010X231A1", "IK5")])
def test_a_clean_set_in_a_999_group_keeps_its_st03(version, st03, end):
    # a 999 (005010 group) ends each set with IK5 and its AK2 carries ST03 (AK203); a 997 has neither
    gs08 = "005010X231A1" if version.startswith("005") else "004010"
    body = f"ST*850*0001{'*' + st03 if st03 else ''}~BEG*00*SA*PO1**20261126~PO1*1*2*EA*3.5**BP*X1~CTT*1~SE*5*0001~"
    data = ("ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *261126*1200*^*00501*000000001*0*T*>~"
            f"GS*PO*SENDER*RECEIVER*20261126*1200*1*X*{gs08}~{body}GE*1*1~IEA*1*000000001~").encode()
    result = acknowledge(data, when=WHEN)
    text = result.data.decode()
    assert "AK2*850*0001" + (f"*{st03}" if st03 else "") + "~" in text
    assert f"~{end}*A~" in text and text.count("AK2*") == 1
