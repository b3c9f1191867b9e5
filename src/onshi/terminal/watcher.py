"""Filesystem events on ``req``: a file closed after writing, or renamed into the folder.

inotify (through watchdog) costs nothing while idle; the polling observer is only for folders
where inotify does not work (some network shares), chosen by setting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver


class _RequestHandler(FileSystemEventHandler):
    def __init__(self, on_request: Callable[[str], None], polling: bool) -> None:
        self._on_request = on_request
        self._polling = polling

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            path = str(event.dest_path)
        elif isinstance(event, FileClosedEvent) or (self._polling and isinstance(event, FileCreatedEvent)):
            # inotify: act on close-after-write, so a file still being written is never read.
            path = str(event.src_path)
        else:
            return
        name = Path(path).name
        if not name.startswith("."):
            self._on_request(name)


def watch(folder: Path, on_request: Callable[[str], None], *, polling: bool = False) -> BaseObserver:
    observer: BaseObserver = PollingObserver(timeout=0.5) if polling else Observer()
    observer.schedule(_RequestHandler(on_request, polling), str(folder), recursive=False)
    observer.daemon = True
    observer.start()
    return observer
