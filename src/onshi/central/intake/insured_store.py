"""Storing a parsed insured-persons file: one transaction, idempotent, history kept.

A card key seen for the first time is inserted; the same content digest again changes nothing;
a changed row is updated with ``version + 1`` after its earlier state is copied, as JSON, into
``qualification_history`` (資格履歴). Individuals are found by the insurers' ``IndividualId``; a row
without one keeps the individual its card key already has, or gets a new one.

The file is parsed and written in chunks inside one transaction; a big file is parsed in a
second process (:mod:`~onshi.central.intake.parse_ahead`) while this one writes. On SQLite
(:class:`SqliteStore`) stored rows are looked up per chunk, only for insurers that already have
rows, and each row is decided in Python; a first load parsed in another process is packed there
as small databases and copied in by SQL (:mod:`~onshi.central.intake.sqlite_chunks`). On
PostgreSQL (:class:`PostgresMerge`) a first load is copied straight into the tables; otherwise
each chunk is staged with ``COPY`` and merged by set-based SQL in pipeline mode. All follow the
same rules; ``tests/central/intake/test_insured_merge.py`` and ``test_packed_chunks.py`` hold
them to it.

Imports run one at a time (:func:`one_import_at_a_time`): each decides from what is stored.
A database error is raised as :class:`ImportFailed`, whose message quotes no value of a row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager, suppress
from typing import Any, BinaryIO

import psycopg
from sqlalchemy import BigInteger, Connection, Date, any_, bindparam, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError

from onshi.central.errors import ImportFailed, IntakeRejected, RowProblem
from onshi.central.intake.bulk import BulkWriter
from onshi.central.intake.card_keys import Stored
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_csv import (
    DIGEST,
    INDIVIDUAL_ID,
    INSURER_NAME,
    LIMIT_COLUMNS,
    LIMIT_FIRST,
    QUALIFICATION_COLUMNS,
    InsuredRecord,
)
from onshi.central.intake.parse_ahead import ParseAgain, ParsedChunks, worth_a_process
from onshi.central.intake.sqlite_chunks import ChunkCopier, PackedChunk, packer, packing_works
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

QUALIFICATION = t.Base.metadata.tables["qualification"]
INDIVIDUAL = t.Base.metadata.tables["individual"]
INSURER = t.Base.metadata.tables["insurer"]
HISTORY = t.Base.metadata.tables["qualification_history"]
LIMIT = t.Base.metadata.tables["limit_application_certificate"]

CHUNK = 5_000
QUALIFICATION_INSERT = (
    "id",
    "individual_id",
    *QUALIFICATION_COLUMNS,
    "content_digest",
    "version",
    "updated_at",
)
LIMIT_INSERT = ("qualification_id", *LIMIT_COLUMNS, "content_digest")


def utc_now() -> dt.datetime:
    """Naive UTC, as the DateTime columns hold it."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def reject(problems: list[RowProblem], what: str) -> IntakeRejected:
    lines = len({p.line for p in problems})
    return IntakeRejected(
        f"{what} refused: {len(problems)} problems on {lines} lines; nothing was stored", problems
    )


def import_insured(
    database: Database,
    stream: BinaryIO,
    *,
    chunk_size: int = CHUNK,
    now: dt.datetime | None = None,
    parse_ahead: bool | None = None,
) -> ImportCounts:
    """Import one insured-persons CSV whole, or raise having stored nothing:
    :class:`IntakeRejected` for a file with problems, :class:`ImportFailed` when the database
    refused a write.

    ``parse_ahead``: parse in a second process while this one writes, in two for a file on disk
    of 8 MiB and more (see :mod:`~onshi.central.intake.parse_ahead`); by default for files of
    4 MiB and more.
    """
    ahead = worth_a_process(stream) if parse_ahead is None else parse_ahead
    now = now or utc_now()
    try:
        return _import(database, stream, chunk_size, now, ahead=ahead, split=ahead)
    except ParseAgain as again:  # read in halves, something was wrong: all of it, in order
        stream.seek(again.start)
        return _import(database, stream, chunk_size, now, ahead=ahead, split=False)


def _import(
    database: Database,
    stream: BinaryIO,
    chunk_size: int,
    now: dt.datetime,
    *,
    ahead: bool,
    split: bool,
) -> ImportCounts:
    try:
        with database.engine.connect() as connection:
            store: SqliteStore | PostgresMerge | None = None
            try:
                with connection.begin():
                    one_import_at_a_time(connection)
                    if connection.dialect.name == "postgresql":
                        store = PostgresMerge(connection, now)
                    else:
                        store = SqliteStore(connection, now)
                    # Chunks stop coming at the first problem; the rest is read only to list.
                    parsed = ParsedChunks(
                        stream,
                        store.prepare,
                        chunk_size,
                        ahead=ahead,
                        split=split,
                        prepare_in_child=store.prepare_in_child,
                    )
                    with store.pipelined(), closing(iter(parsed)) as chunks:  # the child stops
                        for chunk in chunks:
                            store.send(chunk)
                    if parsed.problems:
                        raise reject(parsed.problems, "insured-persons file")
                    return store.finish()
            finally:  # committed or rolled back
                if store is not None:
                    store.close()
    except (DBAPIError, psycopg.Error, sqlite3.Error) as exc:  # rolled back by now
        raise _import_failed(exc) from None


def _import_failed(error: BaseException) -> ImportFailed:
    """The database's refusal as an :class:`ImportFailed` whose message quotes no value.

    The database error's own text may quote the row (SQLAlchemy appends the statement's
    parameters, PostgreSQL its DETAIL and CONTEXT lines: "Failing row contains (…)"), and this
    message reaches logs: it keeps the error, its SQLSTATE on PostgreSQL and the table, column
    or constraint. The original is ``__context__`` (not shown in tracebacks) for a debugger.
    """
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    if isinstance(error, psycopg.Error):
        diag = error.diag
        said = diag.message_primary or ""
        if (error.sqlstate or "").startswith("22"):  # data exceptions quote the value
            said = said.split(': "', 1)[0]
        where = ", ".join(
            f"{what} {name}"
            for what, name in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if name
        )
        said = f"(SQLSTATE {error.sqlstate}) {said}" + (f" [{where}]" if where else "")
    else:  # sqlite3 names tables, columns and constraints, never values
        said = str(error)
    return ImportFailed(f"import refused by the database: {type(error).__name__} {said}")


# pg_advisory_xact_lock's key for every import ("insured" in ASCII: the first to take it).
IMPORT_LOCK = 0x696E7375726564


def one_import_at_a_time(connection: Connection) -> None:
    """Wait for any other import to commit before reading anything. An import decides from what
    is stored (card keys, IndividualIds, insurers; on SQLite the next ids too): a second one
    reading before the first commits would insert a person or an insurer twice, or (a file of
    card links) count a card as already linked when the first linked it to someone else.
    Imports of every kind take the same lock."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
    else:
        # SQLite's write lock, taken now: pysqlite opens its transaction before the first DML
        # only, and a write (even of no row) takes the lock, waiting busy_timeout for it.
        connection.exec_driver_sql("UPDATE qualification SET id = id WHERE 0")


class _Stored(dict[Any, Any]):
    """A value → its form in SQLite, as SQLAlchemy stores it (dates as text), made once each."""

    def __init__(self, kind: Any, dialect: Any) -> None:
        super().__init__()
        self.process = kind.dialect_impl(dialect).bind_processor(dialect)

    def __missing__(self, value: Any) -> Any:
        stored = self[value] = self.process(value)
        return stored


DATE_SLOTS = tuple(
    i for i, c in enumerate(QUALIFICATION_COLUMNS) if isinstance(QUALIFICATION.c[c].type, Date)
)
_SQLITE_INSERT = "INSERT INTO qualification ({}) VALUES ({})".format(  # noqa: S608 - fixed names
    ", ".join(f'"{c}"' for c in QUALIFICATION_INSERT), ", ".join("?" * len(QUALIFICATION_INSERT))
)
_SQLITE_UPDATE = (  # noqa: S608 - fixed names
    "UPDATE qualification SET individual_id = ?, {}, content_digest = ?, version = ?, "
    "updated_at = ? WHERE id = ?"
).format(", ".join(f'"{c}" = ?' for c in QUALIFICATION_COLUMNS))
_SQLITE_FIND = """
SELECT k.i, q.id, q.individual_id, q.content_digest, q.version, p.external_id
FROM intake_key k
JOIN qualification q ON q."InsurerNumber" = k.k1 AND q."InsuredCardSymbol" = k.k2
    AND q."InsuredIdentificationNumber" = k.k3 AND q."InsuredBranchNumber" = k.k4
JOIN individual p ON p.id = q.individual_id
"""


# A prepared SQLite row is an InsuredRecord's values as a list, the qualification's dates in
# SQLite's storage form (text); insured_csv names the places of what the store reads from it.
Row = list[Any]


def _sqlite_rows(stored_date: _Stored) -> Callable[[list[InsuredRecord]], list[Row]]:
    def prepare(chunk: list[InsuredRecord]) -> list[Row]:
        rows = []
        for r in chunk:
            values = list(r)
            for slot in DATE_SLOTS:
                day = values[slot]
                if day is not None:
                    values[slot] = stored_date[day]
            rows.append(values)
        return rows

    return prepare


class SqliteStore:
    """SQLite: the write side of one import, holding what it learnt between chunks."""

    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self.connection = connection
        self.now = now
        self.writer = BulkWriter(connection)
        self.dbapi: Any = connection.connection.driver_connection
        self.counts = ImportCounts()
        self.cache_size = int(connection.exec_driver_sql("PRAGMA cache_size").scalar_one())
        connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for index builds
        connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS intake_key "
            "(i INTEGER PRIMARY KEY, k1 TEXT, k2 TEXT, k3 TEXT, k4 TEXT)"
        )
        dialect = connection.dialect
        # Run by the parser (in the parse-ahead process, if any): dates in storage form.
        stored_date = _Stored(QUALIFICATION.c.Birthdate.type, dialect)
        self.prepare = _sqlite_rows(stored_date)
        self.stored_now = _Stored(QUALIFICATION.c.updated_at.type, dialect)[now]
        self.insurers: dict[str, str] = {
            number: name
            for number, name in connection.execute(
                select(INSURER.c.InsurerNumber, INSURER.c.InsurerName)
            )
        }
        self.insurers_with_rows: set[str] = set(
            connection.scalars(select(QUALIFICATION.c.InsurerNumber).distinct())
        )
        self.external_ids_stored = (
            connection.scalar(
                select(INDIVIDUAL.c.id).where(INDIVIDUAL.c.external_id.is_not(None)).limit(1)
            )
            is not None
        )
        self.individual_of: dict[str, int] = {}  # IndividualId → individual.id, as learnt
        self.rebuild = [] if self.insurers_with_rows else self._set_aside_indexes()
        # A first load parsed in another process: it packs each chunk (see sqlite_chunks).
        self.prepare_in_child: Callable[[list[InsuredRecord]], Any] | None = None
        if not self.insurers_with_rows and packing_works():
            self.prepare_in_child = packer(self.prepare, stored_date.__getitem__, _limit_digest)
        self.copier = ChunkCopier(self.dbapi, self.stored_now)

    def _set_aside_indexes(self) -> list[str]:
        """A first load (``qualification`` empty): drop its secondary indexes inside this
        transaction, return the statements that build them again. The card-key unique index
        stays (SQLite cannot drop a table constraint's index)."""
        # Inside the transaction opened by one_import_at_a_time: outside one, DROP INDEX would
        # commit at once and a refused file would leave the table without its index.
        assert self.dbapi.in_transaction
        found = self.connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'qualification' AND sql IS NOT NULL"
        ).all()
        for name, _ in found:
            self.connection.exec_driver_sql('DROP INDEX "{}"'.format(name.replace('"', '""')))
        return [create for _, create in found]

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        yield  # SQLite: each write is done when it returns

    def send(self, chunk: Sequence[Row] | PackedChunk) -> None:
        if isinstance(chunk, PackedChunk):
            self._write_insurers(chunk.insurers)
            self.counts.limit_certificates += self.copier.copy(chunk)
            self.counts.inserted += chunk.rows
        else:
            self.write(chunk)

    def finish(self) -> ImportCounts:
        for statement in self.rebuild:
            self.connection.exec_driver_sql(statement)
        self.dbapi.execute("DELETE FROM intake_key")  # no card keys left on a pooled connection
        return self.counts

    def close(self) -> None:
        """After the transaction: the connection's cache size as it was (a server's pooled
        connection would keep the import's 256 MiB), the packed chunks' schema detached. Also
        after a failure: then an error here would hide the real one."""
        with suppress(sqlite3.Error):  # a broken connection: the pool drops it anyway
            self.dbapi.execute(f"PRAGMA cache_size = {self.cache_size}")
            self.copier.detach()

    def write(self, chunk: Sequence[Row]) -> None:
        """Store one prepared chunk (see :func:`_sqlite_rows`)."""
        if not chunk:
            return
        self._write_insurers({(r[0], r[INSURER_NAME]) for r in chunk})
        unchanged, changed = self._stored(chunk)
        self._learn_individuals(
            {
                r[INDIVIDUAL_ID]
                for i, r in enumerate(chunk)
                if r[INDIVIDUAL_ID]
                and r[INDIVIDUAL_ID] not in self.individual_of
                and i not in unchanged
            }
        )
        new_ids = iter(
            self.writer.reserve_ids(QUALIFICATION, len(chunk) - len(unchanged) - len(changed))
        )
        individuals: list[tuple[int, str | None]] = []
        adopted: list[dict[str, Any]] = []
        inserts: list[tuple[Any, ...]] = []
        changes: list[tuple[Stored, Row, int]] = []
        limits: list[tuple[Any, ...]] = []
        unresolved = sum(
            1
            for i, r in enumerate(chunk)
            if (r[INDIVIDUAL_ID] is None and i not in unchanged and i not in changed)
            or (r[INDIVIDUAL_ID] is not None and r[INDIVIDUAL_ID] not in self.individual_of)
        )
        fresh_individuals = iter(self.writer.reserve_ids(INDIVIDUAL, unresolved))
        counts, now = self.counts, self.stored_now
        for i, r in enumerate(chunk):
            same = unchanged.get(i)
            if same is not None:
                counts.unchanged += 1
                if r[LIMIT_FIRST] is not None:
                    limits.append(_limit_row(same, r))
                continue
            old = changed.get(i)
            individual_id = self._individual(r, old, fresh_individuals, individuals, adopted)
            if old is None:
                qualification_id = next(new_ids)
                inserts.append((qualification_id, individual_id, *r[:24], r[DIGEST], 1, now))
                counts.inserted += 1
            else:
                qualification_id = old.id
                changes.append((old, r, individual_id))
                counts.updated += 1
            if r[LIMIT_FIRST] is not None:
                limits.append(_limit_row(qualification_id, r))
        self.writer.insert(INDIVIDUAL, ("id", "external_id"), individuals)
        if adopted:
            self.connection.execute(
                update(INDIVIDUAL).where(INDIVIDUAL.c.id == bindparam("b_id")), adopted
            )
        if inserts:  # values already in SQLite's storage form
            self.dbapi.cursor().executemany(_SQLITE_INSERT, inserts)
        self._update(changes)
        counts.limit_certificates += self.writer.insert_new(LIMIT, LIMIT_INSERT, limits)

    def _stored(self, chunk: Sequence[Row]) -> tuple[dict[int, int], dict[int, Stored]]:
        """What is stored for the chunk's card keys: ``unchanged`` (chunk index → qualification
        id, same content digest) and ``changed`` (chunk index → the stored row)."""
        keys = [
            (i, r[0], r[1], r[2], r[3])
            for i, r in enumerate(chunk)
            if r[0] in self.insurers_with_rows
        ]
        if not keys:
            return {}, {}
        cursor = self.dbapi.cursor()
        cursor.execute("DELETE FROM intake_key")
        cursor.executemany("INSERT INTO intake_key VALUES (?, ?, ?, ?, ?)", keys)
        unchanged: dict[int, int] = {}
        changed: dict[int, Stored] = {}
        for i, q_id, individual_id, digest, version, external_id in cursor.execute(_SQLITE_FIND):
            if digest == chunk[i][DIGEST]:
                unchanged[i] = q_id
            else:
                changed[i] = Stored(q_id, individual_id, digest, version, external_id)
        return unchanged, changed

    def _write_insurers(self, named: Iterable[tuple[str, str]]) -> None:
        """Insurers new or renamed, from (InsurerNumber, InsurerName) pairs."""
        new: dict[str, str] = {}
        renamed: dict[str, str] = {}
        for number, name in named:
            known = self.insurers.get(number)
            if known is None:
                new[number] = name
            elif known != name:
                renamed[number] = name
            self.insurers[number] = name
        self.writer.insert(INSURER, ("InsurerNumber", "InsurerName"), list(new.items()))
        if renamed:
            self.connection.execute(
                update(INSURER).where(INSURER.c.InsurerNumber == bindparam("b_number")),
                [{"b_number": k, "InsurerName": v} for k, v in renamed.items()],
            )

    def _learn_individuals(self, external_ids: set[str]) -> None:
        if not external_ids or not self.external_ids_stored:
            return
        wanted = sorted(external_ids)
        cursor = self.dbapi.cursor()
        for start in range(0, len(wanted), 900):
            batch = wanted[start : start + 900]
            marks = ", ".join("?" * len(batch))
            self.individual_of.update(
                cursor.execute(
                    f"SELECT external_id, id FROM individual WHERE external_id IN ({marks})",  # noqa: S608
                    batch,
                )
            )

    def _individual(
        self,
        r: Row,
        old: Stored | None,
        fresh: Any,
        individuals: list[tuple[int, str | None]],
        adopted: list[dict[str, Any]],
    ) -> int:
        """The individual this row belongs to (個人), created or adopted as needed."""
        external_id: str | None = r[INDIVIDUAL_ID]
        if external_id is None:
            if old is not None:
                return old.individual_id
            individual_id: int = next(fresh)
            individuals.append((individual_id, None))
            return individual_id
        known = self.individual_of.get(external_id)
        if known is not None:
            return known
        if old is not None and old.external_id is None:
            # The insurer now names the person it already had: keep the individual (and its
            # card links) rather than splitting the person in two.
            adopted.append({"b_id": old.individual_id, "external_id": external_id})
            individual_id = old.individual_id
            next(fresh)  # reserved for this row; unused ids are harmless gaps
        else:
            individual_id = next(fresh)
            individuals.append((individual_id, external_id))
        self.individual_of[external_id] = individual_id
        return individual_id

    def _update(self, changes: list[tuple[Stored, Row, int]]) -> None:
        if not changes:
            return
        q = QUALIFICATION.c
        ids = [old.id for old, _, _ in changes]
        before: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 900):
            for row in self.connection.execute(
                select(QUALIFICATION).where(q.id.in_(ids[start : start + 900]))
            ):
                before[row.id] = dict(row._mapping)
        self.connection.execute(
            HISTORY.insert(),
            [
                {
                    "qualification_id": old.id,
                    "version": old.version,
                    "superseded_at": self.now,
                    "content": _history_json(before[old.id]),
                }
                for old, _, _ in changes
            ],
        )
        self.dbapi.cursor().executemany(  # values already in SQLite's storage form
            _SQLITE_UPDATE,
            [
                (individual_id, *r[:24], r[DIGEST], old.version + 1, self.stored_now, old.id)
                for old, r, individual_id in changes
            ],
        )


def _limit_row(qualification_id: int, r: Sequence[Any]) -> tuple[Any, ...]:
    """A limit certificate's row (its dates as ``date``) and digest, from a record or SQLite row."""
    values = r[26:32]
    text = "\x1f".join(["limit", *r[:4], *("" if v is None else str(v) for v in values)])
    return (qualification_id, *values, hashlib.sha256(text.encode()).hexdigest())


def _limit_digest(r: Sequence[Any]) -> str:
    return str(_limit_row(0, r)[-1])


def _history_json(row: dict[str, Any]) -> str:
    """The earlier row with OQS names as keys; dates as YYYYMMDD like the interface writes them."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.date):
            return value.strftime("%Y%m%d")
        return value

    return json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)


_INSURER_UPSERT = (
    'INSERT INTO insurer ("InsurerNumber", "InsurerName") VALUES (%s, %s) '
    'ON CONFLICT ("InsurerNumber") DO UPDATE SET "InsurerName" = EXCLUDED."InsurerName" '
    'WHERE insurer."InsurerName" IS DISTINCT FROM EXCLUDED."InsurerName"'
)
_KEY = ("InsurerNumber", "InsuredCardSymbol", "InsuredIdentificationNumber", "InsuredBranchNumber")
_Q_LIST = ", ".join(f'"{c}"' for c in QUALIFICATION_COLUMNS)
_S_LIST = ", ".join(f's."{c}"' for c in QUALIFICATION_COLUMNS)
_LIMIT_LIST = ", ".join(f'"{c}"' for c in LIMIT_COLUMNS)
_SAME_KEY = " AND ".join(f'q."{c}" = s."{c}"' for c in _KEY)
_STAGE_COPY = "COPY intake_stage FROM STDIN"  # PostgreSQL's text format, see _text_lines


class _CopyText(dict[Any, str]):
    """A value that is not text → its COPY text: None is ``\\N``, dates are made text once each
    (a population has few distinct dates); numbers (line numbers) are not kept."""

    def __missing__(self, value: Any) -> str:
        made = str(value)
        if type(value) is not int and len(self) < 200_000:
            self[value] = made
        return made


_COPY_TEXT = _CopyText({None: "\\N"})


# COPY data for ``intake_stage`` (the records as they are), the number of rows, the
# (InsurerNumber, InsurerName) pairs named, and [line, digest] of each limit certificate as
# JSON (None without any).
StagedChunk = tuple[str, int, set[tuple[str, str]], str | None]


def _staged_chunk(chunk: list[InsuredRecord]) -> StagedChunk:
    """What :meth:`PostgresMerge.send` sends for a chunk, made by the parser (see parse_ahead)."""
    limits = [(r.line, _limit_digest(r)) for r in chunk if r.has_limit_certificate]
    return (
        "\n".join(_text_lines(chunk)) + "\n",
        len(chunk),
        {(r[0], r[25]) for r in chunk},  # (InsurerNumber, InsurerName)
        json.dumps(limits) if limits else None,
    )


# A first load's chunk: per row its COPY line for ``qualification`` without the two ids (24
# columns, digest, version, updated_at), its IndividualId; the insurers named; and the limit
# certificates as (row index, limit row with qualification id 0).
DirectChunk = tuple[list[str], list[str | None], set[tuple[str, str]], list[tuple[int, Any]]]
_DIRECT_COLUMNS = ", ".join(f'"{c}"' for c in QUALIFICATION_INSERT)


def _text_lines(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Rows in COPY's text format (tab-separated, ``\\N`` for NULL; no line ends): one join per
    row, then a count of tabs, line breaks and backslashes tells whether any value holds one
    (the parser refuses control characters, but a name or card symbol may hold a backslash);
    only then are the values escaped."""
    as_text = _COPY_TEXT.__getitem__
    lines = ["\t".join([v if type(v) is str else as_text(v) for v in r]) for r in rows]
    joined = "\n".join(lines)
    if (
        joined.count("\t") == sum([len(r) - 1 for r in rows])
        and joined.count("\n") == len(rows) - 1
        and joined.count("\\") == sum([r.count(None) for r in rows])  # only the NULL marks
        and "\r" not in joined
    ):
        return lines
    return ["\t".join([as_text(v) if v is None else _escaped(str(v)) for v in r]) for r in rows]


def _escaped(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _direct_rows(now: dt.datetime) -> Callable[[list[InsuredRecord]], DirectChunk]:
    """What :meth:`PostgresMerge.send_direct` sends for a chunk, made by the parser."""
    tail = ("1", now.isoformat(sep=" "))

    def prepare(chunk: list[InsuredRecord]) -> DirectChunk:
        lines = _text_lines([(*r[:24], r[33], *tail) for r in chunk])
        return (
            lines,
            [r[24] for r in chunk],
            {(r[0], r[25]) for r in chunk},
            [(i, _limit_row(0, r)) for i, r in enumerate(chunk) if r[26] is not None],
        )

    return prepare


class PostgresMerge:
    """One import on PostgreSQL: each chunk staged by ``COPY`` and merged by set-based SQL.

    A chunk is written as COPY text (one join per record, the records as they are) into a
    temporary staging table; a fixed series of statements then adds the insurers, finds the
    stored qualification of each card key, creates or adopts individuals (ids from the
    sequences, in SQL), inserts the new qualifications and limit certificates, and keeps the
    changed rows aside. The statements go out in libpq's pipeline mode: the server merges one
    chunk while this process sends (or parses) the next, with no wait in between. Changed
    rows are applied at the end, after their earlier state is copied into
    ``qualification_history``. The rules are those of :class:`SqliteStore` (used on SQLite);
    the tests run both.

    A first import into an empty ``qualification`` table drops that table's card-key unique
    constraint, its secondary index and its foreign keys inside the transaction and creates
    them again, with the same names and definitions, once the rows are in: one index build
    and one set-based check instead of an index insertion and two key look-ups per row. Every
    row is new then, so ids are decided here (as on SQLite) and the rows copied straight into
    ``individual`` and ``qualification`` (:meth:`send_direct`). This holds an exclusive lock on
    ``qualification``, ``individual`` and ``insurer`` until the import commits; if another
    session holds them (lock_timeout), the import runs the ordinary way instead.
    """

    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self.connection = connection
        self.now = now
        self.dbapi: Any = connection.connection.driver_connection
        individual_seq, qualification_seq = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence('individual', 'id'), "
            "pg_get_serial_sequence('qualification', 'id')"
        ).one()
        self.next_individual = _nextval(individual_seq)
        self.next_qualification = _nextval(qualification_seq)
        types = {
            c: QUALIFICATION.c[c].type.compile(connection.dialect) for c in QUALIFICATION_COLUMNS
        }
        columns = ", ".join(f'"{c}" {types[c]}' for c in QUALIFICATION_COLUMNS)
        limits = ", ".join(f"l{i} text" for i in range(len(LIMIT_COLUMNS)))
        for ddl in (
            # The records' own layout, so that a chunk is written as it is.
            f"CREATE TEMPORARY TABLE intake_stage ({columns}, x text, insurer_name text, "
            f"{limits}, line integer, digest text) ON COMMIT DROP",
            "CREATE TEMPORARY TABLE intake_work (line integer, x text, q_id bigint, "
            "old_ind bigint, old_x text, known bigint, ind bigint, new_id bigint) ON COMMIT DROP",
            f"CREATE TEMPORARY TABLE intake_changed (q_id bigint, ind bigint, {columns}, "
            "digest text) ON COMMIT DROP",
            "CREATE TEMPORARY TABLE intake_tally (rows integer, inserted integer, "
            "updated integer, limits integer) ON COMMIT DROP",
        ):
            connection.exec_driver_sql(ddl)
        self.rebuild = self._set_aside_checks()
        self._statements = self._chunk_statements()
        self._cursor: Any = None
        self._pipeline = ExitStack()
        self._insurers_named: set[tuple[str, str]] = set()  # written by an earlier chunk
        self.prepare: Callable[[list[InsuredRecord]], Any] = _staged_chunk
        self.prepare_in_child: Callable[[list[InsuredRecord]], Any] | None = None  # ``prepare``
        self.direct = ImportCounts()  # what the first-load path stored
        if self.rebuild:  # a first load, nobody else writing: every row is new
            self.prepare = _direct_rows(now)
            self.writer = BulkWriter(connection)
            self.individual_of: dict[str, int] = {}  # IndividualId → individual.id, as learnt
            self.external_ids_stored = bool(
                connection.exec_driver_sql(
                    "SELECT EXISTS (SELECT 1 FROM individual WHERE external_id IS NOT NULL)"
                ).scalar_one()
            )

    def _set_aside_checks(self) -> list[str]:
        """On an empty ``qualification``: drop its card-key and foreign-key checks, return the
        statements that create them again (nothing if the table has rows or is busy)."""
        if _has_qualifications(self.connection):
            return []
        found = list(
            self.connection.exec_driver_sql(
                "SELECT 'ALTER TABLE qualification ADD CONSTRAINT ' || quote_ident(conname) || ' ' "
                "|| pg_get_constraintdef(oid), 'ALTER TABLE qualification DROP CONSTRAINT ' "
                "|| quote_ident(conname), contype::text FROM pg_constraint "
                "WHERE conrelid = 'qualification'::regclass AND contype IN ('u', 'f') "
                "UNION ALL SELECT pg_get_indexdef(i.indexrelid), "
                "'DROP INDEX ' || i.indexrelid::regclass::text, 'i' FROM pg_index i "
                "WHERE i.indrelid = 'qualification'::regclass AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            ).all()
        )
        order = {"u": 0, "i": 1, "f": 2}  # the unique key first, the foreign keys last
        found.sort(key=lambda r: order[r[2]])
        savepoint = self.connection.begin_nested()
        try:
            self.connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            self.connection.exec_driver_sql("LOCK TABLE qualification IN ACCESS EXCLUSIVE MODE")
            if _has_qualifications(self.connection):  # filled while we looked
                savepoint.rollback()
                return []
            for _, drop, _ in found:
                self.connection.exec_driver_sql(drop)
            self.connection.exec_driver_sql("SET LOCAL lock_timeout = DEFAULT")
        except OperationalError:  # lock_timeout: someone is using the tables
            savepoint.rollback()
            return []
        savepoint.commit()
        return [create for create, _, _ in found]

    def _chunk_statements(self) -> list[str]:
        # Rows to write (new card key, or content changed), with what is stored for them.
        # (LATERAL … LIMIT 1: one index probe per row, whatever the planner thinks of
        # tables that grow during the import and were never analysed.)
        work = (
            "INSERT INTO intake_work SELECT s.line, s.x, q.id, q.individual_id, "  # noqa: S608
            f"q.external_id, k.id, CASE WHEN s.x IS NULL AND q.id IS NULL THEN "
            f"{self.next_individual} WHEN s.x IS NULL THEN q.individual_id END, "
            f"CASE WHEN q.id IS NULL THEN {self.next_qualification} END "
            "FROM intake_stage s LEFT JOIN LATERAL (SELECT q.id, q.individual_id, "
            "q.content_digest, i.external_id FROM qualification q "
            f"JOIN individual i ON i.id = q.individual_id WHERE {_SAME_KEY} LIMIT 1) q "
            "ON true "
            "LEFT JOIN LATERAL (SELECT k.id FROM individual k WHERE k.external_id = s.x "
            "LIMIT 1) k ON true WHERE q.id IS NULL OR q.content_digest <> s.digest"
        )
        limit_values = ", ".join(
            f"s.l{i}::date" if isinstance(LIMIT.c[c].type, Date) else f"s.l{i}"
            for i, c in enumerate(LIMIT_COLUMNS)
        )
        keep_changed = (
            f"INSERT INTO intake_changed SELECT w.q_id, coalesce(w.ind, i.id), {_S_LIST}, "  # noqa: S608
            "s.digest FROM intake_work w JOIN intake_stage s ON s.line = w.line "
            "LEFT JOIN individual i ON i.external_id = w.x WHERE w.q_id IS NOT NULL"
        )
        return [
            'INSERT INTO insurer ("InsurerNumber", "InsurerName") '
            'SELECT DISTINCT "InsurerNumber", insurer_name FROM intake_stage '
            'ON CONFLICT ("InsurerNumber") DO UPDATE SET "InsurerName" = EXCLUDED."InsurerName" '
            'WHERE insurer."InsurerName" IS DISTINCT FROM EXCLUDED."InsurerName"',
            # A row without IndividualId keeps its individual, or gets a new one of its own.
            work,
            "INSERT INTO individual (id, external_id) SELECT ind, NULL FROM intake_work "
            "WHERE x IS NULL AND q_id IS NULL ORDER BY line",
            # An IndividualId not stored yet: the first row naming it decides. If that row's
            # card key belongs to an individual without an IndividualId, the insurer now names
            # the person it already had: adopt that individual rather than split the person.
            "WITH firsts AS (SELECT DISTINCT ON (x) x, line, q_id, old_ind, old_x "
            "FROM intake_work WHERE x IS NOT NULL AND known IS NULL ORDER BY x, line), "
            "adopters AS (SELECT DISTINCT ON (old_ind) x, old_ind FROM firsts "
            "WHERE q_id IS NOT NULL AND old_x IS NULL ORDER BY old_ind, line), "
            "adopted AS (UPDATE individual SET external_id = a.x FROM adopters a "
            "WHERE individual.id = a.old_ind RETURNING 1) "
            "INSERT INTO individual (external_id) SELECT x FROM firsts "
            "WHERE x NOT IN (SELECT x FROM adopters) ORDER BY line",
            f"INSERT INTO qualification (id, individual_id, {_Q_LIST}, content_digest, "  # noqa: S608
            f"version, updated_at) SELECT w.new_id, coalesce(w.ind, i.id), {_S_LIST}, "
            "s.digest, 1, %(now)s FROM intake_work w JOIN intake_stage s ON s.line = w.line "
            "LEFT JOIN individual i ON i.external_id = w.x WHERE w.q_id IS NULL ORDER BY w.line",
            keep_changed,
            "INSERT INTO intake_tally (rows, inserted, updated) SELECT %(rows)s, "
            "count(*) FILTER (WHERE q_id IS NULL), count(q_id) FROM intake_work",
            # Limit certificates: [line, digest] of each row that has one. An unchanged row is
            # not in intake_work: its qualification is found by card key.
            "WITH d AS (SELECT (a->>0)::integer AS line, a->>1 AS digest "  # noqa: S608
            "FROM jsonb_array_elements(%(limits)s::jsonb) AS a), "
            "ins AS (INSERT INTO limit_application_certificate "
            f"(qualification_id, {_LIMIT_LIST}, content_digest) "
            "SELECT coalesce(w.new_id, w.q_id, (SELECT q.id FROM qualification q "
            f"WHERE {_SAME_KEY} LIMIT 1)), {limit_values}, d.digest FROM d "
            "JOIN intake_stage s ON s.line = d.line LEFT JOIN intake_work w ON w.line = d.line "
            "ON CONFLICT DO NOTHING RETURNING 1) "
            "INSERT INTO intake_tally (limits) SELECT count(*) FROM ins",
            "TRUNCATE intake_stage, intake_work",
        ]

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        with self.dbapi.cursor() as cursor, self._pipeline:
            self._cursor = cursor
            yield

    def send(self, chunk: Any) -> None:
        if self.rebuild:
            self.send_direct(chunk)
        else:
            self.send_staged(chunk)

    def send_direct(self, chunk: DirectChunk) -> None:
        """A first load: ids decided here, rows copied straight into ``individual`` and
        ``qualification`` (no checks to maintain until :meth:`finish`)."""
        lines, externals, named, limits = chunk
        cursor = self._cursor
        if not named <= self._insurers_named:
            cursor.executemany(_INSURER_UPSERT, sorted(named - self._insurers_named))
            self._insurers_named |= named
        known = self.individual_of
        unknown = {x for x in externals if x is not None and x not in known}
        if unknown and self.external_ids_stored:
            cursor.execute(
                "SELECT external_id, id FROM individual WHERE external_id = ANY(%s)",
                [sorted(unknown)],
            )
            known.update(cursor.fetchall())
            unknown -= known.keys()
        fresh = iter(self.writer.reserve_ids(INDIVIDUAL, externals.count(None) + len(unknown)))
        individuals: list[tuple[int, str | None]] = []
        owners = []
        for x in externals:
            if x is None:
                individual_id = next(fresh)
                individuals.append((individual_id, None))
            else:
                found = known.get(x)
                if found is None:
                    found = known[x] = next(fresh)
                    individuals.append((found, x))
                individual_id = found
            owners.append(individual_id)
        ids = self.writer.reserve_ids(QUALIFICATION, len(lines))
        self.writer.insert(INDIVIDUAL, ("id", "external_id"), individuals)
        with cursor.copy(f"COPY qualification ({_DIRECT_COLUMNS}) FROM STDIN") as copy:
            copy.write(
                "".join(
                    [f"{q}\t{i}\t{line}\n" for q, i, line in zip(ids, owners, lines, strict=True)]
                )
            )
        self.direct.inserted += len(lines)
        if limits:
            self.direct.limit_certificates += self.writer.insert_new(
                LIMIT, LIMIT_INSERT, [(ids[i], *row[1:]) for i, row in limits]
            )

    def send_staged(self, chunk: StagedChunk) -> None:
        """Stage a prepared chunk (COPY), then queue its merge; returns without waiting for the
        server."""
        data, rows, named, limits = chunk
        self._pipeline.close()  # the previous chunk's merge is done (or raises here)
        with self._cursor.copy(_STAGE_COPY) as copy:
            copy.write(data)
        self._pipeline.enter_context(self.dbapi.pipeline())
        insurers, *statements, limit, truncate = self._statements
        if not named <= self._insurers_named:
            self._cursor.execute(insurers)
            self._insurers_named |= named
        params = {"now": self.now, "rows": rows}
        for statement in statements:
            self._cursor.execute(statement, params if "%(" in statement else None)
        if limits is not None:
            self._cursor.execute(limit, {"limits": limits})
        self._cursor.execute(truncate)

    def close(self) -> None:
        """Nothing to put back: the temporary tables go with the transaction, the lock timeout
        was ``SET LOCAL``."""

    def finish(self) -> ImportCounts:
        for statement in self.rebuild:
            self.connection.exec_driver_sql(statement)
        self._apply_changes()
        rows, inserted, updated, limits = self.connection.exec_driver_sql(
            "SELECT coalesce(sum(rows), 0), coalesce(sum(inserted), 0), "
            "coalesce(sum(updated), 0), coalesce(sum(limits), 0) FROM intake_tally"
        ).one()
        return ImportCounts(
            inserted=int(inserted) + self.direct.inserted,
            updated=int(updated),
            unchanged=int(rows - inserted - updated),
            limit_certificates=int(limits) + self.direct.limit_certificates,
        )

    def _apply_changes(self) -> None:
        """Changed rows: the earlier state into history (as JSON), then the new values.

        The earlier states are read :data:`_HISTORY_PAGE` rows at a time, by id: a file that
        changes millions of rows holds only their ids in memory, not the rows.
        """
        changed = (
            self.connection.exec_driver_sql("SELECT q_id FROM intake_changed ORDER BY q_id")
            .scalars()
            .all()
        )
        if not changed:
            return
        for start in range(0, len(changed), _HISTORY_PAGE):
            before = self.connection.execute(
                _EARLIER_STATES, {"ids": changed[start : start + _HISTORY_PAGE]}
            )
            self.connection.execute(
                HISTORY.insert(),
                [
                    {
                        "qualification_id": row["id"],
                        "version": row["version"],
                        "superseded_at": self.now,
                        "content": _history_json(dict(row)),
                    }
                    for row in before.mappings()
                ],
            )
        assignments = ", ".join(f'"{c}" = c."{c}"' for c in QUALIFICATION_COLUMNS)
        self.connection.exec_driver_sql(
            f"UPDATE qualification q SET individual_id = c.ind, {assignments}, "  # noqa: S608
            "content_digest = c.digest, version = q.version + 1, updated_at = %(now)s "
            "FROM intake_changed c WHERE q.id = c.q_id",
            {"now": self.now},
        )


_HISTORY_PAGE = 5000
_EARLIER_STATES = select(QUALIFICATION).where(
    QUALIFICATION.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)


def _has_qualifications(connection: Connection) -> bool:
    return bool(
        connection.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM qualification)").scalar_one()
    )


def _nextval(sequence: str) -> str:
    return "nextval('{}'::regclass)".format(sequence.replace("'", "''"))
