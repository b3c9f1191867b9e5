"""Bulk writes inside one open transaction, the fast way for each database.

SQLite: the driver's ``executemany`` with values already in SQLAlchemy's storage format (a
million Core parameter dictionaries would cost more than the inserts). PostgreSQL: ``COPY`` —
straight into the table when the rows are known to be new, through a temporary staging table
and ``INSERT … SELECT … ON CONFLICT DO NOTHING`` when duplicates are expected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table


class BulkWriter:
    """Writes rows of plain tuples through ``connection``'s own transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, int] = {}  # PostgreSQL: table → its id sequence's oid
        self._converters: dict[tuple[str, tuple[str, ...]], list[_Converted | None]] = {}
        self._memos: dict[str, _Converted] = {}
        self._staged: set[str] = set()

    @property
    def _dbapi(self) -> Any:
        return self.connection.connection.driver_connection

    def reserve_ids(self, table: Table, count: int) -> list[int]:
        """Ids for rows about to be inserted, so children can refer to them without a round trip."""
        if count == 0:
            return []
        if self.dialect == "postgresql":
            # One row holding every id (an int8 array the driver converts in C), not ``count``
            # rows to fetch one by one. The sequence is looked up once: per id, that catalog
            # look-up cost more than the nextval.
            sequence = self._sequences.get(table.name)
            if sequence is None:
                sequence = self._sequences[table.name] = self.connection.exec_driver_sql(
                    "SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", (table.name,)
                ).scalar_one()
            ids = self.connection.exec_driver_sql(
                "SELECT array_agg(nextval(%s::oid)) FROM generate_series(1, %s)",
                (sequence, count),
            ).scalar_one()
            return list(ids)
        # SQLite has one writer: once this transaction has written, max(id) cannot move under us.
        if table.name not in self._next_id:
            self.connection.exec_driver_sql(f'UPDATE "{table.name}" SET id = id WHERE 0')  # noqa: S608
            found = self.connection.exec_driver_sql(
                f'SELECT coalesce(max(id), 0) FROM "{table.name}"'  # noqa: S608
            ).scalar_one()
            self._next_id[table.name] = int(found) + 1
        first = self._next_id[table.name]
        self._next_id[table.name] = first + count
        return list(range(first, first + count))

    def insert(self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows known to be new: a conflict is a real error and aborts the transaction."""
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql":
            with (
                self._dbapi.cursor() as cursor,
                cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
        self._dbapi.cursor().executemany(sql, self._for_sqlite(table, columns, rows))

    def insert_plain(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Text values into a helper table (no type conversion needed)."""
        names = ", ".join(columns)
        if self.dialect == "postgresql":
            with (
                self._dbapi.cursor() as cursor,
                cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        self._dbapi.cursor().executemany(f"INSERT INTO {name} ({names}) VALUES ({marks})", rows)  # noqa: S608

    def insert_new(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> int:
        """Rows that may already be stored (same unique digest): those are skipped. Returns inserted."""
        if not rows:
            return 0
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql":
            stage = f"intake_stage_{table.name}"
            if stage not in self._staged:
                self.connection.exec_driver_sql(
                    f'CREATE TEMPORARY TABLE "{stage}" ON COMMIT DROP AS '  # noqa: S608
                    f'SELECT {names} FROM "{table.name}" WITH NO DATA'
                )
                self._staged.add(stage)
            with self._dbapi.cursor() as cursor:
                with cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
                cursor.execute(
                    f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" '  # noqa: S608
                    "ON CONFLICT DO NOTHING"
                )
                inserted = int(cursor.rowcount)
                cursor.execute(f'TRUNCATE "{stage}"')
            return inserted
        marks = ", ".join("?" * len(columns))
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING'  # noqa: S608
        before = self._dbapi.total_changes
        self._dbapi.cursor().executemany(sql, self._for_sqlite(table, columns, rows))
        return int(self._dbapi.total_changes - before)

    def _for_sqlite(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> list[tuple[Any, ...]] | Sequence[Sequence[Any]]:
        """Dates and times as SQLAlchemy's SQLite storage strings; other values pass unchanged."""
        key = (table.name, tuple(columns))
        converters = self._converters.get(key)
        if converters is None:
            converters = []
            for c in columns:
                kind = table.c[c].type
                dialect = self.connection.dialect
                process = kind.dialect_impl(dialect).bind_processor(dialect)
                temporal = isinstance(kind, Date | DateTime)
                converters.append(
                    self._memo(type(kind).__name__, process) if temporal and process else None
                )
            self._converters[key] = converters
        where = [(i, memo) for i, memo in enumerate(converters) if memo is not None]
        if not where:
            return rows
        out = []
        for row in rows:
            values = list(row)
            for i, memo in where:
                value = values[i]
                if value is not None:
                    values[i] = memo[value]
            out.append(tuple(values))
        return out

    def _memo(self, kind: str, process: Callable[[Any], Any]) -> _Converted:
        found = self._memos.get(kind)
        if found is None:
            found = self._memos[kind] = _Converted(process)
        return found


class _Converted(dict[Any, Any]):
    """value → stored form, computed once: a population has few distinct dates."""

    def __init__(self, process: Callable[[Any], Any]) -> None:
        super().__init__()
        self.process = process

    def __missing__(self, value: Any) -> Any:
        converted = self.process(value)
        if len(self) < 100_000:
            self[value] = converted
        return converted
