"""verify_certificate and CRLs: every way a certificate can be untrustworthy raises its own error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from onshi.pki import (
    CertificateAuthority,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRejected,
    CertificateRevoked,
    CertificateUnknown,
    PkiError,
    SignatureInvalid,
    certificate_digest,
    revoked_serials_from_crl,
    verify_certificate,
)


def test_freshly_issued_certificates_verify(
    facility_ca: CertificateAuthority, jpki_ca: CertificateAuthority, now: datetime
) -> None:
    facility = facility_ca.issue_facility_certificate("1312345678", "オンシ診療所")
    verify_certificate(facility.certificate, facility_ca.certificate, at=now)
    card = jpki_ca.issue_card_certificate()
    verify_certificate(card.certificate, jpki_ca.certificate, at=now, revoked_serials={1, 2, 3})


def test_certificate_from_another_ca_is_unknown(
    facility_ca: CertificateAuthority, other_ca: CertificateAuthority, now: datetime
) -> None:
    stranger = other_ca.issue_facility_certificate("1312345678", "なりすまし診療所")
    with pytest.raises(CertificateUnknown) as excinfo:
        verify_certificate(stranger.certificate, facility_ca.certificate, at=now)
    assert excinfo.value.code == "PKI_UNKNOWN_CERT"
    assert "onshi facility CA" in str(excinfo.value)


def test_impostor_ca_with_the_same_name_is_unknown(
    tmp_path: Path, facility_ca: CertificateAuthority, now: datetime
) -> None:
    impostor = CertificateAuthority.create(tmp_path, "onshi facility CA")
    assert impostor.certificate.subject == facility_ca.certificate.subject
    forged = impostor.issue_facility_certificate("1312345678", "なりすまし診療所")
    with pytest.raises(CertificateUnknown, match="valid signature"):
        verify_certificate(forged.certificate, facility_ca.certificate, at=now)


def test_tampered_signature_is_unknown(facility_ca: CertificateAuthority, now: datetime) -> None:
    der = bytearray(
        facility_ca.issue_device_certificate("d1").certificate.public_bytes(
            serialization.Encoding.DER
        )
    )
    der[-1] ^= 0x01  # the last byte belongs to the ECDSA signature's s value
    tampered = x509.load_der_x509_certificate(bytes(der))
    with pytest.raises(CertificateUnknown):
        verify_certificate(tampered, facility_ca.certificate, at=now)


def test_a_leaf_cannot_act_as_issuer(facility_ca: CertificateAuthority, now: datetime) -> None:
    leaf = facility_ca.issue_device_certificate("d1").certificate
    with pytest.raises(CertificateUnknown, match="not a CA"):
        verify_certificate(leaf, leaf, at=now)


def test_expired(jpki_ca: CertificateAuthority) -> None:
    start = datetime(2019, 4, 1, tzinfo=UTC)
    card = jpki_ca.issue_card_certificate(not_before=start).certificate
    last_valid = start + timedelta(days=5 * 365)  # two leap days: ends 2024-03-30
    verify_certificate(card, jpki_ca.certificate, at=last_valid)
    with pytest.raises(CertificateExpired) as excinfo:
        verify_certificate(card, jpki_ca.certificate, at=last_valid + timedelta(seconds=1))
    assert excinfo.value.code == "PKI_EXPIRED"
    assert "expired at 2024-03-30" in str(excinfo.value)


def test_not_yet_valid(facility_ca: CertificateAuthority, now: datetime) -> None:
    cert = facility_ca.issue_facility_certificate(
        "1312345678", "オンシ診療所", not_before=now + timedelta(days=1)
    ).certificate
    with pytest.raises(CertificateNotYetValid) as excinfo:
        verify_certificate(cert, facility_ca.certificate, at=now)
    assert excinfo.value.code == "PKI_NOT_YET_VALID"
    verify_certificate(cert, facility_ca.certificate, at=now + timedelta(days=2))


def test_certificate_of_an_expired_ca_is_expired(tmp_path: Path, now: datetime) -> None:
    ca = CertificateAuthority.create(
        tmp_path, "old CA", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    cert = ca.issue_device_certificate("d1", not_before=now - timedelta(days=10)).certificate
    with pytest.raises(CertificateExpired, match="issuing CA expired"):
        verify_certificate(cert, ca.certificate, at=now)


def test_revoked(facility_ca: CertificateAuthority, now: datetime) -> None:
    issued = facility_ca.issue_facility_certificate("1312345678", "オンシ診療所")
    with pytest.raises(CertificateRevoked) as excinfo:
        verify_certificate(
            issued.certificate, facility_ca.certificate, at=now, revoked_serials={issued.serial}
        )
    assert excinfo.value.code == "PKI_REVOKED"
    # The message identifies the certificate without naming the facility.
    assert f"{issued.serial:x}" in str(excinfo.value)
    assert "オンシ" not in str(excinfo.value)


def test_naive_time_is_refused(facility_ca: CertificateAuthority) -> None:
    cert = facility_ca.issue_device_certificate("d1").certificate
    with pytest.raises(PkiError, match="timezone-aware"):
        verify_certificate(cert, facility_ca.certificate, at=datetime.now())


def test_all_rejections_share_a_base(
    facility_ca: CertificateAuthority, other_ca: CertificateAuthority, now: datetime
) -> None:
    stranger = other_ca.issue_device_certificate("d1").certificate
    with pytest.raises(CertificateRejected):
        verify_certificate(stranger, facility_ca.certificate, at=now)


def test_crl_lists_revoked_serials_and_is_signed_by_the_ca(
    facility_ca: CertificateAuthority, now: datetime
) -> None:
    a = facility_ca.issue_device_certificate("a")
    b = facility_ca.issue_device_certificate("b")
    kept = facility_ca.issue_device_certificate("c")
    revoked_at = now - timedelta(hours=1)
    crl = facility_ca.build_crl(
        [(a.serial, revoked_at), (b.serial, revoked_at)], next_update_days=3
    )

    assert crl.issuer == facility_ca.certificate.subject
    assert crl.is_signature_valid(facility_ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.next_update_utc is not None and crl.last_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=3)
    entry = crl.get_revoked_certificate_by_serial_number(a.serial)
    assert entry is not None
    assert entry.revocation_date_utc == revoked_at.replace(microsecond=0)
    assert crl.get_revoked_certificate_by_serial_number(kept.serial) is None

    serials = revoked_serials_from_crl(crl, facility_ca.certificate, at=now)
    assert serials == {a.serial, b.serial}
    verify_certificate(kept.certificate, facility_ca.certificate, at=now, revoked_serials=serials)
    with pytest.raises(CertificateRevoked):
        verify_certificate(a.certificate, facility_ca.certificate, at=now, revoked_serials=serials)


def test_crl_round_trips_through_pem(facility_ca: CertificateAuthority, now: datetime) -> None:
    crl = facility_ca.build_crl([(12345, now)])
    reloaded = x509.load_pem_x509_crl(crl.public_bytes(serialization.Encoding.PEM))
    assert revoked_serials_from_crl(reloaded, facility_ca.certificate, at=now) == {12345}


def test_empty_crl(facility_ca: CertificateAuthority, now: datetime) -> None:
    crl = facility_ca.build_crl([])
    assert revoked_serials_from_crl(crl, facility_ca.certificate, at=now) == frozenset()


def test_crl_from_another_ca_is_refused(
    tmp_path: Path, facility_ca: CertificateAuthority, other_ca: CertificateAuthority, now: datetime
) -> None:
    with pytest.raises(SignatureInvalid):
        revoked_serials_from_crl(other_ca.build_crl([]), facility_ca.certificate, at=now)
    impostor = CertificateAuthority.create(tmp_path, "onshi facility CA")
    with pytest.raises(SignatureInvalid):
        revoked_serials_from_crl(impostor.build_crl([]), facility_ca.certificate, at=now)


def test_stale_crl_is_refused(facility_ca: CertificateAuthority, now: datetime) -> None:
    crl = facility_ca.build_crl([], next_update_days=1, this_update=now - timedelta(days=2))
    with pytest.raises(PkiError, match="stale"):
        revoked_serials_from_crl(crl, facility_ca.certificate, at=now)


def test_certificate_digest(facility_ca: CertificateAuthority) -> None:
    digest = certificate_digest(facility_ca.certificate)
    assert len(digest) == 64 and digest == digest.lower()
    assert int(digest, 16) >= 0
    assert digest != certificate_digest(facility_ca.issue_device_certificate("d1").certificate)
    assert digest == certificate_digest(facility_ca.certificate)
