"""Proof of possession: sign a server challenge, verify it against the certificate."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.pki import (
    CertificateAuthority,
    IssuedCertificate,
    SignatureInvalid,
    new_challenge,
    sign_challenge,
    verify_challenge,
)

CARD_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def card(jpki_ca: CertificateAuthority) -> IssuedCertificate:
    return jpki_ca.issue_card_certificate()


def test_signed_challenge_verifies_against_the_certificate(card: IssuedCertificate) -> None:
    challenge = new_challenge()
    assert len(challenge) == 32
    signature = sign_challenge(card.signing_key, challenge)
    verify_challenge(card.certificate, challenge, signature)
    verify_challenge(card.certificate.public_key(), challenge, signature)  # type: ignore[arg-type]


def test_tampered_challenge_is_refused(card: IssuedCertificate) -> None:
    challenge = new_challenge()
    signature = sign_challenge(card.signing_key, challenge)
    tampered = bytes([challenge[0] ^ 1]) + challenge[1:]
    with pytest.raises(SignatureInvalid) as excinfo:
        verify_challenge(card.certificate, tampered, signature)
    assert excinfo.value.code == "PKI_BAD_SIGNATURE"


def test_signature_by_another_card_is_refused(
    card: IssuedCertificate, jpki_ca: CertificateAuthority
) -> None:
    challenge = new_challenge()
    other = jpki_ca.issue_card_certificate()
    with pytest.raises(SignatureInvalid):
        verify_challenge(card.certificate, challenge, sign_challenge(other.signing_key, challenge))


@pytest.mark.parametrize("signature", [b"", b"\x30\x00", b"not DER at all", b"\x00" * 72])
def test_malformed_signatures_are_refused(card: IssuedCertificate, signature: bytes) -> None:
    with pytest.raises(SignatureInvalid):
        verify_challenge(card.certificate, b"challenge", signature)


def test_non_ec_key_is_refused() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SignatureInvalid, match="not an elliptic-curve key"):
        verify_challenge(rsa_key.public_key(), b"c", b"s")  # type: ignore[arg-type]


def test_challenges_are_fresh() -> None:
    assert len({new_challenge() for _ in range(100)}) == 100


@settings(max_examples=30, deadline=None)
@given(challenge=st.binary(max_size=512), flip=st.integers(min_value=0))
def test_any_challenge_round_trips_and_any_bit_flip_fails(challenge: bytes, flip: int) -> None:
    signature = sign_challenge(CARD_KEY, challenge)
    verify_challenge(CARD_KEY.public_key(), challenge, signature)
    if challenge:
        position = flip % (len(challenge) * 8)
        mutated = bytearray(challenge)
        mutated[position // 8] ^= 1 << (position % 8)
        with pytest.raises(SignatureInvalid):
            verify_challenge(CARD_KEY.public_key(), bytes(mutated), signature)
