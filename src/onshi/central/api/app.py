"""``create_app``: the FastAPI application of the central eligibility service.

The app holds no state of its own: the service (``Central``) and the settings are handed in,
so tests can build it around a fake and the server module can run it under mutual TLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from onshi.central.api.batching import Batcher, LoopBatcher
from onshi.central.api.errors import error_response, install_error_handlers
from onshi.central.api.middleware import EdgeMiddleware, request_context
from onshi.central.api.responses import OqsJSONResponse
from onshi.central.api.routes import RegisteredFacilities, bulk, eligibility, health, history
from onshi.central.api.service import CentralService
from onshi.central.settings import CentralSettings
from onshi.db import is_sqlite
from onshi.web import NO_TELEMETRY

DESCRIPTION = """\
オンライン資格確認 — the central eligibility service of onshi.

Every route needs a facility client certificate (mutual TLS) issued by this service's CA
(`onshi central facility add`). Requests and answers use the OQS element names.
Refusals are `{"code": …, "message": …}`; the codes are listed in docs/central/api.md.
"""

# Threads answering gathered inquiries (api.batching) when neither on the loop with SQLite nor
# with the async driver on PostgreSQL (an experiment's setting, ONSHI_BENCH_INLINE=0 on
# SQLite). One: its groups grow while it waits on the database, and more threads only take turns
# on the interpreter lock (measured on PostgreSQL: 1 thread 0.65 ms of server CPU per inquiry,
# 2 threads 0.79, 4 threads 0.93; on the loop with the async driver 0.52–0.60).
INQUIRY_THREADS = 1


def create_app(
    central: CentralService,
    settings: CentralSettings,
    *,
    run_bulk_worker: bool = True,
    facility_cache_seconds: float = 5.0,
    inline_service_calls: bool | None = None,
) -> FastAPI:
    """The API around ``central``; with ``run_bulk_worker`` its bulk worker runs while it serves.

    A facility's registration, once confirmed, is trusted for ``facility_cache_seconds``
    (0: ask the service on every request). Quick service calls run on the event loop when
    ``inline_service_calls`` (default: on an embedded database; see routes.answer).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_bulk_worker:
            central.bulk_worker.start()
        try:
            yield
        finally:
            app.state.card_number_batcher.stop()
            if run_bulk_worker:
                central.bulk_worker.stop()
            await central.close_loop_connection()

    app = FastAPI(
        title="onshi central eligibility service",
        version="1",
        description=DESCRIPTION,
        default_response_class=OqsJSONResponse,
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
    )
    app.state.central = central
    app.state.settings = settings
    app.state.registered_facilities = RegisteredFacilities(facility_cache_seconds)
    if inline_service_calls is None:
        inline_service_calls = is_sqlite(settings.database_url)
    app.state.inline_service_calls = inline_service_calls
    registered = app.state.registered_facilities
    if inline_service_calls or is_sqlite(settings.database_url):
        app.state.card_number_batcher = Batcher(
            eligibility.card_number_answers(central, registered),
            threads=0 if inline_service_calls else INQUIRY_THREADS,
            name="inquiries",
        )
    else:  # PostgreSQL: on the loop, with asyncpg
        app.state.card_number_batcher = LoopBatcher(
            eligibility.card_number_answers_on_loop(central, registered)
        )
    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> JSONResponse:
        # Reached only if something escapes EdgeMiddleware itself; no details either way.
        context = request_context(request.scope)
        return error_response(
            500, "CENTRAL_ERROR", f"internal error; quote request id {context.request_id}"
        )

    app.add_middleware(EdgeMiddleware, max_request_bytes=settings.max_request_bytes)
    # The hot route is matched first, by Starlette itself: FastAPI (0.165) finds a route inside
    # an included router through context objects it builds per request, ≈ 0.05 ms of CPU for
    # this one (docs/central/performance.md). The eligibility router still lists it, for the
    # OpenAPI document.
    app.router.routes.insert(
        0,
        Route(
            eligibility.CARD_NUMBER_PATH,
            eligibility.by_card_number,
            methods=["POST"],
            include_in_schema=False,
        ),
    )
    for module in (health, eligibility, bulk, history):
        app.include_router(module.router)
    return app
