"""The reception screen (patients' names on it) exports no OpenTelemetry spans either."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.telemetry import exported


def test_the_reception_screen_exports_nothing(client: TestClient) -> None:
    exporter = exported()
    exporter.clear()
    assert client.get("/").status_code == 200
    assert client.post("/api/no-such-thing", json={"name": "山田太郎"}).status_code >= 400
    assert exporter.get_finished_spans() == ()
