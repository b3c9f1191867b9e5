"""One charon (strongSwan's IKE daemon) process: started for a network namespace, stopped by PID.

charon writes its pid file to the fixed path ``/var/run/charon.pid``; to run several instances on
one machine (one per namespace in tests, or next to a system strongSwan) each gets a private
``/run``: a private mount namespace (``unshare -m --propagation private``) with a tmpfs there.
Its configuration comes from ``STRONGSWAN_CONF`` and its VICI socket lives in its own directory.
The systemd unit is never touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vici.exception import (
    CommandException,
    DeserializationException,
    EventUnknownException,
    SessionException,
)

from .config import CHARON_BINARY, CharonConfig, render_strongswan_conf
from .errors import CharonStartFailed

logger = logging.getLogger(__name__)

# What a VICI exchange can raise: charon refused, the socket went away, a garbled reply.
VICI_ERRORS = (
    CommandException,
    SessionException,
    DeserializationException,
    EventUnknownException,
    OSError,
)

START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class Charon:
    """A charon process. ``wrap`` prefixes the command (tests put ``ip netns exec NS`` there)."""

    def __init__(self, config: CharonConfig, *, wrap: Sequence[str] = ()) -> None:
        self.config = config
        self.wrap = tuple(wrap)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def vici_path(self) -> Path:
        return self.config.vici_path

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Write the configuration, start charon and wait until its VICI socket answers."""
        if self._process is not None:
            raise CharonStartFailed("this charon is already started")
        directory = self.config.directory
        directory.mkdir(parents=True, exist_ok=True)
        self.config.conf_path.write_text(render_strongswan_conf(self.config), encoding="utf-8")
        # A killed charon leaves its socket file: a stale file would make the wait below
        # return before the new charon listens.
        with contextlib.suppress(FileNotFoundError):
            self.vici_path.unlink()
        script = f"mount -t tmpfs tmpfs /run && exec {CHARON_BINARY}"
        command = [*self.wrap, "unshare", "-m", "--propagation", "private", "sh", "-c", script]
        env = dict(os.environ, STRONGSWAN_CONF=str(self.config.conf_path))
        stdout = (directory / "charon.stdout").open("ab")
        try:
            self._process = subprocess.Popen(
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise CharonStartFailed(f"cannot start charon: {exc.strerror}") from exc
        finally:
            stdout.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise CharonStartFailed(
                    f"charon exited with status {code} before opening its VICI socket "
                    f"(see {directory / 'charon.stdout'} and {self.config.log_path})"
                )
            if _socket_answers(self.vici_path):
                logger.info("charon started, pid %s, VICI %s", self._process.pid, self.vici_path)
                return
            time.sleep(0.02)
        self.stop()
        raise CharonStartFailed(f"charon did not open {self.vici_path} within {timeout:.0f} s")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM by PID, wait for the exit (charon takes ≈ 1.5 s), SIGKILL if it lingers."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("charon pid %s ignored SIGTERM; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(timeout)
        with contextlib.suppress(FileNotFoundError):
            self.vici_path.unlink()
        logger.info("charon pid %s stopped", process.pid)

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def session(self, timeout: float | None = 30.0) -> Any:
        """A new VICI session (``vici.Session``) on this instance's socket."""
        return open_vici(self.vici_path, timeout)

    @contextlib.contextmanager
    def connected(self) -> Iterator[Any]:
        session = self.session()
        try:
            yield session
        finally:
            close_vici(session)

    def __enter__(self) -> Charon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def open_vici(path: Path, timeout: float | None = 30.0) -> Any:
    """A ``vici.Session`` on a unix socket; imported here so the package loads without vici."""
    import vici  # the session class only; the package imports without a daemon around

    for attempt in range(50):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(str(path))
        except BlockingIOError:
            # charon's listen backlog is short: many sessions opened at once must wait.
            sock.close()
            time.sleep(0.01 * (attempt + 1))
            continue
        except OSError:
            sock.close()
            raise
        return vici.Session(sock)
    raise BlockingIOError(f"charon's VICI socket {path} kept refusing new sessions")


def close_vici(session: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        session.transport.socket.close()


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook: charon gets SIGTERM when the thread that started it ends, so a gateway
    that crashes leaves no charon holding UDP 500/4500 unsynchronised. The flag survives the
    execs of ``ip netns exec``, ``unshare`` and ``sh -c 'exec charon'`` (one process).

    libc is looked up here, in the parent: the child of a threaded process only calls prctl.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def _socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(str(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True
