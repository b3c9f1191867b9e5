"""The audit trail against an insider who can write the database but holds no key.

Each attack is run on SQLite and on PostgreSQL: an entry changed and its links rebuilt (with a
key of the attacker's, or with the old plain hash), the newest entries deleted, a whole chain
deleted, a checkpoint edited. Also: the way old unkeyed logs are carried over, and refused
attempts being audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, text, update

from onshi import pki
from onshi.audit import chain as ac
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import CardKey
from onshi.central.errors import (
    AuditChainBroken,
    CardUnknown,
    ConsentRequired,
    FacilityKindRefused,
    FacilityNotAuthorised,
    PersonNotFound,
)
from onshi.central.services import audit
from onshi.central.services.audit import AuditLog, make_checkpoint, verify_chain
from onshi.central.services.central import Central
from onshi.central.services.clock import JST
from onshi.central.services.questions import CardQuestion, HistoryQuestion
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database, alembic_config
from onshi.oqs.identifiers import MedicalInstitutionCode
from tests.central import factories

AUDIT_KEY = bytes.fromhex("5e" * 4 + "".join(f"{i:02x}" for i in range(28)))
ATTACKER_KEY = bytes(range(100, 132))
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=JST)
CLINIC = MedicalInstitutionCode("1311111111")
PHARMACY = MedicalInstitutionCode("1341111111")


@pytest.fixture
def log(database: Database) -> Iterator[AuditLog]:
    made = AuditLog(database, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    yield made
    made.close()


@pytest.fixture(scope="module")
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def append(log: AuditLog, n: int, facility: str = "1311111111") -> None:
    for i in range(n):
        log.record(
            facility=facility,
            action="eligibility.card-number",
            subject=log.subject(f"card-{i}"),
            outcome="validity-1",
        )


def rows_of(database: Database, chain: str | None = None) -> list[t.AuditEntry]:
    query = select(t.AuditEntry).order_by(t.AuditEntry.chain, t.AuditEntry.chain_seq)
    if chain is not None:
        query = query.where(t.AuditEntry.chain == chain)
    with database.sessions() as s:
        return list(s.scalars(query).all())


def rebuild(
    database: Database, chain: str, start: int, relink: Callable[[str, t.AuditEntry], str]
) -> None:
    """What an insider does: change entry ``start`` and recompute every link after it."""
    rows = rows_of(database, chain)
    previous = rows[start - 2].entry_hash if start > 1 else ac.GENESIS
    with database.transaction() as s:
        for row in rows[start - 1 :]:
            if row.chain_seq == start:
                row.outcome = "validity-4"
            new = relink(previous, row)
            s.execute(
                update(t.AuditEntry)
                .where(t.AuditEntry.seq == row.seq)
                .values(outcome=row.outcome, previous_hash=previous, entry_hash=new)
            )
            previous = new


def keyed_with(key: bytes) -> Callable[[str, t.AuditEntry], str]:
    def relink(previous: str, row: t.AuditEntry) -> str:
        entry = audit._keyed_entry(
            row.chain,
            row.chain_seq,
            row.recorded_at.isoformat(),
            row.MedicalInstitutionCode,
            row.action,
            row.subject,
            row.outcome,
        )
        return ac.link(key, previous, entry)

    return relink


def plain_hash(previous: str, row: t.AuditEntry) -> str:
    return audit._legacy_hash(
        row.seq,
        row.recorded_at.isoformat(),
        row.MedicalInstitutionCode,
        row.action,
        row.subject,
        row.outcome,
        previous,
    )


# -- the keyed chain --------------------------------------------------------------------------


def test_an_untouched_log_verifies_with_its_full_head(log: AuditLog, database: Database) -> None:
    append(log, 5)
    report = log.verify()
    assert report.entries == 5 and len(report.chains) == 1
    assert len(report.head) == 64 and report.head == ac.tree_head(report.chains)
    entries = rows_of(database)
    assert [e.chain_seq for e in entries] == [1, 2, 3, 4, 5]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert {e.version for e in entries} == {ac.KEYED}
    with pytest.raises(AuditChainBroken, match="was altered"):
        verify_chain(database, ATTACKER_KEY)  # the links need the key: a wrong one fails


def test_an_entry_rebuilt_under_another_key_is_named(log: AuditLog, database: Database) -> None:
    append(log, 5)
    third = rows_of(database)[2]
    rebuild(database, log.chain, 3, keyed_with(ATTACKER_KEY))
    with pytest.raises(AuditChainBroken, match=rf"audit entry {third.seq} was altered") as e:
        log.verify()
    assert f"chain {log.chain}, entry 3" in str(e.value)


def test_an_entry_rebuilt_with_plain_hashes_is_named(log: AuditLog, database: Database) -> None:
    append(log, 5)
    third = rows_of(database)[2]
    rebuild(database, log.chain, 3, plain_hash)
    with pytest.raises(AuditChainBroken, match=rf"audit entry {third.seq} was altered"):
        log.verify()
    # Claiming the old unkeyed format for the forged entries does not help either.
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.chain_seq >= 3).values(version=1))
    with pytest.raises(AuditChainBroken, match="unkeyed entry where only keyed ones may be"):
        log.verify()


def test_an_entry_added_without_the_key_is_named(log: AuditLog, database: Database) -> None:
    append(log, 2)
    last = rows_of(database)[-1]
    with database.transaction() as s:
        s.add(
            t.AuditEntry(
                chain=log.chain,
                chain_seq=3,
                version=ac.KEYED,
                recorded_at=last.recorded_at,
                MedicalInstitutionCode="1311111111",
                action="eligibility.card-number",
                subject="0" * 64,
                outcome="validity-1",
                previous_hash=last.entry_hash,
                entry_hash=hashlib.sha256(b"forged").hexdigest(),
            )
        )
    with pytest.raises(AuditChainBroken, match=r"was altered \(chain .*, entry 3\)"):
        log.verify()


def test_a_gap_in_a_chain_is_named(log: AuditLog, database: Database) -> None:
    append(log, 4)
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.chain_seq == 2))
    with pytest.raises(AuditChainBroken, match=f"audit chain {log.chain}: entry 2 is missing"):
        log.verify()


def test_entries_reordered_against_seq_are_found(log: AuditLog, database: Database) -> None:
    append(log, 3)
    first, second, _ = rows_of(database)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == first.seq).values(seq=-1))
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == second.seq).values(seq=first.seq))
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == -1).values(seq=second.seq))
    with pytest.raises(AuditChainBroken, match="out of order"):
        log.verify()


# -- checkpoints --------------------------------------------------------------------------------


def test_the_newest_entries_deleted_are_caught_by_a_checkpoint(
    log: AuditLog, database: Database, signer: Ed25519PrivateKey
) -> None:
    append(log, 5)
    pinned = make_checkpoint(database, AUDIT_KEY, signer, NOW)
    assert pinned.count == 5 and pinned.head == log.verify().head
    append(log, 2)
    assert log.verify(pinned).entries == 7  # a log that grew extends its checkpoint
    newest = [r.seq for r in rows_of(database)][-3:]
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq.in_(newest)))
    assert log.verify().entries == 4  # alone, a shorter chain looks whole …
    with pytest.raises(AuditChainBroken, match=r"does not extend the checkpoint.*entries 5\.\.5"):
        log.verify(pinned)  # … the checkpoint says what is missing


def test_a_whole_chain_deleted_is_caught_by_a_checkpoint(
    database: Database, signer: Ed25519PrivateKey
) -> None:
    first = AuditLog(database, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    second = AuditLog(database, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    append(first, 2)
    second._pid, second.chain = first._pid, "other-writer"  # a second process, in effect
    append(second, 3)
    pinned = make_checkpoint(database, AUDIT_KEY, signer, NOW)
    assert pinned.count == 5 and len(pinned.chains) == 2
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.chain == "other-writer"))
    with pytest.raises(AuditChainBroken, match="chain other-writer ends at entry 0"):
        verify_chain(database, AUDIT_KEY, checkpoint=pinned)


def test_a_rebuilt_chain_does_not_match_its_checkpoint(
    log: AuditLog, database: Database, signer: Ed25519PrivateKey
) -> None:
    append(log, 3)
    pinned = make_checkpoint(database, AUDIT_KEY, signer, NOW)
    # Even someone holding the audit key cannot rewrite what a checkpoint pinned.
    rebuild(database, log.chain, 2, keyed_with(AUDIT_KEY))
    assert log.verify().entries == 3
    with pytest.raises(AuditChainBroken, match="differs from the one the checkpoint pinned"):
        log.verify(pinned)


def test_a_broken_log_is_never_checkpointed(
    log: AuditLog, database: Database, signer: Ed25519PrivateKey
) -> None:
    append(log, 3)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.chain_seq == 2).values(outcome="x"))
    with pytest.raises(AuditChainBroken):
        make_checkpoint(database, AUDIT_KEY, signer, NOW)


def _signed(signer: Ed25519PrivateKey) -> ac.Checkpoint:
    chains = (ac.ChainHead("a", 3, "ab" * 32), ac.ChainHead("b", 1, "cd" * 32))
    return ac.sign(ac.Checkpoint(NOW, chains, ac.key_id(AUDIT_KEY)), signer)


def test_a_checkpoint_round_trips(signer: Ed25519PrivateKey) -> None:
    made = _signed(signer)
    read = ac.parse_and_verify(made.to_json(), signer.public_key())
    assert read == made and read.count == 4 and len(read.head) == 64


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(count=d["count"] + 1),
        lambda d: d.update(head="00" * 32),
        lambda d: d["chains"][0].update(count=2),
        lambda d: d["chains"][0].update(head="ef" * 32),
        lambda d: d["chains"].pop(),
        lambda d: d.update(time="2026-11-24T10:00:00+09:00"),
        lambda d: d.update(signature=d["signature"][:-4] + "AAA="),
        lambda d: d.update(signing_key_id="0" * 16),
        lambda d: d.update(format="something else"),
        lambda d: d.pop("chains"),
    ],
    ids=[
        "count",
        "head",
        "chain-count",
        "chain-head",
        "chain-removed",
        "time",
        "signature",
        "key-id",
        "format",
        "missing",
    ],
)
def test_an_edited_checkpoint_is_refused(
    signer: Ed25519PrivateKey, edit: Callable[[dict[str, Any]], None]
) -> None:
    import json

    data = json.loads(_signed(signer).to_json())
    edit(data)
    with pytest.raises(ac.CheckpointInvalid):
        ac.parse_and_verify(json.dumps(data), signer.public_key())


def test_a_checkpoint_re_signed_by_another_key_is_refused(signer: Ed25519PrivateKey) -> None:
    forged = ac.sign(dataclasses.replace(_signed(signer)), Ed25519PrivateKey.generate())
    with pytest.raises(ac.CheckpointInvalid, match="signed by key"):
        ac.parse_and_verify(forged.to_json(), signer.public_key())


def test_a_checkpoint_of_another_audit_key_is_refused(
    log: AuditLog, signer: Ed25519PrivateKey
) -> None:
    append(log, 1)
    other = ac.sign(ac.Checkpoint(NOW, (), ac.key_id(ATTACKER_KEY)), signer)
    with pytest.raises(AuditChainBroken, match="made under audit key"):
        log.verify(other)


# -- old, unkeyed logs ----------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_at_0003(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    """An empty database migrated only to revision 0003, the last one with unkeyed entries."""
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'old.sqlite3'}", None
    else:
        admin_url = request.getfixturevalue("postgres_admin_url")
        name = f"t_{uuid.uuid4().hex[:16]}"
        admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = sqlalchemy.make_url(admin_url).set(database=name).render_as_string(False)
        drop = (admin, name)
    db = Database(url)
    config = alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    yield db
    db.dispose()
    if drop is not None:
        admin, name = drop
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _write_unkeyed(db: Database, n: int) -> None:
    """Entries as the code before keyed chains wrote them (seq, plain SHA-256 chain)."""
    previous = ac.GENESIS
    at = dt.datetime(2026, 11, 1, 9, 0)
    with db.engine.begin() as c:
        for seq in range(1, n + 1):
            entry_hash = audit._legacy_hash(
                seq,
                at.isoformat(),
                "1311111111",
                "eligibility.card-number",
                "f" * 64,
                "ok",
                previous,
            )
            c.execute(
                text(
                    'INSERT INTO audit_entry (seq, recorded_at, "MedicalInstitutionCode", action,'
                    " subject, outcome, previous_hash, entry_hash) VALUES (:seq, :at, '1311111111',"
                    " 'eligibility.card-number', :subject, 'ok', :previous, :hash)"
                ),
                {
                    "seq": seq,
                    "at": at,
                    "subject": "f" * 64,
                    "previous": previous,
                    "hash": entry_hash,
                },
            )
            previous = entry_hash


def test_old_entries_are_carried_over_and_sealed(database_at_0003: Database) -> None:
    db = database_at_0003
    _write_unkeyed(db, 3)
    db.migrate()
    alone = verify_chain(db, AUDIT_KEY)
    assert alone.entries == 3 and [c.chain for c in alone.chains] == [audit.LEGACY]
    log = AuditLog(db, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    append(log, 2)
    log.close()
    report = verify_chain(db, AUDIT_KEY)
    assert report.entries == 3 + 1 + 2  # the old ones, the seal, the new ones
    legacy = rows_of(db, audit.LEGACY)
    assert [(r.chain_seq, r.version) for r in legacy] == [(1, 1), (2, 1), (3, 1), (4, 2)]
    assert legacy[-1].action == audit.SEAL_ACTION and legacy[-1].outcome == "sealed-3"
    assert min(r.seq for r in rows_of(db, log.chain)) > 3  # the sequence starts after the old


def test_sealed_old_entries_cannot_be_rebuilt_or_extended(database_at_0003: Database) -> None:
    db = database_at_0003
    _write_unkeyed(db, 3)
    db.migrate()
    log = AuditLog(db, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    append(log, 1)
    log.close()
    seal = rows_of(db, audit.LEGACY)[-1]
    with db.transaction() as s:  # a forged unkeyed entry after the seal
        s.add(
            t.AuditEntry(
                chain=audit.LEGACY,
                chain_seq=5,
                version=1,
                recorded_at=seal.recorded_at,
                MedicalInstitutionCode=None,
                action="x",
                subject=None,
                outcome="x",
                previous_hash=seal.entry_hash,
                entry_hash="0" * 64,
            )
        )
    with pytest.raises(AuditChainBroken, match="nothing may follow the seal"):
        verify_chain(db, AUDIT_KEY)
    with db.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.chain_seq == 5))
    # The old entries rebuilt with plain hashes, the seal pointed at the new head: the seal fails.
    rebuild(db, audit.LEGACY, 2, plain_hash)
    with pytest.raises(AuditChainBroken, match=rf"audit entry {seal.seq} was altered"):
        verify_chain(db, AUDIT_KEY)


def test_an_unsealed_old_chain_beside_keyed_ones_is_refused(database_at_0003: Database) -> None:
    db = database_at_0003
    _write_unkeyed(db, 2)
    db.migrate()
    log = AuditLog(db, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    append(log, 1)
    log.close()
    with db.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.action == audit.SEAL_ACTION))
    with pytest.raises(AuditChainBroken, match="never sealed"):
        verify_chain(db, AUDIT_KEY)


# -- refused attempts are audited -----------------------------------------------------------------


@pytest.fixture
def central(database: Database, jpki: pki.CertificateAuthority) -> Central:
    c = Central(
        database, identifier_key="k" * 64, jpki_ca_certificate=jpki.certificate, clock=lambda: NOW
    )
    c.register_facility(CLINIC, "オンシ診療所")
    c.register_facility(PHARMACY, "オンシ薬局")
    return c


def _last(database: Database) -> t.AuditEntry:
    with database.sessions() as s:
        entry = s.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq.desc()).limit(1)).one()
    return entry


def test_refused_attempts_are_audited_with_their_code(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    key = CardKey("06139999", "12-34", "4260", "00")
    stranger = CardKey("06139999", "99-99", "9999", "00")
    cases: list[tuple[Callable[[], object], type[Exception], str, str | None]] = [
        (
            lambda: central.require_facility("1312222222"),
            FacilityNotAuthorised,
            "facility.check",
            "1312222222",
        ),
        (
            lambda: central.require_facility("not-a-code"),
            FacilityNotAuthorised,
            "facility.check",
            None,
        ),
        (
            lambda: central.drug_information(CLINIC, HistoryQuestion(key)),
            ConsentRequired,
            "history.drug",
            CLINIC.value,
        ),
        (
            lambda: central.drug_information(CLINIC, HistoryQuestion(stranger)),
            PersonNotFound,
            "history.drug",
            CLINIC.value,
        ),
        (
            lambda: central.checkups(PHARMACY, HistoryQuestion(key)),
            FacilityKindRefused,
            "history.checkup",
            PHARMACY.value,
        ),
        (
            lambda: central.confirm_by_card(
                CLINIC,
                CardQuestion(b"not a certificate", "n", "s", "face", frozenset({ConsentKind.DRUG})),
            ),
            CardUnknown,
            "eligibility.card.face",
            CLINIC.value,
        ),
    ]
    for call, error, action, facility in cases:
        with pytest.raises(error):
            call()
        entry = _last(database)
        assert (entry.action, entry.outcome, entry.MedicalInstitutionCode) == (
            action,
            error.code,
            facility,
        )
        assert entry.subject is None or len(entry.subject) == 64
        assert "4260" not in (entry.subject or "") and "not-a-code" not in (entry.subject or "")
    assert central.audit.verify().entries == len(cases)


# -- walking only what follows a checkpoint ------------------------------------------------------


def test_a_walk_since_the_checkpoint_checks_what_follows_and_the_pinned_entry(
    log: AuditLog, database: Database, signer: Ed25519PrivateKey
) -> None:
    append(log, 6)
    pinned = make_checkpoint(database, AUDIT_KEY, signer, NOW)
    append(log, 3)
    since = verify_chain(database, AUDIT_KEY, checkpoint=pinned, trust_checkpoint=True)
    assert since.entries == 9 and since.head == log.verify().head
    # The next checkpoint made from this one pins the same log as a full walk would.
    later = make_checkpoint(database, AUDIT_KEY, signer, NOW, pinned)
    assert later.head == make_checkpoint(database, AUDIT_KEY, signer, NOW).head
    seqs = [r.seq for r in rows_of(database)]
    # After the checkpoint: an altered entry is found …
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == seqs[7]).values(outcome="x"))
    with pytest.raises(AuditChainBroken, match=rf"audit entry {seqs[7]} was altered"):
        verify_chain(database, AUDIT_KEY, checkpoint=pinned, trust_checkpoint=True)
    # … and so is the pinned entry's link rewritten, or the pinned entry deleted.
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq.in_(seqs[5:])))
    with pytest.raises(AuditChainBroken, match="does not extend the checkpoint"):
        verify_chain(database, AUDIT_KEY, checkpoint=pinned, trust_checkpoint=True)
    # Before it, an entry changed with its stored link left alone needs the full walk.
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq.in_(seqs[4:])))
    shorter = make_checkpoint(database, AUDIT_KEY, signer, NOW)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == seqs[1]).values(outcome="x"))
    assert verify_chain(database, AUDIT_KEY, checkpoint=shorter, trust_checkpoint=True).entries == 4
    with pytest.raises(AuditChainBroken, match=rf"audit entry {seqs[1]} was altered"):
        verify_chain(database, AUDIT_KEY, checkpoint=shorter)


@pytest.mark.postgres
def test_an_append_survives_its_kept_connection_dying_exactly_once(postgres_url: str) -> None:
    # A failover kills the connection the log keeps for its appends: the next append finds
    # out from the chain's head whether its INSERT got in, and writes it once either way.
    database = Database(postgres_url)
    made = AuditLog(database, "i" * 64, lambda: NOW, audit_key=AUDIT_KEY)
    try:
        made.record(
            facility="1311111111",
            action="eligibility.card-number",
            subject=None,
            outcome="validity-1",
        )
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        made.record(
            facility="1311111111",
            action="eligibility.card-number",
            subject=None,
            outcome="validity-2",
        )
        report = made.verify()
        assert report.entries == 2
        with database.sessions() as session:
            outcomes = session.scalars(
                select(t.AuditEntry.outcome).where(t.AuditEntry.chain == made.chain)
            ).all()
        assert sorted(outcomes) == ["validity-1", "validity-2"]
    finally:
        made.close()
        database.dispose()
