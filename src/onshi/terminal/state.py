"""The agent's local state: one row per *arrival* in ``req``, moved through its life in transactions.

    received ──claimed──▶ pending ──claim──▶ processing ──answered, temp written──▶ staged
                            ▲                    │                                      │ rename
                            └── retry later ◀────┘ (central unreachable)       delivered ◀┘

An arrival is a file found in ``req``, recorded here (``received``) and then renamed into the
agent's inbox under its row number, so the row — not the name — identifies it: the same name
sent again after its answer is a new arrival with a new row, and a crash at any point resumes
the arrival from its row. An answer already received from the central service is never asked
for again, and a result already renamed into ``res`` is never written again.

The rendered answer (personal data) goes straight into its temporary file in ``res``, never
into a row (``answered`` rows, holding it, are left only by earlier versions);
the database runs with ``secure_delete`` and its write-ahead log is checkpointed and truncated
after each delivery, so no patient's data stays in the state files.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    func,
    insert,
    select,
    update,
)

from onshi.db import make_engine


class Stage(enum.StrEnum):
    RECEIVED = "received"
    PENDING = "pending"
    PROCESSING = "processing"
    ANSWERED = "answered"
    STAGED = "staged"
    DELIVERED = "delivered"


metadata = MetaData()
requests = Table(
    "arrival",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, index=True),  # printable; see raw_name
    Column("raw_name", LargeBinary, nullable=False),  # the name's bytes in req, as found
    Column("inode", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String(16), nullable=False, index=True),
    Column("refusal", String(64)),  # an error code decided on arrival (not a readable file…)
    Column("refusal_message", String(300)),
    Column("received_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("outcome", String(64)),  # "ok" or an error code: never personal data
    Column("answer_name", String(255)),
    Column("answer", LargeBinary),  # ANSWERED rows of earlier versions: the rendered answer
)


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    name: str
    raw_name: bytes
    inode: int
    digest: str
    kind: str
    stage: Stage
    refusal: str | None
    refusal_message: str | None
    attempts: int
    next_attempt_at: dt.datetime
    outcome: str | None
    answer_name: str | None
    answer: bytes | None
    received_at: dt.datetime
    updated_at: dt.datetime


def _row(r: Any) -> RequestRow:
    return RequestRow(
        r.id,
        r.name,
        r.raw_name,
        r.inode,
        r.digest,
        r.kind,
        Stage(r.stage),
        r.refusal,
        r.refusal_message,
        r.attempts,
        r.next_attempt_at,
        r.outcome,
        r.answer_name,
        r.answer,
        r.received_at,
        r.updated_at,
    )


def now() -> dt.datetime:
    return dt.datetime.now()


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left readable
    cursor.close()


class StateStore:
    """SQLite in WAL mode; every transition is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _secure_delete)
        metadata.create_all(self.engine)
        self._scrub_lock = threading.Lock()

    def dispose(self) -> None:
        self.scrub()
        self.engine.dispose()

    def scrub(self) -> None:
        """Copy the log into the database and truncate it: no answer left in the WAL.

        Delivery sets the answer to NULL; ``secure_delete`` zeroes the freed pages in the
        database file, but older page images stay in the write-ahead log until a checkpoint.
        """
        with self._scrub_lock, self.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def add(
        self,
        name: str,
        digest: str,
        kind: str,
        *,
        raw_name: bytes | None = None,
        inode: int = 0,
        refusal: tuple[str, str] | None = None,
        stage: Stage = Stage.PENDING,
    ) -> int:
        """Record a new arrival; the agent adds it ``received``, then moves it into the inbox.

        ``digest`` is the content's, where known before reading (empty otherwise).
        """
        stamp = now()
        with self.engine.begin() as c:
            result = c.execute(
                insert(requests).values(
                    name=name,
                    digest=digest,
                    raw_name=raw_name if raw_name is not None else name.encode(),
                    inode=inode,
                    kind=kind,
                    stage=stage,
                    refusal=refusal[0] if refusal else None,
                    refusal_message=refusal[1][:300] if refusal else None,
                    received_at=stamp,
                    updated_at=stamp,
                    attempts=0,
                    next_attempt_at=stamp,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def claimed(self, row_id: int) -> None:
        """RECEIVED → PENDING: the file is in the inbox now."""
        self._set(row_id, stage=Stage.PENDING, next_attempt_at=now())

    def received(self) -> list[RequestRow]:
        """Arrivals recorded but maybe not yet moved into the inbox (a crash in between)."""
        with self.engine.connect() as c:
            rows = c.execute(
                select(requests).where(requests.c.stage == Stage.RECEIVED).order_by(requests.c.id)
            ).all()
        return [_row(r) for r in rows]

    def withdrawn(self, row_id: int) -> None:
        """The file left ``req`` before it was claimed: nothing to answer."""
        self._set(row_id, stage=Stage.DELIVERED, outcome="withdrawn", answer=None)

    def claim(self, row_id: int) -> bool:
        """PENDING → PROCESSING if due; False if another worker has it or it is not due."""
        with self.engine.begin() as c:
            result = c.execute(
                update(requests)
                .where(
                    requests.c.id == row_id,
                    requests.c.stage == Stage.PENDING,
                    requests.c.next_attempt_at <= now(),
                )
                .values(stage=Stage.PROCESSING, updated_at=now(), attempts=requests.c.attempts + 1)
            )
            return bool(result.rowcount)

    def retry_later(self, row_id: int, at: dt.datetime, outcome: str) -> None:
        self._set(row_id, stage=Stage.PENDING, next_attempt_at=at, outcome=outcome)

    def failed(self, row_id: int, at: dt.datetime) -> bool:
        """PROCESSING → PENDING, due at ``at``, after an unexpected failure; False if the row has
        moved on (answered, say), so that nothing is answered twice."""
        with self.engine.begin() as c:
            result = c.execute(
                update(requests)
                .where(requests.c.id == row_id, requests.c.stage == Stage.PROCESSING)
                .values(
                    stage=Stage.PENDING,
                    next_attempt_at=at,
                    outcome="AGENT_FAILURE",
                    updated_at=now(),
                )
            )
            return bool(result.rowcount)

    def staged(
        self, row_id: int, answer_name: str | None = None, outcome: str | None = None
    ) -> None:
        """The answer's temporary file is complete in ``res``; its rename comes next."""
        values = {"answer_name": answer_name, "outcome": outcome} if answer_name else {}
        self._set(row_id, stage=Stage.STAGED, **values)

    def delivered(self, row_id: int) -> None:
        self._set(row_id, stage=Stage.DELIVERED, answer=None)

    def _set(self, row_id: int, **values: Any) -> None:
        with self.engine.begin() as c:
            c.execute(
                update(requests).where(requests.c.id == row_id).values(updated_at=now(), **values)
            )

    def get(self, row_id: int) -> RequestRow:
        with self.engine.connect() as c:
            return _row(c.execute(select(requests).where(requests.c.id == row_id)).one())

    def unfinished(self) -> list[RequestRow]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(requests)
                .where(
                    requests.c.stage.in_(
                        [Stage.PENDING, Stage.PROCESSING, Stage.ANSWERED, Stage.STAGED]
                    )
                )
                .order_by(requests.c.id)
            ).all()
        return [_row(r) for r in rows]

    def release_processing(self) -> int:
        """At start: rows a killed process left PROCESSING go back to PENDING, due now."""
        with self.engine.begin() as c:
            result = c.execute(
                update(requests)
                .where(requests.c.stage == Stage.PROCESSING)
                .values(stage=Stage.PENDING, next_attempt_at=now(), updated_at=now())
            )
            return int(result.rowcount)

    def next_due(self) -> dt.datetime | None:
        with self.engine.connect() as c:
            return c.execute(
                select(func.min(requests.c.next_attempt_at)).where(
                    requests.c.stage == Stage.PENDING
                )
            ).scalar()

    def due(self, limit: int = 100) -> list[int]:
        with self.engine.connect() as c:
            return list(
                c.execute(
                    select(requests.c.id)
                    .where(requests.c.stage == Stage.PENDING, requests.c.next_attempt_at <= now())
                    .order_by(requests.c.next_attempt_at)
                    .limit(limit)
                ).scalars()
            )

    def recent(self, limit: int = 50) -> list[RequestRow]:
        with self.engine.connect() as c:
            rows = c.execute(select(requests).order_by(requests.c.id.desc()).limit(limit)).all()
        return [_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(requests.c.stage, func.count()).group_by(requests.c.stage)
            ).all()
        return {stage: n for stage, n in rows}
