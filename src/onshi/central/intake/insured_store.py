"""Storing a parsed insured-persons file: one transaction, idempotent, history kept.

A card key seen for the first time is inserted; the same content digest again changes nothing;
a changed row is updated with ``version + 1`` after its earlier state is copied, as JSON, into
``qualification_history`` (資格履歴). Individuals are found by the insurers' ``IndividualId``; a row
without one keeps the individual its card key already has, or gets a new one.

Stored rows are looked up in bulk per chunk and only for insurers that already have rows, so a
first import of a million persons costs no lookups at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from sqlalchemy import Connection, bindparam, select, update

from onshi.central.errors import IntakeRejected, RowProblem
from onshi.central.intake.bulk import BulkWriter
from onshi.central.intake.card_keys import CardKeyLookup, Stored
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_csv import (
    LIMIT_COLUMNS,
    QUALIFICATION_COLUMNS,
    InsuredCsv,
    InsuredRecord,
)
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
    database: Database, stream: BinaryIO, *, chunk_size: int = CHUNK, now: dt.datetime | None = None
) -> ImportCounts:
    """Import one insured-persons CSV whole, or raise :class:`IntakeRejected` having stored nothing."""
    parsed = InsuredCsv(stream)
    with database.engine.begin() as connection:
        store = InsuredStore(connection, now or utc_now())
        chunks = in_chunks(parsed, chunk_size)
        if connection.dialect.name == "postgresql":
            # The write waits on the server's own process there: parse the next chunk meanwhile.
            # (On SQLite both halves are mostly Python under one GIL; measured, no gain.)
            chunks = read_ahead(chunks)
        for chunk in chunks:
            if not parsed.problems:  # once doomed, keep reading only to list every problem
                store.write(chunk)
        if parsed.problems:
            raise reject(parsed.problems, "insured-persons file")
        return store.counts


def read_ahead(
    chunks: Iterator[list[InsuredRecord]], depth: int = 2
) -> Iterator[list[InsuredRecord]]:
    """The same chunks, parsed by a thread of their own while the caller writes the previous one.

    Parsing is pure Python; writing to PostgreSQL waits for its backend process (a fifth of
    the import's time, profiled) with the GIL released, so the two overlap when a core is free.
    A problem found ahead is harmless: the caller checks ``problems`` before each write, and
    the whole transaction rolls back when there are any.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(("chunk", chunk)):
                    return
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
            put(("error", exc))
            return
        put(("end", None))

    reader = threading.Thread(target=produce, name="onshi-intake-parse", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        reader.join()


def in_chunks(parsed: InsuredCsv, chunk_size: int) -> Iterator[list[InsuredRecord]]:
    """Records in lists of ``chunk_size``; none once a problem was found (nothing will be stored)."""
    chunk: list[InsuredRecord] = []
    for record in parsed.records():
        if parsed.problems:
            chunk.clear()
            continue
        chunk.append(record)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    yield chunk


class InsuredStore:
    """The write side of one import, holding what it learnt of the database between chunks."""

    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self.connection = connection
        self.now = now
        self.writer = BulkWriter(connection)
        self.lookup = CardKeyLookup(connection, self.writer)
        self.counts = ImportCounts()
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for index builds
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

    def write(self, chunk: Sequence[InsuredRecord]) -> None:
        if not chunk:
            return
        self._write_insurers(chunk)
        existing = self.lookup.find(
            r.card_key for r in chunk if r.InsurerNumber in self.insurers_with_rows
        )
        self._learn_individuals(
            {
                r.IndividualId
                for r in chunk
                if r.IndividualId and r.IndividualId not in self.individual_of
            }
        )
        new_ids = iter(
            self.writer.reserve_ids(QUALIFICATION, sum(r.card_key not in existing for r in chunk))
        )
        individuals: list[tuple[int, str | None]] = []
        adopted: list[dict[str, Any]] = []
        inserts: list[tuple[Any, ...]] = []
        changes: list[tuple[Stored, InsuredRecord, int]] = []
        limits: list[tuple[Any, ...]] = []
        unresolved = sum(
            1
            for r in chunk
            if (r.IndividualId is None and r.card_key not in existing)
            or (r.IndividualId is not None and r.IndividualId not in self.individual_of)
        )
        fresh_individuals = iter(self.writer.reserve_ids(INDIVIDUAL, unresolved))
        counts, now = self.counts, self.now
        for r in chunk:
            old = existing.get(r.card_key)
            if old is not None and old.content_digest == r.digest:
                counts.unchanged += 1
                if r.has_limit_certificate:
                    limits.append(_limit_row(old.id, r))
                continue
            individual_id = self._individual(r, old, fresh_individuals, individuals, adopted)
            if old is None:
                qualification_id = next(new_ids)
                inserts.append((qualification_id, individual_id, *r[:24], r.digest, 1, now))
                counts.inserted += 1
            else:
                qualification_id = old.id
                changes.append((old, r, individual_id))
                counts.updated += 1
            if r.has_limit_certificate:
                limits.append(_limit_row(qualification_id, r))
        self.writer.insert(INDIVIDUAL, ("id", "external_id"), individuals)
        if adopted:
            self.connection.execute(
                update(INDIVIDUAL).where(INDIVIDUAL.c.id == bindparam("b_id")), adopted
            )
        self.writer.insert(QUALIFICATION, QUALIFICATION_INSERT, inserts)
        self._update(changes)
        counts.limit_certificates += self.writer.insert_new(LIMIT, LIMIT_INSERT, limits)

    def _write_insurers(self, chunk: Iterable[InsuredRecord]) -> None:
        new: dict[str, str] = {}
        renamed: dict[str, str] = {}
        for r in chunk:
            known = self.insurers.get(r.InsurerNumber)
            if known is None:
                new[r.InsurerNumber] = r.InsurerName
            elif known != r.InsurerName:
                renamed[r.InsurerNumber] = r.InsurerName
            self.insurers[r.InsurerNumber] = r.InsurerName
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
        query = select(INDIVIDUAL.c.external_id, INDIVIDUAL.c.id)
        for start in range(0, len(wanted), 900):
            batch = wanted[start : start + 900]
            for external_id, individual_id in self.connection.execute(
                query.where(INDIVIDUAL.c.external_id.in_(batch))
            ):
                self.individual_of[external_id] = individual_id

    def _individual(
        self,
        r: InsuredRecord,
        old: Stored | None,
        fresh: Any,
        individuals: list[tuple[int, str | None]],
        adopted: list[dict[str, Any]],
    ) -> int:
        """The individual this row belongs to (個人), created or adopted as needed."""
        if r.IndividualId is None:
            if old is not None:
                return old.individual_id
            individual_id: int = next(fresh)
            individuals.append((individual_id, None))
            return individual_id
        known = self.individual_of.get(r.IndividualId)
        if known is not None:
            return known
        if old is not None and old.external_id is None:
            # The insurer now names the person it already had: keep the individual (and its
            # card links) rather than splitting the person in two.
            adopted.append({"b_id": old.individual_id, "external_id": r.IndividualId})
            individual_id = old.individual_id
            next(fresh)  # reserved for this row; unused ids are harmless gaps
        else:
            individual_id = next(fresh)
            individuals.append((individual_id, r.IndividualId))
        self.individual_of[r.IndividualId] = individual_id
        return individual_id

    def _update(self, changes: list[tuple[Stored, InsuredRecord, int]]) -> None:
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
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in QUALIFICATION_COLUMNS}
        statement = (
            update(QUALIFICATION)
            .where(q.id == bindparam("b_id"))
            .values(
                individual_id=bindparam("v_individual_id"),
                content_digest=bindparam("v_digest"),
                version=bindparam("v_version"),
                updated_at=bindparam("v_now"),
                **values,
            )
        )
        params = []
        for old, r, individual_id in changes:
            p: dict[str, Any] = {
                f"v_{c}": v for c, v in zip(QUALIFICATION_COLUMNS, r[:24], strict=True)
            }
            p.update(
                b_id=old.id,
                v_individual_id=individual_id,
                v_digest=r.digest,
                v_version=old.version + 1,
                v_now=self.now,
            )
            params.append(p)
        self.connection.execute(statement, params)


def _limit_row(qualification_id: int, r: InsuredRecord) -> tuple[Any, ...]:
    values = r[26:32]
    text = "\x1f".join(["limit", *r.card_key, *("" if v is None else str(v) for v in values)])
    return (qualification_id, *values, hashlib.sha256(text.encode()).hexdigest())


def _history_json(row: dict[str, Any]) -> str:
    """The earlier row with OQS names as keys; dates as YYYYMMDD like the interface writes them."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.date):
            return value.strftime("%Y%m%d")
        return value

    return json.dumps({k: plain(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)
