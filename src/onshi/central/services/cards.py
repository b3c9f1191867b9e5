"""My Number card presence, the central side: nonces kept in the database, certificate checks,
links to individuals.

The protocol itself (nonce format, what the card signs, the order of checks, lifetimes) lives
in :mod:`onshi.pki.presence`, which the reader and the terminal import too. Here it meets the
database: a nonce is stored when issued and consumed by one conditional UPDATE, so it is
single-use across every process and node sharing the database, not just within one.
"""

from __future__ import annotations

import datetime as dt

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
from onshi.pki import presence


def issue_nonce(db: Database, facility: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    nonce = presence.new_nonce()
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
    """Use a nonce once. A single conditional UPDATE: two racing replays cannot both win, in
    one process or in several (the row, not process memory, says whether it was used)."""
    if not presence.is_nonce(nonce):
        raise NonceInvalid("the nonce is malformed; ask for a new one")
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
    refusal = presence.nonce_refusal(
        issued_to=row.MedicalInstitutionCode if row else None,
        facility=facility,
        used_at=row.used_at if row else None,
        expires_at=row.expires_at if row else None,
        now=stamp,
    )
    # The UPDATE found it unusable; a row that looks usable now expired on the boundary.
    raise NonceInvalid(refusal or "the nonce has expired; ask for a new one")


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
    facility: str,
    nonce: str,
    signature: bytes,
    now: dt.datetime,
) -> int:
    """Check a card's certificate and its signature over the presence challenge for ``facility``
    and ``nonce``; return its individual id.

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
        presence.verify(certificate, facility, nonce, signature)
    except (pki.SignatureInvalid, presence.NonceMalformed):
        raise CardSignatureInvalid(
            "the signature was not made by this card over this nonce"
        ) from None
    if link is None:
        raise CardNotLinked(
            "this card is genuine but not registered as a health insurance card "
            "(マイナ保険証の利用登録がありません)"
        )
    return link.individual_id
