"""The intake parses ahead in a thread of its own; failures and early stops behave as inline."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from onshi.central.intake.insured_store import read_ahead


def test_chunks_arrive_in_order() -> None:
    chunks = [[i] for i in range(50)]
    assert list(read_ahead(iter(chunks))) == chunks  # type: ignore[arg-type]


def test_a_parse_failure_is_raised_in_the_caller() -> None:
    def failing() -> Iterator[list[int]]:
        yield [1]
        raise UnicodeError("bad bytes")

    got = []
    with pytest.raises(UnicodeError, match="bad bytes"):
        for chunk in read_ahead(failing()):  # type: ignore[arg-type]
            got.append(chunk)
    assert got == [[1]]


def test_a_caller_that_stops_early_stops_the_reader() -> None:
    produced = []

    def endless() -> Iterator[list[int]]:
        n = 0
        while True:
            produced.append(n)
            yield [n]
            n += 1

    before = threading.active_count()
    with pytest.raises(RuntimeError):
        for _chunk in read_ahead(endless(), depth=2):  # type: ignore[arg-type]
            raise RuntimeError("the write failed")
    assert threading.active_count() == before  # the reader thread has ended
    assert len(produced) <= 5  # it read at most a few chunks ahead
