"""The set-based import on PostgreSQL stores what the row-by-row import on SQLite stores.

PostgreSQL merges each chunk in SQL (staging table, pipeline mode) and, on a first load into an
empty ``qualification`` table, drops and re-creates that table's checks; SQLite decides row by
row in Python. These tests hold the two to the same result, across chunk boundaries too.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from onshi.central.errors import IntakeRejected
from onshi.central.intake import insured_store
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import PostgresMerge, import_insured
from onshi.central.storage.database import Database
from tests.conftest import TEMPLATE
from tests.databases import clone_postgres, sqlite_copy

from .support import LIMIT, counts, csv_bytes, next_file, population, row, stored


def load(
    database: Database,
    rows: list[dict[str, str]],
    chunk_size: int = 5000,
    *,
    parse_ahead: bool | None = None,
) -> ImportCounts:
    return import_insured(
        database, io.BytesIO(csv_bytes(rows)), chunk_size=chunk_size, parse_ahead=parse_ahead
    )


def _imports(url: str, files: list[list[dict[str, str]]], *, parse_ahead: bool) -> Any:
    database = Database(url)
    try:
        sizes = (7, 5, 11)
        got = [
            load(database, rows, chunk_size=size, parse_ahead=parse_ahead)
            for rows, size in zip(files, sizes, strict=True)
        ]
        return got, stored(database)
    finally:
        database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_databases_store_the_same(
    sqlite_template: Path,
    postgres_template: str,
    tmp_path: Path,
    seed: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On either database, parsing in a second process (parse_ahead) or in this one."""
    # The earlier states of changed rows in pages of 4: several pages per re-import.
    monkeypatch.setattr(insured_store, "_HISTORY_PAGE", 4)
    first = population(seed, 60)
    second = next_file(seed, first)
    files = [first, second, second]
    results = []
    for ahead in (False, True):
        folder = tmp_path / str(ahead)
        folder.mkdir()
        results.append(_imports(sqlite_copy(sqlite_template, folder), files, parse_ahead=ahead))
        with clone_postgres(postgres_template, TEMPLATE, "t_") as url:
            results.append(_imports(url, files, parse_ahead=ahead))
    (sqlite_counts, sqlite_state), *others = results
    assert len(others) == 3
    for got, state in others:
        assert got == sqlite_counts
        assert state == sqlite_state
    assert sqlite_counts[1].updated > 0 and sqlite_counts[1].inserted == 8
    assert sqlite_counts[2] == ImportCounts(unchanged=len(second))


@pytest.mark.parametrize("chunk_size", [1, 2, 5000])
def test_the_first_row_naming_a_person_decides(database: Database, chunk_size: int) -> None:
    load(database, [row(1), row(2)])  # two people, neither named yet
    # Card 1's new row names its holder: the individual is adopted (named), not replaced; card
    # 3, new, joins that person. Card 2 is named only after a new card took the name: it joins.
    second = [
        row(1, IndividualId="named", Address="変更"),
        row(3, IndividualId="named"),
        row(4, IndividualId="late"),
        row(2, IndividualId="late", Address="変更"),
    ]
    assert load(database, second, chunk_size=chunk_size) == ImportCounts(inserted=2, updated=2)
    state = stored(database)
    assert state["people"] == [["5001", "5003"], ["5002", "5004"]]
    assert state["counts"]["individual"] == 3  # card 2's first individual is left without cards


@pytest.mark.parametrize("chunk_size", [1, 3])
def test_rows_without_individual_id_across_chunks(database: Database, chunk_size: int) -> None:
    rows = [row(n) for n in range(1, 6)] + [row(6, IndividualId="p"), row(7, IndividualId="p")]
    assert load(database, rows, chunk_size=chunk_size) == ImportCounts(inserted=7)
    assert stored(database)["people"] == [
        ["5001"],
        ["5002"],
        ["5003"],
        ["5004"],
        ["5005"],
        ["5006", "5007"],
    ]
    rows[0] = row(1, Address="変更")
    assert load(database, rows, chunk_size=chunk_size) == ImportCounts(updated=1, unchanged=6)
    assert stored(database)["counts"]["individual"] == 6


@pytest.fixture
def set_aside(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many checks each PostgreSQL import set aside (0: it ran the ordinary way)."""
    seen: list[int] = []
    original = PostgresMerge._set_aside_checks

    def spy(self: PostgresMerge) -> list[str]:
        found = original(self)
        seen.append(len(found))
        return found

    monkeypatch.setattr(insured_store.PostgresMerge, "_set_aside_checks", spy)
    return seen


def _checks(url: str) -> list[tuple[str, str]]:
    """The definitions of every constraint and index of ``qualification``."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as c:
        return sorted(
            c.execute(
                "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'qualification'::regclass UNION ALL "
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = 'qualification'::regclass"
            ).fetchall()
        )


@pytest.mark.postgres
def test_a_first_load_puts_every_check_back(postgres_url: str, set_aside: list[int]) -> None:
    before = _checks(postgres_url)
    assert any("UNIQUE" in d for _, d in before) and any("FOREIGN KEY" in d for _, d in before)
    database = Database(postgres_url)
    try:
        assert load(database, [row(1), row(2, **LIMIT)]).inserted == 2
        assert load(database, [row(3)]).inserted == 1  # not a first load any more
        assert set_aside == [4, 0]  # card-key unique, individual index, two foreign keys
        assert _checks(postgres_url) == before
        with (
            pytest.raises(Exception, match="uq_qualification_card_key"),
            database.engine.begin() as c,
        ):
            c.execute(
                text(
                    'INSERT INTO qualification (individual_id, "InsurerNumber", "InsuredCardSymbol", '
                    '"InsuredIdentificationNumber", "InsuredBranchNumber", "Name", "NameKana", '
                    '"Sex1", "Birthdate", "InsuredCardClassification", "QualificationDate", '
                    "content_digest, version, updated_at) SELECT individual_id, "
                    '"InsurerNumber", "InsuredCardSymbol", "InsuredIdentificationNumber", '
                    '"InsuredBranchNumber", "Name", "NameKana", "Sex1", "Birthdate", '
                    '"InsuredCardClassification", "QualificationDate", content_digest, version, '
                    "updated_at FROM qualification LIMIT 1"
                )
            )
        with (
            pytest.raises(Exception, match="fk_qualification_individual_id"),
            database.engine.begin() as c,
        ):
            c.execute(text("UPDATE qualification SET individual_id = -1"))
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_rejected_first_load_leaves_schema_and_data(
    postgres_url: str, set_aside: list[int]
) -> None:
    before = _checks(postgres_url)
    database = Database(postgres_url)
    try:
        rows = [row(n) for n in range(1, 9)]
        rows[6] = row(7, Birthdate="20230230")
        with pytest.raises(IntakeRejected) as caught:
            load(database, rows, chunk_size=2)  # three chunks merged before the bad line
        assert [(p.line, p.column) for p in caught.value.problems] == [(8, "Birthdate")]
        assert set_aside == [4]
        assert set(counts(database).values()) == {0}
        assert _checks(postgres_url) == before
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_first_load_beside_a_reader_runs_the_ordinary_way(
    postgres_url: str, set_aside: list[int]
) -> None:
    """Another session reading ``qualification`` keeps its lock: no DDL, the import still works."""
    before = _checks(postgres_url)
    database = Database(postgres_url)
    reader = psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        reader.execute("SELECT count(*) FROM qualification").fetchone()  # holds ACCESS SHARE
        assert load(database, [row(1), row(2)], chunk_size=1) == ImportCounts(inserted=2)
        assert set_aside == [0]
        reader.rollback()
        assert _checks(postgres_url) == before
        assert counts(database)["qualification"] == 2
    finally:
        reader.close()
        database.dispose()


@pytest.mark.parametrize("symbol", ["12\\34", "記号\\t1", "a\\N", "\\N", "記号 1"])
def test_any_card_symbol_is_stored_as_given(database: Database, symbol: str) -> None:
    """PostgreSQL is sent COPY text (a first load, then a merge): a value the text format
    would misread is escaped."""
    rows = [row(1, InsuredCardSymbol=symbol), row(2, InsuredCardSymbol=""), row(3, **LIMIT)]
    assert load(database, rows) == ImportCounts(inserted=3, limit_certificates=1)
    with database.engine.connect() as c:
        symbols = c.execute(
            text(
                'SELECT "InsuredCardSymbol" FROM qualification ORDER BY "InsuredIdentificationNumber"'
            )
        ).scalars()
        assert list(symbols) == [symbol, "", "1234"]
    assert load(database, rows) == ImportCounts(unchanged=3)


@pytest.mark.postgres
@pytest.mark.parametrize("chunk_size", [1, 5000])
def test_a_failing_merge_stores_nothing_and_leaves_the_database_usable(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    """A statement failing on the server in pipeline mode (here on purpose, once line 4 is
    staged) is raised and the whole import rolls back."""
    original = PostgresMerge._chunk_statements

    def failing(self: PostgresMerge) -> list[str]:
        fail = "SELECT 1 / (CASE WHEN max(line) >= 4 THEN 0 ELSE 1 END) FROM intake_stage"
        insurers, *others = original(self)
        return [insurers, fail, *others]

    database = Database(postgres_url)
    try:
        assert load(database, [row(100)]) == ImportCounts(inserted=1)  # the next ones merge
        before = counts(database)
        monkeypatch.setattr(insured_store.PostgresMerge, "_chunk_statements", failing)
        rows = [row(n) for n in range(1, 6)]
        with pytest.raises(Exception, match="division by zero"):
            load(database, rows, chunk_size=chunk_size)
        assert counts(database) == before
        monkeypatch.undo()
        assert load(database, rows) == ImportCounts(inserted=5)
    finally:
        database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("chunk_size", [1, 5000])
def test_a_failing_first_load_stores_nothing_and_puts_the_checks_back(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, chunk_size: int
) -> None:
    """A first load copies straight into the tables: a value the server refuses (here on
    purpose, line 4's birthdate) rolls everything back, the checks set aside come back."""
    before = _checks(postgres_url)
    original = insured_store._direct_rows

    def corrupting(now: Any) -> Any:
        prepare = original(now)

        def corrupted(chunk: list[Any]) -> Any:
            lines, *rest = prepare(chunk)
            lines = [
                line.replace("1980-01-15", "1980-02-30") if r.line == 4 else line
                for line, r in zip(lines, chunk, strict=True)
            ]
            return (lines, *rest)

        return corrupted

    monkeypatch.setattr(insured_store, "_direct_rows", corrupting)
    database = Database(postgres_url)
    try:
        rows = [row(n) for n in range(1, 6)]
        with pytest.raises(Exception, match="date/time field value out of range"):
            load(database, rows, chunk_size=chunk_size)
        assert set(counts(database).values()) == {0}
        assert _checks(postgres_url) == before
        monkeypatch.undo()
        assert load(database, rows) == ImportCounts(inserted=5)
    finally:
        database.dispose()


@pytest.mark.parametrize("chunk_size", [1, 5000])
def test_an_insurer_renamed_by_a_later_file(database: Database, chunk_size: int) -> None:
    load(database, [row(1), row(2, InsurerNumber="138057", InsurerName="新宿区国民健康保険")])
    renamed = [row(n, InsurerName="全国健康保険協会 東京支部") for n in (1, 3)]
    assert load(database, renamed, chunk_size=chunk_size) == ImportCounts(inserted=1, unchanged=1)
    assert stored(database)["insurers"] == [
        ("01130012", "全国健康保険協会 東京支部"),
        ("138057", "新宿区国民健康保険"),
    ]


def _sqlite_schema(database: Database) -> list[tuple[str, str]]:
    with database.engine.connect() as c:
        return sorted(
            (r[0], r[1])
            for r in c.exec_driver_sql(
                "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE tbl_name = 'qualification'"
            )
        )


def test_a_first_load_on_sqlite_builds_the_individual_index_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropped inside the import's transaction: a refused file leaves it, a stored one rebuilds
    it, a later import keeps it."""
    seen: list[list[str]] = []
    original = insured_store.SqliteStore._set_aside_indexes

    def spy(self: insured_store.SqliteStore) -> list[str]:
        seen.append(original(self))
        return seen[-1]

    monkeypatch.setattr(insured_store.SqliteStore, "_set_aside_indexes", spy)
    database = Database(sqlite_url)
    try:
        before = _sqlite_schema(database)
        assert ("ix_qualification_individual_id", "") not in before
        assert any(name == "ix_qualification_individual_id" for name, _ in before)
        rows = [row(n) for n in range(1, 9)]
        with pytest.raises(IntakeRejected):
            load(database, [*rows, row(9, Birthdate="20230230")], chunk_size=2)
        assert _sqlite_schema(database) == before
        assert set(counts(database).values()) == {0}
        assert load(database, rows, chunk_size=3) == ImportCounts(inserted=8)
        assert load(database, [row(10)]) == ImportCounts(inserted=1)
        assert [len(s) for s in seen] == [1, 1]  # not on the third import: rows are stored
        assert _sqlite_schema(database) == before
        with database.engine.connect() as c:
            plan = c.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT id FROM qualification WHERE individual_id = 1"
            ).all()
        assert "ix_qualification_individual_id" in str(plan)
    finally:
        database.dispose()


def test_a_first_load_joins_individuals_already_named(database: Database) -> None:
    """An individual stored without any qualification (left over) keeps its IndividualId: a first
    load naming it joins it rather than creating a second one."""
    with database.engine.begin() as c:
        c.execute(text("INSERT INTO individual (external_id) VALUES ('kept'), ('other')"))
        kept = c.execute(text("SELECT id FROM individual WHERE external_id = 'kept'")).scalar()
    rows = [
        row(1, IndividualId="kept"),
        row(2),
        row(3, IndividualId="new"),
        row(4, IndividualId="kept"),
    ]
    assert load(database, rows, chunk_size=2) == ImportCounts(inserted=4)
    state = stored(database)
    assert state["people"] == [["5001", "5004"], ["5002"], ["5003"]]
    assert state["counts"]["individual"] == 4  # "kept", "other", card 2's and "new"
    with database.engine.connect() as c:
        owners = (
            c.execute(
                text(
                    "SELECT DISTINCT individual_id FROM qualification q JOIN individual i "
                    "ON i.id = q.individual_id WHERE i.external_id = 'kept'"
                )
            )
            .scalars()
            .all()
        )
    assert owners == [kept]
