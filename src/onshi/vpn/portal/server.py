"""Serving the portal: in the foreground (``onshi vpn portal serve``) or in a thread (tests).

uvicorn's own access log is off (it would print query strings); the app writes one line per
request without them. ``proxy_headers`` trusts only loopback, so a TLS-terminating proxy on
this host can say the request came over HTTPS and the session cookie gets ``Secure``.
"""

from __future__ import annotations

import socket
from typing import Any

import uvicorn

from onshi.web import ThreadedServer, bind, serve_in_foreground


def uvicorn_config(app: Any, *, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,
        log_level=log_level,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1,::1",
        timeout_keep_alive=30,
    )


def serve_forever(app: Any, sock: socket.socket, *, log_level: str = "info") -> None:
    """Serve on ``sock`` until Ctrl-C / SIGTERM, then return normally."""
    serve_in_foreground(uvicorn_config(app, log_level=log_level), sock)


class PortalServer(ThreadedServer):
    """The portal in a daemon thread (tests, benchmarks); port 0 picks a free one."""

    def __init__(
        self, app: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> None:
        super().__init__(
            uvicorn_config(app, log_level=log_level), bind(host, port), name="onshi-vpn-portal"
        )

    def start(self, timeout: float = 20.0) -> PortalServer:
        super().start(timeout)
        return self
