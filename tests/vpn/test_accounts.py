"""IDs and operators: password rules, logins and lockout, the sealed EAP secret; both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from onshi.vpn.domain.accounts import (
    LockoutRules,
    LoginState,
    PasswordRules,
    after_failure,
    check_password,
)
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import (
    AccountLocked,
    ApplicationClosed,
    AuditChainBroken,
    NotPermitted,
    OperatorExists,
    SecretStoreError,
    UnknownAccount,
    UnknownOperator,
    WeakPassword,
    WrongPassword,
)
from onshi.vpn.services import Role, VpnControlPlane
from onshi.vpn.services.secrets import SealingKey, nt_hash
from onshi.vpn.storage import tables as t
from tests.vpn.conftest import PASSWORD, FakeClock, open_application


def test_nt_hash_matches_rfc_2759() -> None:
    # RFC 2759 section 9.2: NtPasswordHash("clientPass").
    assert nt_hash("clientPass").hex().upper() == "44EBBA8D5312B8D611474411F56989AE"


def test_login_with_the_password(control: VpnControlPlane, clock: FakeClock) -> None:
    view = open_application(control)
    account = control.authenticate(view.accounts[0], PASSWORD)
    assert account.name == "A000001-001"
    assert account.organisation == "さくら薬局"
    assert account.devices_allowed == 2
    assert account.last_login_at == clock.now.replace(tzinfo=None)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short1x", "characters long"),
        ("x" * 65 + "1", "characters long"),
        ("onlyletters-here", "one letter and one digit"),
        ("1234567890123", "one letter and one digit"),
        ("パスワード1234567", "printable ASCII"),
        ("aaaa1111aaaa", "4 different"),
        ("a000001-001-Pass9", "login name"),
    ],
)
def test_weak_passwords_are_refused(control: VpnControlPlane, password: str, why: str) -> None:
    view = open_application(control, password=None)
    with pytest.raises(WeakPassword) as caught:
        control.set_password(view.accounts[0], password)
    assert caught.value.code == "VPN_WEAK_PASSWORD"
    assert why in caught.value.message
    assert password not in caught.value.message
    assert control.account(view.accounts[0]).password_set is False


def test_wrong_password_then_lockout(control: VpnControlPlane, clock: FakeClock) -> None:
    (name,) = open_application(control).accounts
    for _ in range(2):
        with pytest.raises(WrongPassword) as caught:
            control.authenticate(name, "Wrong-pass-123")
        assert caught.value.code == "VPN_WRONG_PASSWORD"
    with pytest.raises(AccountLocked):  # the 3rd failure (threshold 3) locks
        control.authenticate(name, "Wrong-pass-123")
    with pytest.raises(AccountLocked) as locked:  # even the right password, while locked
        control.authenticate(name, PASSWORD)
    assert locked.value.code == "VPN_ACCOUNT_LOCKED"
    assert "try again" in locked.value.message
    assert control.account(name).locked_until == clock.now.replace(tzinfo=None) + dt.timedelta(
        minutes=10
    )
    clock.advance(minutes=10)
    assert control.authenticate(name, PASSWORD).locked_until is None


def test_a_success_resets_the_count(control: VpnControlPlane) -> None:
    (name,) = open_application(control).accounts
    for _ in range(2):
        with pytest.raises(WrongPassword):
            control.authenticate(name, "Wrong-pass-123")
    control.authenticate(name, PASSWORD)
    for _ in range(2):
        with pytest.raises(WrongPassword):
            control.authenticate(name, "Wrong-pass-123")
    control.authenticate(name, PASSWORD)


def test_setting_a_password_unlocks(control: VpnControlPlane) -> None:
    (name,) = open_application(control).accounts
    for _ in range(3):
        with pytest.raises((WrongPassword, AccountLocked)):
            control.authenticate(name, "Wrong-pass-123")
    control.set_password(name, "New-pass-2026x")
    assert control.authenticate(name, "New-pass-2026x").name == name


def test_unknown_ids_and_ids_without_password_look_alike(control: VpnControlPlane) -> None:
    (name,) = open_application(control, password=None).accounts
    for who in (name, "A000099-001", "not an id"):
        with pytest.raises(WrongPassword) as caught:
            control.authenticate(who, PASSWORD)
        assert caught.value.message == "wrong ID or password"
    with pytest.raises(UnknownAccount):
        control.set_password("A000099-001", PASSWORD)


def test_change_password(control: VpnControlPlane) -> None:
    (name,) = open_application(control).accounts
    with pytest.raises(WrongPassword):
        control.change_password(name, "Wrong-pass-123", "Another-pass-9")
    with pytest.raises(WeakPassword):
        control.change_password(name, PASSWORD, "short1")
    old_secret = control.eap_secret(name)
    control.change_password(name, PASSWORD, "Another-pass-9")
    assert control.authenticate(name, "Another-pass-9").name == name
    with pytest.raises(WrongPassword):
        control.authenticate(name, PASSWORD)
    new_secret = control.eap_secret(name)
    assert old_secret is not None and new_secret is not None
    assert new_secret.nt_hash == nt_hash("Another-pass-9") != old_secret.nt_hash


def test_nothing_in_the_database_or_audit_holds_the_password(control: VpnControlPlane) -> None:
    (name,) = open_application(control).accounts
    with pytest.raises(WrongPassword):
        control.authenticate(name, "Typo-pass-2026")
    with control.db.sessions() as session:
        row = session.scalars(select(t.Account).where(t.Account.name == name)).one()
        entries = session.scalars(select(t.AuditEntry)).all()
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    assert row.nt_hash_sealed is not None
    assert nt_hash(PASSWORD) not in row.nt_hash_sealed
    stored = [row.name, row.password_hash, row.nt_hash_sealed.hex()]
    assert all(PASSWORD not in v and nt_hash(PASSWORD).hex() not in v for v in stored)
    dump = repr([(e.actor, e.action, e.subject, e.outcome, e.detail) for e in entries])
    assert PASSWORD not in dump and "Typo-pass-2026" not in dump
    outcomes = [(e.action, e.outcome) for e in entries if e.action == "account.login"]
    assert outcomes == [("account.login", "wrong_password")]


def test_eap_secrets_only_for_opened_contracts(control: VpnControlPlane) -> None:
    opened = open_application(control, ids=2)
    pending = control.submit_application(organisation="b", ids=1, extra_certificates=0)
    control.set_password(pending.accounts[0], PASSWORD)
    secrets = control.eap_secrets()
    assert [s.account for s in secrets] == list(opened.accounts)
    assert {s.nt_hash for s in secrets} == {nt_hash(PASSWORD)}
    assert control.eap_secret(pending.accounts[0]) is None


def test_cancelled_contract_keeps_access_until_it_ends(
    control: VpnControlPlane, clock: FakeClock
) -> None:
    (name,) = open_application(control).accounts
    clock.now = dt.datetime(2027, 4, 10, 3, 0, tzinfo=dt.UTC)
    view = control.advance_application("A000001", ApplicationState.CANCELLED)
    assert view.cancellation_effective_on == dt.date(2027, 4, 30)
    assert [s.account for s in control.eap_secrets()] == [name]
    control.authenticate(name, PASSWORD)
    clock.now = dt.datetime(2027, 5, 1, 3, 0, tzinfo=dt.UTC)  # 12:00 JST on 5/1
    assert control.eap_secrets() == []
    with pytest.raises(ApplicationClosed):
        control.authenticate(name, PASSWORD)


def test_sealing_key_file(control: VpnControlPlane, tmp_path: Path) -> None:
    (name,) = open_application(control).accounts
    key_path = control.settings.seal_key_path
    assert key_path.stat().st_mode & 0o777 == 0o600
    assert len(key_path.read_bytes()) == 32
    with control.db.sessions() as session:
        sealed = session.scalars(
            select(t.Account.nt_hash_sealed).where(t.Account.name == name)
        ).one()
    assert sealed is not None
    other = SealingKey.load_or_create(tmp_path / "other.key")
    with pytest.raises(SecretStoreError):
        other.open(sealed, bound_to=name)
    right = SealingKey.load_or_create(key_path)
    assert right.open(sealed, bound_to=name) == nt_hash(PASSWORD)
    with pytest.raises(SecretStoreError):  # bound to its account: cannot be moved to another
        right.open(sealed, bound_to="A000001-002")
    key_path.chmod(0o644)
    with pytest.raises(SecretStoreError):
        SealingKey.load_or_create(key_path)
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    short.chmod(0o600)
    with pytest.raises(SecretStoreError) as caught:
        SealingKey.load_or_create(short)
    assert "not 32 bytes" in caught.value.message


def test_operators(control: VpnControlPlane) -> None:
    control.add_operator("sato", Role.OPERATOR, "Operator-pass-1")
    control.add_operator("kato", Role.AUDITOR, "Auditor-pass-1", by="sato")
    with pytest.raises(OperatorExists):
        control.add_operator("sato", Role.OPERATOR, "Operator-pass-2")
    with pytest.raises(NotPermitted):
        control.add_operator("ito", Role.OPERATOR, "Operator-pass-3", by="kato")
    assert [(o.name, o.role) for o in control.operators()] == [
        ("kato", Role.AUDITOR),
        ("sato", Role.OPERATOR),
    ]
    assert control.authenticate_operator("kato", "Auditor-pass-1").role is Role.AUDITOR
    with pytest.raises(WrongPassword):
        control.authenticate_operator("kato", "Auditor-pass-2")
    with pytest.raises(WrongPassword):
        control.authenticate_operator("nobody", "Auditor-pass-2")
    for _ in range(2):
        with pytest.raises((WrongPassword, AccountLocked)):
            control.authenticate_operator("sato", "Wrong-pass-1")
    with pytest.raises(AccountLocked):
        control.authenticate_operator("sato", "Wrong-pass-1")
    with pytest.raises(AccountLocked):
        control.authenticate_operator("sato", "Operator-pass-1")


def test_audit_log_is_for_auditors(control: VpnControlPlane) -> None:
    control.add_operator("sato", Role.OPERATOR, "Operator-pass-1")
    control.add_operator("kato", Role.AUDITOR, "Auditor-pass-1")
    open_application(control)
    entries = control.audit_log(viewer="kato")
    assert entries[0].action == "account.password_set"
    assert [e.seq for e in entries] == sorted((e.seq for e in entries), reverse=True)
    with pytest.raises(NotPermitted):
        control.audit_log(viewer="sato")
    report = control.verify_audit_chain()
    assert report.entries == len(entries)


def test_altered_audit_entry_breaks_the_chain(control: VpnControlPlane) -> None:
    open_application(control)
    control.verify_audit_chain()
    with control.db.transaction() as session:
        row = session.get(t.AuditEntry, 2)
        assert row is not None
        row.actor = "someone-else"
    with pytest.raises(AuditChainBroken) as caught:
        control.verify_audit_chain()
    assert caught.value.code == "VPN_AUDIT_CHAIN_BROKEN"
    assert "entry 2 was altered" in caught.value.message


def test_eap_secret_unpacks_and_does_not_print_the_hash(control: VpnControlPlane) -> None:
    (name,) = open_application(control).accounts
    ((account, secret),) = control.eap_secrets()
    assert (account, secret) == (name, nt_hash(PASSWORD))
    shown = repr(control.eap_secrets())
    assert secret.hex() not in shown and str(secret) not in shown and name in shown


# -- pure rules ----------------------------------------------------------------------------


_RULES = LockoutRules(threshold=5, duration=dt.timedelta(minutes=15))


@given(st.lists(st.integers(min_value=0, max_value=3600), max_size=30))
def test_lockout_only_after_threshold_failures_in_a_row(gaps: list[int]) -> None:
    now = dt.datetime(2026, 4, 1, 0, 0)
    state = LoginState()
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        was_locked = state.locked_at(now)
        state = after_failure(state, now, _RULES)
        assert state.failures >= 1
        assert (state.locked_until is not None) == (state.failures >= _RULES.threshold)
        if state.locked_until is not None and not was_locked:
            assert state.locked_until == now + _RULES.duration


@given(st.text(max_size=80))
def test_password_errors_never_echo_the_password(password: str) -> None:
    try:
        check_password(password, PasswordRules(10, 64), login="A000001-001")
    except WeakPassword as error:
        assert password not in error.message or len(password) < 3


def test_operator_unlocks_an_id_and_resets_an_operator(control: VpnControlPlane) -> None:
    control.add_operator("sato", Role.OPERATOR, "Operator-pass-1")
    (name,) = open_application(control).accounts
    for _ in range(3):
        with pytest.raises((WrongPassword, AccountLocked)):
            control.authenticate(name, "Wrong-pass-123")
    with pytest.raises(AccountLocked):
        control.authenticate(name, PASSWORD)
    control.unlock_account(name, by="sato")
    assert control.authenticate(name, PASSWORD).name == name  # the password is unchanged
    with pytest.raises(UnknownAccount):
        control.unlock_account("A000009-001")
    control.set_operator_password("sato", "Operator-pass-2")
    assert control.authenticate_operator("sato", "Operator-pass-2").name == "sato"
    with pytest.raises(WrongPassword):
        control.authenticate_operator("sato", "Operator-pass-1")
    with pytest.raises(UnknownOperator):
        control.set_operator_password("nobody", "Operator-pass-2")
    actions = [e.action for e in control.audit_log()]
    assert "account.unlock" in actions and "operator.password_set" in actions
