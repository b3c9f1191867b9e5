"""一括照会: upload many records (OQSmuquc01), fetch the answers later (OQSmuquc02)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request

from onshi.central.api.responses import BulkAnswerResponse, OqsJSONResponse, refusals
from onshi.central.api.routes import CentralDep, CertificateFacility, authorised
from onshi.central.api.schemas import RECEPTION_NUMBER_PATTERN, BulkPeriodRequest, BulkRequest

router = APIRouter(prefix="/v1/bulk", tags=["bulk"])
IDEMPOTENCY_KEY_PATTERN = r"^[0-9A-Za-z._:~-]{1,128}$"


@router.post(
    "",
    summary="Submit a bulk check; answered at once with a ReceptionNumber",
    status_code=202,
    responses=refusals(403, 413, 422),
)
def submit(
    body: BulkRequest,
    request: Request,
    code: CertificateFacility,
    central: CentralDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=128,
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description="Resending an upload with the same key returns the same ReceptionNumber.",
        ),
    ] = None,
) -> OqsJSONResponse:
    facility = authorised(request, code, body.MedicalInstitutionCode)
    receipt = central.submit_bulk(facility, body.to_question(), idempotency_key)
    return OqsJSONResponse(receipt, status_code=202)


@router.post(
    "/period",
    summary="Online care, home visits, medical aid: everyone who consented here in a period",
    status_code=202,
    responses=refusals(403, 413, 422),
)
def submit_period(
    body: BulkPeriodRequest,
    request: Request,
    code: CertificateFacility,
    central: CentralDep,
    idempotency_key: Annotated[
        str | None, Header(max_length=128, pattern=IDEMPOTENCY_KEY_PATTERN)
    ] = None,
) -> OqsJSONResponse:
    facility = authorised(request, code, body.MedicalInstitutionCode)
    receipt = central.submit_bulk_period(facility, body.to_question(), idempotency_key)
    return OqsJSONResponse(receipt, status_code=202)


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
) -> BulkAnswerResponse:
    facility = authorised(request, code)
    return BulkAnswerResponse(central.fetch_bulk(facility, ReceptionNumber))
