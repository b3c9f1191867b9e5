"""charon's session events (``ike-updown``, ``child-updown``) read on their own VICI session.

The listener only reads and queues: every command goes through the runner's session, so the
two never interleave on one socket.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .charon import VICI_ERRORS, close_vici, open_vici

logger = logging.getLogger(__name__)

EVENT_TYPES = ["ike-updown", "child-updown"]


@dataclass(frozen=True)
class RawEvent:
    """One event as charon sent it: ``kind`` ike-updown/child-updown, up or down, its SAs."""

    kind: str
    up: bool
    sas: dict[str, dict[str, Any]]  # connection name → SA


def parse_event(label: bytes | str, message: dict[str, Any]) -> RawEvent:
    kind = label.decode() if isinstance(label, bytes) else label
    up = message.get("up") in (b"yes", "yes")
    sas = {
        (k.decode() if isinstance(k, bytes) else k): v
        for k, v in message.items()
        if isinstance(v, dict)
    }
    return RawEvent(kind, up, sas)


class EventListener:
    """A thread that puts charon's up/down events on :attr:`queue`."""

    def __init__(self, vici_path: Path) -> None:
        self.vici_path = vici_path
        self.queue: queue.Queue[RawEvent] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vici-events", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            session = None
            try:
                session = open_vici(self.vici_path, timeout=None)
                stream = session.listen(EVENT_TYPES, timeout=0.25)
                self._ready.set()
                for label, message in stream:
                    if self._stop.is_set():
                        with contextlib.suppress(Exception):
                            stream.close()
                        break
                    if label is None:
                        continue
                    self.queue.put(parse_event(label, message))
            except VICI_ERRORS as exc:  # charon restarting: retry after a breath
                if not self._stop.is_set():
                    logger.warning("VICI event stream lost (%s); reconnecting", type(exc).__name__)
                    self._stop.wait(1.0)
            finally:
                if session is not None:
                    close_vici(session)
