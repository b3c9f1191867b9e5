"""Storing JSON Lines records: one transaction, re-import is a no-op.

Each row carries a SHA-256 ``content_digest`` of its owner and values, UNIQUE in its table, and
is inserted with ``ON CONFLICT DO NOTHING``: importing the same file twice, or two files that
overlap, stores each fact once. Card links have no digest: a certificate is known by issuer and
serial and by its own digest, and one already linked to someone else is refused, not moved.
Like every import it waits for any other to commit first (``one_import_at_a_time``): a card
linked by an import still in progress is then seen, and refused for someone else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

from sqlalchemy import Connection, or_, select

from onshi.central.errors import RowProblem
from onshi.central.intake.bulk import BulkWriter
from onshi.central.intake.card_keys import CardKeyLookup
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import one_import_at_a_time, reject, utc_now
from onshi.central.intake.records_jsonl import KINDS, Kind, LinkedRecord, LinkedRecords
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

CHUNK = 5_000
CARD_KEY = "(card key)"
CARD_LINK = t.Base.metadata.tables["card_link"]


def import_linked(
    database: Database,
    kind_name: str,
    stream: BinaryIO,
    *,
    chunk_size: int = CHUNK,
    now: dt.datetime | None = None,
) -> ImportCounts:
    """Import one JSON Lines file of ``kind_name`` whole, or raise ``IntakeRejected``."""
    kind = KINDS[kind_name]
    parsed = LinkedRecords(kind, stream)
    with database.engine.begin() as connection:
        one_import_at_a_time(connection)
        store = LinkedStore(connection, kind, now or utc_now())
        for chunk in _chunks(parsed.records(), chunk_size):
            store.write(chunk, parsed.problems)
        if parsed.problems:
            parsed.problems.sort(key=lambda p: p.line)
            raise reject(parsed.problems, f"{kind.name} file")
        return store.counts


def _chunks(records: Iterator[LinkedRecord], size: int) -> Iterator[list[LinkedRecord]]:
    chunk: list[LinkedRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    yield chunk


class LinkedStore:
    def __init__(self, connection: Connection, kind: Kind, now: dt.datetime) -> None:
        self.connection = connection
        self.kind = kind
        self.now = now
        self.writer = BulkWriter(connection)
        self.lookup = CardKeyLookup(connection, self.writer)
        self.table = t.Base.metadata.tables[kind.table]
        owner = "individual_id" if kind.owner == "individual" else "qualification_id"
        if kind.name == "cards":
            self.columns: tuple[str, ...] = (*kind.columns, "individual_id", "linked_at")
        else:
            constants = tuple(name for name, _ in kind.constants)
            self.columns = (owner, *constants, *kind.columns, "content_digest")
        self.counts = ImportCounts()

    def write(self, chunk: Sequence[LinkedRecord], problems: list[RowProblem]) -> None:
        """Resolve card keys (always, to list every unknown one); write while nothing is wrong."""
        if not chunk:
            return
        found = self.lookup.find(r.card_key for r in chunk)
        rows: list[tuple[Any, ...]] = []
        for r in chunk:
            stored = found.get(r.card_key)
            if stored is None:
                problems.append(RowProblem(r.line, CARD_KEY, "no qualification has this card key"))
                continue
            owner = stored.individual_id if self.kind.owner == "individual" else stored.id
            if self.kind.name == "cards":
                rows.append((*r.values, owner, self.now))
            else:
                text = "\x1f".join(
                    [self.kind.name, str(owner), *("" if v is None else str(v) for v in r.values)]
                )
                constants = tuple(value for _, value in self.kind.constants)
                digest = hashlib.sha256(text.encode()).hexdigest()
                rows.append((owner, *constants, *r.values, digest))
        if self.kind.name == "cards":
            self._refuse_relinks(chunk, rows, problems)
        if problems:
            return
        inserted = self.writer.insert_new(self.table, self.columns, rows)
        self.counts.inserted += inserted
        self.counts.unchanged += len(rows) - inserted

    def _refuse_relinks(
        self, chunk: Sequence[LinkedRecord], rows: list[tuple[Any, ...]], problems: list[RowProblem]
    ) -> None:
        """A certificate linked to one person must not silently stay with them when a file says another."""
        lines = {row[2]: r.line for r, row in zip(chunk, rows, strict=False)}
        c = CARD_LINK.c
        digests = [row[2] for row in rows]
        serials = [row[1] for row in rows]
        seen: dict[tuple[str, str], int] = {}
        for row in rows:
            first = seen.setdefault((row[0], row[1]), row[3])
            if first != row[3]:
                problems.append(
                    RowProblem(
                        lines[row[2]],
                        "serial",
                        "the same card is linked to two persons in this file",
                    )
                )
        mine = {row[2]: row[3] for row in rows}
        by_serial = {(row[0], row[1]): row for row in rows}
        for start in range(0, len(rows), 400):
            query = select(c.issuer, c.serial, c.certificate_digest, c.individual_id).where(
                or_(
                    c.certificate_digest.in_(digests[start : start + 400]),
                    c.serial.in_(serials[start : start + 400]),
                )
            )
            for issuer, serial, digest, individual_id in self.connection.execute(query):
                same = by_serial.get((issuer, serial))
                if digest in mine and mine[digest] != individual_id:
                    problems.append(
                        RowProblem(
                            lines[digest],
                            "certificate_digest",
                            "this card is already linked to another person",
                        )
                    )
                elif same is not None and (same[2] != digest or same[3] != individual_id):
                    problems.append(
                        RowProblem(
                            lines[same[2]],
                            "serial",
                            "this issuer and serial are already linked to another certificate or person",
                        )
                    )
