"""The one exception tree of :mod:`onshi.pki`.

Every failure a caller may want to react to has its own class with a stable ``code``; the
codes are what the edges (HTTP responses, ``.err`` files, logs) show, so they never change
once published. Messages are for people and may be reworded freely.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CardPasswordIncorrect",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateRejected",
    "CertificateRevoked",
    "CertificateUnknown",
    "InvalidCertificateRequest",
    "PkiError",
    "SignatureInvalid",
]


class PkiError(Exception):
    """Base of everything :mod:`onshi.pki` raises on purpose (missing/corrupt files included)."""

    code: ClassVar[str] = "PKI_ERROR"


class InvalidCertificateRequest(PkiError):
    """The caller asked for a certificate that must not exist (bad facility code, no names...)."""

    code: ClassVar[str] = "PKI_INVALID_REQUEST"


class CertificateRejected(PkiError):
    """A certificate was presented and must not be trusted; catch this to reject any of them."""

    code: ClassVar[str] = "PKI_REJECTED"


class CertificateUnknown(CertificateRejected):
    """Not issued by the expected CA: wrong issuer name, bad signature, or the issuer is no CA."""

    code: ClassVar[str] = "PKI_UNKNOWN_CERT"


class CertificateExpired(CertificateRejected):
    """The certificate (or the CA that issued it) is past its notAfter."""

    code: ClassVar[str] = "PKI_EXPIRED"


class CertificateNotYetValid(CertificateRejected):
    """The certificate's notBefore is still in the future."""

    code: ClassVar[str] = "PKI_NOT_YET_VALID"


class CertificateRevoked(CertificateRejected):
    """The issuing CA has revoked this certificate (失効)."""

    code: ClassVar[str] = "PKI_REVOKED"


class SignatureInvalid(PkiError):
    """A signature over data (a challenge, a CRL) does not verify with the given key."""

    code: ClassVar[str] = "PKI_BAD_SIGNATURE"


class CardPasswordIncorrect(PkiError):
    """A virtual My Number card (PKCS#12) could not be opened with the given password (暗証番号)."""

    code: ClassVar[str] = "PKI_BAD_PASSWORD"
