"""``create_app``: the claims receiver's HTTPS API (behind mutual TLS, see :mod:`onshi.claims.server`).

* ``POST /v1/claims`` — the body is the claims file (``application/octet-stream``); answers
  ``201`` with the receipt, or ``200`` with the earlier receipt when the same bytes came before.
* ``GET /v1/claims/{receipt}`` — a receipt of the asking facility.
* ``GET /health`` — ``{"status": "ok"}``.

Who asks is the facility code in the TLS client certificate (issued by the facility CA); the
IR record of the file must name the same facility. Refusals are ``{"code", "message"}`` with
the codes of :mod:`onshi.claims.errors`. The body is counted while it streams in and refused
past the limit before anything is parsed or stored.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from onshi.claims.errors import (
    ClaimsError,
    ClaimsFacilityMismatch,
    ClaimsFileTooLarge,
    ClaimsNotAuthorised,
)
from onshi.claims.settings import ClaimsSettings
from onshi.claims.store import ClaimsStore
from onshi.claims.uke import read_uke
from onshi.logs import log_failure
from onshi.pki import PkiError, client_certificate_from_scope, medical_institution_code_of
from onshi.web import NO_TELEMETRY

logger = logging.getLogger("onshi.claims")

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def facility_of(request: Request) -> str:
    """The facility code of the client certificate; :class:`ClaimsNotAuthorised` without one."""
    try:
        certificate = client_certificate_from_scope(request.scope)
    except PkiError as exc:
        raise ClaimsNotAuthorised("the client certificate cannot be read") from exc
    if certificate is None:
        raise ClaimsNotAuthorised("connect with the facility client certificate")
    code = medical_institution_code_of(certificate)
    if code is None:
        raise ClaimsNotAuthorised("the client certificate is not a facility certificate")
    return code


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ClaimsFileTooLarge(f"the file is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ClaimsFileTooLarge(f"the file is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(store: ClaimsStore, settings: ClaimsSettings) -> FastAPI:
    app = FastAPI(
        title="onshi claims receiver (オンライン請求システム)",
        version="1",
        description="Monthly claims files (UKE) from facilities holding a client certificate.",
        telemetry=NO_TELEMETRY,
    )

    @app.exception_handler(ClaimsError)
    async def _claims_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ClaimsError)
        if exc.http_status >= 500:
            log_failure(logger, "claims storage failed", exc)
        return _error(exc.http_status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "CLAIMS_ERROR")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log_failure(logger, "claims request failed", exc)
        return _error(500, "CLAIMS_ERROR", "internal error")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/claims")
    async def submit(request: Request) -> JSONResponse:
        facility = facility_of(request)
        content = await _read_limited(request, settings.max_file_bytes)
        summary = read_uke(content)
        if summary.medical_institution_code != facility:
            raise ClaimsFacilityMismatch(
                "the IR record names another medical institution than the client certificate"
            )
        receipt = await run_in_threadpool(store.receive, content, summary)
        logger.info(
            "claims received: facility %s month %s receipt %s claims %d bytes %d%s",
            facility,
            receipt.claim_month,
            receipt.receipt,
            receipt.claims,
            receipt.size,
            " (resent)" if receipt.duplicate else "",
        )
        return JSONResponse(receipt.as_json(), status_code=200 if receipt.duplicate else 201)

    @app.get("/v1/claims/{receipt}")
    async def show(receipt: str, request: Request) -> JSONResponse:
        facility = facility_of(request)
        found = await run_in_threadpool(store.find, facility, receipt)
        return JSONResponse(found.as_json())

    return app
