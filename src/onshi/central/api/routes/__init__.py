"""The API's routers, one small module per kind of question.

Endpoints are ``async`` and hand the blocking service call to :func:`answer`: quick calls on
an embedded SQLite database take a fraction of a millisecond, less than a hop to the thread
pool and back costs, so they run inline on the event loop (measured: twice the throughput);
on PostgreSQL (network round trips) and for heavy calls (bulk, history) they go to the thread
pool, so the event loop never waits on the network or on a long query (bulk and history
endpoints are plain ``def`` for that reason). Inquiries by card number, the hot path, are
answered in groups (:mod:`~onshi.central.api.batching`), on the loop or on a thread of their
own by the same rule. Dependencies are ``async`` and cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from onshi.central.api.identity import CertificateFacility, check_claimed
from onshi.central.api.service import CentralService
from onshi.central.errors import FacilityNotAuthorised
from onshi.oqs.identifiers import MedicalInstitutionCode


async def _central(request: Request) -> CentralService:
    central: CentralService = request.app.state.central
    return central


CentralDep = Annotated[CentralService, Depends(_central)]


class RegisteredFacilities:
    """Recently confirmed registrations, so a keep-alive client does not cost a query per request.

    Only successes are remembered, for ``ttl`` seconds: a facility the service refuses is asked
    about again on every request, and a withdrawn registration stops working within ``ttl``.
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._confirmed: dict[str, tuple[float, MedicalInstitutionCode]] = {}

    def confirmed(self, code: str) -> MedicalInstitutionCode | None:
        """The facility, if ``code`` was confirmed within ``ttl`` (then :meth:`require` needs
        no database)."""
        known = self._confirmed.get(code)
        return known[1] if known is not None and time.monotonic() - known[0] < self.ttl else None

    def require(self, central: CentralService, code: str) -> MedicalInstitutionCode:
        facility = self.confirmed(code)
        if facility is not None:
            return facility
        facility = central.require_facility(code)
        if len(self._confirmed) > 10_000:  # bounded: certificates are few, but be safe
            self._confirmed.clear()
        self._confirmed[code] = (time.monotonic(), facility)
        return facility


def authorised(request: Request, code: str, claimed: str | None = None) -> MedicalInstitutionCode:
    """The registered facility behind the certificate (raises FacilityNotAuthorised)."""
    return registered_facility(
        request.app.state.central, request.app.state.registered_facilities, code, claimed
    )


def registered_facility(
    central: CentralService, registered: RegisteredFacilities, code: str, claimed: str | None
) -> MedicalInstitutionCode:
    """:func:`authorised`, for callers that hold the service and the cache themselves."""
    try:
        check_claimed(code, claimed)
    except FacilityNotAuthorised:
        central.audit_claim_refused(code, claimed or "")
        raise
    return registered.require(central, code)


T = TypeVar("T")


async def answer(request: Request, call: Callable[[], T]) -> T:
    """Run a quick blocking service call inline (embedded database) or in the thread pool."""
    if request.app.state.inline_service_calls:
        return call()
    return await run_in_threadpool(call)


__all__ = ["CentralDep", "CertificateFacility", "answer", "authorised"]
