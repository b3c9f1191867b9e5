"""Concurrent single inquiries answered together: the API's side of group answering.

An inquiry by card number costs the service little (one indexed read, one audit entry); what
costs is around it — round trips, hops between threads. Requests in flight at the same moment
are therefore answered as a group: what all of them need is read with one query of each kind,
their audit entries written in one statement, their handlers woken at once. Nobody waits for a
group to fill: whoever answers takes whatever has arrived since it last looked, so under light
load a group is one request and under heavy load it grows by itself (the same idea as group
commit).

Who answers: on SQLite the event loop itself (:class:`Batcher` with ``threads=0``: the
embedded database answers faster than a hop to a thread); on PostgreSQL the event loop too,
through an async driver (:class:`LoopBatcher`): a thread beside the loop took turns with it on
the interpreter lock around every round trip, which cost more than the work (measured:
docs/central/performance.md). Answering threads (:class:`Batcher` with threads) remain for
experiments.

Each request keeps its own answer: one question failing (an unregistered facility, a bug on one
record) is that request's refusal; the database failing fails the group it was in, each
request with the same error as it would have had alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Q = TypeVar("Q")
A = TypeVar("A")

MAX_GROUP = 64  # one query's worth of card keys; beyond it a group only waits longer


@dataclass(slots=True)
class _Waiting(Generic[Q, A]):
    question: Q
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[A] = field(repr=False)


class Batcher(Generic[Q, A]):
    """Answers questions with ``answer_many`` (a blocking call: in order, one answer or
    exception per question) on ``threads`` threads of its own, started on first use.

    With ``threads=0`` it answers on the event loop itself, for an embedded database whose
    answers take less than a hop to a thread costs: a request's question waits until the loop
    has run what else is ready — other requests reaching the same point — and those asked by
    then are answered as one group.
    """

    def __init__(
        self,
        answer_many: Callable[[Sequence[Q]], Sequence[A | BaseException]],
        *,
        threads: int = 1,
        name: str = "batcher",
    ) -> None:
        self._answer_many = answer_many
        self._threads_wanted = threads
        self._name = name
        self._queue: queue.SimpleQueue[_Waiting[Q, A] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # threads=0: per event loop, what was asked since its last group
        self._on_loop: dict[asyncio.AbstractEventLoop, list[_Waiting[Q, A]]] = {}

    async def answer(self, question: Q) -> A:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[A] = loop.create_future()
        waiting = _Waiting(question, loop, future)
        if self._threads_wanted == 0:
            pending = self._on_loop.setdefault(loop, [])
            pending.append(waiting)
            if len(pending) == 1:  # the first since the last group: answer them soon
                loop.call_soon(self._answer_on_loop, loop)
        else:
            if not self._threads:
                self._start()
            self._queue.put(waiting)
        return await future

    def _answer_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        pending = self._on_loop.pop(loop, [])
        for start in range(0, len(pending), MAX_GROUP):
            for settled in self._answers(pending[start : start + MAX_GROUP]).values():
                _settle(settled)

    def stop(self) -> None:
        """Let the threads finish the groups they hold, then end them."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(10)

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            for i in range(self._threads_wanted):
                thread = threading.Thread(target=self._run, name=f"{self._name}-{i}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:  # stop: answer what is held, then end
                    self._answer(group)
                    return
                group.append(more)
            self._answer(group)

    def _answer(self, group: list[_Waiting[Q, A]]) -> None:
        for loop, settled in self._answers(group).items():
            # A loop that has closed has nobody waiting on it any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)

    def _answers(
        self, group: list[_Waiting[Q, A]]
    ) -> dict[asyncio.AbstractEventLoop, list[tuple[_Waiting[Q, A], A | BaseException]]]:
        """The group's answers, by the event loop each request waits on."""
        try:
            answers: Sequence[A | BaseException] = self._answer_many([w.question for w in group])
            if len(answers) != len(group):
                raise RuntimeError(f"{len(answers)} answers to {len(group)} questions")
        except Exception as exc:  # noqa: BLE001 — the whole group's answer is this failure
            answers = [exc] * len(group)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiting[Q, A], A | BaseException]]]
        by_loop = {}
        for waiting, answer in zip(group, answers, strict=True):
            by_loop.setdefault(waiting.loop, []).append((waiting, answer))
        return by_loop


def _settle(settled: list[tuple[_Waiting[Q, A], A | BaseException]]) -> None:
    for waiting, answer in settled:
        if waiting.future.done():  # the request was cancelled (client went away)
            continue
        if isinstance(answer, BaseException):
            waiting.future.set_exception(answer)
        else:
            waiting.future.set_result(answer)


class LoopBatcher(Generic[Q, A]):
    """Answers questions with ``answer_many`` (a coroutine: in order, one answer or exception
    per question) on the event loop, one group at a time: the questions asked while a group is
    out (waiting on the database) are the next group."""

    def __init__(
        self, answer_many: Callable[[Sequence[Q]], Awaitable[Sequence[A | BaseException]]]
    ) -> None:
        self._answer_many = answer_many
        self._waiting: list[_Waiting[Q, A]] = []
        self._running: asyncio.Task[None] | None = None

    async def answer(self, question: Q) -> A:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[A] = loop.create_future()
        self._waiting.append(_Waiting(question, loop, future))
        if self._running is None:
            self._running = loop.create_task(self._answer_all())
        return await future

    async def _answer_all(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                try:
                    answers = await self._answer_many([w.question for w in group])
                    if len(answers) != len(group):
                        raise RuntimeError(f"{len(answers)} answers to {len(group)} questions")
                except Exception as exc:  # noqa: BLE001 — the whole group's answer is this failure
                    answers = [exc] * len(group)
                _settle(list(zip(group, answers, strict=True)))
        finally:
            self._running = None

    def stop(self) -> None:
        """Nothing to stop: a group out is finished by the loop (or cancelled with it)."""
