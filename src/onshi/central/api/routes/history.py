"""薬剤情報 (YZKsiquc01) and 特定健診情報 (TKKsiquc01): only with a consent given by card here.

The service refuses with CONSENT_REQUIRED (no consent at this facility within 24 h) and
FACILITY_KIND_REFUSED (checkups asked by a pharmacy), and clips the period to 3 / 5 years.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from onshi.central.api.responses import OqsJSONResponse, refusals
from onshi.central.api.routes import CentralDep, CertificateFacility, authorised
from onshi.central.api.schemas import HistoryRequest

router = APIRouter(prefix="/v1", tags=["history"])


@router.post(
    "/drug-information",
    summary="Drug information, 3 years back at most (needs the patient's consent here)",
    responses=refusals(403, 413, 422),
)
def drug_information(
    body: HistoryRequest, request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    facility = authorised(request, code, body.MedicalInstitutionCode)
    return OqsJSONResponse(central.drug_information(facility, body.to_question()))


@router.post(
    "/checkups",
    summary="Specific health checkups, 5 years back at most (medical institutions only, with consent)",
    responses=refusals(403, 413, 422),
)
def checkups(
    body: HistoryRequest, request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    facility = authorised(request, code, body.MedicalInstitutionCode)
    return OqsJSONResponse(central.checkups(facility, body.to_question()))
