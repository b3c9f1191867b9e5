"""An import leaves the pooled connection as it found it (a server imports sample data, then
serves requests on the same connections)."""

from __future__ import annotations

import io

import pytest

from onshi.central.errors import IntakeRejected
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

from .support import csv_bytes, row


def _connection_state(database: Database) -> tuple[int, list[object]]:
    with database.engine.connect() as c:
        cache = int(c.exec_driver_sql("PRAGMA cache_size").scalar_one())
        keys = c.exec_driver_sql(
            "SELECT name FROM sqlite_temp_master WHERE name = 'intake_key'"
        ).scalars()
        kept = c.exec_driver_sql("SELECT * FROM intake_key").all() if list(keys) else []
    return cache, kept


def test_sqlite_connection_settings_are_put_back(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        before, _ = _connection_state(database)
        rows = [row(n) for n in range(1, 6)]
        import_insured(database, io.BytesIO(csv_bytes(rows)))
        import_insured(database, io.BytesIO(csv_bytes(rows)))  # card keys looked up
        assert database.engine.pool.checkedin() == 1  # the import's connection, looked at here
        assert _connection_state(database) == (before, [])  # 256 MiB cache, card keys: gone
        with pytest.raises(IntakeRejected):
            import_insured(database, io.BytesIO(csv_bytes([*rows, row(9, Sex1="9")])), chunk_size=2)
        assert _connection_state(database) == (before, [])
    finally:
        database.dispose()
