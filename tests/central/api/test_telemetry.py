"""FastAPI's built-in OpenTelemetry stays off (onshi.web.NO_TELEMETRY): with a tracer provider
configured process-wide, a request's spans — which carry the body read and exception messages —
are not made, so they cannot be exported."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.central.api.conftest import Running
from tests.central.api.test_edge import BODY
from tests.telemetry import exported


def test_a_plain_fastapi_app_would_export_spans() -> None:
    """The control: the provider below does see what an app with telemetry on does."""
    exporter = exported()
    exporter.clear()
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(app) as client:
        assert client.get("/ping").status_code == 200
    assert exporter.get_finished_spans()


def test_the_central_service_exports_nothing(fake_api: Running) -> None:
    exporter = exported()
    exporter.clear()
    client = fake_api.client()
    assert client.post("/v1/eligibility/card-number", json=BODY).status_code == 200
    malformed = {**BODY, "QualificationConfirmationDate": "2026-13-45"}
    assert client.post("/v1/eligibility/card-number", json=malformed).status_code == 422
    assert client.get("/v1/health").status_code == 200
    assert exporter.get_finished_spans() == ()
