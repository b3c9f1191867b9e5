"""Running the API under mutual TLS with uvicorn, and handing the client certificate to the app.

uvicorn verifies client certificates (the ``ssl.SSLContext`` from
:func:`onshi.pki.server_ssl_context` requires one from the facility CA) but does not put the
peer certificate in the ASGI scope. :class:`onshi.pki.asgi.ClientCertificateHttpToolsProtocol` —
uvicorn's httptools protocol, one instance per connection — reads it from the TLS transport once the
handshake is done and wraps that connection's app, so every request's scope carries
``scope["extensions"]["tls"]["client_cert_der"]``; :mod:`onshi.central.api.identity` reads it
there. The protocol lives with the PKI so other onshi services can reuse it.

``BackgroundServer`` runs the same thing in a thread on a port of its own (port 0 picks a
free one), for tests, benchmarks and the demo; ``serve_forever`` runs it in the foreground;
``serve_workers`` runs it in N processes that accept on one socket (pre-fork): each worker
builds its own app (and database pool) after the fork, mutual TLS as above.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from onshi.logs import log_failure
from onshi.pki import server_ssl_context
from onshi.pki.asgi import ClientCertificateHttpToolsProtocol
from onshi.web import ThreadedServer, bind, serve_in_foreground


@dataclass(frozen=True)
class ServerTls:
    """The server's certificate and key, and the CA whose certificates clients must present."""

    cert_path: Path
    key_path: Path
    client_ca_path: Path

    def context(self) -> ssl.SSLContext:
        return server_ssl_context(self.cert_path, self.key_path, self.client_ca_path)


def uvicorn_config(
    app: Any, tls: ServerTls, *, log_level: str = "warning", grace: int | None = None
) -> uvicorn.Config:
    """``grace``: seconds open connections get once a stop is asked for (None: until closed)."""
    context = tls.context()
    return uvicorn.Config(
        app,
        # llhttp (C) and libuv: a third of the server's CPU per request less than h11 on
        # asyncio, on both endpoints of bench/bench_http.py.
        http=ClientCertificateHttpToolsProtocol,
        loop="auto",  # uvloop where it is installed (a dependency on Linux), else asyncio
        ssl_context_factory=lambda _config, _default: context,
        lifespan="on",
        access_log=False,  # EdgeMiddleware writes the one (personal-data free) line per request
        log_level=log_level,
        server_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=grace,
    )


def serve_forever(
    app: Any,
    tls: ServerTls,
    sock: socket.socket,
    *,
    log_level: str = "info",
    grace: int | None = None,
) -> None:
    """Serve on ``sock`` over mutual TLS in the foreground until Ctrl-C / SIGTERM, then return
    normally (:func:`onshi.web.serve_in_foreground`)."""
    serve_in_foreground(uvicorn_config(app, tls, log_level=log_level, grace=grace), sock)


log = logging.getLogger(__name__)


def serve_workers(
    make_app: Callable[[], Any],
    tls: ServerTls,
    sock: socket.socket,
    *,
    workers: int,
    log_level: str = "info",
    grace: int = 3,
    stop_timeout: float = 20.0,
) -> int:
    """Serve in ``workers`` forked processes sharing ``sock``; return the exit status (0: stopped).

    Each worker calls ``make_app`` after the fork, so no database connection, thread or event
    loop crosses a process boundary. SIGINT/SIGTERM stop every worker: open connections get
    ``grace`` seconds (idle keep-alive TLS connections of terminal agents would otherwise hold
    a worker until each TLS shutdown times out), then the app shuts down (its bulk worker
    stops); a worker still alive ``stop_timeout`` seconds later is killed. A worker
    that dies on its own stops the rest and the status is 1: restarting belongs to the
    operator's supervisor (systemd), which sees the failure.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def stop(_signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(children, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in _STOP_SIGNALS}
    status = 0
    sys.stdout.flush()  # a forked child must not print the parent's buffered lines again
    sys.stderr.flush()
    try:
        for number in range(workers):
            # Blocked across the fork: a Ctrl-C now reaches the parent once the child is listed,
            # and never runs the parent's handler inside the child.
            signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
            pid = os.fork()
            if pid == 0:  # pragma: no cover — runs in the child, measured by the worker tests
                _worker(make_app, tls, sock, log_level, grace)
            children[pid] = number
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        stopped_at = last_sent = 0.0
        while children:
            pid, code = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                if stopping:
                    stopped_at = stopped_at or now
                    if now - last_sent > 1.0:  # again: a worker still starting ignored the first
                        last_sent = now
                        _signal_all(children, signal.SIGTERM)
                    if now - stopped_at > stop_timeout:
                        _signal_all(children, signal.SIGKILL)
                time.sleep(0.05)
                continue
            number = children.pop(pid)
            if not stopping:
                log.error(
                    "worker %d (pid %d) exited with status %d; stopping the others",
                    number,
                    pid,
                    os.waitstatus_to_exitcode(code),
                )
                status = 1
                stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _signal_all(children: dict[int, int], sig: signal.Signals) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _worker(
    make_app: Callable[[], Any], tls: ServerTls, sock: socket.socket, log_level: str, grace: int
) -> None:
    """The body of one forked worker; never returns (``os._exit`` skips the parent's cleanup)."""
    code = 0
    try:
        # uvicorn handles both while serving, then re-raises the one it caught with the handler
        # it found: ignored, that is a clean return, not death by signal or a traceback.
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        serve_forever(make_app(), tls, sock, log_level=log_level, grace=grace)
    except BaseException as exc:  # noqa: BLE001 — a worker reports and exits, whatever it was
        log_failure(log, "worker failed", exc)
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


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
