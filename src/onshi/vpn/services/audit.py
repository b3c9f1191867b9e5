"""The control plane's append-only, hash-chained audit log (監査ログ).

The same construction as the central service's log (each entry's hash covers its fields and the
previous hash; ``verify_chain`` finds the first break), copied rather than imported so the two
services stay independent. Entries are appended inside the action's own transaction, so an
action and its audit entry are stored together or not at all. Never a password; subjects are
the service's own identifiers (IDs, application ids, serials), not personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from onshi.vpn.errors import AuditChainBroken
from onshi.vpn.services.views import AuditEntryView, ChainReport
from onshi.vpn.storage import tables as t
from onshi.vpn.storage.database import Database

GENESIS = "0" * 64
_ADVISORY_LOCK_ID = 0x76706E6175  # "vpnau": serialises appends across processes on PostgreSQL


def _entry_hash(
    seq: int,
    recorded_at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    outcome: str,
    detail: str | None,
    previous_hash: str,
) -> str:
    canonical = json.dumps(
        [
            seq,
            recorded_at.replace(microsecond=0).isoformat(),
            actor,
            action,
            subject,
            outcome,
            detail,
            previous_hash,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def append(
    session: Session,
    *,
    now: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    """Append one entry in ``session``'s transaction (committed, or rolled back, with it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_LOCK, {"k": _ADVISORY_LOCK_ID})
    connection = session.connection()
    last = connection.execute(_HEAD).first()
    seq, previous = (last.seq + 1, last.entry_hash) if last else (1, GENESIS)
    recorded_at = now.replace(microsecond=0, tzinfo=None)
    detail = detail[:400] if detail else None
    # Core insert: the log is written once and never loaded back as objects here.
    connection.execute(
        _INSERT,
        {
            "seq": seq,
            "recorded_at": recorded_at,
            "actor": actor[:40],
            "action": action,
            "subject": subject,
            "outcome": outcome,
            "detail": detail,
            "previous_hash": previous,
            "entry_hash": _entry_hash(
                seq, recorded_at, actor[:40], action, subject, outcome, detail, previous
            ),
        },
    )


# Built once: SQLAlchemy then reuses their compiled form on every append.
_HEAD = select(t.AuditEntry.seq, t.AuditEntry.entry_hash).order_by(t.AuditEntry.seq.desc()).limit(1)
_INSERT = insert(t.AuditEntry)
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


def entries(
    session: Session,
    *,
    limit: int = 100,
    before_seq: int | None = None,
    subject: str | None = None,
) -> list[AuditEntryView]:
    """The newest entries first (``before_seq`` pages back)."""
    query = select(t.AuditEntry).order_by(t.AuditEntry.seq.desc()).limit(max(1, min(limit, 1000)))
    if before_seq is not None:
        query = query.where(t.AuditEntry.seq < before_seq)
    if subject is not None:
        query = query.where(t.AuditEntry.subject == subject)
    return [
        AuditEntryView(
            r.seq, r.recorded_at, r.actor, r.action, r.subject, r.outcome, r.detail, r.entry_hash
        )
        for r in session.scalars(query)
    ]


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
                    row.recorded_at,
                    row.actor,
                    row.action,
                    row.subject,
                    row.outcome,
                    row.detail,
                    row.previous_hash,
                )
                if recomputed != row.entry_hash:
                    raise AuditChainBroken(f"audit entry {row.seq} was altered")
                previous = row.entry_hash
                expected_seq += 1
    if expected_seq - 1 != total:
        raise AuditChainBroken("the audit log has entries out of sequence")
    return ChainReport(entries=total, head=previous)
