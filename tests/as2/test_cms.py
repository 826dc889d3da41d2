"""hub.as2.cms checked against an independent implementation: the ``openssl cms`` command.

What we sign, openssl verifies; what openssl signs, we verify; what we encrypt, openssl decrypts; what openssl
encrypts (DER, streamed BER, RSA-OAEP), we decrypt.  OpenSSL on this platform has no zlib, so compressed data
is checked with ``openssl asn1parse`` (the structure) and Python's zlib (the content).
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import zlib
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms

from hub.as2 import cms
from hub.as2.errors import (
    AuthenticationFailed,
    DecompressionFailed,
    DecryptionFailed,
    IntegrityCheckFailed,
    UnsupportedAlgorithm,
)
from tests.as2.conftest import Pki, openssl

pytestmark = pytest.mark.as2

DATA = bytes(range(256)) * 40 + b"\r\n\n\r ISA*00~"
DIGESTS = ["sha1", "sha224", "sha256", "sha384", "sha512"]
CIPHERS = ["tripledes_192_cbc", "aes_128_cbc", "aes_192_cbc", "aes_256_cbc"]


def run(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run([openssl(), *args], input=stdin, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def digests_of(data: bytes):  # type: ignore[no-untyped-def]
    return lambda name: hashlib.new(name, data).digest()


# ============================================================================================ signatures


@pytest.mark.parametrize("digest", DIGESTS)
def test_openssl_verifies_our_signature(pki: Pki, tmp_path: Path, digest: str) -> None:
    sig = cms.sign_detached(DATA, digest, pki.hub.pair)
    (tmp_path / "sig.der").write_bytes(sig)
    (tmp_path / "data").write_bytes(DATA)
    run("cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sig.der"), "-content", str(tmp_path / "data"),
        "-binary", "-CAfile", str(pki.hub.cert_pem), "-purpose", "any", "-out", str(tmp_path / "out"))
    info = asn1_cms.ContentInfo.load(sig)["content"]["signer_infos"][0]
    assert info["digest_algorithm"]["algorithm"].native == digest


@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("attrs", [[], ["-noattr"]])
def test_we_verify_openssl_signatures(pki: Pki, tmp_path: Path, digest: str, attrs: list[str]) -> None:
    (tmp_path / "data").write_bytes(DATA)
    sig = run("cms", "-sign", "-binary", "-md", digest, "-signer", str(pki.peer.cert_pem), "-inkey",
              str(pki.peer.key_pem), "-outform", "DER", "-in", str(tmp_path / "data"), *attrs)
    info = cms.verify_detached(sig, digests_of(DATA), [pki.peer.cert])
    assert (info.digest_alg, info.signer) == (digest, pki.peer.cert)
    with pytest.raises(IntegrityCheckFailed):
        cms.verify_detached(sig, digests_of(DATA + b"x"), [pki.peer.cert])


def test_signature_by_an_untrusted_key_is_an_authentication_failure(pki: Pki) -> None:
    sig = cms.sign_detached(DATA, "sha256", pki.rogue.pair)  # carries the rogue certificate inside
    with pytest.raises(AuthenticationFailed):
        cms.verify_detached(sig, digests_of(DATA), [pki.peer.cert])
    with pytest.raises(AuthenticationFailed):
        cms.verify_detached(sig, digests_of(DATA), [])


def test_any_of_several_partner_certificates_verifies(pki: Pki) -> None:
    sig = cms.sign_detached(DATA, "sha256", pki.peer_next.pair)
    info = cms.verify_detached(sig, digests_of(DATA), [pki.peer.cert, pki.peer_next.cert])
    assert info.signer == pki.peer_next.cert


def test_changed_content_is_an_integrity_failure(pki: Pki) -> None:
    sig = cms.sign_detached(DATA, "sha384", pki.peer.pair)
    with pytest.raises(IntegrityCheckFailed):
        cms.verify_detached(sig, digests_of(DATA[:-1] + b"!"), [pki.peer.cert])


def test_garbage_signature_is_an_authentication_failure(pki: Pki) -> None:
    with pytest.raises(AuthenticationFailed):
        cms.verify_detached(b"\x30\x03\x02\x01\x01", digests_of(DATA), [pki.peer.cert])
    enveloped = cms.encrypt(b"x", [pki.peer.cert])
    with pytest.raises(AuthenticationFailed, match="not signed-data"):
        cms.verify_detached(enveloped, digests_of(DATA), [pki.peer.cert])


# ============================================================================================ envelopes


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("key_encryption", ["rsaes_pkcs1v15", "rsaes_oaep"])
def test_openssl_decrypts_our_envelope(pki: Pki, tmp_path: Path, cipher: str, key_encryption: str) -> None:
    env = cms.encrypt(DATA, [pki.hub.cert, pki.peer.cert], cipher, key_encryption)
    (tmp_path / "env.der").write_bytes(env)
    out = run("cms", "-decrypt", "-inform", "DER", "-in", str(tmp_path / "env.der"), "-recip", str(pki.peer.cert_pem),
              "-inkey", str(pki.peer.key_pem), "-binary")
    assert out == DATA
    assert cms.decrypt(env, [pki.hub.pair])[0] == DATA  # the other recipient opens it too


@pytest.mark.parametrize(("flag", "name"), [("-des3", "tripledes_192_cbc"), ("-aes128", "aes_128_cbc"),
                                            ("-aes192", "aes_192_cbc"), ("-aes256", "aes_256_cbc")])
@pytest.mark.parametrize("mode", ["der", "stream", "oaep"])
def test_we_decrypt_openssl_envelopes(pki: Pki, tmp_path: Path, flag: str, name: str, mode: str) -> None:
    (tmp_path / "data").write_bytes(DATA)
    extra = {"der": [str(pki.hub.cert_pem)], "stream": ["-stream", str(pki.hub.cert_pem)],
             "oaep": ["-recip", str(pki.hub.cert_pem), "-keyopt", "rsa_padding_mode:oaep"]}[mode]
    env = run("cms", "-encrypt", "-binary", flag, "-outform", "DER", "-in", str(tmp_path / "data"), *extra)
    if mode == "stream":
        assert env[1] == 0x80  # indefinite-length BER, content in chunks: the streaming reader's hard case
    data, info = cms.decrypt(env, [pki.rogue.pair, pki.hub.pair])
    assert data == DATA
    assert (info.cipher, info.recipient) == (name, pki.hub.cert)
    assert info.key_encryption == ("rsaes_oaep" if mode == "oaep" else "rsaes_pkcs1v15")


def test_decrypting_with_the_wrong_key_fails_cleanly(pki: Pki) -> None:
    env = cms.encrypt(DATA, [pki.peer.cert])
    with pytest.raises(DecryptionFailed):
        cms.decrypt(env, [pki.hub.pair])


def test_corrupted_ciphertext_fails_cleanly(pki: Pki) -> None:
    env = bytearray(cms.encrypt(DATA, [pki.hub.cert], "aes_256_cbc"))
    env[-3] ^= 0xFF  # last block: breaks the padding
    with pytest.raises(DecryptionFailed):
        cms.decrypt(bytes(env), [pki.hub.pair])
    with pytest.raises(DecryptionFailed):
        cms.decrypt(bytes(env[:200]), [pki.hub.pair])


def test_refused_algorithms() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        cms.encrypt(DATA, [], "rc2_128_cbc")
    with pytest.raises(UnsupportedAlgorithm):
        cms.sign_digest(b"x" * 16, "md5", None)  # type: ignore[arg-type]


def test_rc2_envelope_is_a_decryption_failure(pki: Pki) -> None:
    """RC2 (still offered by old AS2 products) is refused with the decryption-failed disposition."""
    info = asn1_cms.ContentInfo.load(cms.encrypt(DATA, [pki.hub.cert]))
    eci = info["content"]["encrypted_content_info"]
    eci["content_encryption_algorithm"] = {"algorithm": "rc2", "parameters": {"rc2_parameter_version": 58,
                                                                               "iv": b"12345678"}}
    with pytest.raises(DecryptionFailed, match="rc2"):
        cms.decrypt(info.dump(force=True), [pki.hub.pair])


def test_large_envelope_streams(pki: Pki) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # 3 MB: several chunks through the cipher
    out = io.BytesIO()
    cms.encrypt_stream(io.BytesIO(data), len(data), out, [pki.hub.cert], "aes_256_cbc")
    plain = io.BytesIO()
    cms.decrypt_stream(io.BytesIO(out.getvalue()), plain, [pki.hub.pair])
    assert plain.getvalue() == data


# ============================================================================================ compression


def test_compressed_data_structure_and_content(tmp_path: Path) -> None:
    blob = cms.compress(DATA)
    (tmp_path / "c.der").write_bytes(blob)
    dump = run("asn1parse", "-inform", "DER", "-in", str(tmp_path / "c.der")).decode()
    assert "id-smime-ct-compressedData" in dump and "zlib compression" in dump
    parsed = asn1_cms.ContentInfo.load(blob)["content"]
    assert zlib.decompress(parsed["encap_content_info"]["content"].native) == DATA
    assert cms.decompress(blob) == DATA


def test_we_decompress_indefinite_length_ber() -> None:
    """The form streaming encoders write: indefinite lengths, the zlib stream in OCTET STRING chunks."""
    z = zlib.compress(DATA)
    chunks = b"".join(b"\x04" + bytes([len(z[i:i + 100])]) + z[i:i + 100] for i in range(0, len(z), 100))
    econtent = b"\xa0\x80" + b"\x24\x80" + chunks + b"\x00\x00" + b"\x00\x00"
    eci = b"\x30\x80" + bytes.fromhex("06092a864886f70d010701") + econtent + b"\x00\x00"
    alg = bytes.fromhex("300d060b2a864886f70d0109100308")
    body = b"\x30\x80" + bytes.fromhex("020100") + alg + eci + b"\x00\x00"
    blob = b"\x30\x80" + bytes.fromhex("060b2a864886f70d0109100109") + b"\xa0\x80" + body + b"\x00\x00\x00\x00"
    assert cms.decompress(blob) == DATA


def test_decompression_bomb_is_refused() -> None:
    bomb = cms.compress(b"\0" * (20 << 20))  # 20 MB of zeros in about 20 KB
    assert len(bomb) < 64 << 10
    with pytest.raises(DecompressionFailed, match="limit"):
        cms.decompress(bomb, max_size=1 << 20)
    assert len(cms.decompress(bomb, max_size=20 << 20)) == 20 << 20


def test_corrupt_compressed_data_is_refused() -> None:
    blob = bytearray(cms.compress(DATA))
    blob[-10] ^= 0xFF
    with pytest.raises(DecompressionFailed):
        cms.decompress(bytes(blob))
    with pytest.raises(DecompressionFailed):
        cms.decompress(bytes(blob[:-20]))


def test_content_type_sniffing(pki: Pki) -> None:
    assert cms.cms_content_type(cms.compress(b"x")[:64]) == "compressed-data"
    assert cms.cms_content_type(cms.encrypt(b"x", [pki.hub.cert])[:64]) == "enveloped-data"
    assert cms.cms_content_type(cms.sign_detached(b"x", "sha256", pki.hub.pair)[:64]) == "signed-data"
    assert cms.cms_content_type(b"ISA*00*") is None
