"""What each kind of certificate carries — and what it must not carry."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.pki import (
    CertificateAuthority,
    CertificateProfile,
    InvalidCertificateRequest,
    IssuedCertificate,
    PkiError,
    certificate_profile_of,
    load_certificate,
    medical_institution_code_of,
    parse_certificate_pem,
    parse_private_key_pem,
)

from .conftest import mode_of

CODES = st.from_regex(r"[0-9]{10}", fullmatch=True)


def usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def assert_end_entity(issued: IssuedCertificate, ca: CertificateAuthority) -> None:
    cert = issued.certificate
    cert.verify_directly_issued_by(ca.certificate)
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert 0 < issued.serial < 2**159
    assert issued.serial == cert.serial_number


def test_server_certificate_names_and_usage(facility_ca: CertificateAuthority) -> None:
    issued = facility_ca.issue_server_certificate(
        ["central.onshi.test", "localhost"], ["127.0.0.1"]
    )
    assert_end_entity(issued, facility_ca)
    san = issued.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["central.onshi.test", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert usages(issued.certificate) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert certificate_profile_of(issued.certificate) is CertificateProfile.SERVER
    assert medical_institution_code_of(issued.certificate) is None


def test_server_certificate_needs_a_name(facility_ca: CertificateAuthority) -> None:
    with pytest.raises(InvalidCertificateRequest):
        facility_ca.issue_server_certificate([], [])
    with pytest.raises(InvalidCertificateRequest):
        facility_ca.issue_server_certificate([], ["not-an-ip"])


def test_facility_certificate_carries_the_code(facility_ca: CertificateAuthority) -> None:
    issued = facility_ca.issue_facility_certificate("1312345678", "オンシ診療所")
    assert_end_entity(issued, facility_ca)
    subject = issued.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "1312345678"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "OQS-1312345678"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "オンシ診療所"
    assert usages(issued.certificate) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert medical_institution_code_of(issued.certificate) == "1312345678"


@settings(max_examples=25, deadline=None)
@given(code=CODES)
def test_facility_code_round_trips(facility_ca: CertificateAuthority, code: str) -> None:
    issued = facility_ca.issue_facility_certificate(code, "テスト薬局")
    reparsed = parse_certificate_pem(issued.cert_pem)
    assert reparsed == issued.certificate
    assert medical_institution_code_of(reparsed) == code


@settings(max_examples=50, deadline=None)
@given(
    code=st.text(max_size=12).filter(lambda s: not (len(s) == 10 and s.isascii() and s.isdigit()))
)
def test_malformed_facility_codes_are_refused(facility_ca: CertificateAuthority, code: str) -> None:
    with pytest.raises(InvalidCertificateRequest):
        facility_ca.issue_facility_certificate(code, "テスト薬局")


@pytest.mark.parametrize("code", ["１３１２３４５６７８", "131234567", "13123456789", "131234567a"])
def test_lookalike_codes_are_refused(facility_ca: CertificateAuthority, code: str) -> None:
    with pytest.raises(InvalidCertificateRequest):
        facility_ca.issue_facility_certificate(code, "テスト薬局")


def test_card_certificate_names_nobody(jpki_ca: CertificateAuthority) -> None:
    issued = jpki_ca.issue_card_certificate()
    assert_end_entity(issued, jpki_ca)
    cert = issued.certificate
    subject_oids = {attr.oid for attr in cert.subject}
    assert subject_oids == {NameOID.COUNTRY_NAME, NameOID.COMMON_NAME}
    assert not cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert certificate_profile_of(cert) is CertificateProfile.CARD
    assert medical_institution_code_of(cert) is None
    # Random identifiers: two cards never share a subject or serial.
    other = jpki_ca.issue_card_certificate()
    assert other.certificate.subject != cert.subject
    assert other.serial != issued.serial


def test_card_certificate_lasts_five_years(jpki_ca: CertificateAuthority) -> None:
    start = datetime(2025, 4, 1, tzinfo=UTC)
    cert = jpki_ca.issue_card_certificate(not_before=start).certificate
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + timedelta(days=5 * 365)


def test_card_certificate_for_an_external_key(jpki_ca: CertificateAuthority) -> None:
    chip_key = ec.generate_private_key(ec.SECP256R1())
    issued = jpki_ca.issue_card_certificate(chip_key.public_key())
    assert issued.private_key is None
    assert issued.certificate.public_key() == chip_key.public_key()
    with pytest.raises(PkiError, match="externally held key"):
        _ = issued.key_pem
    assert issued.with_private_key(chip_key).signing_key is chip_key
    with pytest.raises(PkiError, match="does not match"):
        issued.with_private_key(ec.generate_private_key(ec.SECP256R1()))


def test_device_certificates_two_per_id(other_ca: CertificateAuthority) -> None:
    first = other_ca.issue_device_certificate("clinic-1312345678-vpn")
    second = other_ca.issue_device_certificate("clinic-1312345678-vpn")
    for issued in (first, second):
        assert_end_entity(issued, other_ca)
        assert usages(issued.certificate) == [
            ExtendedKeyUsageOID.CLIENT_AUTH,
            ExtendedKeyUsageOID.IPSEC_IKE,
        ]
        assert certificate_profile_of(issued.certificate) is CertificateProfile.DEVICE
    assert first.certificate.subject == second.certificate.subject
    assert first.serial != second.serial
    assert first.certificate.public_key() != second.certificate.public_key()


@pytest.mark.parametrize("device_id", ["", "x" * 65, "bad\nid"])
def test_malformed_device_ids_are_refused(other_ca: CertificateAuthority, device_id: str) -> None:
    with pytest.raises(InvalidCertificateRequest):
        other_ca.issue_device_certificate(device_id)


def test_explicit_validity_window(facility_ca: CertificateAuthority) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2021, 1, 1, tzinfo=UTC)
    cert = facility_ca.issue_facility_certificate(
        "0112345678", "札幌テスト病院", not_before=start, not_after=end
    ).certificate
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (start, end)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"valid_days": 0},
        {"not_before": datetime(2020, 1, 1)},  # naive
        {
            "not_before": datetime(2021, 1, 1, tzinfo=UTC),
            "not_after": datetime(2020, 1, 1, tzinfo=UTC),
        },
    ],
)
def test_bad_windows_are_refused(
    facility_ca: CertificateAuthority, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidCertificateRequest):
        facility_ca.issue_device_certificate("d1", **kwargs)  # type: ignore[arg-type]


def test_write_and_load_issued_certificate(
    tmp_path: Path, facility_ca: CertificateAuthority
) -> None:
    issued = facility_ca.issue_facility_certificate("1312345678", "オンシ診療所")
    issued.write(tmp_path / "facility.crt", tmp_path / "facility.key")
    assert mode_of(tmp_path / "facility.key") == 0o600
    assert (tmp_path / "facility.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert load_certificate(tmp_path / "facility.crt") == issued.certificate
    loaded = IssuedCertificate.load(tmp_path / "facility.crt", tmp_path / "facility.key")
    assert loaded.certificate == issued.certificate
    assert loaded.key_pem == issued.key_pem
    assert parse_private_key_pem(issued.key_pem).public_key() == issued.certificate.public_key()
    assert list(tmp_path.iterdir()) != [] and not any(
        p.name.endswith(".tmp") for p in tmp_path.iterdir()
    )


def test_issued_certificate_is_frozen(facility_ca: CertificateAuthority) -> None:
    issued = facility_ca.issue_device_certificate("d1")
    with pytest.raises(AttributeError):
        issued.private_key = None  # type: ignore[misc]
