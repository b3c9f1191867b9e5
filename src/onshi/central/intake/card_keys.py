"""Finding qualifications by card key (保険者番号・記号・番号・枝番) in bulk.

A row-value ``IN (VALUES …)`` makes SQLite scan the whole table, so the keys go into a
temporary table and are joined on the unique card-key index instead: one indexed probe per key,
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import Connection

from onshi.central.intake.bulk import BulkWriter

CardKey = tuple[str, str, str, str]

_KEYS = "intake_card_key"
_FIND = f"""
SELECT k.k1, k.k2, k.k3, k.k4, q.id, q.individual_id, q.content_digest, q.version, i.external_id
FROM {_KEYS} k
JOIN qualification q ON q."InsurerNumber" = k.k1 AND q."InsuredCardSymbol" = k.k2
    AND q."InsuredIdentificationNumber" = k.k3 AND q."InsuredBranchNumber" = k.k4
JOIN individual i ON i.id = q.individual_id
"""  # noqa: S608 - constant text, keys are bound through the temporary table


class Stored(NamedTuple):
    """What an import needs to know of a stored qualification."""

    id: int
    individual_id: int
    content_digest: str
    version: int
    external_id: str | None


class CardKeyLookup:
    """Looks up many card keys at once inside the caller's transaction."""

    def __init__(self, connection: Connection, writer: BulkWriter) -> None:
        self.connection = connection
        self.writer = writer
        self._ready = False

    def find(self, keys: Iterable[CardKey]) -> dict[CardKey, Stored]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        postgres = self.connection.dialect.name == "postgresql"
        if not self._ready:
            suffix = " ON COMMIT DROP" if postgres else ""
            self.connection.exec_driver_sql(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_KEYS} "
                f"(k1 TEXT, k2 TEXT, k3 TEXT, k4 TEXT){suffix}"
            )
            self._ready = True
        self.connection.exec_driver_sql(f"DELETE FROM {_KEYS}")  # noqa: S608
        self.writer.insert_plain(_KEYS, ("k1", "k2", "k3", "k4"), wanted)
        if postgres:
            self.connection.exec_driver_sql(f"ANALYZE {_KEYS}")
        return {
            (r[0], r[1], r[2], r[3]): Stored(r[4], r[5], r[6], r[7], r[8])
            for r in self.connection.exec_driver_sql(_FIND)
        }
