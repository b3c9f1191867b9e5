"""``ssl.SSLContext`` factories for mutual TLS between facilities and the central service.

The central service (uvicorn) requires a client certificate from the facility TLS CA; the
facility's client (httpx) presents one and trusts only onshi's CA, not the system store —
a public CA has no business vouching for the central service. TLS 1.2 is the floor.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509

from .errors import PkiError

__all__ = [
    "client_certificate_from_scope",
    "client_ssl_context",
    "peer_certificate",
    "server_ssl_context",
    "uvicorn_ssl_context_factory",
]

StrPath = str | Path


def _load_chain(context: ssl.SSLContext, cert_path: StrPath, key_path: StrPath) -> None:
    try:
        context.load_cert_chain(certfile=cert_path, keyfile=key_path)
    except (OSError, ssl.SSLError) as exc:
        raise PkiError(f"cannot load certificate {cert_path} with key {key_path}: {exc}") from exc


def _load_trust(context: ssl.SSLContext, ca_cert_path: StrPath) -> None:
    try:
        context.load_verify_locations(cafile=ca_cert_path)
    except (OSError, ssl.SSLError) as exc:
        raise PkiError(f"cannot load CA certificate {ca_cert_path}: {exc}") from exc


def server_ssl_context(
    cert_path: StrPath,
    key_path: StrPath,
    ca_cert_path: StrPath,
    *,
    require_client_certificate: bool = True,
) -> ssl.SSLContext:
    """A server context presenting ``cert_path`` and requiring clients signed by ``ca_cert_path``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, cert_path, key_path)
    _load_trust(context, ca_cert_path)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_certificate else ssl.CERT_OPTIONAL
    return context


def client_ssl_context(
    cert_path: StrPath | None, key_path: StrPath | None, ca_cert_path: StrPath
) -> ssl.SSLContext:
    """A client context trusting only ``ca_cert_path`` and, if given, presenting a certificate.

    Hostname checking stays on; pass it to httpx as ``httpx.Client(verify=context)``.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    _load_trust(context, ca_cert_path)
    if (cert_path is None) != (key_path is None):
        raise PkiError("give both a client certificate and its key, or neither")
    if cert_path is not None and key_path is not None:
        _load_chain(context, cert_path, key_path)
    return context


def uvicorn_ssl_context_factory(
    cert_path: StrPath, key_path: StrPath, ca_cert_path: StrPath
) -> Callable[[Any, Callable[[], ssl.SSLContext]], ssl.SSLContext]:
    """For ``uvicorn.Config(ssl_context_factory=...)``: replaces uvicorn's default context.

    uvicorn's own ``ssl_cert_reqs`` defaults to not asking for a client certificate; this
    factory makes it mandatory. Pair it with :class:`onshi.pki.asgi.ClientCertificateHttpToolsProtocol`
    so the app can see which facility connected.
    """

    def factory(_config: Any, _default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
        return server_ssl_context(cert_path, key_path, ca_cert_path)

    return factory


def peer_certificate(connection: ssl.SSLSocket | ssl.SSLObject) -> x509.Certificate | None:
    """The certificate the other side presented, parsed; None if it presented none.

    The ssl module has already verified it against the context's CA; callers still check
    what it says (e.g. :func:`onshi.pki.medical_institution_code_of`).
    """
    der = connection.getpeercert(binary_form=True)
    if not der:
        return None
    return x509.load_der_x509_certificate(der)


def client_certificate_from_scope(scope: Mapping[str, Any]) -> x509.Certificate | None:
    """The TLS client certificate of an ASGI request, from the ASGI TLS extension; None if absent.

    Reads ``client_cert_der`` (onshi's addition) or else the standard ``client_cert_chain``.

    Under uvicorn the extension is only there with
    :class:`onshi.pki.asgi.ClientCertificateHttpToolsProtocol`. The certificate was verified by the
    TLS layer against the server context's CA before the request reached the app.
    """
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls:
        return None
    der = tls.get("client_cert_der")
    chain = tls.get("client_cert_chain") or []
    try:
        if isinstance(der, bytes) and der:
            return x509.load_der_x509_certificate(der)
        if chain:
            return x509.load_pem_x509_certificate(str(chain[0]).encode("ascii"))
    except ValueError as exc:
        raise PkiError("the ASGI TLS extension holds an unreadable client certificate") from exc
    return None
