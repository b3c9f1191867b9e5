"""Replacing the VPN audit key: the one chain is handed over to the new key by an entry linked
under the old one; processes started before follow; a rotation cut short completes at the next
action; a retired key's part of the chain cannot grow or be cut. SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import sqlalchemy
from typer.testing import CliRunner

from onshi.audit import chain as ac
from onshi.audit import keys
from onshi.vpn.cli import app
from onshi.vpn.errors import AuditChainBroken
from onshi.vpn.services import VpnControlPlane, audit
from onshi.vpn.services.audit import CHAIN, ROTATED
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage import tables as t
from onshi.vpn.storage.database import Database

from .conftest import FakeClock
from .test_audit import _act


def _rows(control: VpnControlPlane) -> list[sqlalchemy.Row[tuple[object, ...]]]:
    with control.db.engine.connect() as connection:
        return list(
            connection.execute(
                sqlalchemy.select(t.AuditEntry.__table__).order_by(t.AuditEntry.seq)
            ).all()
        )


def _linked_under(row: sqlalchemy.Row[tuple[object, ...]], key: bytes) -> bool:
    return ac.links_match(ac.link(key, row.previous_hash, audit._stored(row)), row.entry_hash)  # type: ignore[arg-type]


def _another_process(settings: VpnSettings, clock: FakeClock) -> VpnControlPlane:
    return VpnControlPlane(settings, Database(settings.database_url), clock)


def test_the_chain_is_handed_over_to_the_new_key(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    _act(control, 3)
    before = control.audit_checkpoint()
    first = keys.audit_key(vpn_settings.audit_key_path, create=False)
    old, new = control.rotate_audit_key()
    second = keys.audit_key(vpn_settings.audit_key_path, create=False)
    assert (old, new) == (ac.key_id(first), ac.key_id(second))
    _act(control, 2)
    rows = _rows(control)
    assert [(r.seq, r.action, r.subject) for r in rows[3:4]] == [(4, ROTATED, new)]
    assert all(_linked_under(r, first) for r in rows[:4])  # the hand-over: under the old key
    assert all(_linked_under(r, second) and not _linked_under(r, first) for r in rows[4:])
    report = control.verify_audit_chain()
    assert (report.entries, report.unretired) == (6, (old,))
    assert control.verify_audit_chain(before).entries == 6  # a checkpoint of the old key
    assert control.audit_checkpoint().audit_key_id == new


def test_a_process_started_before_follows_at_its_next_action(
    control: VpnControlPlane, vpn_settings: VpnSettings, clock: FakeClock
) -> None:
    _act(control, 2)  # this process has read the first key
    other = _another_process(vpn_settings, clock)
    try:
        other.rotate_audit_key()
        _act(control, 2)  # reads the key file again: the log names the new key
        _act(other, 1)
    finally:
        other.close()
    assert [r.action for r in _rows(control)].count(ROTATED) == 1
    assert control.verify_audit_chain().entries == 6


def test_a_rotation_cut_short_completes_at_the_next_action(
    control: VpnControlPlane, vpn_settings: VpnSettings, clock: FakeClock
) -> None:
    """The key files replaced, the hand-over not written (the command stopped between)."""
    _act(control, 2)
    _, new = keys.rotate_audit_key(vpn_settings.audit_key_path)
    _act(control, 1)  # this process still holds the old key, and the log is under it: fine
    assert not any(r.action == ROTATED for r in _rows(control))
    other = _another_process(vpn_settings, clock)
    try:
        _act(other, 1)  # a process with the new key hands over first
    finally:
        other.close()
    rows = _rows(control)
    assert [(r.seq, r.actor, r.action, r.subject) for r in rows[3:]] == [
        (4, "system", ROTATED, new),
        (5, "console", "test.action", "A000000-001"),
    ]
    assert control.verify_audit_chain().entries == 5


def test_a_key_that_is_none_of_the_log_s_is_refused_and_nothing_stored(
    control: VpnControlPlane, vpn_settings: VpnSettings, clock: FakeClock
) -> None:
    """A key file replaced by hand (not through rotate-key): appending under it would fork
    the chain, so the action fails whole."""
    _act(control, 2)
    vpn_settings.audit_key_path.write_text(secrets.token_hex(32) + "\n")
    other = _another_process(vpn_settings, clock)
    try:
        with pytest.raises(AuditChainBroken, match="entry 2, the newest, is under none"):
            _act(other, 1)
    finally:
        other.close()
    assert len(_rows(control)) == 2


def _rewrite_under(control: VpnControlPlane, key: bytes, from_seq: int, count: int) -> None:
    """An insider holding ``key``: the log cut at ``from_seq`` and ``count`` entries of their own
    linked under it."""
    rows = _rows(control)
    previous = rows[from_seq - 2].entry_hash if from_seq > 1 else ac.GENESIS
    at = rows[0].recorded_at
    with control.db.engine.begin() as connection:
        connection.execute(sqlalchemy.delete(t.AuditEntry).where(t.AuditEntry.seq >= from_seq))
        for seq in range(from_seq, from_seq + count):
            entry = audit._entry(seq, at, "console", "forged", None, "ok", None)  # type: ignore[arg-type]
            link = ac.link(key, previous, entry)  # type: ignore[arg-type]
            connection.execute(
                sqlalchemy.insert(t.AuditEntry).values(
                    seq=seq,
                    recorded_at=at,
                    actor="console",
                    action="forged",
                    subject=None,
                    outcome="ok",
                    detail=None,
                    previous_hash=previous,
                    entry_hash=link,
                )
            )
            previous = link


def test_a_retired_key_s_part_can_neither_grow_nor_be_cut(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    _act(control, 3)
    first = keys.audit_key(vpn_settings.audit_key_path, create=False)
    old, _ = control.rotate_audit_key()
    _act(control, 2)
    [(closing, out)] = control.retire_audit_keys()
    assert out == keys.closing_path(vpn_settings.audit_key_path, old) and out.exists()
    assert [(c.chain, c.count) for c in closing.chains] == [(CHAIN, 4)]  # its hand-over
    assert control.retire_audit_keys() == []
    assert control.verify_audit_chain().unretired == ()
    # Whoever kept the old key cuts the log at the hand-over and goes on under the old key:
    # without the closing, a valid chain of known keys.
    _rewrite_under(control, first, 4, 3)
    with pytest.raises(AuditChainBroken, match=f"goes on under audit key {old}, which was retired"):
        control.verify_audit_chain()
    keys.closing_path(vpn_settings.audit_key_path, old).unlink()
    assert control.verify_audit_chain().entries == 6  # what the closing is for


def test_a_key_that_wrote_nothing_is_retired_with_nothing(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    keys.audit_key(vpn_settings.audit_key_path, create=True)
    old, _ = control.rotate_audit_key()  # an empty log: nothing to hand over
    assert _rows(control) == []
    [(closing, _)] = control.retire_audit_keys()
    assert (closing.audit_key_id, closing.chains) == (old, ())
    _act(control, 1)
    assert control.verify_audit_chain().entries == 1
    _rewrite_under(control, keys.replaced_keys(vpn_settings.audit_key_path)[old], 1, 1)
    with pytest.raises(AuditChainBroken, match=f"goes on under audit key {old}, which was retired"):
        control.verify_audit_chain()


def test_the_commands(vpn_db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    data_dir = tmp_path / "data"

    def invoke(*args: str) -> str:
        result = runner.invoke(
            app, ["audit", *args, "--db", vpn_db_url, "--data-dir", str(data_dir)]
        )
        assert result.exit_code == 0, result.output
        return result.output

    control = VpnControlPlane.open(VpnSettings(database_url=vpn_db_url, data_dir=data_dir))
    try:
        _act(control, 2)
        said = invoke("rotate-key")
        assert "the chain is handed over" in said and "retire-keys" in said
        assert "note: audit key" in invoke("--verify")
        said = invoke("retire-keys")
        assert said.startswith("retired audit key ") and "ends at entry 3" in said
        assert "note:" not in invoke("--verify")
        assert invoke("retire-keys").strip() == "no replaced audit key waits to be retired"
    finally:
        control.close()
