"""Parsing in other processes (parse_ahead): same records and problems, errors raised here, no
child left."""

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
from onshi.central.intake.insured_csv import InsuredCsv, parse_insured
from onshi.central.intake.insured_store import import_insured
from onshi.central.intake.parse_ahead import worth_a_process
from onshi.central.storage.database import Database

from .support import LIMIT, counts, csv_bytes, row


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


# A big file on disk is read in two halves by two processes (``parse_ahead.halves``).


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "insured.csv"
    path.write_bytes(data)
    return path


def _varied(count: int, **changes: str) -> list[dict[str, str]]:
    """Rows with limit certificates here and there (their lines tie them to their rows)."""
    return [row(n, **(LIMIT if n % 7 == 0 else {}), **changes) for n in range(1, count + 1)]


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("bom", [False, True])
def test_the_halves_hold_the_records_of_the_whole_file(
    tmp_path: Path, crlf: bool, bom: bool
) -> None:
    """Each record once, with its own line number in the whole file and the same values."""
    data = csv_bytes(_varied(60), bom=bom)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    path = _file(tmp_path, data)
    records, problems = parse_insured(io.BytesIO(data))
    assert not problems
    with path.open("rb") as f:
        found = parse_ahead.halves(f, minimum=1000)
        assert found is not None
        first, second = found
        assert first.end == second.start and first.start == 0 and second.end == len(data)
        assert 0 < second.start - len(data) // 2 < 400  # a line start past the middle
        read = []
        for half in found:
            parsed = InsuredCsv(parse_ahead._lines_of(f.fileno(), half), skipped=half.skipped)
            read += list(parsed.records())
            assert not parsed.problems
    assert read == records
    assert [r.line for r in read] == list(range(2, 62))


def test_a_file_read_in_halves_is_stored_as_one_read_whole(
    database: Database, tmp_path: Path, split: list[bool]
) -> None:
    path = _file(tmp_path, csv_bytes(_varied(60)))
    with path.open("rb") as f:
        assert import_insured(database, f, chunk_size=4) == ImportCounts(
            inserted=60, limit_certificates=8
        )
    # Again with changes on both sides of the middle: the merge of what is stored (a limit
    # certificate is not a change of the qualification).
    changed = _varied(60)
    changed[3]["Address"] = changed[50]["Address"] = "東京都新宿区本町9丁目"
    changed[47].update(LIMIT)
    path.write_bytes(csv_bytes(changed))
    with path.open("rb") as f:
        assert import_insured(database, f, chunk_size=4) == ImportCounts(
            updated=2, unchanged=58, limit_certificates=1
        )
    assert split == [True, True]
    with database.engine.connect() as c:
        stored = c.exec_driver_sql(
            'SELECT "InsuredIdentificationNumber", "Address" FROM qualification'
        ).all()
        limits = c.exec_driver_sql(
            'SELECT q."InsuredIdentificationNumber" FROM limit_application_certificate l '
            "JOIN qualification q ON q.id = l.qualification_id"
        ).scalars()
        assert sorted(limits) == sorted(str(5000 + n) for n in (7, 14, 21, 28, 35, 42, 48, 49, 56))
    assert {number for number, address in stored if "9丁目" in address} == {"5004", "5051"}
    assert len(stored) == 60
    assert not multiprocessing.active_children()


def _rejected(database: Database, path: Path) -> list[Any]:
    with path.open("rb") as f, pytest.raises(IntakeRejected) as caught:
        import_insured(database, f, chunk_size=4)
    assert set(counts(database).values()) == {0}
    assert not multiprocessing.active_children()
    return caught.value.problems


def test_problems_are_named_as_by_one_reading(
    database: Database, tmp_path: Path, split: list[bool]
) -> None:
    """A problem in either half, or across them: the file is read again from the start, which
    names every problem (both halves stop at their first)."""
    rows = _varied(60)
    rows[5]["Birthdate"] = "20230230"
    rows[45]["Sex1"] = "9"
    rows[50]["Sex1"] = "8"
    path = _file(tmp_path, csv_bytes(rows))
    problems = _rejected(database, path)
    assert [(p.line, p.column) for p in problems] == [(7, "Birthdate"), (47, "Sex1"), (52, "Sex1")]
    assert split == [True, False]


def test_a_card_key_in_both_halves_is_found(
    database: Database, tmp_path: Path, split: list[bool]
) -> None:
    """Found before the second is stored: the stores count on each card key coming once."""
    rows = _varied(60)
    rows[55]["InsuredIdentificationNumber"] = "5003"
    problems = _rejected(database, _file(tmp_path, csv_bytes(rows)))
    assert [(p.line, p.column) for p in problems] == [(57, "InsuredIdentificationNumber")]
    assert split == [True, False]


def test_an_insurer_named_one_way_in_each_half_is_found(
    database: Database, tmp_path: Path, split: list[bool]
) -> None:
    rows = _varied(60)
    path = _file(tmp_path, csv_bytes(rows))
    with path.open("rb") as f:
        found = parse_ahead.halves(f, minimum=1000)
    assert found is not None
    first = found[1].skipped  # the first row of the second half
    for changed in rows[first:]:
        changed["InsurerName"] = "全国健康保険協会大阪支部"  # as long: the same halves
    path.write_bytes(csv_bytes(rows))
    problems = _rejected(database, path)
    assert [(p.line, p.column) for p in problems] == [
        (i + 2, "InsurerName") for i in range(first, 60)
    ]
    assert split == [True, False]


def test_a_middle_inside_a_record_is_found(
    database: Database, tmp_path: Path, split: list[bool]
) -> None:
    """A quoted value over many lines holds the middle: the halves do not meet at a record
    boundary, and the reading from the start decides (no value may hold a line break)."""
    rows = _varied(40)
    rows[20]["Address"] = "東京都\n" * 400
    data = csv_bytes(rows)
    path = _file(tmp_path, data)
    with path.open("rb") as f:
        found = parse_ahead.halves(f, minimum=1000)
    assert found is not None
    inside = data.index(b'"\xe6\x9d\xb1')  # the quoted Address
    assert inside < found[1].start < data.index(b'"', inside + 1)
    problems = _rejected(database, path)
    assert [(p.line, p.column) for p in problems] == [(22, "Address")]
    assert split == [True, False]


def test_halves_only_where_they_can_be_read_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = csv_bytes(_varied(30))
    path = _file(tmp_path, data)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    with path.open("rb") as f:
        assert parse_ahead.halves(f, minimum=len(data)) is not None
        assert parse_ahead.halves(f, minimum=len(data) + 1) is None  # too small
        f.seek(len(data) // 2)
        assert parse_ahead.halves(f, minimum=len(data)) is None  # what is left counts
    assert parse_ahead.halves(io.BytesIO(data), minimum=1000) is None  # not a file on disk
    path.write_bytes(b'"InsurerNumber",' + data)
    with path.open("rb") as f:
        assert parse_ahead.halves(f, minimum=1000) is None  # a quoted header
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    path.write_bytes(data)
    with path.open("rb") as f:
        assert parse_ahead.halves(f, minimum=1000) is None  # one core
