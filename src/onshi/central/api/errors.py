"""The one place where exceptions become HTTP: ``{"code": …, "message": …}`` with a status.

Service errors (:mod:`onshi.central.errors`) carry their own code and status. FastAPI's
validation errors become ``REQUEST_INVALID`` naming the field; routing errors get codes of
their own (``NOT_FOUND``, ``METHOD_NOT_ALLOWED``); a database that cannot be reached (no
primary during a failover) is ``503 DATABASE_UNAVAILABLE`` with ``Retry-After``; a body
FastAPI cannot even parse (its 400) is ``422 REQUEST_INVALID`` too, as docs/central/api.md
says. Anything unexpected is answered by
:mod:`onshi.central.api.middleware` as ``500 CENTRAL_ERROR`` without a stack trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from onshi.central.errors import CentralError, DatabaseUnavailable

# Codes of the HTTP layer itself, beside those of onshi.central.errors.
HTTP_CODES = {
    400: "REQUEST_INVALID",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "REQUEST_TOO_LARGE",
    415: "REQUEST_INVALID",
}
# A failover on loopback takes a few seconds; in production ttl + loop_wait bound it (≈ 30 s).
RETRY_AFTER_SECONDS = 2


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """``"<field>: <reason>"`` for each problem, ``;``-separated; the field is a dotted path.

    ``body`` is dropped from the path (every field is in the body) and list indexes stay, so a
    bad bulk record reads ``QualificationConfirmSearchInfo.17.InsurerNumber: …``.
    """
    parts = []
    for error in errors[:5]:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "path", "query")]
        field = ".".join(location) or "body"
        reason = str(error.get("msg", "invalid"))
        # pydantic prefixes messages of ValueErrors raised by validators; the reason alone reads better.
        for prefix in ("Value error, ", "Assertion failed, "):
            reason = reason.removeprefix(prefix)
        if error.get("type") == "json_invalid":
            field, reason = "body", "is not valid JSON"
        parts.append(f"{field}: {reason}")
    if len(errors) > 5:
        parts.append(f"and {len(errors) - 5} more")
    return "; ".join(parts)


async def _database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # No primary to write to (a failover under way) or no connection at all: the same question
    # asked again shortly is answered. Nothing of this request was committed, except perhaps an
    # audit entry whose commit was cut off (an access audited but not answered: the safe side).
    # The driver's own message (SQLAlchemy's OperationalError) is not for the client.
    unavailable = exc if isinstance(exc, DatabaseUnavailable) else DatabaseUnavailable()
    return error_response(
        unavailable.http_status,
        unavailable.code,
        unavailable.message,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _central_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CentralError)
    return error_response(exc.http_status, exc.code, exc.message)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "REQUEST_INVALID", describe_validation_errors(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's own "error parsing the body" (bytes that are not UTF-8, a broken form):
        # a malformed request like any other, answered as documented.
        return error_response(422, "REQUEST_INVALID", "body: cannot be read as JSON")
    code = HTTP_CODES.get(exc.status_code, "CENTRAL_ERROR")
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, str(exc.detail), headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CentralError, _central_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    # The same, met on the event loop's connection (the inquiry by card number on PostgreSQL);
    # a CentralError, given its Retry-After here.
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
