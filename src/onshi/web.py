"""The web stack every onshi service shares: uvicorn on a socket onshi binds itself.

Binding first lets a caller ask for port 0 and learn the port before serving, and keeps the
one socket detail that matters for latency in one place. :class:`ThreadedServer` serves in a
daemon thread (tests, benchmarks, the demo); services started by a command run uvicorn in the
foreground on the same kind of socket (:func:`serve_in_foreground`).
"""

from __future__ import annotations

import contextlib
import gc
import socket
import threading
import time

import uvicorn
from fastapi.telemetry import TelemetryConfig

# FastAPI's own OpenTelemetry (spans, metrics, and logs that carry exception messages and the
# request body), off for every onshi app: whatever an operator configures globally, or
# FASTAPI_OTEL_AUTO_CONFIGURE, must not export insurance numbers, names or bodies. onshi
# logs what it needs itself, without personal data. Pass as ``FastAPI(telemetry=...)``.
NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def serve_in_foreground(config: uvicorn.Config, sock: socket.socket) -> None:
    """Serve ``config``'s app on ``sock`` until Ctrl-C / SIGTERM, then return normally: how a
    command runs a server (uvicorn re-raises the signal it caught once it has shut down; an
    operator's Ctrl-C is the normal way to stop, not an error). The process is the server's,
    so its startup objects are frozen first."""
    server = uvicorn.Server(config)
    freeze_startup_objects()
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def freeze_startup_objects() -> None:
    """Put what a server process made before serving — modules, the app, its caches — out of
    the cyclic garbage collector's sight, just before it serves (a foreground server only: it
    is the whole process).

    A full collection walks every tracked object. At 900 inquiries/s the central service ran
    several a minute, 85–130 ms each, finding next to nothing: a stall of every request in
    flight, and most of an open-loop p99 (docs/central/performance.md). With the startup
    objects frozen a full collection takes 4–6 ms. Frozen objects are never collected, which is
    what objects that live as long as the process want anyway; the collection first clears what
    startup left as garbage.
    """
    gc.collect()
    gc.freeze()


def bind(host: str, port: int, *, backlog: int = 1024) -> socket.socket:
    """A listening socket; with port 0 the OS picks a free port (read it from getsockname)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only switches Nagle off (TCP_NODELAY) on sockets whose
    # proto says TCP, and with Nagle on every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def url_of(scheme: str, host: str, port: int) -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class ThreadedServer:
    """A uvicorn server in a daemon thread on an already bound socket; a context manager.

    ``start`` returns once uvicorn has run the app's startup, so the port answers at once.
    """

    scheme = "http"

    def __init__(self, config: uvicorn.Config, sock: socket.socket, *, name: str) -> None:
        self.sock = sock
        self.host: str = sock.getsockname()[0]
        self.port: int = sock.getsockname()[1]
        self.server = uvicorn.Server(config)
        self._name = name
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"{name}-{self.port}",
        )

    @property
    def url(self) -> str:
        return url_of(self.scheme, self.host, self.port)

    def start(self, timeout: float = 20.0) -> ThreadedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.sock.close()
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0, *, grace: float = 1.0) -> None:
        """Stop serving: open requests get ``grace`` seconds, then uvicorn stops waiting.

        Without the forced exit an open event stream (a reception screen left open) or a
        keep-alive client would hold Ctrl-C for as long as ``timeout``.
        """
        self.server.should_exit = True
        self._thread.join(min(grace, timeout))
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(max(timeout - grace, 0.1))
        self.sock.close()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
