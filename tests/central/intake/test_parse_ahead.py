"""Parsing in a second process (parse_ahead): same problems, errors raised here, no child left."""

from __future__ import annotations

import io
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from onshi.central.errors import IntakeRejected
from onshi.central.intake import insured_store, parse_ahead
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.intake.parse_ahead import worth_a_process
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row


def _bad_file() -> bytes:
    rows = [row(n) for n in range(1, 41)]
    rows[5] = row(6, Birthdate="20230230")
    rows[30] = row(31, Sex1="9", NameKana="山田")
    rows[35] = row(2)  # the card key of line 3
    return csv_bytes(rows)


def test_problems_found_by_the_child_are_the_same(database: Database) -> None:
    found = []
    for ahead in (False, True):
        with pytest.raises(IntakeRejected) as caught:
            import_insured(database, io.BytesIO(_bad_file()), chunk_size=4, parse_ahead=ahead)
        found.append(caught.value.problems)
    assert found[0] == found[1]
    assert [(p.line, p.column) for p in found[1]] == [
        (7, "Birthdate"),
        (32, "NameKana"),
        (32, "Sex1"),
        (37, "InsuredIdentificationNumber"),
    ]
    assert set(counts(database).values()) == {0}
    assert not multiprocessing.active_children()


class _FailingStream(io.BytesIO):
    """A file whose reading fails after its first lines (a disk or network error)."""

    def __iter__(self) -> Any:
        for n, line in enumerate(self.getvalue().splitlines(keepends=True)):
            if n == 30:
                raise OSError(5, "Input/output error")
            yield line


def test_a_read_error_in_the_child_is_raised_here(database: Database) -> None:
    stream = _FailingStream(csv_bytes([row(n) for n in range(1, 100)]))
    with pytest.raises(OSError, match="Input/output error"):
        import_insured(database, stream, chunk_size=4, parse_ahead=True)
    assert set(counts(database).values()) == {0}
    assert not multiprocessing.active_children()


def test_a_failing_write_stops_the_child(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is still parsing (far ahead of a store that failed): it is stopped, not left."""
    sent: list[int] = []

    def failing(self: Any, chunk: Any) -> None:
        sent.append(1)
        if len(sent) == 2:
            raise RuntimeError("the database went away")
        original(self, chunk)

    store = (
        insured_store.PostgresMerge
        if database.engine.dialect.name == "postgresql"
        else (insured_store.SqliteStore)
    )
    original = store.send
    monkeypatch.setattr(store, "send", failing)
    data = csv_bytes([row(n) for n in range(1, 3000)])
    try:
        import_insured(database, io.BytesIO(data), chunk_size=2, parse_ahead=True)
    except RuntimeError as exc:
        assert "went away" in str(exc)
        # checked while the traceback (and the import's frame) is alive: stopped explicitly
        assert not multiprocessing.active_children()
    else:
        pytest.fail("the import did not fail")
    assert set(counts(database).values()) == {0}
    monkeypatch.undo()
    assert import_insured(database, io.BytesIO(data), parse_ahead=True) == ImportCounts(
        inserted=2999
    )


def test_a_process_only_for_big_files_of_known_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_ahead, "PARSE_AHEAD_BYTES", 1000)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # pytest's own threads aside
    small, big = csv_bytes([row(1)]), csv_bytes([row(n) for n in range(1, 20)])
    assert len(small) < 1000 < len(big)
    assert not worth_a_process(io.BytesIO(small))
    assert worth_a_process(io.BytesIO(big))
    path = tmp_path / "insured.csv"
    path.write_bytes(big)
    with path.open("rb") as f:
        assert worth_a_process(f)
        f.seek(len(big) - 10)
        assert not worth_a_process(f)  # what is left to read counts
    read, write = os.pipe()
    with os.fdopen(read, "rb") as pipe, os.fdopen(write, "wb"):
        assert not worth_a_process(pipe)  # size unknown


def test_no_process_is_forked_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies the locks other threads hold (a server's), never to be released."""
    monkeypatch.setattr(parse_ahead, "PARSE_AHEAD_BYTES", 1000)
    big = csv_bytes([row(n) for n in range(1, 20)])
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert worth_a_process(io.BytesIO(big))
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not worth_a_process(io.BytesIO(big))


def test_big_files_are_parsed_ahead_by_default(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    original = parse_ahead.ParsedChunks.__init__

    def spy(self: Any, *args: Any, ahead: bool, **kwargs: Any) -> None:
        seen.append(ahead)
        original(self, *args, ahead=ahead, **kwargs)

    monkeypatch.setattr(parse_ahead.ParsedChunks, "__init__", spy)
    monkeypatch.setattr(parse_ahead, "PARSE_AHEAD_BYTES", 1000)
    rows = [row(n) for n in range(1, 20)]
    assert import_insured(database, io.BytesIO(csv_bytes(rows))) == ImportCounts(inserted=19)
    assert import_insured(database, io.BytesIO(csv_bytes(rows[:1]))) == ImportCounts(unchanged=1)
    assert seen == [True, False]
