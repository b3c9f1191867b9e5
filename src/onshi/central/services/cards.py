"""My Number card presence: nonces, certificate checks, links to individuals.

A card proves it is on the reader by signing a fresh nonce from this service with the private
key of its user certificate (利用者証明用電子証明書). What is signed binds the nonce to the
asking facility, so a signature seen at one facility is useless at another.
"""

from __future__ import annotations

import datetime as dt
import secrets

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from onshi import pki
from onshi.central.errors import (
    CardExpired,
    CardNotLinked,
    CardRevoked,
    CardSignatureInvalid,
    CardUnknown,
    NonceInvalid,
)
from onshi.central.services.clock import naive_jst
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database


def card_presence_challenge(facility: str, nonce: str) -> bytes:
    """The bytes a card signs: shared by the reader (signer) and this service (verifier)."""
    return f"onshi-card-presence/v1:{facility}:{nonce}".encode()


def issue_nonce(db: Database, facility: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    nonce = secrets.token_hex(32)
    with db.transaction() as session:
        session.add(
            t.CardNonce(
                nonce=nonce,
                MedicalInstitutionCode=facility,
                issued_at=naive_jst(now),
                expires_at=naive_jst(now + ttl),
            )
        )
    return nonce


def consume_nonce(db: Database, facility: str, nonce: str, now: dt.datetime) -> None:
    """Use a nonce once. A single conditional UPDATE: two racing replays cannot both win."""
    stamp = naive_jst(now)
    with db.transaction() as session:
        used = session.execute(
            update(t.CardNonce)
            .where(
                t.CardNonce.nonce == nonce,
                t.CardNonce.MedicalInstitutionCode == facility,
                t.CardNonce.used_at.is_(None),
                t.CardNonce.expires_at > stamp,
            )
            .values(used_at=stamp)
        )
        if used.rowcount == 1:  # type: ignore[attr-defined]
            return
        row = session.get(t.CardNonce, nonce)
    if row is None or row.MedicalInstitutionCode != facility:
        raise NonceInvalid("the nonce was not issued to this facility; ask for a new one")
    if row.used_at is not None:
        raise NonceInvalid("the nonce was already used (a replay); ask for a new one")
    raise NonceInvalid("the nonce has expired; ask for a new one")


def parse_card_certificate(pem: bytes) -> x509.Certificate:
    try:
        return pki.parse_certificate_pem(pem, source="card certificate")
    except pki.PkiError as exc:
        raise CardUnknown(f"the card certificate cannot be read: {exc}") from None


def card_identity(certificate: x509.Certificate) -> tuple[str, str]:
    """(issuer, serial hex): how a card is known here. Never a My Number."""
    return certificate.issuer.rfc4514_string(), format(certificate.serial_number, "x")


def verify_card(
    session: Session,
    certificate: x509.Certificate,
    *,
    jpki_ca: x509.Certificate,
    challenge: bytes,
    signature: bytes,
    now: dt.datetime,
) -> int:
    """Check a card's certificate and its signature over ``challenge``; return its individual id.

    Order matters for the error a person sees: not ours, expired, revoked, not the card's
    signature, then not linked to anybody.
    """
    issuer, serial = card_identity(certificate)
    link = session.scalars(
        select(t.CardLink).where(t.CardLink.issuer == issuer, t.CardLink.serial == serial)
    ).first()
    revoked = {certificate.serial_number} if link and link.revoked_at else set()
    try:
        pki.verify_certificate(certificate, jpki_ca, at=now, revoked_serials=revoked)
    except pki.CertificateExpired:
        raise CardExpired(
            "the card's user certificate has expired; the holder must renew it"
        ) from None
    except pki.CertificateNotYetValid:
        raise CardUnknown("the card's user certificate is not valid yet") from None
    except pki.CertificateRevoked:
        raise CardRevoked(
            "the card's user certificate has been revoked (lost or suspended card)"
        ) from None
    except pki.CertificateRejected:
        raise CardUnknown("the card certificate was not issued by the trusted JPKI CA") from None
    try:
        pki.verify_challenge(certificate, challenge, signature)
    except pki.SignatureInvalid:
        raise CardSignatureInvalid(
            "the signature was not made by this card over this nonce"
        ) from None
    if link is None:
        raise CardNotLinked(
            "this card is genuine but not registered as a health insurance card "
            "(マイナ保険証の利用登録がありません)"
        )
    return link.individual_id
