"""Filesystem events on ``req``: a file closed after writing, or renamed into the folder.

On Linux the agent asks inotify for exactly those two events (IN_CLOSE_WRITE, IN_MOVED_TO),
so a file still being written is never read and nothing costs CPU while idle. watchdog's own
inotify observer would do, but it holds every rename back half a second to pair its halves,
which would be most of the latency budget; its polling observer remains the fallback for
folders where inotify does not work (some network shares), chosen by setting.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from inotify_simple import INotify
from inotify_simple import flags as inotify_flags
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.polling import PollingObserver


class Watcher(Protocol):
    def stop(self) -> None: ...


class InotifyWatcher:
    """A thread blocked on the inotify descriptor; ``stop`` wakes it through a pipe."""

    def __init__(self, folder: Path, on_request: Callable[[str], None]) -> None:
        self._inotify = INotify()
        self._inotify.add_watch(str(folder), inotify_flags.CLOSE_WRITE | inotify_flags.MOVED_TO)
        self._on_request = on_request
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="onshi-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._inotify.fileno(), self._wake_read], [], [])
            if self._wake_read in ready:
                return
            for event in self._inotify.read(timeout=0):
                if event.name and not event.name.startswith("."):
                    self._on_request(event.name)

    def stop(self) -> None:
        os.write(self._wake_write, b"x")
        self._thread.join(5)
        self._inotify.close()
        os.close(self._wake_read)
        os.close(self._wake_write)


class _PollingHandler(FileSystemEventHandler):
    def __init__(self, seen: Callable[[str], None]) -> None:
        self._seen = seen

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("created", "moved", "modified"):
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

    def __init__(self, folder: Path, on_request: Callable[[str], None]) -> None:
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
                        stat = (self._folder / name).stat()
                    except FileNotFoundError:
                        del self._candidates[name]
                        continue
                    current = (stat.st_size, stat.st_mtime_ns)
                    if current != signature:
                        self._candidates[name] = (current, now)
                    elif now - since >= self.settle:
                        del self._candidates[name]
                        ready.append(name)
            for name in ready:
                self._on_request(name)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._observer.stop()
        self._observer.join(5)


def watch(folder: Path, on_request: Callable[[str], None], *, polling: bool = False) -> Watcher:
    return PollingWatcher(folder, on_request) if polling else InotifyWatcher(folder, on_request)
