"""The API's routers, one small module per kind of question.

Endpoints that call the service are plain ``def``: FastAPI runs them in its thread pool, so
the blocking database work never stalls the event loop. Dependencies are ``async`` and cheap
(no extra thread hop per request).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from onshi.central.api.identity import CertificateFacility, check_claimed
from onshi.central.api.service import CentralService
from onshi.oqs.identifiers import MedicalInstitutionCode


async def _central(request: Request) -> CentralService:
    central: CentralService = request.app.state.central
    return central


CentralDep = Annotated[CentralService, Depends(_central)]


def authorised(
    central: CentralService, code: str, claimed: str | None = None
) -> MedicalInstitutionCode:
    """The registered facility behind the certificate (raises FacilityNotAuthorised)."""
    check_claimed(code, claimed)
    return central.require_facility(code)


__all__ = ["CentralDep", "CertificateFacility", "authorised"]
