"""The agent's local state: one row per request file, moved through its life in transactions.

    pending ──claim──▶ processing ──central answered──▶ answered ──temp written──▶ staged
       ▲                   │                                                      │ rename
       └── retry later ◀───┘ (central unreachable)                       delivered ◀┘

A request killed at any point resumes from its row: an answer already received from the
central service is never asked for again, and a result already renamed into ``res`` is never
written again, so every request is answered exactly once.
"""

from __future__ import annotations

import datetime as dt
import enum
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
    func,
    insert,
    select,
    update,
)

from onshi.db import make_engine


class Stage(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    ANSWERED = "answered"
    STAGED = "staged"
    DELIVERED = "delivered"


metadata = MetaData()
requests = Table(
    "request",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("stage", String(16), nullable=False, index=True),
    Column("received_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("outcome", String(64)),  # "ok" or an error code: never personal data
    Column("answer_name", String(255)),
    Column("answer", LargeBinary),  # the rendered answer, kept from ANSWERED until DELIVERED
)


@dataclass(frozen=True, slots=True)
class RequestRow:
    id: int
    name: str
    digest: str
    kind: str
    stage: Stage
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
        r.digest,
        r.kind,
        Stage(r.stage),
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


class StateStore:
    """SQLite in WAL mode; every transition is one short transaction."""

    def __init__(self, path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{path}")
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def open_row(self, name: str) -> RequestRow | None:
        """The row of a request file not yet delivered, if any."""
        with self.engine.connect() as c:
            r = c.execute(
                select(requests).where(requests.c.name == name, requests.c.stage != Stage.DELIVERED)
            ).first()
        return _row(r) if r else None

    def delivered_with_digest(self, name: str, digest: str) -> RequestRow | None:
        with self.engine.connect() as c:
            r = c.execute(
                select(requests)
                .where(
                    requests.c.name == name,
                    requests.c.digest == digest,
                    requests.c.stage == Stage.DELIVERED,
                )
                .order_by(requests.c.id.desc())
            ).first()
        return _row(r) if r else None

    def add(self, name: str, digest: str, kind: str) -> int:
        stamp = now()
        with self.engine.begin() as c:
            result = c.execute(
                insert(requests).values(
                    name=name,
                    digest=digest,
                    kind=kind,
                    stage=Stage.PENDING,
                    received_at=stamp,
                    updated_at=stamp,
                    attempts=0,
                    next_attempt_at=stamp,
                )
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

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

    def answered(self, row_id: int, answer_name: str, answer: bytes, outcome: str) -> None:
        self._set(
            row_id, stage=Stage.ANSWERED, answer_name=answer_name, answer=answer, outcome=outcome
        )

    def staged(self, row_id: int) -> None:
        self._set(row_id, stage=Stage.STAGED)

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
                select(requests).where(requests.c.stage != Stage.DELIVERED).order_by(requests.c.id)
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
