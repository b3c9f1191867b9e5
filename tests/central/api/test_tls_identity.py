"""Who may ask: only clients with a facility certificate from onshi's CA, of a registered facility."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from onshi.central.api import create_app
from onshi.central.api.identity import client_certificate_der
from onshi.central.api.server import BackgroundServer, ServerTls, ensure_server_tls
from onshi.pki import CertificateAuthority, client_ssl_context
from tests.central.api.conftest import (
    CLINIC,
    FakeCentral,
    Pki,
    Running,
    assert_error,
    make_settings,
)

CARD_NUMBER_BODY = {
    "QualificationConfirmationDate": "20261123",
    "QualificationConfirmSearchInfo": {
        "InsurerNumber": "06139999",
        "InsuredCardSymbol": "1",
        "InsuredIdentificationNumber": "2",
        "Birthdate": "19800101",
    },
}


def test_registered_facility_is_served(fake_api: Running) -> None:
    response = fake_api.client().get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["x-request-id"]


def test_no_client_certificate_is_refused_by_tls(fake_api: Running, pki: Pki) -> None:
    with pytest.raises(httpx.TransportError):
        fake_api.client(None).get("/v1/health")


def test_certificate_from_another_ca_is_refused_by_tls(fake_api: Running, pki: Pki) -> None:
    with pytest.raises(httpx.TransportError):
        fake_api.client(pki.foreign).get("/v1/health")


def test_client_does_not_trust_a_server_from_another_ca(fake_api: Running, tmp_path: Path) -> None:
    stranger = CertificateAuthority.create(tmp_path / "stranger", "stranger CA")
    context = client_ssl_context(None, None, stranger.cert_path)
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=context) as client:
        client.get(fake_api.url + "/v1/health")


def test_unregistered_facility_is_not_authorised(fake_api: Running, pki: Pki) -> None:
    response = fake_api.client(pki.unregistered).post(
        "/v1/eligibility/card-number", json=CARD_NUMBER_BODY
    )
    assert_error(response, 403, "FACILITY_NOT_AUTHORISED")
    assert fake_api.central.calls == []


def test_certificate_without_facility_code_is_not_authorised(fake_api: Running, pki: Pki) -> None:
    # Issued by the right CA for client auth, so TLS accepts it; but it names no facility.
    response = fake_api.client(pki.not_a_facility).get("/v1/health")
    assert_error(response, 403, "FACILITY_NOT_AUTHORISED")


def test_body_code_must_match_the_certificate(fake_api: Running) -> None:
    body = {**CARD_NUMBER_BODY, "MedicalInstitutionCode": "1341111111"}
    response = fake_api.client().post("/v1/eligibility/card-number", json=body)
    assert_error(response, 403, "FACILITY_NOT_AUTHORISED")
    same = {**CARD_NUMBER_BODY, "MedicalInstitutionCode": CLINIC}
    assert fake_api.client().post("/v1/eligibility/card-number", json=same).status_code == 200


def test_the_facility_is_the_certificates(fake_api: Running, pki: Pki) -> None:
    fake_api.client(pki.pharmacy).post("/v1/eligibility/card/nonce")
    assert fake_api.central.calls == [("issue_nonce", "1341111111", None)]


def test_openapi_docs_need_a_certificate_too(fake_api: Running) -> None:
    assert fake_api.client().get("/docs").status_code == 200
    paths = fake_api.client().get("/openapi.json").json()["paths"]
    assert {"/v1/eligibility/card-number", "/v1/eligibility/card", "/v1/bulk"} <= set(paths)
    with pytest.raises(httpx.TransportError):
        fake_api.client(None).get("/docs")


def test_app_without_tls_scope_refuses_everyone(tmp_path: Path) -> None:
    # Served without the client-certificate protocol (e.g. mounted elsewhere): no scope → no access.
    app = create_app(FakeCentral(), make_settings(tmp_path), run_bulk_worker=False)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://central") as client:
            return await client.get("/v1/health")

    assert_error(anyio.run(ask), 403, "FACILITY_NOT_AUTHORISED")


def test_client_certificate_der_reads_the_scope() -> None:
    assert client_certificate_der({}) is None
    assert client_certificate_der({"extensions": {"tls": {"client_cert_der": b""}}}) is None
    assert client_certificate_der({"extensions": {"tls": {"client_cert_der": b"x"}}}) == b"x"


def test_server_tls_is_created_once_and_reused(tmp_path: Path) -> None:
    first = ensure_server_tls(tmp_path, tmp_path / "ca", "127.0.0.1")
    issued = first.cert_path.read_bytes()
    again = ensure_server_tls(tmp_path, tmp_path / "ca", "127.0.0.1")
    assert again == first
    assert again.cert_path.read_bytes() == issued
    renamed = ensure_server_tls(tmp_path, tmp_path / "ca", "central.example")
    assert renamed.cert_path.read_bytes() != issued


def test_background_server_stops_and_frees_its_port(pki: Pki, tmp_path: Path) -> None:
    tls = ServerTls(pki.tls.cert_path, pki.tls.key_path, pki.tls.client_ca_path)
    server = BackgroundServer(create_app(FakeCentral(), make_settings(tmp_path)), tls).start()
    assert server.port > 0
    central_worker_running = server.server.started
    server.stop()
    assert central_worker_running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/v1/health", verify=False, timeout=2)


def test_listening_socket_is_tcp_so_asyncio_disables_nagle() -> None:
    # With proto 0 asyncio leaves Nagle on, and every answer waits ~40 ms for a delayed ACK.
    import socket

    from onshi.web import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
