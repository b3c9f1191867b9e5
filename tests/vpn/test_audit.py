"""The VPN audit log on the shared keyed chain: an insider who can write the database but has no
audit key cannot alter an entry unnoticed, and deleting the newest entries is caught by a signed
checkpoint. Service and ``onshi vpn audit`` commands, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

from onshi.audit import chain as ac
from onshi.vpn.cli import app
from onshi.vpn.errors import AuditChainBroken, InvalidInput
from onshi.vpn.services import VpnControlPlane
from onshi.vpn.services.audit import CHAIN
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage import tables as t


def _act(control: VpnControlPlane, times: int = 5) -> None:
    for i in range(times):
        control.record_audit(actor="console", action="test.action", subject=f"A00000{i}-001")


def _execute(control: VpnControlPlane, sql: str, **params: object) -> None:
    with control.db.engine.begin() as connection:
        connection.execute(sqlalchemy.text(sql), params)


def _rehash_without_key(control: VpnControlPlane, seq: int) -> None:
    """What an insider without the key can do: change an entry, then rebuild every link after it
    with a key of their own (any guess) so that each ``previous_hash`` matches."""
    guess = hashlib.sha256(b"insider's guess").digest()
    with control.db.engine.begin() as connection:
        rows = connection.execute(
            sqlalchemy.select(t.AuditEntry.__table__).order_by(t.AuditEntry.seq)
        ).all()
        previous = rows[seq - 2].entry_hash if seq > 1 else ac.GENESIS
        for row in rows[seq - 1 :]:
            outcome = "refused" if row.seq == seq else row.outcome
            entry = ac.canonical(
                [
                    ac.KEYED,
                    CHAIN,
                    row.seq,
                    row.recorded_at.isoformat(),
                    row.actor,
                    row.action,
                    row.subject,
                    outcome,
                    row.detail,
                ]
            )
            link = ac.link(guess, previous, entry)
            connection.execute(
                sqlalchemy.text(
                    "UPDATE vpn_audit_entry SET outcome = :o, previous_hash = :p, entry_hash = :h"
                    " WHERE seq = :s"
                ),
                {"o": outcome, "p": previous, "h": link, "s": row.seq},
            )
            previous = link


def test_the_audit_key_is_made_on_first_use_0600(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    assert not vpn_settings.audit_key_path.exists()
    _act(control, 1)
    mode = stat.S_IMODE(vpn_settings.audit_key_path.stat().st_mode)
    assert mode == 0o600
    report = control.verify_audit_chain()
    assert report.entries == 1 and len(report.head) == 64
    # The link is the keyed one: recomputed under the key file's key, it matches.
    key = bytes.fromhex(vpn_settings.audit_key_path.read_text())
    [entry] = control.audit_log()
    expected = ac.link(
        key,
        ac.GENESIS,
        ac.canonical(
            [
                ac.KEYED,
                CHAIN,
                1,
                entry.recorded_at.isoformat(),
                "console",
                "test.action",
                "A000000-001",
                "ok",
                None,
            ]
        ),
    )
    assert entry.entry_hash == expected == report.head


def test_a_placeholder_audit_key_is_refused_and_nothing_is_stored(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    vpn_settings.audit_key_path.parent.mkdir(parents=True)
    vpn_settings.audit_key_path.write_text("00" * 32 + "\n")
    with pytest.raises(InvalidInput, match="placeholder"):
        _act(control, 1)
    # A use case refuses whole: the application is not stored without its audit entry.
    with pytest.raises(InvalidInput, match="ONSHI_VPN_AUDIT_KEY_FILE"):
        control.submit_application(organisation="さくら薬局", ids=1, extra_certificates=0)
    with control.db.sessions() as session:
        assert (
            session.scalar(sqlalchemy.select(sqlalchemy.func.count()).select_from(t.Application))
            == 0
        )
    assert control.audit_log() == []


def test_an_entry_changed_and_relinked_without_the_key_is_named(
    control: VpnControlPlane,
) -> None:
    _act(control, 5)
    assert control.verify_audit_chain().entries == 5
    _rehash_without_key(control, 3)
    with pytest.raises(AuditChainBroken, match=r"^audit entry 3 was altered$"):
        control.verify_audit_chain()


def test_deleting_the_newest_entries_fails_against_a_checkpoint(
    control: VpnControlPlane,
) -> None:
    _act(control, 4)
    checkpoint = control.audit_checkpoint()
    assert [(c.chain, c.count) for c in checkpoint.chains] == [(CHAIN, 4)]
    assert control.verify_audit_chain(checkpoint).entries == 4
    _act(control, 1)
    assert control.verify_audit_chain(checkpoint).entries == 5  # extends it
    _execute(control, "DELETE FROM vpn_audit_entry WHERE seq >= 4")
    # Alone, the shorter chain still verifies: that is what the checkpoint is for.
    assert control.verify_audit_chain().entries == 3
    with pytest.raises(AuditChainBroken, match=r"entries 4\.\.4 are missing"):
        control.verify_audit_chain(checkpoint)


def test_a_checkpoint_of_another_key_is_refused(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    _act(control, 2)
    checkpoint = control.audit_checkpoint()
    foreign = ac.Checkpoint(checkpoint.time, checkpoint.chains, "0123456789abcdef")
    with pytest.raises(AuditChainBroken, match="under audit key 0123456789abcdef"):
        control.verify_audit_chain(foreign)


# -- the commands --------------------------------------------------------------------------


@pytest.fixture
def cli(vpn_db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    data_dir = tmp_path / "data"

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["audit", *args, "--db", vpn_db_url, "--data-dir", str(data_dir)])

    def invoke_sub(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(
            app, ["audit", "checkpoint", *args, "--db", vpn_db_url, "--data-dir", str(data_dir)]
        )

    control = VpnControlPlane.open(VpnSettings(database_url=vpn_db_url, data_dir=data_dir))
    try:
        yield control, invoke, invoke_sub
    finally:
        control.close()


def test_verify_and_checkpoint_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    control, audit, checkpoint = cli
    _act(control, 3)
    result = audit("--verify")
    assert result.exit_code == 0, result.output
    head = control.verify_audit_chain().head
    assert result.stdout == f"OK: audit chain intact: 3 entries, head {head}\n"

    out = tmp_path / "published" / "vpn-audit.json"
    made = checkpoint("--out", str(out))
    assert made.exit_code == 0, made.output
    assert made.stdout == f"checkpoint: 3 entries, head {head} -> {out}\n"
    published = json.loads(out.read_text())
    assert published["count"] == 3 and published["chains"][0]["head"] == head
    assert published["head"] == ac.tree_head([ac.ChainHead(CHAIN, 3, head)])

    _act(control, 1)
    extends = audit("--verify", "--checkpoint", str(out), "--format", "json")
    assert extends.exit_code == 0, extends.output
    body = json.loads(extends.stdout)
    assert body["entries"] == 4
    assert body["checkpoint"]["entries"] == 3 and body["checkpoint"]["head"] == head

    # The newest entries deleted: exit 1, naming the missing tail.
    _execute(control, "DELETE FROM vpn_audit_entry WHERE seq >= 3")
    cut = audit("--verify", "--checkpoint", str(out))
    assert cut.exit_code == 1
    assert "VPN_AUDIT_CHAIN_BROKEN" in cut.stderr
    assert "entries 3..3 are missing" in cut.stderr

    # An entry changed and re-linked without the key: exit 1, naming it.
    _rehash_without_key(control, 2)
    bad = audit("--verify")
    assert bad.exit_code == 1
    assert "audit entry 2 was altered" in bad.stderr


def test_an_edited_checkpoint_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    control, audit, checkpoint = cli
    _act(control, 3)
    out = tmp_path / "cp.json"
    assert checkpoint("--out", str(out)).exit_code == 0
    data = json.loads(out.read_text())
    # Claim fewer entries (as if to cover a deletion), with count and head made consistent.
    data["chains"][0]["count"] = 2
    data["count"] = 2
    data["head"] = ac.tree_head([ac.ChainHead(CHAIN, 2, data["chains"][0]["head"])])
    out.write_text(json.dumps(data))
    refused = audit("--verify", "--checkpoint", str(out))
    assert refused.exit_code == 1
    assert "refused" in refused.stderr and "signature does not verify" in refused.stderr


def test_a_broken_chain_gets_no_checkpoint(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    control, _audit, checkpoint = cli
    _act(control, 3)
    _rehash_without_key(control, 1)
    out = tmp_path / "cp.json"
    result = checkpoint("--out", str(out))
    assert result.exit_code == 1
    assert "audit entry 1 was altered" in result.stderr
    assert not out.exists()


def test_verify_without_a_key_file_is_bad_input(cli) -> None:  # type: ignore[no-untyped-def]
    _control, audit, _checkpoint = cli
    result = audit("--verify")
    assert result.exit_code == 2
    assert "no audit key" in result.stderr and "ONSHI_VPN_AUDIT_KEY_FILE" in result.stderr
