"""資格確認: by insurance-card number (OQSsiquc01) and by My Number card."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import APIRouter, Request

from onshi.central.api.bodies import openapi_body, parse_body
from onshi.central.api.identity import certificate_facility_code
from onshi.central.api.responses import OqsJSONResponse, refusals
from onshi.central.api.routes import (
    CentralDep,
    CertificateFacility,
    RegisteredFacilities,
    answer,
    authorised,
    registered_facility,
)
from onshi.central.api.schemas import CardNumberRequest, CardRequest
from onshi.central.api.service import CentralService
from onshi.central.services.questions import CardNumberQuestion
from onshi.oqs.identifiers import MedicalInstitutionCode

Json = dict[str, Any]

router = APIRouter(prefix="/v1/eligibility", tags=["eligibility"])


CardNumberAsked = tuple[str, str | None, CardNumberQuestion]  # code, claimed code, question
CARD_NUMBER_PATH = "/v1/eligibility/card-number"


@router.post(
    CARD_NUMBER_PATH.removeprefix(router.prefix),
    summary="Eligibility by insurance-card number on a date (OQSsiquc01)",
    responses=refusals(403, 413, 422),
    openapi_extra=openapi_body(CardNumberRequest),
)
async def by_card_number(request: Request) -> OqsJSONResponse:
    # The hot path, kept thin: it reads its own body (api.bodies), and the app routes it ahead
    # of FastAPI's routers (api.app.create_app).
    code = await certificate_facility_code(request)
    body = parse_body(CardNumberRequest, await request.body())
    asked: CardNumberAsked = (code, body.MedicalInstitutionCode, body.to_question())
    return OqsJSONResponse(await request.app.state.card_number_batcher.answer(asked))


def card_number_answers(
    central: CentralService, registered: RegisteredFacilities
) -> Callable[[Sequence[CardNumberAsked]], list[Json | Exception]]:
    """Inquiries by card number that arrived together, answered together (see
    :mod:`~onshi.central.api.batching`): each checked for its facility, then all of them asked
    of the service at once."""

    def answer_many(asked: Sequence[CardNumberAsked]) -> list[Json | Exception]:
        out, ready = _checked(central, registered, asked)
        if ready:
            answers = central.confirm_by_card_numbers([r for _, r in ready])
            for (i, _), answer in zip(ready, answers, strict=True):
                out[i] = answer
        return out

    return answer_many


def card_number_answers_on_loop(
    central: CentralService, registered: RegisteredFacilities
) -> Callable[[Sequence[CardNumberAsked]], Awaitable[list[Json | Exception]]]:
    """:func:`card_number_answers` on the event loop, for a server on PostgreSQL."""

    async def answer_many(asked: Sequence[CardNumberAsked]) -> list[Json | Exception]:
        if all(
            registered.confirmed(code) is not None and claimed in (None, code)
            for code, claimed, _ in asked
        ):
            out, ready = _checked(central, registered, asked)  # from memory alone
        else:
            # A facility to look up, or a refusal to audit: the engine's blocking calls, in a
            # worker thread, so that a client refused on every request cannot stall the loop.
            out, ready = await asyncio.to_thread(_checked, central, registered, asked)
        if ready:
            answers = await central.confirm_by_card_numbers_on_loop([r for _, r in ready])
            for (i, _), answer in zip(ready, answers, strict=True):
                out[i] = answer
        return out

    return answer_many


def _checked(
    central: CentralService, registered: RegisteredFacilities, asked: Sequence[CardNumberAsked]
) -> tuple[
    list[Json | Exception], list[tuple[int, tuple[MedicalInstitutionCode, CardNumberQuestion]]]
]:
    """Each request's facility checked: refusals in place, the rest ready to ask (by index)."""
    out: list[Json | Exception] = [RuntimeError("not answered")] * len(asked)
    ready: list[tuple[int, tuple[MedicalInstitutionCode, CardNumberQuestion]]] = []
    for i, (code, claimed, question) in enumerate(asked):
        try:
            ready.append((i, (registered_facility(central, registered, code, claimed), question)))
        except Exception as exc:  # noqa: BLE001 — this request's refusal
            out[i] = exc
    return out, ready


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
