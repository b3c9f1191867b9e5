"""The append-only audit log of every access (アクセスログ): keyed hash chains, signed checkpoints.

Each entry's link is ``HMAC-SHA256(audit key, previous link ‖ canonical entry)``
(:mod:`onshi.audit.chain`): whoever can write the database but does not hold the audit key can
neither alter an entry nor rebuild the links after it. Removing the newest entries is caught by
a signed checkpoint (:func:`make_checkpoint`) published elsewhere. Personal identifiers are
never stored in clear: ``subject`` is an HMAC-SHA256 under the service's identifier key.

Every process writes its own chain, so appends never wait for another process: on PostgreSQL an
append is one multi-row ``INSERT`` on a connection kept for it, with the chain's head cached in
the process (a conflict on ``(chain, chain_seq)`` re-reads the head and retries). Within a
process, group commit: whoever writes takes every entry waiting at that moment. ``seq`` (a
database sequence) orders all entries; ``verify_chain`` checks every chain, and that each one's
entries follow that order. Entries written before keyed chains (version 1, plain SHA-256) form
the chain ``legacy``, sealed by a keyed entry the first time a process starts on a key.

A process writes under the audit key it started with; verifying takes a :class:`~onshi.audit.
chain.KeyRing` (the current key and those it replaced) and finds each chain's key from its first
entry. :func:`retire_old_keys` closes a replaced key: from then on its chains may not grow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import hmac
import json
import os
import secrets
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, insert, select, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError

from onshi.audit import chain as ac
from onshi.central.errors import AuditChainBroken
from onshi.central.services.clock import Clock, jst_now, naive_jst
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database, discard
from onshi.central.storage.loop_connection import LoopConnection

GENESIS = ac.GENESIS
LEGACY = "legacy"  # the chain of the entries written before the log was keyed
SEAL_ACTION = "audit.seal"
UNKEYED = 1
_CONFLICT_RETRIES = 5


def _legacy_hash(
    seq: int,
    recorded_at: str,
    facility: str | None,
    action: str,
    subject: str | None,
    outcome: str,
    previous_hash: str,
) -> str:
    """The version-1 entry hash (unkeyed): verified for old entries, never written any more."""
    entry = ac.canonical([seq, recorded_at, facility, action, subject, outcome, previous_hash])
    return hashlib.sha256(entry).hexdigest()


def _keyed_entry(
    chain: str,
    chain_seq: int,
    recorded_at: str,
    facility: str | None,
    action: str,
    subject: str | None,
    outcome: str,
) -> bytes:
    return ac.canonical(
        [ac.KEYED, chain, chain_seq, recorded_at, facility, action, subject, outcome]
    )


def derived_audit_key(identifier_key: str) -> bytes:
    """An audit key for an embedded service given none (tests, ``onshi demo`` in-process).

    The service started from settings always uses the key file instead (``CentralSettings``).
    """
    return hmac.new(identifier_key.encode(), b"onshi audit chain key", hashlib.sha256).digest()


def _new_chain_name() -> str:
    return f"{socket.gethostname()[:40]}.{os.getpid()}.{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head: str  # the tree head over every chain (full hex)
    chains: tuple[ac.ChainHead, ...] = ()
    checkpoint: ac.Checkpoint | None = None
    keys: dict[str, str] = field(default_factory=dict)  # chain → its audit key's id, where read


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
    """Appends entries with group commit to this process's chain. ``record`` returns only once
    its entry is committed, and raises if it cannot be."""

    def __init__(
        self,
        db: Database,
        identifier_key: str,
        clock: Clock = jst_now,
        *,
        audit_key: bytes | None = None,
    ) -> None:
        self._db = db
        # Keyed once; each subject continues a copy (0.7 µs less than hmac.new each time).
        self._subject_mac = hmac.new(identifier_key.encode(), digestmod=hashlib.sha256)
        self.audit_key = audit_key or derived_audit_key(identifier_key)
        self._clock = clock
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()
        # Per process (a forked worker must not continue its parent's chain): set on first write.
        self._pid = 0
        self.chain = ""
        self._head: tuple[int, str] | None = None
        self._connection: Connection | None = None
        self._forked_away: list[Connection] = []

    def subject(self, *parts: str | None) -> str:
        """Keyed digest of an identifier (card key, certificate serial…), never the identifier."""
        mac = self._subject_mac.copy()
        mac.update("\x1f".join([p or "" for p in parts]).encode())
        return mac.hexdigest()

    def record(
        self, *, facility: str | None, action: str, subject: str | None, outcome: str
    ) -> None:
        """Append one entry, after the access's outcome is known; raise if it cannot be stored."""
        self.record_many([(facility, action, subject, outcome)])

    def record_many(self, entries: Sequence[tuple[str | None, str, str | None, str]]) -> None:
        """Append entries (facility, action, subject, outcome), in order, in one write; return
        once they are committed, raise if they cannot be."""
        if not entries:
            return
        at = naive_jst(self._clock()).replace(microsecond=0)
        pending = [_Pending(*entry, at) for entry in entries]
        with self._queue_lock:
            self._queue.extend(pending)
        with self._write_lock:
            if not pending[-1].done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._write(batch)
                except BaseException as exc:
                    for entry in batch:
                        entry.error = exc
                    raise
                finally:
                    for entry in batch:
                        entry.done = True
        if pending[-1].error is not None:
            raise pending[-1].error

    def verify(self, checkpoint: ac.Checkpoint | None = None) -> ChainReport:
        return verify_chain(self._db, self.audit_key, checkpoint=checkpoint)

    def close(self) -> None:
        with self._write_lock:
            self._drop_connection()

    # -- writing (under the write lock) ---------------------------------------------------

    def _write(self, batch: list[_Pending]) -> None:
        if self._pid != os.getpid():
            if self._pid:
                # A forked child: every pooled socket is the parent's. Forget them unclosed (as
                # SQLAlchemy advises), and keep our own alive, unused, so that its finalizer
                # never speaks on it.
                self._db.engine.dispose(close=False)
                if self._connection is not None:
                    self._forked_away.append(self._connection)
            self._pid, self.chain, self._head, self._connection = (
                os.getpid(),
                _new_chain_name(),
                None,
                None,
            )
        try:
            for _ in range(_CONFLICT_RETRIES):
                if self._head is None:
                    self._seal_legacy()
                    self._head = self._read_head(self.chain)
                rows, head = _linked_rows(self.audit_key, self.chain, batch, self._head)
                try:
                    self._insert(rows)
                except IntegrityError:
                    self._head = None  # another writer on this chain: re-read its head
                    continue
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                    # The kept connection died (a failover). Whether the INSERT committed
                    # first, the chain's head on a new connection says: exactly once either way.
                    self._drop_connection()
                    now = self._read_head(self.chain)
                    if now != head:
                        self._head = now  # not written: write the same rows again
                        continue
                self._head = head
                return
            raise AuditChainBroken(f"audit chain {self.chain}: the head kept moving; not written")
        except BaseException:
            # The entries may or may not be in: start again from what the database says.
            self._head = None
            self._drop_connection()
            raise

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        # On a connection kept for it, in autocommit: the one statement is its own transaction.
        if self._connection is None:
            self._connection = self._db.own_connection()
        self._connection.exec_driver_sql(*_insert_statement(rows, self._db.dialect))

    def _drop_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            discard(connection)

    def _read_head(self, chain: str) -> tuple[int, str]:
        with self._db.engine.connect() as connection:
            last = connection.execute(_head_of(chain)).first()
        return (last.chain_seq, last.entry_hash) if last else (0, GENESIS)

    def _seal_legacy(self) -> None:
        """Pin the unkeyed entries under the key: after this, none can be added or changed."""
        with self._db.engine.connect() as connection:
            last = connection.execute(_head_of(LEGACY)).first()
        if last is None or last.version != UNKEYED:
            return
        recorded_at = naive_jst(self._clock()).replace(microsecond=0)
        chain_seq, outcome = last.chain_seq + 1, f"sealed-{last.chain_seq}"
        link = ac.link(
            self.audit_key,
            last.entry_hash,
            _keyed_entry(
                LEGACY, chain_seq, recorded_at.isoformat(), None, SEAL_ACTION, None, outcome
            ),
        )
        row = {
            "chain": LEGACY,
            "chain_seq": chain_seq,
            "version": ac.KEYED,
            "recorded_at": recorded_at,
            "MedicalInstitutionCode": None,
            "action": SEAL_ACTION,
            "subject": None,
            "outcome": outcome,
            "previous_hash": last.entry_hash,
            "entry_hash": link,
        }
        try:
            with self._db.engine.begin() as connection:
                connection.execute(insert(t.AuditEntry), [row])
        except IntegrityError:
            pass  # another process sealed it first


class LoopChain:
    """A chain of this process appended to from the event loop, through a
    :class:`~onshi.central.storage.loop_connection.LoopConnection`: the same entries and links
    as :class:`AuditLog`'s, in a chain of its own so that neither waits for the other. One
    append at a time (the loop answers one group of inquiries at a time).

    An append that fails leaves the head unknown: the entries may or may not be in (a failover
    cut the commit off), so the next one reads the head from the database first — never a gap,
    never an entry twice.
    """

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._pid = 0
        self.chain = ""
        self._head: tuple[int, str] | None = None

    async def record_many(
        self,
        connection: LoopConnection,
        entries: Sequence[tuple[str | None, str, str | None, str]],
    ) -> None:
        """Append entries (facility, action, subject, outcome), in order, in one statement;
        return once they are committed, raise if they cannot be."""
        if not entries:
            return
        if self._pid != os.getpid():  # first use, or a forked worker: a chain of its own
            self._pid, self.chain, self._head = os.getpid(), _new_chain_name(), None
        at = naive_jst(self._log._clock()).replace(microsecond=0)
        batch = [_Pending(*entry, at) for entry in entries]
        if self._head is None:
            # Once per (re)connection: seal old unkeyed entries first, as AuditLog does.
            await asyncio.to_thread(self._log._seal_legacy)
        async with connection.using() as c:
            if self._head is None:
                last = await c.fetchrow(_HEAD_SQL, self.chain)
                self._head = (last[0], last[1]) if last else (0, GENESIS)
            rows, head = _linked_rows(self._log.audit_key, self.chain, batch, self._head)
            try:
                statement, params = _insert_statement(rows, "asyncpg")
                await c.execute(statement, *params)
            except BaseException:
                self._head = None
                raise
            self._head = head


_HEAD_SQL = (  # asyncpg's markers
    "SELECT chain_seq, entry_hash FROM audit_entry WHERE chain = $1 ORDER BY chain_seq DESC LIMIT 1"
)


_COLUMNS = (
    "chain",
    "chain_seq",
    "version",
    "recorded_at",
    "MedicalInstitutionCode",
    "action",
    "subject",
    "outcome",
    "previous_hash",
    "entry_hash",
)


@functools.lru_cache(maxsize=256)
def _insert_sql(rows: int, marker: str) -> str:
    """``INSERT … VALUES (…), (…)`` for ``rows`` rows; ``seq`` is left to the database.
    ``marker`` is the driver's: ``%s``, ``?``, or ``$`` for asyncpg's numbered ``$1``, ``$2``…"""
    width = len(_COLUMNS)
    values = ", ".join(
        "("
        + ", ".join(f"${r * width + c + 1}" if marker == "$" else marker for c in range(width))
        + ")"
        for r in range(rows)
    )
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    # Only constants are spliced in; every value is a bound parameter.
    return f"INSERT INTO audit_entry ({columns}) VALUES {values}"  # noqa: S608


# PostgreSQL's types of the columns, read from JSON text.
_POSTGRESQL_TYPES = {
    "chain": "varchar",
    "chain_seq": "bigint",
    "version": "integer",
    "recorded_at": "timestamp",
    "MedicalInstitutionCode": "varchar",
    "action": "varchar",
    "subject": "varchar",
    "outcome": "varchar",
    "previous_hash": "varchar",
    "entry_hash": "varchar",
}


def _insert_json_sql() -> str:
    """``INSERT … SELECT`` from a JSON array of rows, each an array in ``_COLUMNS``' order
    (PostgreSQL). The rows are taken in the array's order and ``seq`` drawn after: ``seq``
    follows ``chain_seq``, as in a multi-row VALUES."""
    columns = ", ".join(f'"{c}"' for c in _COLUMNS)
    values = ", ".join(f"(v->>{i})::{_POSTGRESQL_TYPES[c]}" for i, c in enumerate(_COLUMNS))
    # Only constants are spliced in; the rows are one bound parameter.
    return (
        f"INSERT INTO audit_entry ({columns}) SELECT {values}"  # noqa: S608
        " FROM json_array_elements(%s::json) WITH ORDINALITY AS e(v, n) ORDER BY n"
    )


_INSERT_JSON_SQL = _insert_json_sql()


def _linked_rows(
    key: bytes, chain: str, batch: list[_Pending], head: tuple[int, str]
) -> tuple[list[dict[str, Any]], tuple[int, str]]:
    """The rows of ``batch`` continuing ``chain`` after ``head`` (count, link), and the new head."""
    chain_seq, previous = head
    rows = []
    link_after = ac.Linker(key)
    for e in batch:
        chain_seq += 1
        recorded_at = e.recorded_at.isoformat()
        link = link_after(
            previous,
            _keyed_entry(chain, chain_seq, recorded_at, e.facility, e.action, e.subject, e.outcome),
        )
        rows.append(
            {
                "chain": chain,
                "chain_seq": chain_seq,
                "version": ac.KEYED,
                "recorded_at": e.recorded_at,
                "MedicalInstitutionCode": e.facility,
                "action": e.action,
                "subject": e.subject,
                "outcome": e.outcome,
                "previous_hash": previous,
                "entry_hash": link,
            }
        )
        previous = link
    return rows, (chain_seq, previous)


def _insert_statement(rows: list[dict[str, Any]], dialect: str) -> tuple[str, tuple[Any, ...]]:
    """One statement appending ``rows`` (atomic on its own) and its parameters, for the driver
    ``dialect`` names (``postgresql``: psycopg; ``asyncpg``; ``sqlite``). The text is made once
    per batch size and handed to the driver as is: compiling it anew cost more than the round
    trip. asyncpg prepares each text once and keeps it, so its rows stay a VALUES."""
    if dialect == "postgresql" and len(rows) * len(_COLUMNS) > 50:
        # psycopg parses a statement of more than 50 parameters anew at every execution
        # (measured, client CPU: 1 ms for a VALUES of 16 entries); the rows as one JSON
        # parameter instead: 0.35 ms. Fewer rows stay a VALUES, cheaper for one entry.
        return _INSERT_JSON_SQL, (_json_rows(rows),)
    params = [row[column] for row in rows for column in _COLUMNS]
    marker = "$" if dialect == "asyncpg" else "%s"
    if dialect == "sqlite":
        # Stored as SQLAlchemy stores a DateTime on SQLite, not by the driver's own adapter.
        at = _COLUMNS.index("recorded_at")
        # isoformat gives that text (strftime("%Y-%m-%d %H:%M:%S.%f") did, for these naive
        # times) at a fifth of strftime's cost.
        params[at :: len(_COLUMNS)] = [
            d.isoformat(" ", "microseconds") for d in params[at :: len(_COLUMNS)]
        ]
        marker = "?"
    return _insert_sql(len(rows), marker), tuple(params)


def _json_rows(rows: list[dict[str, Any]]) -> str:
    at = _COLUMNS.index("recorded_at")
    values = [[row[column] for column in _COLUMNS] for row in rows]
    for value in values:
        value[at] = value[at].isoformat()  # read back by ::timestamp as the same time
    return json.dumps(values, ensure_ascii=False)


def _head_of(chain: str) -> Any:
    return (
        select(t.AuditEntry.chain_seq, t.AuditEntry.entry_hash, t.AuditEntry.version)
        .where(t.AuditEntry.chain == chain)
        .order_by(t.AuditEntry.chain_seq.desc())
        .limit(1)
    )


# -- verification ---------------------------------------------------------------------------


class _ChainWalk:
    """The state of one chain while its entries are read in order."""

    def __init__(self, name: str, closing: tuple[ac.ChainHead, ac.OldKey] | None = None) -> None:
        self.name = name
        self.count = 0
        self.previous = GENESIS
        self.last_seq = 0
        self.sealed = False
        self.resume_at: ac.ChainHead | None = None
        self.key: bytes | None = None  # found at the chain's first keyed entry
        self.closing = closing  # its last entry as pinned when its key was retired

    def resume(self, row: Any) -> None:
        """Take up the walk at the entry a checkpoint pinned, without re-reading those before."""
        pin, self.resume_at = self.resume_at, None
        assert pin is not None
        if row.chain_seq != pin.count:
            raise AuditChainBroken(
                f"the log does not extend the checkpoint: chain {self.name} has no entry"
                f" {pin.count}, the one the checkpoint pinned"
            )
        if row.entry_hash != pin.head:
            raise AuditChainBroken(
                f"audit entry {row.seq} (chain {self.name}, entry {row.chain_seq})"
                " differs from the one the checkpoint pinned"
            )
        self.within_closing(row)
        self.count, self.previous, self.last_seq = pin.count, pin.head, row.seq

    def within_closing(self, row: Any) -> None:
        """A chain of a retired key ends where the key's closing checkpoint pinned it."""
        if self.closing is None:
            return
        pin, old = self.closing
        if row.chain_seq > pin.count:
            raise AuditChainBroken(
                f"audit entry {row.seq} (chain {self.name}, entry {row.chain_seq}) was written"
                f" under audit key {old.id} after that key was retired"
            )
        if row.chain_seq == pin.count and not ac.links_match(pin.head, row.entry_hash):
            raise AuditChainBroken(
                f"audit entry {row.seq} (chain {self.name}, entry {row.chain_seq}) differs from"
                f" the one pinned when audit key {old.id} was retired"
            )

    def key_of(self, row: Any, entry: bytes, ring: ac.KeyRing, where: str) -> bytes:
        """The key this chain is written under: the one its first keyed entry's link matches."""
        if self.closing is not None:
            return self.closing[1].key
        for key, old in ring.candidates():
            if ac.links_match(ac.link(key, self.previous, entry), row.entry_hash):
                if old is not None and old.closing is not None:
                    raise AuditChainBroken(
                        f"audit chain {self.name} (from entry {row.chain_seq}, seq {row.seq}) was"
                        f" written under audit key {old.id} after that key was retired"
                    )
                return key
        raise AuditChainBroken(where)

    def check(self, row: Any, ring: ac.KeyRing) -> None:
        if row.chain_seq != self.count + 1:
            raise AuditChainBroken(
                f"audit chain {self.name}: entry {self.count + 1} is missing"
                f" (entry {row.chain_seq}, seq {row.seq}, comes after entry {self.count})"
            )
        if row.seq <= self.last_seq:
            raise AuditChainBroken(
                f"audit entry {row.seq} is out of order in chain {self.name}"
                f" (entry {row.chain_seq} after seq {self.last_seq})"
            )
        if row.previous_hash != self.previous:
            raise AuditChainBroken(
                f"audit entry {row.seq} does not follow the entry before it in chain {self.name}"
            )
        recorded_at = row.recorded_at.replace(microsecond=0).isoformat()
        where = f"audit entry {row.seq} was altered (chain {self.name}, entry {row.chain_seq})"
        if self.sealed:
            raise AuditChainBroken(f"{where}: nothing may follow the seal of the unkeyed entries")
        if row.version == UNKEYED:
            # Plain hashes are only believed where the log had them: the legacy chain, unsealed.
            if self.name != LEGACY or row.seq != row.chain_seq:
                raise AuditChainBroken(f"{where}: an unkeyed entry where only keyed ones may be")
            expected = _legacy_hash(
                row.seq,
                recorded_at,
                row.MedicalInstitutionCode,
                row.action,
                row.subject,
                row.outcome,
                row.previous_hash,
            )
        elif row.version == ac.KEYED:
            if self.name == LEGACY:
                if row.action != SEAL_ACTION:
                    raise AuditChainBroken(f"{where}: only a seal may follow unkeyed entries")
                self.sealed = True
            entry = _keyed_entry(
                self.name,
                row.chain_seq,
                recorded_at,
                row.MedicalInstitutionCode,
                row.action,
                row.subject,
                row.outcome,
            )
            if self.key is None:
                self.key = self.key_of(row, entry, ring, where)
            expected = ac.link(self.key, self.previous, entry)
        else:
            raise AuditChainBroken(f"{where}: unknown chain version {row.version}")
        if not ac.links_match(expected, row.entry_hash):
            raise AuditChainBroken(where)
        self.within_closing(row)
        self.count, self.previous, self.last_seq = row.chain_seq, row.entry_hash, row.seq

    def head(self) -> ac.ChainHead:
        return ac.ChainHead(self.name, self.count, self.previous)


def verify_chain(
    db: Database,
    key: bytes | ac.KeyRing,
    *,
    checkpoint: ac.Checkpoint | None = None,
    trust_checkpoint: bool = False,
    batch: int = 10_000,
) -> ChainReport:
    """Walk every chain; raise :class:`AuditChainBroken` at the first altered or missing entry,
    or when the log does not extend ``checkpoint`` (an already verified, signed checkpoint).

    ``trust_checkpoint``: check only what follows the checkpoint (and that the entries it pinned
    are still there, unchanged links) — what an hourly run can afford on a log of billions.
    An entry changed before the checkpoint, its stored link left as it was, is found only by a
    full walk: run one regularly.

    ``key``: the audit key, or a :class:`~onshi.audit.chain.KeyRing` when it was replaced; a
    chain of a retired key may not go beyond the entry its closing checkpoint pinned.
    """
    ring = key if isinstance(key, ac.KeyRing) else ac.KeyRing(key)
    if checkpoint is not None and checkpoint.audit_key_id not in ring.ids:
        raise AuditChainBroken(
            f"the checkpoint was made under audit key {checkpoint.audit_key_id}, "
            f"not this one ({ac.key_id(ring.current)}) nor one it replaced"
        )
    pinned = {c.chain: c for c in checkpoint.chains} if checkpoint else {}
    closed = ring.closed_chains()
    walks: list[_ChainWalk] = []
    position: tuple[str, int] = ("", 0)
    table = t.AuditEntry.__table__
    with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            # One snapshot for the whole walk: writers go on appending meanwhile.
            connection.execution_options(isolation_level="REPEATABLE READ")
        while True:
            rows = connection.execute(
                select(table)
                .where(tuple_(table.c.chain, table.c.chain_seq) > position)
                .order_by(table.c.chain, table.c.chain_seq)
                .limit(batch)
            ).all()
            if not rows:
                break
            position = (rows[-1].chain, rows[-1].chain_seq)
            for row in rows:
                pin = pinned.get(row.chain)
                if not walks or row.chain != walks[-1].name:
                    walks.append(_ChainWalk(row.chain, closed.get(row.chain)))
                    if (
                        trust_checkpoint
                        and pin is not None
                        and row.chain != LEGACY
                        and row.chain_seq < pin.count - 1
                    ):
                        # Jump to the entry the checkpoint pinned; its signature vouches for
                        # the entries before it.
                        walks[-1].resume_at = pin
                        position = (row.chain, pin.count - 1)
                        break
                walk = walks[-1]
                if walk.resume_at is not None:
                    walk.resume(row)
                    continue
                walk.check(row, ring)
                if pin is not None and pin.count == row.chain_seq and pin.head != row.entry_hash:
                    raise AuditChainBroken(
                        f"audit entry {row.seq} (chain {row.chain}, entry {row.chain_seq})"
                        " differs from the one the checkpoint pinned"
                    )
    legacy = next((w for w in walks if w.name == LEGACY), None)
    if legacy is not None and not legacy.sealed and len(walks) > 1:
        raise AuditChainBroken(
            f"the {legacy.count} unkeyed entries (chain {LEGACY}) were never sealed,"
            " yet keyed entries follow them"
        )
    counts = {w.name: w.count for w in walks}
    for pin in sorted(pinned.values(), key=lambda p: p.chain):
        count = counts.get(pin.chain, 0)
        if count < pin.count:
            raise AuditChainBroken(
                f"the log does not extend the checkpoint: chain {pin.chain} ends at entry"
                f" {count}, the checkpoint has {pin.count} (entries {count + 1}..{pin.count}"
                " are missing)"
            )
    for chain, (pin, old) in sorted(closed.items()):
        count = counts.get(chain, 0)
        if count < pin.count:
            raise AuditChainBroken(
                f"the log does not extend the retirement of audit key {old.id}: chain {chain}"
                f" ends at entry {count}, {pin.count} were pinned (entries"
                f" {count + 1}..{pin.count} are missing)"
            )
    chains = tuple(w.head() for w in walks)
    return ChainReport(
        entries=sum(h.count for h in chains),
        head=ac.tree_head(chains),
        chains=chains,
        checkpoint=checkpoint,
        keys={w.name: ac.key_id(w.key) for w in walks if w.key is not None},
    )


def make_checkpoint(
    db: Database,
    key: bytes | ac.KeyRing,
    signing_key: Ed25519PrivateKey,
    now: dt.datetime,
    previous: ac.Checkpoint | None = None,
) -> ac.Checkpoint:
    """Verify the log, then sign its chains' heads: a broken log is never pinned. Given the
    ``previous`` (verified) checkpoint, only what follows it is walked."""
    report = verify_chain(db, key, checkpoint=previous, trust_checkpoint=previous is not None)
    current = key.current if isinstance(key, ac.KeyRing) else key
    return ac.sign(ac.Checkpoint(now, report.chains, ac.key_id(current)), signing_key)


def retire_old_keys(
    db: Database, ring: ac.KeyRing, signing_key: Ed25519PrivateKey, now: dt.datetime
) -> list[ac.Checkpoint]:
    """A closing checkpoint for each replaced key not yet retired: the whole log verified, then
    the chains written under that key signed as they are now (none may grow after)."""
    report = verify_chain(db, ring)
    return [
        ac.sign(
            ac.Checkpoint(
                now, tuple(h for h in report.chains if report.keys.get(h.chain) == old.id), old.id
            ),
            signing_key,
        )
        for old in ring.unretired()
    ]
