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

The key can be replaced (``onshi vpn audit rotate-key``, after someone who could read it left):
the one chain is then handed over, by an entry (``audit.key-rotated``) linked under the old key
whose subject is the new key's id; every later entry is linked under the new key. An append
first checks that the newest entry leaves the chain to its own key (the newest entry verifies
under it, or hands over to it): if not, the process reads the key file again (replaced since it
started), and when the log is still under a replaced key (kept beside the key file) it writes
the hand-over itself. So processes started before the rotation need no restart, and a rotation
cut short completes at the next action. Retiring a replaced key signs where its part of the
chain ends (its hand-over entry): anything more under it later fails verification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
ROTATED = "audit.key-rotated"  # hands the chain over to the key its subject names
_ADVISORY_LOCK_ID = 0x76706E6175  # "vpnau": serialises appends across processes on PostgreSQL


def key_ring(path: Path, signing_key_path: Path) -> ac.KeyRing:
    """The key file's key and the keys it replaced, with the closings of the retired ones."""
    try:
        return keys.key_ring(path, keys.public_key_path(signing_key_path))
    except (keys.KeyFileError, OSError) as exc:
        raise InvalidInput(f"{exc} (set ONSHI_VPN_AUDIT_KEY_FILE or --data-dir)") from None
    except ac.CheckpointInvalid as exc:
        raise AuditChainBroken(f"a closing checkpoint does not verify: {exc}") from None


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


def _source_of(session: Session) -> keys.KeySource:
    source: keys.KeySource | None = session.info.get(AUDIT_KEY)
    if source is None:
        # A programming error, not an operator's: every writing session comes from
        # Database.transaction, which VpnControlPlane gives the key source.
        raise SecretStoreError("no audit key: open the database through VpnControlPlane")
    return source


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
    key, seq, previous = _next_link(session, now)
    _insert(session, key, seq, previous, now, actor, action, subject, outcome, detail)


def hand_over(session: Session, now: dt.datetime) -> None:
    """Hand the chain over to the key file's key if it is still under a key it replaced (see
    the module's docstring)."""
    _next_link(session, now, fresh=True)


def _next_link(
    session: Session, now: dt.datetime, *, fresh: bool = False
) -> tuple[bytes, int, str]:
    """The key, seq and previous link of the next entry, the chain handed over first if need
    be (``fresh``: to the key file's key as it is now, not as this process last read it).
    Takes the log's lock (PostgreSQL; on SQLite the transaction holds the write lock)."""
    source = _source_of(session)
    try:
        if session.get_bind().dialect.name == "postgresql":
            session.connection().execute(_LOCK, {"k": _ADVISORY_LOCK_ID})
        head = session.connection().execute(_HEAD).first()
        if head is None:
            return source.current(), 1, GENESIS
        key = source.current(again=fresh)
        if not fresh and not _leaves_to(head, key):
            key = source.current(again=True)  # the file was replaced since this process read it
        if _leaves_to(head, key):
            return key, head.seq + 1, head.entry_hash
        old = next((k for k in source.replaced().values() if _leaves_to(head, k)), None)
    except (keys.KeyFileError, OSError) as exc:
        raise InvalidInput(f"{exc} (set ONSHI_VPN_AUDIT_KEY_FILE or --data-dir)") from None
    if old is None:
        raise AuditChainBroken(
            f"audit entry {head.seq}, the newest, is under none of the audit keys in"
            f" {source.path.parent} (neither the key file's nor a replaced one): nothing is"
            " appended under another key"
        )
    seq = head.seq + 1
    handed = _insert(
        session, old, seq, head.entry_hash, now, "system", ROTATED, ac.key_id(key), "ok", None
    )
    return key, seq + 1, handed


def _leaves_to(head: Any, key: bytes) -> bool:
    """Whether the chain goes on under ``key`` after ``head``: a hand-over names the next key;
    any other entry is linked under the key in force."""
    if head.action == ROTATED:
        return bool(head.subject == ac.key_id(key))
    return ac.links_match(ac.link(key, head.previous_hash, _stored(head)), head.entry_hash)


def _stored(row: Any) -> bytes:
    """The canonical entry of a stored row."""
    return _entry(
        row.seq, row.recorded_at, row.actor, row.action, row.subject, row.outcome, row.detail
    )


def _insert(
    session: Session,
    key: bytes,
    seq: int,
    previous: str,
    now: dt.datetime,
    actor: str,
    action: str,
    subject: str | None,
    outcome: str,
    detail: str | None,
) -> str:
    """Insert one linked entry; its link."""
    recorded_at = now.replace(microsecond=0, tzinfo=None)
    actor, detail = actor[:40], (detail[:400] if detail else None)
    linked = ac.link(
        key, previous, _entry(seq, recorded_at, actor, action, subject, outcome, detail)
    )
    # Core insert: the log is written once and never loaded back as objects here.
    session.connection().execute(
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
            "entry_hash": linked,
        },
    )
    return linked


# Built once: SQLAlchemy then reuses their compiled form on every append.
_HEAD = select(t.AuditEntry.__table__).order_by(t.AuditEntry.seq.desc()).limit(1)
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


def _pin(checkpoint: ac.Checkpoint, ring: ac.KeyRing) -> ac.ChainHead | None:
    if checkpoint.audit_key_id not in ring.ids:
        raise AuditChainBroken(
            f"the checkpoint was made under audit key {checkpoint.audit_key_id}, neither this"
            f" one ({ac.key_id(ring.current)}) nor one it replaced"
        )
    others = sorted(c.chain for c in checkpoint.chains if c.chain != CHAIN)
    if others:
        raise AuditChainBroken(
            f"the checkpoint names chains this log does not keep ({', '.join(others)}):"
            " not a checkpoint of the VPN control plane"
        )
    return next((c for c in checkpoint.chains if c.chain == CHAIN), None)


@dataclass(frozen=True)
class _Walked:
    report: ChainReport
    ended: dict[str, tuple[int, str]]  # replaced key id → its hand-over entry (seq, link)
    in_force: str | None  # the id of the key the log goes on under (None: empty log)


def verify_chain(
    db: Database,
    ring: ac.KeyRing,
    *,
    checkpoint: ac.Checkpoint | None = None,
    batch: int = 10_000,
) -> ChainReport:
    """Walk the whole log; raise :class:`AuditChainBroken` at the first altered or missing
    entry, when the log does not extend ``checkpoint`` (an already verified, signed one), or
    when a retired key's part of the chain does not end where its closing pinned it."""
    return _walk(db, ring, checkpoint, batch).report


def _walk(
    db: Database, ring: ac.KeyRing, checkpoint: ac.Checkpoint | None, batch: int = 10_000
) -> _Walked:
    pin = _pin(checkpoint, ring) if checkpoint is not None else None
    by_id = {ac.key_id(k): k for k, _ in ring.candidates()}
    key: bytes | None = None  # the key in force: the first entry's, then each hand-over's
    ended: dict[str, tuple[int, str]] = {}
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
                entry = _stored(row)
                under = [key] if key is not None else list(by_id.values())
                key = next(
                    (
                        k
                        for k in under
                        if ac.links_match(ac.link(k, previous, entry), row.entry_hash)
                    ),
                    None,
                )
                if key is None:
                    raise AuditChainBroken(f"audit entry {row.seq} was altered")
                if pin is not None and pin.count == row.seq and pin.head != row.entry_hash:
                    raise AuditChainBroken(
                        f"audit entry {row.seq} differs from the one the checkpoint pinned"
                    )
                if row.action == ROTATED:
                    ended[ac.key_id(key)] = (row.seq, row.entry_hash)
                    key = by_id.get(row.subject or "")
                    if key is None:
                        raise AuditChainBroken(
                            f"audit entry {row.seq} hands the log over to audit key"
                            f" {row.subject}, neither the key file's nor a replaced one"
                        )
                previous = row.entry_hash
                expected_seq += 1
    count = expected_seq - 1
    if pin is not None and count < pin.count:
        raise AuditChainBroken(
            f"the log does not extend the checkpoint: it ends at entry {count}, the checkpoint"
            f" has {pin.count} (entries {count + 1}..{pin.count} are missing)"
        )
    in_force = ac.key_id(key) if key is not None else None
    for old in ring.old:
        if old.closing is None:
            continue
        if in_force == old.id:
            raise AuditChainBroken(f"the log goes on under audit key {old.id}, which was retired")
        closed = next((c for c in old.closing.chains if c.chain == CHAIN), None)
        pinned = (closed.count, closed.head) if closed is not None else None
        if ended.get(old.id) != pinned:
            where = f"at entry {pinned[0]}" if pinned else "before it wrote any"
            raise AuditChainBroken(
                f"the entries under retired audit key {old.id} do not end where its closing"
                f" pinned them ({where})"
            )
    return _Walked(ChainReport(entries=count, head=previous), ended, in_force)


def make_checkpoint(
    db: Database, ring: ac.KeyRing, signing_key: Ed25519PrivateKey, now: dt.datetime
) -> ac.Checkpoint:
    """Verify the log, then sign its length and head: a broken log is never pinned."""
    report = verify_chain(db, ring)
    chains = (ac.ChainHead(CHAIN, report.entries, report.head),) if report.entries else ()
    return ac.sign(ac.Checkpoint(now, chains, ac.key_id(ring.current)), signing_key)


def retire_old_keys(
    db: Database, ring: ac.KeyRing, signing_key: Ed25519PrivateKey, now: dt.datetime
) -> list[ac.Checkpoint]:
    """Verify the log, then sign, for each replaced key not yet retired, where its part of the
    chain ends (its hand-over entry; nothing, for a key that wrote none): its closing."""
    walked = _walk(db, ring, None)
    closings = []
    for old in ring.unretired():
        if walked.in_force == old.id:
            raise AuditChainBroken(
                f"the log is still under audit key {old.id}: it has not been handed over yet"
            )
        end = walked.ended.get(old.id)
        chains = (ac.ChainHead(CHAIN, *end),) if end is not None else ()
        closings.append(ac.sign(ac.Checkpoint(now, chains, old.id), signing_key))
    return closings
