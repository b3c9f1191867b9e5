"""資格確認: by insurance-card number (OQSsiquc01) and by My Number card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from onshi.central.api.responses import OqsJSONResponse, refusals
from onshi.central.api.routes import CentralDep, CertificateFacility, answer, authorised
from onshi.central.api.schemas import CardNumberRequest, CardRequest

router = APIRouter(prefix="/v1/eligibility", tags=["eligibility"])


@router.post(
    "/card-number",
    summary="Eligibility by insurance-card number on a date (OQSsiquc01)",
    responses=refusals(403, 413, 422),
)
async def by_card_number(
    body: CardNumberRequest, request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    def call() -> Any:
        facility = authorised(request, code, body.MedicalInstitutionCode)
        return central.confirm_by_card_number(facility, body.to_question())

    return OqsJSONResponse(await answer(request, call))


@router.post(
    "/card/nonce",
    summary="A one-time nonce for the card at the reader to sign",
    responses=refusals(403),
)
async def card_nonce(
    request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    def call() -> Any:
        return central.issue_nonce(authorised(request, code))

    return OqsJSONResponse(await answer(request, call))


@router.post(
    "/card",
    summary="Eligibility by My Number card (certificate, signed nonce, identity method, consents)",
    responses=refusals(403, 404, 413, 422),
)
async def by_card(
    body: CardRequest, request: Request, code: CertificateFacility, central: CentralDep
) -> OqsJSONResponse:
    def call() -> Any:
        facility = authorised(request, code, body.MedicalInstitutionCode)
        return central.confirm_by_card(facility, body.to_question())

    return OqsJSONResponse(await answer(request, call))
