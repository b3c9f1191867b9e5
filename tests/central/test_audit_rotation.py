"""Replacing the audit key, and retiring the old one, against an insider who kept a copy of it.

On SQLite and PostgreSQL: chains written under the old key and under the new one verify
together; once the old key is retired, whoever still holds it can neither extend its chains,
nor start a new chain under it, nor cut a retired chain short. Then the operator's commands,
``audit rotate-key`` and ``audit retire-keys``, from the key files they leave behind.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select
from typer.testing import CliRunner

from onshi.audit import chain as ac
from onshi.audit import keys
from onshi.central.cli import app
from onshi.central.errors import AuditChainBroken
from onshi.central.services.audit import (
    AuditLog,
    make_checkpoint,
    retire_old_keys,
    verify_chain,
)
from onshi.central.services.clock import JST
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

OLD_KEY = bytes(range(1, 33))
NEW_KEY = bytes(range(40, 72))
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=JST)
SIGNER = Ed25519PrivateKey.generate()


def writer(database: Database, key: bytes) -> AuditLog:
    """A service process started on ``key`` (each AuditLog writes a chain of its own)."""
    return AuditLog(database, "i" * 64, lambda: NOW, audit_key=key)


def append(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.record(facility="1311111111", action="history.drug", subject=None, outcome=str(i))


def chain_of(database: Database, log: AuditLog) -> list[int]:
    with database.sessions() as s:
        query = select(t.AuditEntry.seq).where(t.AuditEntry.chain == log.chain)
        return list(s.scalars(query.order_by(t.AuditEntry.chain_seq)))


@pytest.fixture
def rotated(database: Database) -> tuple[AuditLog, AuditLog]:
    """Two chains under the old key's process, then one under the new key's."""
    before, after = writer(database, OLD_KEY), writer(database, NEW_KEY)
    append(before, 3)
    append(after, 2)
    return before, after


def retired(database: Database, ring: ac.KeyRing) -> ac.KeyRing:
    [closing] = retire_old_keys(database, ring, SIGNER, NOW)
    return ac.KeyRing(ring.current, (ac.OldKey(OLD_KEY, closing),))


def test_chains_under_the_old_and_the_new_key_verify_together(
    database: Database, rotated: tuple[AuditLog, AuditLog]
) -> None:
    before, after = rotated
    ring = ac.KeyRing(NEW_KEY, (ac.OldKey(OLD_KEY),))
    report = verify_chain(database, ring)
    assert report.entries == 5
    assert report.keys == {before.chain: ac.key_id(OLD_KEY), after.chain: ac.key_id(NEW_KEY)}
    # Without the replaced key, its chain cannot be told from a forged one.
    with pytest.raises(AuditChainBroken, match=f"altered \\(chain {before.chain}, entry 1\\)"):
        verify_chain(database, NEW_KEY)


def test_a_retired_key_can_neither_extend_nor_start_a_chain(
    database: Database, rotated: tuple[AuditLog, AuditLog]
) -> None:
    before, after = rotated
    ring = retired(database, ac.KeyRing(NEW_KEY, (ac.OldKey(OLD_KEY),)))
    (closing,) = (o.closing for o in ring.old)
    assert closing is not None and [c.chain for c in closing.chains] == [before.chain]
    assert closing.count == 3 and closing.audit_key_id == ac.key_id(OLD_KEY)
    assert verify_chain(database, ring).entries == 5
    append(after, 1)  # the new key's chains go on growing
    assert verify_chain(database, ring).entries == 6

    append(before, 1)  # a process left running on the old key, or whoever kept a copy of it
    [late] = chain_of(database, before)[3:]
    with pytest.raises(
        AuditChainBroken,
        match=f"audit entry {late} \\(chain {before.chain}, entry 4\\) was written under audit "
        f"key {ac.key_id(OLD_KEY)} after that key was retired",
    ):
        verify_chain(database, ring)
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq == late))

    forger = writer(database, OLD_KEY)
    append(forger, 1)
    with pytest.raises(AuditChainBroken, match=f"chain {forger.chain} .* after that key was"):
        verify_chain(database, ring)
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.chain == forger.chain))
    assert verify_chain(database, ring).entries == 6


def test_a_retired_chain_cut_short_is_caught(
    database: Database, rotated: tuple[AuditLog, AuditLog]
) -> None:
    before, _ = rotated
    ring = retired(database, ac.KeyRing(NEW_KEY, (ac.OldKey(OLD_KEY),)))
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq == chain_of(database, before)[-1]))
    with pytest.raises(
        AuditChainBroken,
        match=f"does not extend the retirement of audit key {ac.key_id(OLD_KEY)}: chain "
        f"{before.chain} ends at entry 2, 3 were pinned",
    ):
        verify_chain(database, ring)


def test_a_checkpoint_made_before_the_rotation_still_counts(database: Database) -> None:
    before = writer(database, OLD_KEY)
    append(before, 4)
    pinned = make_checkpoint(database, OLD_KEY, SIGNER, NOW)
    append(writer(database, NEW_KEY), 2)
    ring = retired(database, ac.KeyRing(NEW_KEY, (ac.OldKey(OLD_KEY),)))
    assert verify_chain(database, ring, checkpoint=pinned).entries == 6
    since = verify_chain(database, ring, checkpoint=pinned, trust_checkpoint=True)
    assert since.entries == 6
    later = make_checkpoint(database, ring, SIGNER, NOW, pinned)
    assert later.audit_key_id == ac.key_id(NEW_KEY) and later.count == 6
    # A checkpoint of a key this ring never held is refused.
    stranger = ac.sign(dataclasses.replace(pinned, audit_key_id=ac.key_id(b"x" * 32)), SIGNER)
    with pytest.raises(AuditChainBroken, match="nor one it replaced"):
        verify_chain(database, ring, checkpoint=stranger)


# -- the key files ------------------------------------------------------------------------------


def test_rotation_keeps_the_old_key_beside_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    first = keys.audit_key(path, create=True)
    old_id, new_id = keys.rotate_audit_key(path)
    assert old_id == ac.key_id(first) and new_id != old_id
    kept = keys.replaced_keys_dir(path) / f"{old_id}.key"
    assert keys.parse_audit_key(kept.read_text()) == first
    for made in (path, kept):
        assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.replaced_keys_dir(path).stat().st_mode) == 0o700
    ring = keys.key_ring(path, tmp_path / "absent.pub")  # nothing retired: no key needed
    assert ring.current == keys.audit_key(path, create=False)
    assert ring.ids == {old_id, new_id} and ring.unretired() == list(ring.old)
    keys.rotate_audit_key(path)
    assert len(keys.key_ring(path, tmp_path / "absent.pub").old) == 2
    # A kept key whose file name is not its id was put there by hand, wrongly.
    kept.rename(kept.with_name("0123456789abcdef.key"))
    with pytest.raises(keys.KeyFileError, match=f"holds audit key {old_id}"):
        keys.key_ring(path, tmp_path / "absent.pub")


def test_a_closing_file_must_be_signed_and_about_its_key(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    keys.audit_key(path, create=True)
    old_id, _ = keys.rotate_audit_key(path)
    signing = keys.signing_key(tmp_path / "signer", create=True)
    public = keys.public_key_path(tmp_path / "signer")
    closing = ac.sign(ac.Checkpoint(NOW, (ac.ChainHead("a", 3, "0" * 64),), old_id), signing)
    out = keys.write_closing(path, closing.to_json(), old_id)
    [old] = keys.key_ring(path, public).old
    assert old.closing == closing and old.id == old_id
    edited = json.loads(out.read_text())
    edited["chains"][0]["count"] = 2
    out.write_text(json.dumps(edited))
    with pytest.raises(ac.CheckpointInvalid):
        keys.key_ring(path, public)
    other = ac.sign(ac.Checkpoint(NOW, (), "fedcba9876543210"), signing)
    out.write_text(other.to_json())
    with pytest.raises(ac.CheckpointInvalid, match="closes audit key fedcba9876543210"):
        keys.key_ring(path, public)


# -- the operator's commands ----------------------------------------------------------------------


def run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args))
    return done.exit_code, done.output


def test_rotate_restart_retire_as_an_operator_does(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AUDIT_KEY_FILE", "AUDIT_SIGNING_KEY_FILE", "DATA_DIR", "DATABASE_URL"):
        monkeypatch.delenv(f"ONSHI_CENTRAL_{name}", raising=False)
    data = tmp_path / "data"
    where = ["--db", db_url, "--data-dir", str(data)]
    database = Database(db_url)
    try:
        old_process = writer(database, keys.audit_key(data / "audit.key", create=True))
        append(old_process, 2)
        status, output = run("audit", "rotate-key", "--data-dir", str(data))
        assert status == 0, output
        assert "audit.key.replaced" in output and "retire-keys" in output
        append(old_process, 1)  # still running: its chain goes on under the old key
        append(writer(database, keys.audit_key(data / "audit.key", create=False)), 2)
        status, output = run("audit", "verify", *where)
        assert status == 0, output
        assert output.startswith("OK: 5 entries in 2 chain(s)") and "is not retired" in output

        status, output = run("audit", "retire-keys", *where)
        assert status == 0, output
        assert "retired audit key" in output and "1 chain(s), 3 entries pinned" in output
        status, output = run("audit", "verify", *where)
        assert status == 0 and "not retired" not in output, output
        assert run("audit", "retire-keys", *where)[1].startswith("no replaced audit key waits")

        append(old_process, 1)  # it was not stopped after all
        status, output = run("audit", "verify", *where)
        assert status == 1 and "after that key was retired" in output, output
        status, output = run("audit", "checkpoint", "--out", str(tmp_path / "c.json"), *where)
        assert status == 1 and "no checkpoint written" in output, output
    finally:
        old_process.close()
        database.dispose()
