"""Deciding whether a presented certificate may be trusted — by raising, never by returning False.

A boolean result is one forgotten ``if`` away from accepting everything; an exception cannot
be ignored by accident. Each rejection has its own class (see :mod:`onshi.pki.errors`) so the
edge can tell a facility "your certificate expired" rather than "denied".
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import (
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateUnknown,
    PkiError,
    SignatureInvalid,
)

__all__ = ["certificate_digest", "revoked_serials_from_crl", "verify_certificate"]


def certificate_digest(certificate: x509.Certificate) -> str:
    """SHA-256 of the DER encoding, lowercase hex: a stable id to log or pin instead of the subject."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _short(certificate: x509.Certificate) -> str:
    # Serial and digest prefix identify a certificate in messages without printing the
    # subject, which for facility certificates names a clinic.
    return f"certificate serial {certificate.serial_number:x} (sha256 {certificate_digest(certificate)[:16]})"


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise PkiError("verification time must be timezone-aware (e.g. datetime.now(UTC))")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_certificate(
    certificate: x509.Certificate,
    issuer_certificate: x509.Certificate,
    *,
    at: datetime,
    revoked_serials: Container[int] = (),
) -> None:
    """Raise unless ``certificate`` was issued by ``issuer_certificate`` and is good at ``at``.

    Checks, in order: the issuer is a CA, its name matches and its signature verifies
    (:class:`CertificateUnknown`); the certificate's validity window
    (:class:`CertificateNotYetValid` / :class:`CertificateExpired`); that the issuing CA has
    not expired either; and that the serial is not in ``revoked_serials``
    (:class:`CertificateRevoked`). The issuer's own notBefore is not checked: test CAs
    routinely issue back-dated certificates.
    """
    _require_aware(at)
    if not _is_ca(issuer_certificate):
        raise CertificateUnknown(f"{_short(certificate)}: the given issuer is not a CA certificate")
    if certificate.issuer != issuer_certificate.subject:
        raise CertificateUnknown(
            f"{_short(certificate)} was issued by {certificate.issuer.rfc4514_string()!r}, "
            f"not by {issuer_certificate.subject.rfc4514_string()!r}"
        )
    try:
        certificate.verify_directly_issued_by(issuer_certificate)
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise CertificateUnknown(
            f"{_short(certificate)} does not carry a valid signature of "
            f"{issuer_certificate.subject.rfc4514_string()!r}"
        ) from exc

    if at < certificate.not_valid_before_utc:
        raise CertificateNotYetValid(
            f"{_short(certificate)} is not valid before {certificate.not_valid_before_utc.isoformat()}"
        )
    if at > certificate.not_valid_after_utc:
        raise CertificateExpired(
            f"{_short(certificate)} expired at {certificate.not_valid_after_utc.isoformat()}"
        )
    if at > issuer_certificate.not_valid_after_utc:
        raise CertificateExpired(
            f"{_short(certificate)}: its issuing CA expired at "
            f"{issuer_certificate.not_valid_after_utc.isoformat()}"
        )
    if certificate.serial_number in revoked_serials:
        raise CertificateRevoked(f"{_short(certificate)} has been revoked by its CA")


def revoked_serials_from_crl(
    crl: x509.CertificateRevocationList, issuer_certificate: x509.Certificate, *, at: datetime
) -> frozenset[int]:
    """The serials a CRL revokes, after checking it was signed by ``issuer_certificate``.

    Raises :class:`SignatureInvalid` for a forged or foreign CRL and :class:`PkiError` for a
    CRL past its nextUpdate at ``at`` — a stale CRL misses every revocation made since.
    """
    _require_aware(at)
    public_key = issuer_certificate.public_key()
    if crl.issuer != issuer_certificate.subject or not isinstance(
        public_key, ec.EllipticCurvePublicKey
    ):
        raise SignatureInvalid(
            f"CRL issued by {crl.issuer.rfc4514_string()!r} was not signed by "
            f"{issuer_certificate.subject.rfc4514_string()!r}"
        )
    if not crl.is_signature_valid(public_key):
        raise SignatureInvalid(
            f"CRL does not carry a valid signature of {issuer_certificate.subject.rfc4514_string()!r}"
        )
    next_update = crl.next_update_utc
    if next_update is not None and at > next_update:
        raise PkiError(f"CRL is stale: its next update was due at {next_update.isoformat()}")
    return frozenset(entry.serial_number for entry in crl)
