"""The control plane's append-only audit log (監査ログ): one keyed hash chain, signed checkpoints.

The construction is the central service's (:mod:`onshi.audit.chain`): each entry's link is
``HMAC-SHA256(audit key, previous link ‖ canonical entry)``, so whoever can write the database
but does not hold the audit key (a file in the data directory, never in the database) can
neither alter an entry nor rebuild the links after it. Deleting the newest entries leaves a
shorter valid chain: :func:`make_checkpoint` signs the chain's length and head (Ed25519) for the
operator to publish elsewhere, and :func:`verify_chain` fails when the log no longer extends it.

The control plane writes little (an action a second at most), so it keeps a single chain
(``vpn``) and appends each entry inside the action's own transaction: an action and its audit
entry are stored together or not at all. The key reaches :func:`append` through the session
(``Database.audit_key``), so use cases pass only the session. Never a password; subjects are
the service's own identifiers (IDs, application ids, serials), not personal data.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from onshi.audit import chain as ac
from onshi.audit import keys
from onshi.vpn.errors import AuditChainBroken, InvalidInput, SecretStoreError
from onshi.vpn.services.views import AuditEntryView, ChainReport
from onshi.vpn.storage import tables as t
from onshi.vpn.storage.database import AUDIT_KEY, Database

GENESIS = ac.GENESIS
CHAIN = "vpn"  # the control plane's one chain, as named in checkpoints
_ADVISORY_LOCK_ID = 0x76706E6175  # "vpnau": serialises appends across processes on PostgreSQL


def load_key(path: Path, *, create: bool) -> bytes:
    """The audit key at ``path`` (made on first use if ``create``); a placeholder, a short key or
    an unreadable file is the operator's mistake: InvalidInput (exit 2), naming the setting."""
    try:
        return keys.audit_key(path, create=create)
    except (keys.KeyFileError, OSError) as exc:
        raise InvalidInput(f"{exc} (set ONSHI_VPN_AUDIT_KEY_FILE or --data-dir)") from None


def key_source(path: Path) -> Callable[[], bytes]:
    """What ``Database.audit_key`` holds: the key, read (or made) at the first append only."""
    lock = threading.Lock()

    @functools.cache
    def load() -> bytes:
        return load_key(path, create=True)

    def source() -> bytes:
        with lock:  # one creator per process; keys.audit_key settles races between processes
            return load()

    return source


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The checkpoint signing key (made on first use, its ``.pub`` beside it)."""
    try:
        return keys.signing_key(path, create=True)
    except (keys.KeyFileError, OSError) as exc:
        raise InvalidInput(f"{exc} (set ONSHI_VPN_AUDIT_SIGNING_KEY_FILE or --data-dir)") from None


def _entry(
    seq: int,
    recorded_at: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    outcome: str,
    detail: str | None,
) -> bytes:
    return ac.canonical(
        [
            ac.KEYED,
            CHAIN,
            seq,
            recorded_at.replace(microsecond=0).isoformat(),
            actor,
            action,
            subject,
            outcome,
            detail,
        ]
    )


def _key_of(session: Session) -> bytes:
    source: Callable[[], bytes] | None = session.info.get(AUDIT_KEY)
    if source is None:
        # A programming error, not an operator's: every writing session comes from
        # Database.transaction, which VpnControlPlane gives the key source.
        raise SecretStoreError("no audit key: open the database through VpnControlPlane")
    return source()


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
    key = _key_of(session)
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_LOCK, {"k": _ADVISORY_LOCK_ID})
    connection = session.connection()
    last = connection.execute(_HEAD).first()
    seq, previous = (last.seq + 1, last.entry_hash) if last else (1, GENESIS)
    recorded_at = now.replace(microsecond=0, tzinfo=None)
    actor, detail = actor[:40], (detail[:400] if detail else None)
    # Core insert: the log is written once and never loaded back as objects here.
    connection.execute(
        _INSERT,
        {
            "seq": seq,
            "recorded_at": recorded_at,
            "actor": actor,
            "action": action,
            "subject": subject,
            "outcome": outcome,
            "detail": detail,
            "previous_hash": previous,
            "entry_hash": ac.link(
                key, previous, _entry(seq, recorded_at, actor, action, subject, outcome, detail)
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


def _pin(checkpoint: ac.Checkpoint, key: bytes) -> ac.ChainHead | None:
    if checkpoint.audit_key_id != ac.key_id(key):
        raise AuditChainBroken(
            f"the checkpoint was made under audit key {checkpoint.audit_key_id}, "
            f"not this one ({ac.key_id(key)})"
        )
    others = sorted(c.chain for c in checkpoint.chains if c.chain != CHAIN)
    if others:
        raise AuditChainBroken(
            f"the checkpoint names chains this log does not keep ({', '.join(others)}):"
            " not a checkpoint of the VPN control plane"
        )
    return next((c for c in checkpoint.chains if c.chain == CHAIN), None)


def verify_chain(
    db: Database,
    key: bytes,
    *,
    checkpoint: ac.Checkpoint | None = None,
    batch: int = 10_000,
) -> ChainReport:
    """Walk the whole log; raise :class:`AuditChainBroken` at the first altered or missing
    entry, or when the log does not extend ``checkpoint`` (an already verified, signed one)."""
    pin = _pin(checkpoint, key) if checkpoint is not None else None
    expected_seq, previous = 1, GENESIS
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            # One snapshot for the whole walk: actions go on appending meanwhile.
            connection.execution_options(isolation_level="REPEATABLE READ")
        while True:
            rows = connection.execute(
                select(t.AuditEntry.__table__)
                .where(t.AuditEntry.seq >= expected_seq)
                .order_by(t.AuditEntry.seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            for row in rows:
                if row.seq != expected_seq:
                    raise AuditChainBroken(
                        f"audit entry {expected_seq} is missing (entry {row.seq} comes next)"
                    )
                if row.previous_hash != previous:
                    raise AuditChainBroken(
                        f"audit entry {row.seq} does not follow entry {row.seq - 1}"
                    )
                recomputed = ac.link(
                    key,
                    previous,
                    _entry(
                        row.seq,
                        row.recorded_at,
                        row.actor,
                        row.action,
                        row.subject,
                        row.outcome,
                        row.detail,
                    ),
                )
                if not ac.links_match(recomputed, row.entry_hash):
                    raise AuditChainBroken(f"audit entry {row.seq} was altered")
                if pin is not None and pin.count == row.seq and pin.head != row.entry_hash:
                    raise AuditChainBroken(
                        f"audit entry {row.seq} differs from the one the checkpoint pinned"
                    )
                previous = row.entry_hash
                expected_seq += 1
    count = expected_seq - 1
    if pin is not None and count < pin.count:
        raise AuditChainBroken(
            f"the log does not extend the checkpoint: it ends at entry {count}, the checkpoint"
            f" has {pin.count} (entries {count + 1}..{pin.count} are missing)"
        )
    return ChainReport(entries=count, head=previous)


def make_checkpoint(
    db: Database, key: bytes, signing_key: Ed25519PrivateKey, now: dt.datetime
) -> ac.Checkpoint:
    """Verify the log, then sign its length and head: a broken log is never pinned."""
    report = verify_chain(db, key)
    chains = (ac.ChainHead(CHAIN, report.entries, report.head),) if report.entries else ()
    return ac.sign(ac.Checkpoint(now, chains, ac.key_id(key)), signing_key)
