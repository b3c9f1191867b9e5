"""Who is asking: the TLS client certificate → its MedicalInstitutionCode → a registered facility.

The TLS layer (:mod:`onshi.central.api.server`) has already refused any client without a
certificate from the facility CA; the server puts the verified certificate (DER) in
``scope["extensions"]["tls"]["client_cert_der"]``. Here it is read again, because the app
must not trust that it runs behind that server: no certificate in the scope means no access.

* no certificate                          → 403 FACILITY_NOT_AUTHORISED
* a certificate that is no facility's     → 403 FACILITY_NOT_AUTHORISED
* a facility code nobody registered       → 403 FACILITY_NOT_AUTHORISED (from the service)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from cryptography import x509
from fastapi import Depends, Request

from onshi.central.api.middleware import request_context
from onshi.central.errors import FacilityNotAuthorised
from onshi.pki import medical_institution_code_of


def client_certificate_der(scope: dict[str, Any] | Any) -> bytes | None:
    extensions = scope.get("extensions") or {}
    tls = extensions.get("tls") or {}
    der = tls.get("client_cert_der")
    return der if isinstance(der, bytes) and der else None


@lru_cache(maxsize=4096)
def _code_in_certificate(der: bytes) -> str | None:
    # Keep-alive connections present the same certificate on every request: parse it once.
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    return medical_institution_code_of(certificate)


async def certificate_facility_code(request: Request) -> str:
    """The facility code the client certificate was issued for (not yet checked as registered).

    Async on purpose: it is cheap and runs on the event loop; the registration check needs the
    database and runs in the endpoint's worker thread (:func:`authorised`).
    """
    der = client_certificate_der(request.scope)
    if der is None:
        raise FacilityNotAuthorised(
            "no client certificate: connect with the facility certificate onshi issued you"
        )
    code = _code_in_certificate(der)
    if code is None:
        raise FacilityNotAuthorised("the client certificate is not an onshi facility certificate")
    request_context(request.scope).facility = code
    return code


CertificateFacility = Annotated[str, Depends(certificate_facility_code)]


def check_claimed(code: str, claimed: str | None) -> None:
    """A MedicalInstitutionCode written in the body must be the certificate's."""
    if claimed is not None and claimed != code:
        raise FacilityNotAuthorised(
            "MedicalInstitutionCode in the request differs from the client certificate's"
        )
