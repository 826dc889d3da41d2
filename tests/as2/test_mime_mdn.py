"""MIME layer, MIC (RFC 4130 7.3.1) and MDNs, checked against ``email``, ``hashlib`` and ``openssl cms``."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import subprocess
from pathlib import Path

import pytest

from hub.as2 import Identity, Partnership
from hub.as2.errors import IntegrityCheckFailed, MalformedMessage
from hub.as2.mdn import (
    DUPLICATE,
    PROCESSED,
    Disposition,
    Mic,
    build_mdn,
    error_disposition,
    parse_mdn,
    parse_mdn_request,
)
from hub.as2.message import build_message
from hub.as2.mime import Span, decode_body, hash_span, parse_entity, safe_filename, split_multipart
from hub.as2.state import check_mdn
from tests.as2.conftest import Pki, openssl

pytestmark = pytest.mark.as2

PAYLOAD = b"ISA*00*          *00*~\nGS*PO~\r\n" + bytes(range(256))


def partnership(pki: Pki, **kw: object) -> Partnership:
    base: dict[str, object] = dict(partner_id="acme", as2_id="ACME", our_as2_id="HUB", certs=(pki.peer.cert,),
                                   url="http://127.0.0.1:9/as2")
    base.update(kw)
    return Partnership(**base)  # type: ignore[arg-type]


def headers_of(built_headers: tuple[tuple[str, str], ...], name: str) -> str:
    return next(v for k, v in built_headers if k.lower() == name.lower())


def b64sha(data: bytes, alg: str = "sha256") -> str:
    return base64.b64encode(hashlib.new(alg, data).digest()).decode()


# ============================================================================================ MIC


def test_mic_of_a_signed_message_covers_the_signed_part_with_its_headers(pki: Pki, tmp_path: Path) -> None:
    p = partnership(pki, encrypt=None, sign="sha384")
    built = build_message(PAYLOAD, partnership=p, identity=Identity("HUB", (pki.hub.pair,)), workdir=tmp_path,
                          filename="po.x12")
    content_type = headers_of(built.headers, "Content-Type")
    body = built.body.read_bytes()
    # independently: the first part is what lies between the first two delimiters, without their CRLFs
    msg = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    delimiter = b"--" + msg.get_boundary().encode()
    first = body.split(delimiter)[1][2:-2]
    assert first.startswith(b"Content-Type: application/edi-x12\r\n") and first.endswith(PAYLOAD)
    assert built.mic == Mic(b64sha(first, "sha384"), "sha384")
    assert built.mic.header().endswith(", sha-384")
    # and openssl agrees that the signature covers exactly these bytes (detached form: openssl's S/MIME reader
    # would canonicalise the bare LFs of this binary part)
    signature_part = body.split(delimiter)[2]
    (tmp_path / "sig.der").write_bytes(base64.b64decode(signature_part.split(b"\r\n\r\n", 1)[1]))
    (tmp_path / "signed-part").write_bytes(first)
    subprocess.run([openssl(), "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sig.der"), "-content",
                    str(tmp_path / "signed-part"), "-binary", "-CAfile", str(pki.hub.cert_pem), "-purpose", "any",
                    "-out", str(tmp_path / "out")], capture_output=True, check=True)


def test_mic_of_an_encrypted_unsigned_message_covers_the_decrypted_entity(pki: Pki, tmp_path: Path) -> None:
    p = partnership(pki, sign=None, encrypt="aes_128_cbc", mdn_micalg="sha1")
    built = build_message(PAYLOAD, partnership=p, identity=Identity("HUB", (pki.hub.pair,)), workdir=tmp_path,
                          filename="po.x12")
    plain = subprocess.run([openssl(), "cms", "-decrypt", "-inform", "DER", "-in", str(built.body), "-recip",
                            str(pki.peer.cert_pem), "-inkey", str(pki.peer.key_pem), "-binary"],
                           capture_output=True, check=True).stdout
    assert plain.startswith(b"Content-Type: application/edi-x12\r\n") and plain.endswith(PAYLOAD)
    assert built.mic == Mic(b64sha(plain, "sha1"), "sha1")


def test_mic_of_a_plain_message_covers_the_payload_only(pki: Pki, tmp_path: Path) -> None:
    p = partnership(pki, sign=None, encrypt=None)
    built = build_message(PAYLOAD, partnership=p, identity=Identity("HUB", (pki.hub.pair,)), workdir=tmp_path,
                          filename="po.x12")
    assert built.body.read_bytes() == PAYLOAD
    assert built.mic == Mic(b64sha(PAYLOAD), "sha256")
    assert headers_of(built.headers, "Content-Disposition") == 'attachment; filename="po.x12"'


def test_message_headers(pki: Pki, tmp_path: Path) -> None:
    p = partnership(pki, as2_id="Big Retailer", mdn="async", async_mdn_url="https://hub.example/as2")
    built = build_message(PAYLOAD, partnership=p, identity=Identity("HUB", (pki.hub.pair,)), workdir=tmp_path,
                          filename="po.x12", message_id="abc@hub")
    h = dict(built.headers)
    assert h["Message-ID"] == "<abc@hub>"
    assert h["AS2-To"] == '"Big Retailer"' and h["AS2-From"] == "HUB" and h["AS2-Version"] == "1.2"
    assert h["Receipt-Delivery-Option"] == "https://hub.example/as2"
    assert parse_mdn_request(h).micalgs == ("sha256",)
    assert h["Content-Type"].startswith("application/pkcs7-mime; smime-type=enveloped-data")


# ============================================================================================ MDNs


def test_signed_mdn_verifies_with_openssl_and_reads_back(pki: Pki, tmp_path: Path) -> None:
    mic = Mic(b64sha(b"x"), "sha256")
    mdn = build_mdn(original_message_id="<m1@acme>", our_as2_id="HUB", partner_as2_id="ACME",
                    disposition=PROCESSED, mic=mic, signer=pki.hub.pair, micalg="sha-256")
    content_type = mdn.header("Content-Type")
    assert content_type is not None and content_type.startswith("multipart/signed")
    smime = tmp_path / "mdn.eml"
    smime.write_bytes(f"MIME-Version: 1.0\r\nContent-Type: {content_type}\r\n\r\n".encode() + mdn.body)
    out = subprocess.run([openssl(), "cms", "-verify", "-in", str(smime), "-CAfile", str(pki.hub.cert_pem),
                          "-purpose", "any"], capture_output=True, check=True).stdout
    assert b"Disposition: automatic-action/MDN-sent-automatically; processed" in out
    got = parse_mdn(mdn.headers, mdn.body, partner_certs=[pki.hub.cert])
    assert got.signed and got.signer == pki.hub.cert and got.digest_alg == "sha256"
    assert (got.original_message_id, got.disposition, got.mic) == ("m1@acme", PROCESSED, mic)
    assert (got.as2_from, got.as2_to) == ("HUB", "ACME")
    assert check_mdn(got, message_id="<m1@acme>", mics=(mic,), require_signed=True).ok


def test_tampered_mdn_is_refused(pki: Pki) -> None:
    mdn = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME",
                    disposition=error_disposition("decryption-failed"), mic=None, signer=pki.hub.pair)
    forged = mdn.body.replace(b"processed/error: decryption-failed", b"processed                        ")
    with pytest.raises(IntegrityCheckFailed):
        parse_mdn(mdn.headers, forged, partner_certs=[pki.hub.cert])


def test_unsigned_mdn_and_the_checks(pki: Pki) -> None:
    mic = Mic(b64sha(b"x"), "sha256")
    mdn = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME", disposition=DUPLICATE,
                    mic=mic)
    got = parse_mdn(mdn.headers, mdn.body, partner_certs=[])
    assert not got.signed and got.disposition.duplicate and got.disposition.ok
    assert check_mdn(got, message_id="m1@acme", mics=(mic,), require_signed=False).ok
    assert "unsigned MDN" in check_mdn(got, message_id="m1@acme", mics=(mic,), require_signed=True).problems[0]
    assert "is for" in check_mdn(got, message_id="other@acme", mics=(mic,), require_signed=False).problems[0]
    wrong = Mic(b64sha(b"y"), "sha256")
    assert "MIC mismatch" in check_mdn(got, message_id="m1@acme", mics=(wrong,), require_signed=False).problems[0]
    same_value_other_alg = Mic(mic.value, "sha1")
    assert not check_mdn(got, message_id="m1@acme", mics=(same_value_other_alg,), require_signed=False).ok


def test_mdn_without_mic_for_a_signed_message_is_not_proof(pki: Pki) -> None:
    mdn = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME", disposition=PROCESSED,
                    mic=None)
    got = parse_mdn(mdn.headers, mdn.body, partner_certs=[])
    mics = (Mic(b64sha(b"x"), "sha256"),)
    assert not check_mdn(got, message_id="m1@acme", mics=mics, require_signed=False).ok
    assert check_mdn(got, message_id="m1@acme", mics=mics, require_signed=False, signed_message=False).ok


def test_not_an_mdn() -> None:
    with pytest.raises(MalformedMessage):
        parse_mdn([("Content-Type", "text/plain")], b"hello", partner_certs=[])


@pytest.mark.parametrize(("text", "status", "ok"), [
    ("automatic-action/MDN-sent-automatically; processed", "processed", True),
    ("automatic-action/MDN-sent-automatically; processed/Warning: duplicate-document",
     "processed/warning: duplicate-document", True),
    ("automatic-action/MDN-sent-automatically;  processed/error:  decryption-failed",
     "processed/error: decryption-failed", False),
    ("automatic-action/MDN-sent-automatically; processed/Error: authentication-failed",
     "processed/error: authentication-failed", False),
    ("automatic-action/MDN-sent-automatically; failed/Failure: unsupported format",
     "failed/failure: unsupported format", False),
])
def test_dispositions(text: str, status: str, ok: bool) -> None:
    d = Disposition.parse(text)
    assert (d.status, d.ok) == (status, ok)
    assert Disposition.parse(str(d)) == d


def test_rfc_4130_wording() -> None:
    assert DUPLICATE.status == "processed/warning: duplicate-document"
    for modifier in ("decryption-failed", "authentication-failed", "integrity-check-failed",
                     "insufficient-message-security", "unexpected-processing-error"):
        expected = f"automatic-action/MDN-sent-automatically; processed/error: {modifier}"
        assert str(error_disposition(modifier)) == expected


def test_mdn_requests() -> None:
    none = parse_mdn_request({})
    assert (none.requested, none.mode) == (False, "none")
    pyas2lib = parse_mdn_request({
        "Disposition-Notification-To": "no-reply@pyas2.com",
        "Disposition-Notification-Options": "signed-receipt-protocol=required, pkcs7-signature; "
                                            "signed-receipt-micalg=optional, sha256"})
    assert (pyas2lib.mode, pyas2lib.signed, pyas2lib.micalgs) == ("sync", True, ("sha256",))
    rfc = parse_mdn_request({
        "Disposition-Notification-To": "as2@x", "Receipt-Delivery-Option": "http://127.0.0.1:1/mdn",
        "Disposition-Notification-Options": "signed-receipt-protocol=optional, pkcs7-signature; "
                                            "signed-receipt-micalg=optional, md5, SHA-512, sha1"})
    assert (rfc.mode, rfc.async_url, rfc.micalgs, rfc.micalg) == ("async", "http://127.0.0.1:1/mdn",
                                                                  ("sha512", "sha1"), "sha512")
    unsigned = parse_mdn_request({"Disposition-Notification-To": "as2@x"})
    assert (unsigned.requested, unsigned.signed, unsigned.micalg) == (True, False, None)


# ============================================================================================ MIME


def test_split_multipart_keeps_parts_exact() -> None:
    body = (b"preamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nline1\r\n--b1 is not me\r\n\r\n"
            b"--b1  \r\nContent-Type: a/b\r\n\r\n\x00\r\n\r\n--b1--\r\nepilogue")
    parts = split_multipart(Span.of(body), "b1")
    assert [p.read() for p in parts] == [b"Content-Type: text/plain\r\n\r\nline1\r\n--b1 is not me\r\n",
                                         b"Content-Type: a/b\r\n\r\n\x00\r\n"]
    assert split_multipart(Span.of(b"--b\nA: b\n\nx\n--b--\n"), "b")[0].read() == b"A: b\n\nx"
    with pytest.raises(MalformedMessage):
        split_multipart(Span.of(b"no parts"), "b1")


def test_entities_and_transfer_encodings(tmp_path: Path) -> None:
    raw = b"Content-Type: application/edi-x12\r\nContent-Transfer-Encoding: base64\r\n\r\n" + \
        base64.encodebytes(PAYLOAD * 100)
    entity = parse_entity(Span.of(raw))
    assert entity.content_type == "application/edi-x12"
    assert decode_body(entity, tmp_path, "b64").read() == PAYLOAD * 100
    qp = parse_entity(Span.of(b"Content-Transfer-Encoding: quoted-printable\n\nA=3DB=\r\nC\r\n"))
    assert decode_body(qp, tmp_path, "qp").read() == b"A=BC\r\n"
    assert parse_entity(Span.of(b"\r\nbody only")).body.read() == b"body only"


def test_canonical_hash_turns_bare_lf_into_crlf() -> None:
    text = b"a\nb\r\nc\r" + b"\nd" * 1000
    assert hash_span(Span.of(text), ["sha1"], canonical=True)["sha1"] == hashlib.sha1(
        text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")).digest()


@pytest.mark.parametrize(("name", "expected"), [
    ("po.x12", "po.x12"), ("../../etc/passwd", "passwd"), ("C:\\x\\po 1.edi", "po 1.edi"), ("..", "m_1.edi"),
    (None, "m_1.edi"), ("a\x00b\nc", "abc"),
])
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name, "m@1.edi") == expected


def test_a_duplicate_notice_without_a_mic_is_the_receipt_of_a_retried_message(pki: Pki) -> None:
    # regression: django-pyas2 answers the retry of a message it already has (same Message-ID, same bytes) with
    # "processed/warning: duplicate-document" and no MIC; that failed the transaction as mdn-invalid although
    # the partner states it holds the message
    mic = Mic(b64sha(b"x"), "sha256")
    dup = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME", disposition=DUPLICATE,
                    mic=None, signer=pki.hub.pair)
    got = parse_mdn(dup.headers, dup.body, partner_certs=[pki.hub.cert])
    check = check_mdn(got, message_id="m1@acme", mics=(mic,), require_signed=True)
    assert check.ok and not check.mic_matched
    # still refused: unsigned where a signature was asked for, or for another message
    unsigned = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME",
                         disposition=DUPLICATE, mic=None)
    got = parse_mdn(unsigned.headers, unsigned.body, partner_certs=[])
    assert not check_mdn(got, message_id="m1@acme", mics=(mic,), require_signed=True).ok
    assert not check_mdn(got, message_id="m2@acme", mics=(mic,), require_signed=False).ok
    # a plain "processed" without a MIC for a signed message proves nothing about what arrived
    plain = build_mdn(original_message_id="m1@acme", our_as2_id="HUB", partner_as2_id="ACME", disposition=PROCESSED,
                      mic=None, signer=pki.hub.pair)
    got = parse_mdn(plain.headers, plain.body, partner_certs=[pki.hub.cert])
    problems = check_mdn(got, message_id="m1@acme", mics=(mic,), require_signed=True).problems
    assert "no Received-Content-MIC" in problems[0]
