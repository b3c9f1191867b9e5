"""The card-presence protocol: what a card signs, what verifies, which nonce is refused and why."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshi.pki import (
    CertificateAuthority,
    IssuedCertificate,
    SignatureInvalid,
    presence,
    sign_challenge,
)

CLINIC, PHARMACY = "1311111111", "4311111111"
NOW = dt.datetime(2026, 11, 23, 10, 0)


@pytest.fixture(scope="module")
def card(jpki_ca: CertificateAuthority) -> IssuedCertificate:
    return jpki_ca.issue_card_certificate()


def sign(card: IssuedCertificate, facility: str, nonce: str) -> bytes:
    return sign_challenge(card.signing_key, presence.challenge(facility, nonce))


def test_the_signed_bytes_are_the_published_format() -> None:
    nonce = presence.new_nonce()
    assert presence.is_nonce(nonce) and len(nonce) == 64
    assert presence.challenge(CLINIC, nonce) == f"onshi-card-presence/v1:{CLINIC}:{nonce}".encode()
    assert presence.new_nonce() != nonce


def test_a_signature_verifies_only_for_its_facility_and_nonce(card: IssuedCertificate) -> None:
    nonce = presence.new_nonce()
    signature = sign(card, CLINIC, nonce)
    presence.verify(card.certificate, CLINIC, nonce, signature)
    with pytest.raises(SignatureInvalid):
        presence.verify(card.certificate, PHARMACY, nonce, signature)  # seen at another desk
    with pytest.raises(SignatureInvalid):
        presence.verify(card.certificate, CLINIC, presence.new_nonce(), signature)


@given(st.text(max_size=80))
def test_anything_but_a_nonce_is_refused_before_signing(value: str) -> None:
    if presence.is_nonce(value):
        assert presence.challenge(CLINIC, value)
    else:
        with pytest.raises(presence.NonceMalformed):
            presence.challenge(CLINIC, value)


@pytest.mark.parametrize(
    "facility", ["", "131111111", "13111111112", "１３１１１１１１１１", "abcdefghij"]
)
def test_a_facility_code_is_ten_digits(facility: str) -> None:
    with pytest.raises(presence.NonceMalformed):
        presence.challenge(facility, presence.new_nonce())


@pytest.mark.parametrize(
    ("issued_to", "used_at", "expires_at", "reason"),
    [
        (None, None, NOW + dt.timedelta(seconds=60), "not issued to this facility"),
        (PHARMACY, None, NOW + dt.timedelta(seconds=60), "not issued to this facility"),
        (CLINIC, NOW, NOW + dt.timedelta(seconds=60), "already used"),
        (CLINIC, NOW, NOW - dt.timedelta(seconds=1), "already used"),  # a replay says so
        (CLINIC, None, NOW, "expired"),
        (CLINIC, None, NOW + dt.timedelta(microseconds=1), None),
    ],
)
def test_why_a_nonce_cannot_be_used(
    issued_to: str | None, used_at: dt.datetime | None, expires_at: dt.datetime, reason: str | None
) -> None:
    refusal = presence.nonce_refusal(
        issued_to=issued_to, facility=CLINIC, used_at=used_at, expires_at=expires_at, now=NOW
    )
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None and reason in refusal
