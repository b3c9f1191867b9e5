"""What kind of certificate this is, and what it says about its holder.

Each certificate onshi issues carries a certificate-policy OID naming its profile
(server, facility, card, device). The CAs are already separate, but the marker lets a
service refuse, say, a VPN device certificate presented where a facility certificate is
expected, even if someone one day issues both from the same CA.

The OIDs live under a UUID arc (``2.25.<uuid>``, ITU-T X.667), which needs no registration.
"""

from __future__ import annotations

import enum
import re

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = [
    "ONSHI_OID_ARC",
    "CertificateProfile",
    "certificate_profile_of",
    "is_medical_institution_code",
    "medical_institution_code_of",
]

ONSHI_OID_ARC = "2.25.29776585873902209359224971676329097009"

# 医療機関コード as used by オンライン資格確認: prefecture (2) + fee table (1) + facility (7).
_MEDICAL_INSTITUTION_CODE = re.compile(r"[0-9]{10}")
FACILITY_CN_PREFIX = "OQS-"


class CertificateProfile(enum.Enum):
    """The kinds of end-entity certificate onshi issues; the value is the policy OID."""

    SERVER = f"{ONSHI_OID_ARC}.1.1"
    FACILITY = f"{ONSHI_OID_ARC}.1.2"
    CARD = f"{ONSHI_OID_ARC}.1.3"
    DEVICE = f"{ONSHI_OID_ARC}.1.4"

    @property
    def oid(self) -> x509.ObjectIdentifier:
        return x509.ObjectIdentifier(self.value)

    def policies(self) -> x509.CertificatePolicies:
        return x509.CertificatePolicies([x509.PolicyInformation(self.oid, None)])


def is_medical_institution_code(value: str) -> bool:
    """True for a well-formed 10-digit 医療機関コード / 薬局コード (ASCII digits only)."""
    return _MEDICAL_INSTITUTION_CODE.fullmatch(value) is not None


def certificate_profile_of(certificate: x509.Certificate) -> CertificateProfile | None:
    """The onshi profile a certificate was issued under, or None for a foreign certificate."""
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return None
    known = {profile.oid: profile for profile in CertificateProfile}
    for policy in policies.value:
        if policy.policy_identifier in known:
            return known[policy.policy_identifier]
    return None


def medical_institution_code_of(certificate: x509.Certificate) -> str | None:
    """The facility code a facility certificate was issued for, or None.

    None for anything that is not an onshi facility certificate: the code is only
    meaningful in certificates whose profile says a facility was vetted for it.
    This does not check who issued the certificate — call ``verify_certificate`` first.
    """
    if certificate_profile_of(certificate) is not CertificateProfile.FACILITY:
        return None
    attributes = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(attributes) != 1:
        return None
    value = attributes[0].value
    if not isinstance(value, str) or not is_medical_institution_code(value):
        return None
    return value
