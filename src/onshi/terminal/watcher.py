"""Filesystem events on ``req``: a file closed after writing, or renamed into the folder.

On Linux the agent asks inotify for exactly those two events (IN_CLOSE_WRITE, IN_MOVED_TO),
so a file still being written is never read and nothing costs CPU while idle; IN_CREATE is
watched too, for entries that are never "closed after writing" (a directory, a FIFO, a symbolic
link made in place), which the agent answers with an ``.err``. watchdog's own
inotify observer would do, but it holds every rename back half a second to pair its halves,
which would be most of the latency budget; its polling observer remains the fallback for
folders where inotify does not work (some network shares), chosen by setting.

The callback's failures are logged and the loop goes on; if the loop itself dies, ``alive()``
turns False and the agent's supervisor starts a new watcher (and rescans the folder).
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from stat import S_ISREG
from typing import Protocol

from inotify_simple import INotify
from inotify_simple import flags as inotify_flags
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.polling import PollingObserver

from onshi.logs import log_failure

log = logging.getLogger(__name__)
OnRequest = Callable[[str, bool], None]  # (name, created): created = IN_CREATE, not yet written


class Watcher(Protocol):
    def stop(self) -> None: ...

    def alive(self) -> bool: ...


def _deliver(on_request: OnRequest, name: str, created: bool) -> None:
    try:
        on_request(name, created)
    except Exception as exc:  # noqa: BLE001 — one bad entry must not stop the watching
        log_failure(log, "registering an entry of req failed", exc)


class InotifyWatcher:
    """A thread blocked on the inotify descriptor; ``stop`` wakes it through a pipe."""

    def __init__(self, folder: Path, on_request: OnRequest) -> None:
        self._inotify = INotify()
        self._inotify.add_watch(
            str(folder),
            inotify_flags.CLOSE_WRITE | inotify_flags.MOVED_TO | inotify_flags.CREATE,
        )
        self._on_request = on_request
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="onshi-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopping:
                for name, created in self._next_events():
                    _deliver(self._on_request, name, created)
        except Exception as exc:  # noqa: BLE001 — the supervisor restarts the watcher
            log_failure(log, "the req watcher stopped", exc)

    def _next_events(self) -> list[tuple[str, bool]]:
        """Block until something happens in ``req`` (or ``stop``); the names, oldest first."""
        ready, _, _ = select.select([self._inotify.fileno(), self._wake_read], [], [])
        if self._wake_read in ready:
            self._stopping = True
            return []
        return [
            (event.name, bool(event.mask & inotify_flags.CREATE))
            for event in self._inotify.read(timeout=0)
            if event.name and not event.name.startswith(".")
        ]

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stopping = True
        os.write(self._wake_write, b"x")
        self._thread.join(5)
        self._inotify.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


class _PollingHandler(FileSystemEventHandler):
    def __init__(self, seen: Callable[[str], None]) -> None:
        self._seen = seen

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("created", "moved", "modified"):
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        name = Path(str(path)).name
        if not name.startswith("."):
            self._seen(name)


class PollingWatcher:
    """watchdog's polling observer: for folders where inotify sees nothing (network shares).

    Polling cannot see a file being closed, so a file counts as written once its size and
    modification time have stayed the same for :attr:`settle` seconds.
    """

    settle = 1.0

    def __init__(self, folder: Path, on_request: OnRequest) -> None:
        self._folder = folder
        self._on_request = on_request
        self._candidates: dict[str, tuple[tuple[int, int], float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer = PollingObserver(timeout=0.5)
        self._observer.schedule(_PollingHandler(self._seen), str(folder), recursive=False)
        self._observer.daemon = True
        self._observer.start()
        self._thread = threading.Thread(target=self._settle, name="onshi-settle", daemon=True)
        self._thread.start()

    def _seen(self, name: str) -> None:
        with self._lock:
            self._candidates.setdefault(name, ((-1, -1), 0.0))

    def _settle(self) -> None:
        while not self._stop.wait(0.25):
            now = time.monotonic()
            ready = []
            with self._lock:
                for name, (signature, since) in list(self._candidates.items()):
                    try:
                        stat = (self._folder / name).lstat()
                    except FileNotFoundError:
                        del self._candidates[name]
                        continue
                    if not S_ISREG(stat.st_mode):  # never written: report it at once
                        del self._candidates[name]
                        ready.append(name)
                        continue
                    current = (stat.st_size, stat.st_mtime_ns)
                    if current != signature:
                        self._candidates[name] = (current, now)
                    elif now - since >= self.settle:
                        del self._candidates[name]
                        ready.append(name)
            for name in ready:
                _deliver(self._on_request, name, False)

    def alive(self) -> bool:
        return self._thread.is_alive() and self._observer.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._observer.stop()
        self._observer.join(5)


def watch(folder: Path, on_request: OnRequest, *, polling: bool = False) -> Watcher:
    return PollingWatcher(folder, on_request) if polling else InotifyWatcher(folder, on_request)
