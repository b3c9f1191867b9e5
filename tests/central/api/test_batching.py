"""api.batching.Batcher: requests in flight together are answered as one group, each with its own
answer; a failing group fails each of its requests, never another group."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from onshi.central.api.batching import MAX_GROUP, Batcher, LoopBatcher


class Gate:
    """answer_many that holds its first group until released, and records every group."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, questions: Sequence[int]) -> list[int | BaseException]:
        self.groups.append(list(questions))
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(10)
        return [ValueError(q) if q < 0 else q * 10 for q in questions]


async def _gather(batcher: Batcher[int, int], questions: list[int]) -> list[object]:
    return await asyncio.gather(*(batcher.answer(q) for q in questions), return_exceptions=True)


def test_requests_arriving_while_a_group_is_answered_form_the_next_group() -> None:
    gate = Gate()
    batcher = Batcher(gate, threads=1)

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(batcher.answer(1))
        await asyncio.to_thread(gate.entered.wait, 10)
        rest = asyncio.ensure_future(_gather(batcher, [2, -3, 4, 5]))
        await asyncio.sleep(0.05)  # all four are queued behind the held group
        gate.release.set()
        return [await first, *(await rest)]

    try:
        answers = asyncio.run(scenario())
    finally:
        batcher.stop()
    assert gate.groups == [[1], [2, -3, 4, 5]]
    assert answers[:2] == [10, 20] and answers[3:] == [40, 50]
    assert isinstance(answers[2], ValueError)  # that request's own refusal only


def test_a_group_that_fails_fails_each_of_its_requests_and_the_next_group_is_answered() -> None:
    calls: list[list[int]] = []

    def answer_many(questions: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(questions))
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return [q for q in questions]

    batcher = Batcher(answer_many, threads=1)
    try:
        failed = asyncio.run(_gather(batcher, [1]))
        answered = asyncio.run(_gather(batcher, [2, 3]))
    finally:
        batcher.stop()
    assert isinstance(failed[0], ConnectionError)
    assert answered == [2, 3]


def test_a_wrong_number_of_answers_is_an_error_not_a_misdelivery() -> None:
    gate = threading.Event()

    def held(questions: Sequence[int]) -> list[int | BaseException]:
        gate.wait(10)
        return [1]  # one answer, whatever the group

    batcher = Batcher(held, threads=1)

    async def scenario() -> list[object]:
        pending = asyncio.ensure_future(_gather(batcher, [1, 2, 3]))
        await asyncio.sleep(0.05)
        gate.set()
        return await pending

    try:
        answers = asyncio.run(scenario())
    finally:
        batcher.stop()
    # The first request may have been a group of its own (one answer is right for it).
    assert answers[0] == 1 or isinstance(answers[0], RuntimeError)
    assert all(isinstance(a, RuntimeError) for a in answers[1:])


def test_groups_are_bounded() -> None:
    gate = Gate()
    batcher = Batcher(gate, threads=1)

    async def scenario() -> None:
        first = asyncio.ensure_future(batcher.answer(0))
        await asyncio.to_thread(gate.entered.wait, 10)
        rest = asyncio.ensure_future(_gather(batcher, list(range(1, 2 * MAX_GROUP + 1))))
        await asyncio.sleep(0.05)
        gate.release.set()
        await first
        await rest

    try:
        asyncio.run(scenario())
    finally:
        batcher.stop()
    assert [len(g) for g in gate.groups] == [1, MAX_GROUP, MAX_GROUP]


def test_a_request_cancelled_while_waiting_does_not_disturb_the_rest() -> None:
    gate = Gate()
    batcher = Batcher(gate, threads=1)

    async def scenario() -> tuple[object, object]:
        first = asyncio.ensure_future(batcher.answer(1))
        await asyncio.to_thread(gate.entered.wait, 10)
        gone = asyncio.ensure_future(batcher.answer(2))
        kept = asyncio.ensure_future(batcher.answer(3))
        await asyncio.sleep(0.05)
        gone.cancel()  # the client went away
        gate.release.set()
        return await first, await kept

    try:
        assert asyncio.run(scenario()) == (10, 30)
    finally:
        batcher.stop()


def test_stop_ends_the_threads() -> None:
    batcher = Batcher(lambda questions: list(questions), threads=2, name="test-batcher")
    assert asyncio.run(_gather(batcher, [1, 2])) == [1, 2]
    batcher.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("test-batcher")]


@pytest.mark.parametrize("threads", [1, 3])
def test_many_requests_on_several_threads_each_get_their_own_answer(threads: int) -> None:
    batcher = Batcher(lambda questions: [q * 2 for q in questions], threads=threads)
    try:
        answers = asyncio.run(_gather(batcher, list(range(1000))))
    finally:
        batcher.stop()
    assert answers == [q * 2 for q in range(1000)]


def test_on_the_event_loop_requests_reaching_it_together_are_one_group() -> None:
    """threads=0 (an embedded database): the group is what was asked before the loop came round."""
    groups: list[list[int]] = []

    def answer_many(questions: Sequence[int]) -> list[int | BaseException]:
        groups.append(list(questions))
        assert threading.current_thread() is threading.main_thread()  # on the loop itself
        return [ValueError(q) if q < 0 else q * 10 for q in questions]

    batcher = Batcher(answer_many, threads=0)

    async def scenario() -> tuple[list[object], list[object]]:
        together = await _gather(batcher, [1, -2, 3])
        alone = await _gather(batcher, [4])
        return together, alone

    together, alone = asyncio.run(scenario())
    assert groups == [[1, -2, 3], [4]]
    assert together[0] == 10 and together[2] == 30 and isinstance(together[1], ValueError)
    assert alone == [40]
    assert not [t for t in threading.enumerate() if t.name.startswith("batcher")]


def test_on_the_event_loop_groups_are_bounded_and_a_failure_stays_in_its_group() -> None:
    groups: list[int] = []

    def answer_many(questions: Sequence[int]) -> list[int | BaseException]:
        groups.append(len(questions))
        if len(groups) == 1:
            raise ConnectionError("the database went away")
        return list(questions)

    batcher = Batcher(answer_many, threads=0)
    answers = asyncio.run(_gather(batcher, list(range(MAX_GROUP + 5))))
    assert groups == [MAX_GROUP, 5]
    assert all(isinstance(a, ConnectionError) for a in answers[:MAX_GROUP])
    assert answers[MAX_GROUP:] == list(range(MAX_GROUP, MAX_GROUP + 5))


# -- LoopBatcher: the groups of the async path (PostgreSQL) -----------------------------------------


def test_on_the_loop_questions_asked_while_a_group_is_out_are_the_next_group() -> None:
    groups: list[list[int]] = []
    released = asyncio.Event()

    async def answer_many(questions: Sequence[int]) -> list[int | BaseException]:
        groups.append(list(questions))
        if len(groups) == 1:
            await released.wait()  # the first group waits on "the database"
        if len(groups) == 2:
            raise ConnectionError("the database went away")
        return [ValueError(q) if q < 0 else q * 10 for q in questions]

    batcher: LoopBatcher[int, int] = LoopBatcher(answer_many)

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(batcher.answer(1))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(_gather_on_loop(batcher, [2, 3]))
        await asyncio.sleep(0.01)
        released.set()
        answered = [await first, *(await second)]
        # The group after a failed one is answered; one refusal stays that request's.
        return answered + await _gather_on_loop(batcher, [-4, 5, *range(6, 6 + MAX_GROUP)])

    answers = asyncio.run(scenario())
    assert groups[:3] == [[1], [2, 3], [-4, 5, *range(6, 6 + MAX_GROUP - 2)]]
    assert [len(g) for g in groups[2:]] == [MAX_GROUP, 2]
    assert answers[0] == 10 and all(isinstance(a, ConnectionError) for a in answers[1:3])
    assert isinstance(answers[3], ValueError) and answers[4:] == [q * 10 for q in range(5, 70)]


async def _gather_on_loop(batcher: LoopBatcher[int, int], questions: list[int]) -> list[object]:
    return await asyncio.gather(*(batcher.answer(q) for q in questions), return_exceptions=True)
