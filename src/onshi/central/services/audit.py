"""The append-only, hash-chained audit log of every access (アクセスログ).

Each entry's hash covers its fields and the previous entry's hash, so altering or removing an
entry breaks the chain from there on; ``verify_chain`` finds the first break. Personal
identifiers are never stored in clear: ``subject`` is an HMAC-SHA256 under the service's
identifier key, enough to find every access to one card key, useless to read one off.

Removing the newest entries cannot be seen from the chain alone: publish ``head()`` elsewhere
(e.g. daily) to pin it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass

from sqlalchemy import func, select, text

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


class AuditLog:
    def __init__(self, db: Database, identifier_key: str, clock: Clock = jst_now) -> None:
        self._db = db
        self._key = identifier_key.encode()
        self._clock = clock
        self._lock = threading.Lock()

    def subject(self, *parts: str | None) -> str:
        """Keyed digest of an identifier (card key, certificate serial…), never the identifier."""
        message = "\x1f".join(p or "" for p in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def record(
        self, *, facility: str | None, action: str, subject: str | None, outcome: str
    ) -> None:
        """Append one entry in its own transaction, after the access's outcome is known."""
        with self._lock, self._db.transaction() as session:
            if self._db.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID})
            last = session.execute(
                select(t.AuditEntry.seq, t.AuditEntry.entry_hash)
                .order_by(t.AuditEntry.seq.desc())
                .limit(1)
            ).first()
            seq = (last.seq + 1) if last else 1
            previous = last.entry_hash if last else GENESIS
            recorded_at = naive_jst(self._clock()).replace(microsecond=0)
            entry_hash = _entry_hash(
                seq, recorded_at.isoformat(), facility, action, subject, outcome, previous
            )
            session.add(
                t.AuditEntry(
                    seq=seq,
                    recorded_at=recorded_at,
                    MedicalInstitutionCode=facility,
                    action=action,
                    subject=subject,
                    outcome=outcome,
                    previous_hash=previous,
                    entry_hash=entry_hash,
                )
            )


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
