"""A small in-process event bus: the agent publishes, the reception screen's streams listen.

Publishers are worker threads; listeners are asyncio tasks (server-sent events). Each listener
gets its own queue, fed thread-safely; a slow listener loses its oldest events, never blocks
the agent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import itertools
import threading
from collections.abc import AsyncIterator
from typing import Any

Event = dict[str, Any]
_CLOSED: Event = {}  # put in every queue by close(): the listener's stream ends


class EventBus:
    def __init__(self, history: int = 100, queue_size: int = 1000) -> None:
        self._lock = threading.Lock()
        self._recent: collections.deque[Event] = collections.deque(maxlen=history)
        self._listeners: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[Event]]] = set()
        self._ids = itertools.count(1)
        self._queue_size = queue_size
        self._closed = False

    def publish(self, kind: str, **data: Any) -> Event:
        event = {
            "id": next(self._ids),
            "kind": kind,
            "at": dt.datetime.now().isoformat(timespec="seconds"),
            **data,
        }
        with self._lock:
            self._recent.append(event)
            listeners = list(self._listeners)
        for loop, queue in listeners:
            try:
                loop.call_soon_threadsafe(_offer, queue, event)
            except RuntimeError:  # loop closed: the listener is gone
                with self._lock:
                    self._listeners.discard((loop, queue))
        return event

    def close(self) -> None:
        """End every listener's stream (shutdown): open screens must not hold the server up."""
        with self._lock:
            self._closed = True
            listeners = list(self._listeners)
        for loop, queue in listeners:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_offer, queue, _CLOSED)

    def recent(self) -> list[Event]:
        with self._lock:
            return list(self._recent)

    async def listen(self, *, replay: bool = True) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        entry = (loop, queue)
        with self._lock:
            if self._closed:
                return
            backlog = list(self._recent) if replay else []
            self._listeners.add(entry)
        try:
            for event in backlog:
                yield event
            while (event := await queue.get()) is not _CLOSED:
                yield event
        finally:
            with self._lock:
                self._listeners.discard(entry)


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)
