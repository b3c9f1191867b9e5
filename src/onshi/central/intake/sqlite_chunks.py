"""A first load into SQLite: the parsing process packs each chunk as a small SQLite database.

Storing a row in SQLite from Python costs about as much as parsing it: most of it is the
driver binding 29 values one by one, and SQLite has one writer. Done by the importing process
(:meth:`~onshi.central.intake.insured_store.SqliteStore.write`), that binding is what the
processes parsing a big file (:mod:`~onshi.central.intake.parse_ahead`) wait for. So on a first
load (``qualification`` empty: every row is new) a parsing process binds its chunk's values
into an in-memory database of its own and sends that database's image (``serialize``,
:func:`packer`). The importing process loads the image into an attached in-memory schema
(``deserialize``) and copies the rows in with set-based SQL, SQLite's own C: no value of a row
passes through Python there (:class:`ChunkCopier`). The binding is done on the parsing
processes' cores while this one copies the chunk before. Nothing goes to disk but the database.

The rules are the row-by-row path's (``tests/central/intake/test_insured_merge.py`` holds the
two to the same result): a row without IndividualId gets an individual of its own; an
IndividualId gets one individual, or joins the one stored with it; limit certificates already
stored are not added again. Insurers are written by the store from :attr:`PackedChunk.insurers`.
Ids are taken above the highest stored; individuals' may leave gaps (unused ids are harmless).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date

from onshi.central.intake.insured_csv import (
    DIGEST,
    INDIVIDUAL_ID,
    INSURER_NAME,
    LIMIT_COLUMNS,
    LIMIT_FIRST,
    QUALIFICATION_COLUMNS,
    InsuredRecord,
)
from onshi.central.storage import tables as t

LIMIT = t.Base.metadata.tables["limit_application_certificate"]
Row = list[Any]

_QUALIFICATION = len(QUALIFICATION_COLUMNS)
_LIMIT_DATE_SLOTS = tuple(
    i for i, c in enumerate(LIMIT_COLUMNS) if isinstance(LIMIT.c[c].type, Date)
)
# In a packed chunk, ``n`` is a row's place in the chunk, from 1. ``rows``: the qualification's
# values, IndividualId, digest; ``limits``: a limit certificate's values and digest.
_ROWS = [f"c{i}" for i in range(_QUALIFICATION + 2)]
_LIMITS = [f"l{i}" for i in range(len(LIMIT_COLUMNS) + 1)]
_TABLES = (
    f"CREATE TABLE rows (n INTEGER PRIMARY KEY, {', '.join(_ROWS)})",
    f"CREATE TABLE limits (n INTEGER PRIMARY KEY, {', '.join(_LIMITS)})",
)
_INSERT_ROWS = f"INSERT INTO rows ({', '.join(_ROWS)}) VALUES ({', '.join('?' * len(_ROWS))})"  # noqa: S608
_INSERT_LIMITS = f"INSERT INTO limits VALUES ({', '.join('?' * (len(_LIMITS) + 1))})"  # noqa: S608


def packing_works() -> bool:
    """Python 3.11's ``serialize``/``deserialize``, on an SQLite built with them."""
    return hasattr(sqlite3.Connection, "deserialize")


@dataclass(frozen=True)
class PackedChunk:
    """A chunk as a parsing process sends it on a first load: the image of an SQLite database
    holding its rows, how many, and the (InsurerNumber, InsurerName) pairs it names."""

    image: bytes
    rows: int
    insurers: frozenset[tuple[str, str]]


def packer(
    prepare: Callable[[list[InsuredRecord]], list[Row]],
    stored_date: Callable[[Any], Any],
    limit_digest: Callable[[InsuredRecord], str],
) -> Callable[[list[InsuredRecord]], PackedChunk]:
    """What a parsing process runs on each chunk: its values bound as the row-by-row path binds
    them (``prepare``: dates in SQLite's storage form), into a database of its own."""

    def pack(chunk: list[InsuredRecord]) -> PackedChunk:
        rows = prepare(chunk)
        limits = []
        for n, (row, record) in enumerate(zip(rows, chunk, strict=True), 1):
            if record.has_limit_certificate:
                values = row[LIMIT_FIRST : LIMIT_FIRST + len(LIMIT_COLUMNS)]
                for slot in _LIMIT_DATE_SLOTS:
                    if values[slot] is not None:
                        values[slot] = stored_date(values[slot])
                limits.append((n, *values, limit_digest(record)))
        database = sqlite3.connect(":memory:", isolation_level=None)
        try:
            database.execute("PRAGMA journal_mode = OFF")  # built once, never rolled back
            for table in _TABLES:
                database.execute(table)
            database.execute("BEGIN")
            database.executemany(
                _INSERT_ROWS, [(*r[:_QUALIFICATION], r[INDIVIDUAL_ID], r[DIGEST]) for r in rows]
            )
            database.executemany(_INSERT_LIMITS, limits)
            database.execute("COMMIT")
            image = database.serialize()
        finally:
            database.close()
        return PackedChunk(image, len(rows), frozenset((r[0], r[INSURER_NAME]) for r in rows))

    return pack


_SCHEMA = "intake_chunk"
_Q_LIST = ", ".join(f'"{c}"' for c in QUALIFICATION_COLUMNS)
_LIMIT_LIST = ", ".join(f'"{c}"' for c in LIMIT_COLUMNS)
_X, _D = f"c{_QUALIFICATION}", f"c{_QUALIFICATION + 1}"  # IndividualId, digest
_COPY = (
    # A row without IndividualId: an individual of its own, id :i + n.
    f"INSERT INTO main.individual (id, external_id) SELECT :i + n, NULL "  # noqa: S608
    f"FROM {_SCHEMA}.rows WHERE {_X} IS NULL",
    # An IndividualId not stored yet: one individual, in the order of first naming.
    f"INSERT INTO main.individual (external_id) SELECT {_X} FROM {_SCHEMA}.rows "  # noqa: S608
    f"WHERE {_X} IS NOT NULL GROUP BY {_X} ORDER BY min(n) ON CONFLICT DO NOTHING",
    # Which individual: :i + n was free before the individuals named were added.
    f"INSERT INTO main.qualification (id, individual_id, {_Q_LIST}, content_digest, "  # noqa: S608
    f"version, updated_at) SELECT :q + s.n, CASE WHEN s.{_X} IS NULL THEN :i + s.n ELSE "
    f"(SELECT p.id FROM main.individual p WHERE p.external_id = s.{_X}) END, "
    f"{', '.join(f's.c{i}' for i in range(_QUALIFICATION))}, s.{_D}, 1, :now "
    f"FROM {_SCHEMA}.rows s ORDER BY s.n",
)
_COPY_LIMITS = (
    f"INSERT INTO main.limit_application_certificate (qualification_id, {_LIMIT_LIST}, "  # noqa: S608
    f"content_digest) SELECT :q + n, {', '.join(_LIMITS)} FROM {_SCHEMA}.limits "
    "WHERE true ORDER BY n ON CONFLICT DO NOTHING"
)


class ChunkCopier:
    """Copies packed chunks into the tables, inside the import's transaction."""

    def __init__(self, dbapi: Any, stored_now: Any) -> None:  # the sqlite3 connection
        self.dbapi = dbapi
        self.stored_now = stored_now
        self.attached = False

    def copy(self, chunk: PackedChunk) -> int:
        """Copy ``chunk`` in (its insurers stored already); returns the limit certificates added."""
        dbapi = self.dbapi
        if not self.attached:
            dbapi.execute(f"ATTACH DATABASE ':memory:' AS {_SCHEMA}")
            self.attached = True
        dbapi.deserialize(chunk.image, name=_SCHEMA)
        q, i = dbapi.execute(  # the highest ids stored: the chunk's are taken above them
            "SELECT (SELECT coalesce(max(id), 0) FROM main.qualification), "
            "(SELECT coalesce(max(id), 0) FROM main.individual)"
        ).fetchone()
        bases = {"q": q, "i": i, "now": self.stored_now}
        for statement in _COPY:
            dbapi.execute(statement, bases)
        before = dbapi.total_changes
        dbapi.execute(_COPY_LIMITS, bases)
        return int(dbapi.total_changes - before)

    def detach(self) -> None:
        """Once the transaction ended: SQLite keeps a schema read by a transaction until then."""
        if self.attached:
            self.dbapi.execute(f"DETACH DATABASE {_SCHEMA}")
            self.attached = False
