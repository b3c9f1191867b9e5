"""一括照会: upload many records (OQSmuquc01), fetch the answers later (OQSmuquc02)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from onshi.central.api.responses import OqsJSONResponse, refusals
from onshi.central.api.routes import CentralDep, CertificateFacility, authorised
from onshi.central.api.schemas import RECEPTION_NUMBER_PATTERN, BulkRequest

router = APIRouter(prefix="/v1/bulk", tags=["bulk"])


@router.post(
    "",
    summary="Submit a bulk check; answered at once with a ReceptionNumber",
    status_code=202,
    responses=refusals(403, 413, 422),
)
def submit(
    body: BulkRequest, request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    facility = authorised(request, code, body.MedicalInstitutionCode)
    return OqsJSONResponse(central.submit_bulk(facility, body.to_question()), status_code=202)


@router.get(
    "/{ReceptionNumber}",
    summary="Fetch a bulk check: SegmentOfResult 2 while processing, 1 with every record",
    responses=refusals(403, 404, 422),
)
def fetch(
    ReceptionNumber: Annotated[
        str, Path(max_length=32, pattern=RECEPTION_NUMBER_PATTERN)
    ],  # the OQS name
    request: Request,
    code: CertificateFacility,
    central: CentralDep,
) -> OqsJSONResponse:
    facility = authorised(request, code)
    return OqsJSONResponse(central.fetch_bulk(facility, ReceptionNumber))
