"""onshi's public-key infrastructure: small CAs, the certificates they issue, and checks.

Who uses it: the central eligibility service (facilities authenticate with TLS client
certificates from the facility CA; virtual My Number cards hold 利用者証明用電子証明書 from
the test JPKI CA) and, later, the medical VPN service (device certificates for strongSwan).
ECDSA P-256 and SHA-256 throughout. See docs/pki.md for which CA issues what.

Every check raises; nothing returns False. The exception tree, with the stable ``code``
each class carries::

    PkiError                          PKI_ERROR           missing/corrupt files, misuse
     ├── InvalidCertificateRequest    PKI_INVALID_REQUEST bad facility code, no names, bad dates
     ├── CertificateRejected          PKI_REJECTED        (catch-all for "do not trust this")
     │    ├── CertificateUnknown      PKI_UNKNOWN_CERT    other CA, bad signature, issuer no CA
     │    ├── CertificateExpired      PKI_EXPIRED         past notAfter (or its CA is)
     │    ├── CertificateNotYetValid  PKI_NOT_YET_VALID   before notBefore
     │    └── CertificateRevoked      PKI_REVOKED         serial listed as revoked
     ├── SignatureInvalid             PKI_BAD_SIGNATURE   challenge or CRL signature fails
     └── CardPasswordIncorrect        PKI_BAD_PASSWORD    virtual card will not open

Modules: ``authority`` (CertificateAuthority), ``issued`` (IssuedCertificate, PEM loading),
``profiles`` (what a certificate is for, facility code), ``verification``, ``challenge``,
``tls`` (SSLContext factories), ``cards`` (PKCS#12 virtual cards), ``errors``, and
``asgi`` (not imported here: a uvicorn protocol that passes the client certificate to the app).
"""

from __future__ import annotations

from .authority import CertificateAuthority
from .cards import load_card_p12, write_card_p12
from .challenge import new_challenge, sign_challenge, verify_challenge
from .errors import (
    CardPasswordIncorrect,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRejected,
    CertificateRevoked,
    CertificateUnknown,
    InvalidCertificateRequest,
    PkiError,
    SignatureInvalid,
)
from .issued import (
    IssuedCertificate,
    load_certificate,
    load_private_key,
    parse_certificate_pem,
    parse_private_key_pem,
)
from .profiles import (
    CertificateProfile,
    certificate_profile_of,
    is_medical_institution_code,
    medical_institution_code_of,
)
from .tls import (
    client_certificate_from_scope,
    client_ssl_context,
    peer_certificate,
    server_ssl_context,
    uvicorn_ssl_context_factory,
)
from .verification import certificate_digest, revoked_serials_from_crl, verify_certificate

__all__ = [
    "CardPasswordIncorrect",
    "CertificateAuthority",
    "CertificateExpired",
    "CertificateNotYetValid",
    "CertificateProfile",
    "CertificateRejected",
    "CertificateRevoked",
    "CertificateUnknown",
    "InvalidCertificateRequest",
    "IssuedCertificate",
    "PkiError",
    "SignatureInvalid",
    "certificate_digest",
    "certificate_profile_of",
    "client_certificate_from_scope",
    "client_ssl_context",
    "is_medical_institution_code",
    "load_card_p12",
    "load_certificate",
    "load_private_key",
    "medical_institution_code_of",
    "new_challenge",
    "parse_certificate_pem",
    "parse_private_key_pem",
    "peer_certificate",
    "revoked_serials_from_crl",
    "server_ssl_context",
    "sign_challenge",
    "uvicorn_ssl_context_factory",
    "verify_certificate",
    "verify_challenge",
    "write_card_p12",
]
