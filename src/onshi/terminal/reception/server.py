"""Serving the reception screen: in the foreground (``onshi terminal run``) or in a thread.

Plain HTTP on loopback only: the screen and the reader's local API are for this machine. A
stream (server-sent events) never ends by itself, so shutdown waits at most
:data:`GRACEFUL_SECONDS` for open screens before closing them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import uvicorn

from onshi.web import ThreadedServer, bind, serve_in_foreground, url_of

GRACEFUL_SECONDS = 1


def _loopback(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        if host == "localhost":
            return "127.0.0.1"
    raise ValueError(f"the reception screen listens on loopback only, not {host!r}")


def _config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,  # the access log would carry nothing useful and risks query strings
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


def serve_reception(
    agent: Any, host: str, port: int, *, announce: Callable[[str], Any] = print
) -> None:
    """Serve the screen on ``host:port`` (loopback) until Ctrl-C; print its URL first."""
    from onshi.terminal.reception.app import create_reception_app

    host = _loopback(host)
    sock = bind(host, port, backlog=128)
    announce(f"reception screen (受付画面): {url_of('http', host, sock.getsockname()[1])}/")
    try:
        serve_in_foreground(_config(create_reception_app(agent), "info"), sock)
    finally:
        sock.close()


class ReceptionServer(ThreadedServer):
    """The screen in a daemon thread (tests, demo); port 0 picks a free one. A context manager."""

    def __init__(
        self, agent: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> None:
        from onshi.terminal.reception.app import create_reception_app

        sock = bind(_loopback(host), port, backlog=128)
        super().__init__(
            _config(create_reception_app(agent), log_level), sock, name="onshi-reception"
        )

    def start(self, timeout: float = 20.0) -> ReceptionServer:
        super().start(timeout)
        return self
