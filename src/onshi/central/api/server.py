"""Running the API under mutual TLS with uvicorn, and handing the client certificate to the app.

uvicorn verifies client certificates (the ``ssl.SSLContext`` from
:func:`onshi.pki.server_ssl_context` requires one from the facility CA) but does not put the
peer certificate in the ASGI scope. :class:`onshi.pki.asgi.ClientCertificateH11Protocol` —
uvicorn's h11 protocol, one instance per connection — reads it from the TLS transport once the
handshake is done and wraps that connection's app, so every request's scope carries
``scope["extensions"]["tls"]["client_cert_der"]``; :mod:`onshi.central.api.identity` reads it
there. The protocol lives with the PKI so other onshi services can reuse it.

``BackgroundServer`` runs the same thing in a thread on a port of its own (port 0 picks a
free one), for tests, benchmarks and the demo; ``serve_forever`` runs it in the foreground.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from onshi.pki import server_ssl_context
from onshi.pki.asgi import ClientCertificateH11Protocol
from onshi.web import ThreadedServer, bind


@dataclass(frozen=True)
class ServerTls:
    """The server's certificate and key, and the CA whose certificates clients must present."""

    cert_path: Path
    key_path: Path
    client_ca_path: Path

    def context(self) -> ssl.SSLContext:
        return server_ssl_context(self.cert_path, self.key_path, self.client_ca_path)


def uvicorn_config(app: Any, tls: ServerTls, *, log_level: str = "warning") -> uvicorn.Config:
    context = tls.context()
    return uvicorn.Config(
        app,
        http=ClientCertificateH11Protocol,
        ssl_context_factory=lambda _config, _default: context,
        lifespan="on",
        access_log=False,  # EdgeMiddleware writes the one (personal-data free) line per request
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=30,
    )


def serve_forever(
    app: Any, tls: ServerTls, sock: socket.socket, *, log_level: str = "info"
) -> None:
    """Serve on ``sock`` in the foreground until Ctrl-C / SIGTERM, then return normally.

    uvicorn re-raises the signal it caught once it has shut down; an operator's Ctrl-C is
    the normal way to stop, not an error.
    """
    server = uvicorn.Server(uvicorn_config(app, tls, log_level=log_level))
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


class BackgroundServer(ThreadedServer):
    """The API served over mutual TLS in a daemon thread on 127.0.0.1 (or ``host``)."""

    scheme = "https"

    def __init__(
        self,
        app: Any,
        tls: ServerTls,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 20.0,
    ) -> None:
        super().__init__(
            uvicorn_config(app, tls, log_level=log_level), bind(host, port), name="onshi-central"
        )
        self._startup_timeout = startup_timeout

    def start(self, timeout: float | None = None) -> BackgroundServer:
        super().start(self._startup_timeout if timeout is None else timeout)
        return self


SERVER_CERT_FILE = "server.cert.pem"
SERVER_KEY_FILE = "server.key.pem"
FACILITY_CA_NAME = "onshi facility CA"
_RENEW_BEFORE_DAYS = 30


def ensure_server_tls(data_dir: Path, ca_dir: Path, host: str) -> ServerTls:
    """The facility CA (created on first run) and a server certificate it issued for ``host``.

    The certificate covers localhost, 127.0.0.1, ::1 and ``host``; it is reissued when it is
    missing, about to expire or does not name ``host``. Clients trust ``ca_dir/ca.cert.pem``
    — the same CA that issues their own certificates.
    """
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509

    from onshi.pki import CertificateAuthority, IssuedCertificate, PkiError

    ca = CertificateAuthority.load_or_create(ca_dir, FACILITY_CA_NAME)
    tls_dir = data_dir / "tls"
    cert_path, key_path = tls_dir / SERVER_CERT_FILE, tls_dir / SERVER_KEY_FILE
    hostnames, addresses = ["localhost"], ["127.0.0.1", "::1"]
    try:
        ipaddress.ip_address(host)
        if host not in ("0.0.0.0", "::") and host not in addresses:  # noqa: S104 — comparing, not binding
            addresses.append(host)
    except ValueError:
        if host not in hostnames:
            hostnames.append(host)
    try:
        current = IssuedCertificate.load(cert_path, key_path).certificate
        names = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        covered = set(names.get_values_for_type(x509.DNSName)) | {
            str(a) for a in names.get_values_for_type(x509.IPAddress)
        }
        fresh = current.not_valid_after_utc - datetime.now(UTC) > timedelta(days=_RENEW_BEFORE_DAYS)
        same_ca = current.issuer == ca.certificate.subject
        if fresh and same_ca and set(hostnames) | set(addresses) <= covered:
            return ServerTls(cert_path, key_path, ca.cert_path)
    except (PkiError, x509.ExtensionNotFound):
        pass
    tls_dir.mkdir(parents=True, exist_ok=True)
    ca.issue_server_certificate(hostnames, addresses).write(cert_path, key_path)
    return ServerTls(cert_path, key_path, ca.cert_path)
