"""Serving the claims receiver over mutual TLS: the same machinery as the central service.

The TLS server pieces (the server certificate issued by the facility CA, uvicorn with the
protocol that hands the client certificate to the app) are
:mod:`onshi.central.api.server`'s; only the app and the data directory are the receiver's own.
"""

from __future__ import annotations

import socket

from onshi.central.api.server import (
    BackgroundServer,
    ServerTls,
    ensure_server_tls,
    serve_forever,
)
from onshi.claims.app import create_app
from onshi.claims.settings import ClaimsSettings
from onshi.claims.store import ClaimsStore

__all__ = ["background_server", "claims_tls", "serve"]


def claims_tls(settings: ClaimsSettings) -> ServerTls:
    """The facility CA (created on first run unless shared) and the receiver's server certificate."""
    return ensure_server_tls(settings.data_dir, settings.facility_ca_dir, settings.host)


def background_server(settings: ClaimsSettings) -> BackgroundServer:
    """The receiver in a daemon thread (tests, demos); ``start()`` it or use it as a context."""
    app = create_app(ClaimsStore(settings.store_dir), settings)
    return BackgroundServer(app, claims_tls(settings), host=settings.host, port=settings.port)


def serve(settings: ClaimsSettings, sock: socket.socket, tls: ServerTls) -> None:
    """Serve in the foreground until Ctrl-C / SIGTERM."""
    serve_forever(create_app(ClaimsStore(settings.store_dir), settings), tls, sock)
