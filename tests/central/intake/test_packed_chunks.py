"""A first load into SQLite parsed in other processes: chunks packed there as small databases,
copied in by set-based SQL (``intake/sqlite_chunks.py``), store what the row-by-row path stores."""

from __future__ import annotations

import io
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from onshi.central.errors import ImportFailed, IntakeRejected
from onshi.central.intake import sqlite_chunks
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database
from tests.databases import sqlite_copy

from .support import LIMIT, counts, csv_bytes, next_file, population, row, stored


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of each chunk copied from a packed database."""
    seen: list[int] = []
    original = sqlite_chunks.ChunkCopier.copy

    def spy(self: sqlite_chunks.ChunkCopier, chunk: sqlite_chunks.PackedChunk) -> int:
        seen.append(chunk.rows)
        return original(self, chunk)

    monkeypatch.setattr(sqlite_chunks.ChunkCopier, "copy", spy)
    return seen


def _import(
    database: Database, rows: list[dict[str, str]], chunk_size: int, path: Path | None
) -> ImportCounts:
    if path is None:  # parsed here, stored row by row
        return import_insured(
            database, io.BytesIO(csv_bytes(rows)), chunk_size=chunk_size, parse_ahead=False
        )
    path.write_bytes(csv_bytes(rows))
    with path.open("rb") as f:  # a file on disk: in halves with the ``split`` fixture
        return import_insured(database, f, chunk_size=chunk_size, parse_ahead=True)


def _as_stored(database: Database) -> list[list[tuple[object, ...]]]:
    """Every value as SQLite holds it (dates as text), but ids and the import's time."""
    with database.engine.connect() as c:
        qualifications = c.exec_driver_sql("SELECT * FROM qualification").all()
        limits = c.exec_driver_sql(
            'SELECT q."InsuredIdentificationNumber", l.* FROM limit_application_certificate l '
            "JOIN qualification q ON q.id = l.qualification_id"
        ).all()
    return [
        sorted(tuple(r[2:-1]) for r in qualifications),  # not id, individual_id, updated_at
        sorted((r[0], *r[3:]) for r in limits),  # the card's number, not the two ids
    ]


def _attached(database: Database) -> list[str]:
    """The schemas of the pooled connection (the engine keeps the one the import used)."""
    with database.engine.connect() as c:
        return [r[1] for r in c.exec_driver_sql("PRAGMA database_list")]


@pytest.mark.parametrize("halves", [False, True])
@pytest.mark.parametrize(("seed", "chunk_size"), [(1, 7), (2, 1), (3, 5000)])
def test_a_packed_first_load_stores_what_row_by_row_stores(
    sqlite_template: Path,
    tmp_path: Path,
    copied: list[int],
    request: pytest.FixtureRequest,
    halves: bool,
    seed: int,
    chunk_size: int,
) -> None:
    """Individuals (named, unnamed, named in several chunks or both halves), insurers, limit
    certificates; then the next file, merged the ordinary way, on top of either."""
    readings = request.getfixturevalue("split") if halves else None
    first = population(seed, 80)
    second = next_file(seed, first)
    states = []
    for packed in (False, True):
        folder = tmp_path / str(packed)
        folder.mkdir()
        database = Database(sqlite_copy(sqlite_template, folder))
        path = folder / "insured.csv" if packed else None
        got = [_import(database, rows, chunk_size, path) for rows in (first, second)]
        states.append((got, stored(database), _as_stored(database)))
        assert "intake_chunk" not in _attached(database)
        database.dispose()
    assert states[1] == states[0]
    assert sum(copied) == len(first)  # the first load only; the next file is merged row by row
    assert max(copied) <= chunk_size
    assert readings in (None, [False, False, True, True])  # each packed import read in halves
    (inserted, _), *_ = states[1]
    assert inserted.limit_certificates > 0
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("chunk_size", [2, 5000])
def test_a_packed_first_load_joins_individuals_already_named(
    sqlite_url: str, tmp_path: Path, copied: list[int], chunk_size: int
) -> None:
    database = Database(sqlite_url)
    try:
        with database.engine.begin() as c:
            c.execute(text("INSERT INTO individual (external_id) VALUES ('kept'), ('other')"))
        rows = [
            row(1, IndividualId="kept"),
            row(2),
            row(3, IndividualId="new"),
            row(4, IndividualId="kept", **LIMIT),
        ]
        path = tmp_path / "insured.csv"
        path.write_bytes(csv_bytes(rows))
        with path.open("rb") as f:
            got = import_insured(database, f, chunk_size=chunk_size, parse_ahead=True)
        assert got == ImportCounts(inserted=4, limit_certificates=1)
        assert copied
        state = stored(database)
        assert state["people"] == [["5001", "5004"], ["5002"], ["5003"]]
        assert state["counts"]["individual"] == 4  # "kept", "other", card 2's and "new"
    finally:
        database.dispose()


def test_a_failing_copy_stores_nothing_and_leaves_the_connection_clean(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copied: list[int]
) -> None:
    """The third chunk's copy fails: the two before are rolled back with it, the in-memory
    schema is detached, and the same file then imports."""
    original = sqlite_chunks.ChunkCopier.copy  # the spy of ``copied``

    def failing(self: sqlite_chunks.ChunkCopier, chunk: sqlite_chunks.PackedChunk) -> int:
        if len(copied) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return original(self, chunk)

    monkeypatch.setattr(sqlite_chunks.ChunkCopier, "copy", failing)
    database = Database(sqlite_url)
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(n) for n in range(1, 11)]))
    try:
        with path.open("rb") as f, pytest.raises(ImportFailed, match="disk I/O error"):
            import_insured(database, f, chunk_size=3, parse_ahead=True)
        assert set(counts(database).values()) == {0}
        assert "intake_chunk" not in _attached(database)
        monkeypatch.setattr(sqlite_chunks.ChunkCopier, "copy", original)
        with path.open("rb") as f:
            assert import_insured(database, f, chunk_size=3, parse_ahead=True) == ImportCounts(
                inserted=10
            )
        assert "intake_chunk" not in _attached(database)
    finally:
        database.dispose()


def test_a_refused_file_after_packed_chunks_stores_nothing(
    sqlite_url: str, tmp_path: Path, copied: list[int]
) -> None:
    rows = [row(n) for n in range(1, 11)]
    rows[8] = row(9, Birthdate="20230230")
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes(rows))
    database = Database(sqlite_url)
    try:
        with path.open("rb") as f, pytest.raises(IntakeRejected):
            import_insured(database, f, chunk_size=2, parse_ahead=True)
        assert copied == [2, 2, 2, 2]  # stored, then rolled back
        assert set(counts(database).values()) == {0}
        assert "intake_chunk" not in _attached(database)
    finally:
        database.dispose()
