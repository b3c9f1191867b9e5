"""The exception tree is an interface: codes are stable and unique, all under PkiError."""

from __future__ import annotations

import onshi.pki as pki
from onshi.pki import errors

EXPECTED_CODES = {
    "PkiError": "PKI_ERROR",
    "InvalidCertificateRequest": "PKI_INVALID_REQUEST",
    "CertificateRejected": "PKI_REJECTED",
    "CertificateUnknown": "PKI_UNKNOWN_CERT",
    "CertificateExpired": "PKI_EXPIRED",
    "CertificateNotYetValid": "PKI_NOT_YET_VALID",
    "CertificateRevoked": "PKI_REVOKED",
    "SignatureInvalid": "PKI_BAD_SIGNATURE",
    "CardPasswordIncorrect": "PKI_BAD_PASSWORD",
}


def test_codes_are_stable() -> None:
    assert {name: getattr(errors, name).code for name in errors.__all__} == EXPECTED_CODES


def test_every_error_is_a_pki_error_and_exported() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, pki.PkiError)
        assert getattr(pki, name) is cls


def test_rejections_are_grouped() -> None:
    for cls in (
        pki.CertificateUnknown,
        pki.CertificateExpired,
        pki.CertificateNotYetValid,
        pki.CertificateRevoked,
    ):
        assert issubclass(cls, pki.CertificateRejected)
    assert not issubclass(pki.SignatureInvalid, pki.CertificateRejected)


def test_public_names_resolve() -> None:
    for name in pki.__all__:
        assert getattr(pki, name) is not None
