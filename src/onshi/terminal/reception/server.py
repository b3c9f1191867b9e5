"""Serving the reception screen: in the foreground (``onshi terminal run``) or in a thread.

Plain HTTP on loopback only: the screen and the reader's local API are for this machine. A
stream (server-sent events) never ends by itself, so shutdown waits at most
:data:`GRACEFUL_SECONDS` for open screens before closing them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

GRACEFUL_SECONDS = 1


def _loopback(host: str) -> str:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        if host == "localhost":
            return "127.0.0.1"
    raise ValueError(f"the reception screen listens on loopback only, not {host!r}")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="off",
        access_log=False,  # the access log would carry nothing useful and risks query strings
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_reception(
    agent: Any, host: str, port: int, *, announce: Callable[[str], Any] = print
) -> None:
    """Serve the screen on ``host:port`` (loopback) until Ctrl-C; print its URL first."""
    from onshi.terminal.reception.app import create_reception_app

    host = _loopback(host)
    sock = _bind(host, port)
    announce(f"reception screen (受付画面): {_url(host, sock.getsockname()[1])}/")
    server = uvicorn.Server(_config(create_reception_app(agent), "info"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


class ReceptionServer:
    """The screen in a daemon thread (tests, demo); port 0 picks a free one. A context manager."""

    def __init__(
        self, agent: Any, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> None:
        from onshi.terminal.reception.app import create_reception_app

        self.host = _loopback(host)
        self.sock = _bind(self.host, port)
        self.port: int = self.sock.getsockname()[1]
        self.server = uvicorn.Server(_config(create_reception_app(agent), log_level))
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True,
            name=f"onshi-reception-{self.port}",
        )

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    def start(self, timeout: float = 20.0) -> ReceptionServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.sock.close()
                raise RuntimeError("the reception screen did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> ReceptionServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
