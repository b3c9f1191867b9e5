"""The append-only, hash-chained audit log of every access (アクセスログ).

Each entry's hash covers its fields and the previous entry's hash, so altering or removing an
entry breaks the chain from there on; ``verify_chain`` finds the first break. Personal
identifiers are never stored in clear: ``subject`` is an HMAC-SHA256 under the service's
identifier key, enough to find every access to one card key, useless to read one off.

Removing the newest entries cannot be seen from the chain alone: publish ``head()`` elsewhere
(e.g. daily) to pin it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass

from sqlalchemy import func, insert, select, text

from onshi.central.errors import AuditChainBroken
from onshi.central.services.clock import Clock, jst_now, naive_jst
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x6F6E736869  # "onshi": serialises appends across processes on PostgreSQL


def _entry_hash(
    seq: int,
    recorded_at: str,
    facility: str | None,
    action: str,
    subject: str | None,
    outcome: str,
    previous_hash: str,
) -> str:
    canonical = json.dumps(
        [seq, recorded_at, facility, action, subject, outcome, previous_hash],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head: str


@dataclass
class _Pending:
    facility: str | None
    action: str
    subject: str | None
    outcome: str
    recorded_at: dt.datetime
    done: bool = False
    error: BaseException | None = None


class AuditLog:
    """Appends entries with group commit: whoever holds the write lock writes every entry
    waiting at that moment in one transaction, so concurrent requests share one commit instead
    of queueing for one each. ``record`` returns only once its entry is committed."""

    def __init__(self, db: Database, identifier_key: str, clock: Clock = jst_now) -> None:
        self._db = db
        self._key = identifier_key.encode()
        self._clock = clock
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()

    def subject(self, *parts: str | None) -> str:
        """Keyed digest of an identifier (card key, certificate serial…), never the identifier."""
        message = "\x1f".join(p or "" for p in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def record(
        self, *, facility: str | None, action: str, subject: str | None, outcome: str
    ) -> None:
        """Append one entry, after the access's outcome is known; raise if it cannot be stored."""
        entry = _Pending(
            facility, action, subject, outcome, naive_jst(self._clock()).replace(microsecond=0)
        )
        with self._queue_lock:
            self._queue.append(entry)
        with self._write_lock:
            if not entry.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._write(batch)
                except BaseException as exc:
                    for pending in batch:
                        pending.error = exc
                    raise
                finally:
                    for pending in batch:
                        pending.done = True
        if entry.error is not None:
            raise entry.error

    def _write(self, batch: list[_Pending]) -> None:
        with self._db.engine.begin() as connection:
            if self._db.dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID}
                )
            last = connection.execute(_HEAD).first()
            seq, previous = (last.seq, last.entry_hash) if last else (0, GENESIS)
            rows = []
            for e in batch:
                seq += 1
                entry_hash = _entry_hash(
                    seq,
                    e.recorded_at.isoformat(),
                    e.facility,
                    e.action,
                    e.subject,
                    e.outcome,
                    previous,
                )
                rows.append(
                    {
                        "seq": seq,
                        "recorded_at": e.recorded_at,
                        "MedicalInstitutionCode": e.facility,
                        "action": e.action,
                        "subject": e.subject,
                        "outcome": e.outcome,
                        "previous_hash": previous,
                        "entry_hash": entry_hash,
                    }
                )
                previous = entry_hash
            connection.execute(_INSERT, rows)


# Built once: SQLAlchemy then reuses their compiled form on every append.
_HEAD = select(t.AuditEntry.seq, t.AuditEntry.entry_hash).order_by(t.AuditEntry.seq.desc()).limit(1)
_INSERT = insert(t.AuditEntry)


def verify_chain(db: Database, *, batch: int = 10_000) -> ChainReport:
    """Walk the whole log; raise :class:`AuditChainBroken` at the first altered or missing entry."""
    expected_seq, previous = 1, GENESIS
    with db.sessions() as session:
        total = session.scalar(select(func.count()).select_from(t.AuditEntry)) or 0
        while True:
            rows = session.scalars(
                select(t.AuditEntry)
                .where(t.AuditEntry.seq >= expected_seq)
                .order_by(t.AuditEntry.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq != expected_seq:
                    raise AuditChainBroken(f"audit entry {expected_seq} is missing")
                if row.previous_hash != previous:
                    raise AuditChainBroken(
                        f"audit entry {row.seq} does not follow entry {row.seq - 1}"
                    )
                recomputed = _entry_hash(
                    row.seq,
                    row.recorded_at.replace(microsecond=0).isoformat(),
                    row.MedicalInstitutionCode,
                    row.action,
                    row.subject,
                    row.outcome,
                    row.previous_hash,
                )
                if recomputed != row.entry_hash:
                    raise AuditChainBroken(f"audit entry {row.seq} was altered")
                previous = row.entry_hash
                expected_seq += 1
    if expected_seq - 1 != total:
        raise AuditChainBroken("the audit log has entries out of sequence")
    return ChainReport(entries=total, head=previous)
