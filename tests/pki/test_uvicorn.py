"""The contexts as the central service uses them: uvicorn serving, httpx calling, mutual TLS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from onshi.pki import (
    CertificateAuthority,
    client_certificate_from_scope,
    client_ssl_context,
    medical_institution_code_of,
    uvicorn_ssl_context_factory,
)
from onshi.pki.asgi import ClientCertificateHttpToolsProtocol


async def whoami(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Any]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Answers with the facility code of the client certificate on this connection."""
    if scope["type"] != "http":
        return
    cert = client_certificate_from_scope(scope)
    body = (medical_institution_code_of(cert) if cert else None) or "none"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body.encode()})


@pytest.fixture(scope="module")
def central(
    tmp_path_factory: pytest.TempPathFactory, facility_ca: CertificateAuthority
) -> Iterator[tuple[str, Path]]:
    d = tmp_path_factory.mktemp("uvicorn")
    facility_ca.issue_server_certificate(["localhost"], ["127.0.0.1"]).write(
        d / "server.crt", d / "server.key"
    )
    sock = socket.create_server(("127.0.0.1", 0))
    config = uvicorn.Config(
        whoami,
        http=ClientCertificateHttpToolsProtocol,
        ssl_context_factory=uvicorn_ssl_context_factory(
            d / "server.crt", d / "server.key", facility_ca.cert_path
        ),
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    try:
        yield f"https://127.0.0.1:{sock.getsockname()[1]}/", d
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def test_facility_reaches_the_service_and_is_identified(
    central: tuple[str, Path], facility_ca: CertificateAuthority
) -> None:
    url, d = central
    facility_ca.issue_facility_certificate("2712345678", "大阪テスト病院").write(
        d / "f.crt", d / "f.key"
    )
    context = client_ssl_context(d / "f.crt", d / "f.key", facility_ca.cert_path)
    with httpx.Client(verify=context, timeout=5) as client:
        response = client.get(url)
    assert response.status_code == 200
    assert response.text == "2712345678"


def test_client_without_certificate_gets_nothing(
    central: tuple[str, Path], facility_ca: CertificateAuthority
) -> None:
    url, _ = central
    context = client_ssl_context(None, None, facility_ca.cert_path)
    with httpx.Client(verify=context, timeout=5) as client, pytest.raises(httpx.TransportError):
        client.get(url)
