"""Hand the facility's TLS client certificate to the ASGI app under uvicorn.

uvicorn verifies client certificates (given :func:`onshi.pki.server_ssl_context`) but does
not pass them on: the ASGI scope has no trace of who connected. The central service needs
the certificate to learn the facility code, so this protocol adds the standard ASGI TLS
extension (``scope["extensions"]["tls"]``) to every request on a TLS connection::

    uvicorn.Config(app, http=ClientCertificateHttpToolsProtocol, loop="auto",
                   ssl_context_factory=uvicorn_ssl_context_factory(cert, key, ca), ...)

Read it back with :func:`onshi.pki.client_certificate_from_scope`. Kept out of
``onshi.pki``'s top-level imports so using the PKI does not import uvicorn.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .tls import peer_certificate

__all__ = ["ClientCertificateHttpToolsProtocol", "tls_scope_extension"]

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_scope_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    """The ASGI TLS extension for one connection (only the fields the ssl module can give)."""
    certificate = peer_certificate(ssl_object)
    version = ssl_object.version()
    return {
        # Not in the ASGI spec: the DER bytes, so readers need not re-encode the PEM.
        "client_cert_der": ssl_object.getpeercert(binary_form=True) or None,
        "server_cert": None,
        "client_cert_chain": (
            [certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")]
            if certificate is not None
            else []
        ),
        "client_cert_name": certificate.subject.rfc4514_string() if certificate else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version) if version else None,
        "cipher_suite": None,
    }


def _with_tls_extension(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def app_with_tls(
        scope: Scope,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope.get("type") in ("http", "websocket"):
            scope = {**scope, "extensions": {**(scope.get("extensions") or {}), "tls": extension}}
        await app(scope, receive, send)

    return app_with_tls


class ClientCertificateHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C), plus the TLS extension in every request scope.

    llhttp is stricter than h11: a control character in a header value (RFC 9110 §5.5) is a
    400 from uvicorn before the app sees the request.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            # One protocol instance per connection, so wrapping its app scopes the
            # certificate to exactly this connection's requests.
            self.app = _with_tls_extension(self.app, tls_scope_extension(ssl_object))
