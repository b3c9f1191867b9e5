"""``onshi central audit checkpoint`` and ``audit verify --checkpoint`` as an operator runs them.

On SQLite and PostgreSQL: a checkpoint is written and signed with a key made on first use
(0600, outside the database); the log verifies against it, with its full head printed; the
newest entries deleted, an entry changed, the checkpoint edited: exit 1 naming what is wrong.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from onshi.audit.keys import audit_key
from onshi.central.cli import app
from onshi.central.services.audit import AuditLog
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from tests.central import factories

QUERY = [
    "--insurer",
    "06139999",
    "--symbol",
    "12-34",
    "--number",
    "4260",
    "--birthdate",
    "19800401",
    "--date",
    "20261123",
]


@pytest.fixture
def data_dir(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("AUDIT_KEY_FILE", "AUDIT_SIGNING_KEY_FILE", "DATA_DIR", "DATABASE_URL"):
        monkeypatch.delenv(f"ONSHI_CENTRAL_{name}", raising=False)
    database = Database(db_url)
    with database.transaction() as s:
        factories.qualification(s)
    database.dispose()
    data = tmp_path / "data"
    done = CliRunner().invoke(app, ["query", "--db", db_url, "--data-dir", str(data), *QUERY])
    assert done.exit_code == 0, done.output
    # Then a long-running writer (a server process, in effect): one chain of four entries.
    database = Database(db_url)
    log = AuditLog(database, "i" * 64, audit_key=audit_key(data / "audit.key", create=False))
    for i in range(4):
        log.record(facility="1311111111", action="history.drug", subject=None, outcome=str(i))
    log.close()
    database.dispose()
    return data


def run(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, list(args))
    return done.exit_code, done.output


def newest(db_url: str, n: int) -> list[int]:
    database = Database(db_url)
    with database.sessions() as s:
        seqs = s.scalars(select(t.AuditEntry.seq).order_by(t.AuditEntry.seq.desc()).limit(n))
        found = list(seqs)
    database.dispose()
    return found


def test_checkpoint_then_verify_against_it(db_url: str, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "published" / "checkpoint.json"
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    status, output = run("audit", "checkpoint", "--out", str(out), *where)
    assert status == 0, output
    for made in ("audit.key", "audit-checkpoint.key"):
        assert stat.S_IMODE((data_dir / made).stat().st_mode) == 0o600
    assert (data_dir / "audit-checkpoint.key.pub").read_text().startswith("-----BEGIN PUBLIC KEY")
    written = json.loads(out.read_text())
    assert (
        written["count"] == 5
        and len(written["chains"]) == 2
        and re.fullmatch(r"[0-9a-f]{64}", written["head"])
    )
    assert written["signature"] and written["signing_key_id"]
    assert written["head"] in output

    status, output = run("audit", "verify", "--checkpoint", str(out), *where)
    assert status == 0, output
    assert output.startswith("OK: 5 entries in 2 chain(s), head ")
    assert re.search(r"head [0-9a-f]{64}\n", output)  # the full head, not a prefix
    assert f"extends the checkpoint of {written['time']}" in output

    # The public key alone is enough to check a checkpoint (an outside auditor's case).
    public = ["--public-key", str(data_dir / "audit-checkpoint.key.pub")]
    assert run("audit", "verify", "--checkpoint", str(out), *public, *where)[0] == 0


def test_the_newest_entries_deleted_fail_against_the_checkpoint(
    db_url: str, data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "checkpoint.json"
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    assert run("audit", "checkpoint", "--out", str(out), *where)[0] == 0
    database = Database(db_url)
    with database.transaction() as s:
        s.execute(delete(t.AuditEntry).where(t.AuditEntry.seq.in_(newest(db_url, 2))))
    database.dispose()
    assert run("audit", "verify", *where)[0] == 0  # without the checkpoint, nothing shows
    status, output = run("audit", "verify", "--checkpoint", str(out), *where)
    assert status == 1
    assert "does not extend the checkpoint" in output and "entries 3..4 are missing" in output


def test_an_entry_changed_fails_naming_it(db_url: str, data_dir: Path) -> None:
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    second = sorted(newest(db_url, 4))[1]  # inside the writer's chain
    database = Database(db_url)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == second).values(outcome="x"))
    database.dispose()
    status, output = run("audit", "verify", *where)
    assert status == 1 and f"audit entry {second} was altered" in output


def test_an_edited_checkpoint_is_refused(db_url: str, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "checkpoint.json"
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    assert run("audit", "checkpoint", "--out", str(out), *where)[0] == 0
    edited = json.loads(out.read_text())
    edited["chains"][0]["count"] = 2  # an insider pretending the log was shorter
    out.write_text(json.dumps(edited))
    status, output = run("audit", "verify", "--checkpoint", str(out), *where)
    assert status == 1 and "refused" in output and "count or head" in output


def test_missing_or_placeholder_keys_are_refused(
    db_url: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, output = run("audit", "verify", "--db", db_url, "--data-dir", str(tmp_path / "none"))
    assert status == 2 and "no audit key" in output
    assert not (tmp_path / "none").exists()  # verify never makes a key
    placeholder = tmp_path / "placeholder.key"
    placeholder.write_text("00" * 32)
    monkeypatch.setenv("ONSHI_CENTRAL_AUDIT_KEY_FILE", str(placeholder))
    status, output = run("audit", "verify", "--db", db_url, "--data-dir", str(data_dir))
    assert status == 2 and "placeholder" in output
    status, output = run("query", "--db", db_url, "--data-dir", str(data_dir), *QUERY)
    assert status == 2 and "placeholder" in output  # the service refuses to start on it


def test_the_key_file_setting_is_used(
    db_url: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "keys" / "audit.key"
    monkeypatch.setenv("ONSHI_CENTRAL_AUDIT_KEY_FILE", str(elsewhere))
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    assert run("query", *where, *QUERY)[0] == 0
    assert elsewhere.exists()  # made there on first use
    # The log now holds chains under two keys: verifying with either one names the other's.
    status, output = run("audit", "verify", *where)
    assert status == 1 and "was altered" in output


def test_hourly_checkpoints_walk_only_what_is_new(
    db_url: str, data_dir: Path, tmp_path: Path
) -> None:
    where = ["--db", db_url, "--data-dir", str(data_dir)]
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    assert run("audit", "checkpoint", "--out", str(first), *where)[0] == 0
    assert run("query", *where, *QUERY)[0] == 0
    status, output = run(
        "audit", "checkpoint", "--out", str(second), "--previous", str(first), *where
    )
    assert status == 0, output
    assert json.loads(second.read_text())["count"] == 6
    status, output = run(
        "audit", "verify", "--checkpoint", str(first), "--since-checkpoint", *where
    )
    assert status == 0 and output.startswith("OK: 6 entries in 3 chain(s)")
    assert run("audit", "verify", "--since-checkpoint", *where)[0] == 2
    edited = json.loads(first.read_text())
    edited["time"] = "2030-01-01T00:00:00+09:00"
    first.write_text(json.dumps(edited))
    status, output = run(
        "audit", "checkpoint", "--out", str(second), "--previous", str(first), *where
    )
    assert status == 1 and "refused" in output
