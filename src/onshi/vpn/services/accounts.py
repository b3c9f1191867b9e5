"""Use cases of IDs and operators: passwords, logins with lockout, EAP secrets for the gateway."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from onshi.vpn.domain import accounts as rules
from onshi.vpn.domain import lifecycle
from onshi.vpn.domain.accounts import LoginState, Role
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import (
    AccountLocked,
    ApplicationClosed,
    OperatorExists,
    UnknownOperator,
    VpnError,
    WrongPassword,
)
from onshi.vpn.services import audit
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.secrets import nt_hash
from onshi.vpn.services.views import AccountView, EapSecret, OperatorView
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t


class ContractDates(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def opened_on(self) -> dt.date | None: ...
    @property
    def cancellation_effective_on(self) -> dt.date | None: ...


def is_in_service(application: ContractDates, today: dt.date) -> bool:
    """An ID may connect once its application is opened, until its cancellation takes effect."""
    if application.opened_on is None:
        return False
    if application.state == ApplicationState.OPENED.value:
        return True
    return (
        application.state == ApplicationState.CANCELLED.value
        and application.cancellation_effective_on is not None
        and today <= application.cancellation_effective_on
    )


def account_view(row: t.Account, application: t.Application) -> AccountView:
    return AccountView(
        name=row.name,
        application=lifecycle.application_code(application.id),
        organisation=application.organisation,
        state=ApplicationState(application.state),
        devices_allowed=lifecycle.devices_allowed(application.extra_certificates),
        password_set=row.password_hash is not None,
        locked_until=row.locked_until,
        last_login_at=row.last_login_at,
    )


class Accounts:
    def __init__(self, context: Context) -> None:
        self._c = context

    # -- IDs -----------------------------------------------------------------------------

    def get(self, name: str) -> AccountView:
        with self._c.db.sessions() as session:
            row = repo.account(session, name)
            return account_view(row, repo.application(session, row.application_id))

    def set_password(self, name: str, password: str, *, by: str | None = None) -> None:
        """An operator sets an ID's password (first issue, or a reset); unlocks the ID."""
        rules.check_account_name(name)
        rules.check_password(password, self._c.password_rules, login=name)
        hashed, sealed = self._secrets(name, password)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = repo.account(session, name, for_update=True)
            self._refuse_closed(session, row)
            self._store(row, hashed, sealed, now)
            audit.append(session, now=now, actor=actor, action="account.password_set", subject=name)

    def change_password(self, name: str, current: str, new: str) -> None:
        """The ID's own user changes the password (portal): the current one is checked first."""
        self.authenticate(name, current)
        rules.check_password(new, self._c.password_rules, login=name)
        hashed, sealed = self._secrets(name, new)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            row = repo.account(session, name, for_update=True)
            self._store(row, hashed, sealed, now)
            audit.append(
                session, now=now, actor=name, action="account.password_change", subject=name
            )

    def authenticate(self, name: str, password: str) -> AccountView:
        """Check an ID's password (portal login); raise WrongPassword or AccountLocked.

        An unknown ID, an ID without a password and a wrong password all raise the same
        :class:`WrongPassword` (and cost the same argon2 time), so logins cannot probe for IDs.
        """
        now = self._c.now_naive()
        with self._c.db.sessions() as session:
            record = repo.login_record(session, name) if rules.is_account_name(name) else None
        state = LoginState(record.failed_logins, record.locked_until) if record else LoginState()
        if record is not None and state.locked_at(now):
            self._record(name, "account.login", "locked")
            raise _locked(name, state.locked_until)
        stored = record.password_hash if record else None
        ok = self._c.passwords.verify(stored, password)
        if record is None:
            self._record(None, "account.login", "unknown", actor="anonymous")
            raise WrongPassword("wrong ID or password")
        with self._c.db.transaction() as session:
            record = repo.login_record(session, name, for_update=True)
            if record is None:  # removed while argon2 ran
                raise WrongPassword("wrong ID or password")
            state = LoginState(record.failed_logins, record.locked_until)
            # The password checked must still be the stored one (no login with a password
            # replaced while argon2 ran).
            ok = ok and record.password_hash == stored
            last_login_at = record.last_login_at
            if state.locked_at(now):
                outcome = "locked"
            elif (
                ok
                and not is_in_service(record, self._c.today())
                and (record.state == ApplicationState.CANCELLED.value)
            ):
                outcome = "closed"
            elif ok:
                outcome, last_login_at = "ok", now
                values: dict[str, object] = {
                    "failed_logins": 0,
                    "locked_until": None,
                    "last_login_at": now,
                }
                if stored and self._c.passwords.needs_rehash(stored):
                    values["password_hash"] = self._c.passwords.hash(password)
                repo.save_login(session, name, **values)
            else:
                state = rules.after_failure(state, now, self._c.lockout_rules)
                repo.save_login(
                    session, name, failed_logins=state.failures, locked_until=state.locked_until
                )
                outcome = "locked_now" if state.locked_until else "wrong_password"
            audit.append(
                session,
                now=now,
                actor=name,
                action="account.login",
                subject=name,
                outcome=outcome,
            )
        if outcome == "ok":
            return AccountView(
                name=record.name,
                application=lifecycle.application_code(record.application_id),
                organisation=record.organisation,
                state=ApplicationState(record.state),
                devices_allowed=lifecycle.devices_allowed(record.extra_certificates),
                password_set=True,
                locked_until=None,
                last_login_at=last_login_at,
            )
        if outcome == "closed":
            raise ApplicationClosed(f"ID {name} belongs to a cancelled contract")
        if outcome in {"locked", "locked_now"}:
            raise _locked(name, state.locked_until)
        raise WrongPassword("wrong ID or password")

    def eap_secrets(self) -> list[EapSecret]:
        """``(account, nt_hash)`` of every ID that may connect now and has a password."""
        today = self._c.today()
        secrets: list[EapSecret] = []
        with self._c.db.sessions() as session:
            pairs = repo.accounts_with_applications(
                session, [ApplicationState.OPENED.value, ApplicationState.CANCELLED.value]
            )
            for row, application in pairs:
                if row.nt_hash_sealed is None or not is_in_service(application, today):
                    continue
                secrets.append(
                    EapSecret(
                        row.name, self._c.sealing_key.open(row.nt_hash_sealed, bound_to=row.name)
                    )
                )
        return secrets

    def eap_secret(self, name: str) -> EapSecret | None:
        """One ID's EAP secret, or None if it may not connect now (or has no password)."""
        with self._c.db.sessions() as session:
            row = repo.find_account(session, name)
            if row is None or row.nt_hash_sealed is None:
                return None
            if not is_in_service(repo.application(session, row.application_id), self._c.today()):
                return None
            return EapSecret(
                row.name, self._c.sealing_key.open(row.nt_hash_sealed, bound_to=row.name)
            )

    def _secrets(self, name: str, password: str) -> tuple[str, bytes]:
        # Slow work (argon2, key file) before the transaction opens: SQLite holds its write
        # lock for the whole transaction.
        return (
            self._c.passwords.hash(password),
            self._c.sealing_key.seal(nt_hash(password), bound_to=name),
        )

    @staticmethod
    def _store(row: t.Account, hashed: str, sealed: bytes, now: dt.datetime) -> None:
        row.password_hash, row.nt_hash_sealed, row.password_changed_at = hashed, sealed, now
        row.failed_logins, row.locked_until = 0, None

    @staticmethod
    def _refuse_closed(session: Session, row: t.Account) -> None:
        application = repo.application(session, row.application_id)
        if application.state == ApplicationState.CANCELLED.value:
            raise ApplicationClosed(f"ID {row.name} belongs to a cancelled application")

    def _record(
        self, subject: str | None, action: str, outcome: str, actor: str | None = None
    ) -> None:
        with self._c.db.transaction() as session:
            audit.append(
                session,
                now=self._c.now_naive(),
                actor=actor or subject or "anonymous",
                action=action,
                subject=subject,
                outcome=outcome,
            )

    def unlock(self, name: str, *, by: str | None = None) -> None:
        """An operator lifts a lockout before it runs out (the password is unchanged)."""
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            repo.account(session, name, for_update=True)
            repo.save_login(session, name, failed_logins=0, locked_until=None)
            audit.append(session, now=now, actor=actor, action="account.unlock", subject=name)

    # -- operators -----------------------------------------------------------------------

    def set_operator_password(self, name: str, password: str, *, by: str | None = None) -> None:
        """Reset an operator's password (and lockout); ``by`` must be another operator or the
        console."""
        rules.check_password(password, self._c.password_rules, login=name)
        hashed = self._c.passwords.hash(password)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = session.get(t.Operator, name, with_for_update=True)
            if row is None:
                raise UnknownOperator(f"there is no operator named {name!r}")
            row.password_hash, row.failed_logins, row.locked_until = hashed, 0, None
            audit.append(
                session, now=now, actor=actor, action="operator.password_set", subject=name
            )

    def add_operator(
        self, name: str, role: Role, password: str, *, by: str | None = None
    ) -> OperatorView:
        rules.check_operator_name(name)
        rules.check_password(password, self._c.password_rules, login=name)
        hashed = self._c.passwords.hash(password)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            if session.get(t.Operator, name) is not None:
                raise OperatorExists(f"an operator named {name!r} already exists")
            session.add(
                t.Operator(
                    name=name,
                    role=role.value,
                    password_hash=hashed,
                    failed_logins=0,
                    created_at=now,
                )
            )
            audit.append(
                session,
                now=now,
                actor=actor,
                action="operator.add",
                subject=name,
                detail=f"role={role.value}",
            )
        return OperatorView(name, role)

    def operators(self) -> list[OperatorView]:
        with self._c.db.sessions() as session:
            rows = session.scalars(select(t.Operator).order_by(t.Operator.name)).all()
            return [OperatorView(r.name, Role(r.role)) for r in rows]

    def authenticate_operator(self, name: str, password: str) -> OperatorView:
        """Check an operator's password (portal); the same lockout as IDs."""
        now = self._c.now_naive()
        with self._c.db.sessions() as session:
            row = session.get(t.Operator, name)
            state = LoginState(row.failed_logins, row.locked_until) if row else LoginState()
            stored = row.password_hash if row else None
        if row is not None and state.locked_at(now):
            self._record(name, "operator.login", "locked")
            raise _locked(name, state.locked_until)
        ok = self._c.passwords.verify(stored, password)
        if row is None:
            self._record(None, "operator.login", "unknown", actor="anonymous")
            raise WrongPassword("wrong operator name or password")
        with self._c.db.transaction() as session:
            row = session.get(t.Operator, name, with_for_update=True)
            if row is None:
                raise WrongPassword("wrong operator name or password")
            state = LoginState(row.failed_logins, row.locked_until)
            ok = ok and row.password_hash == stored
            if state.locked_at(now):
                outcome = "locked"
            elif ok:
                outcome = "ok"
                row.failed_logins, row.locked_until = 0, None
            else:
                state = rules.after_failure(state, now, self._c.lockout_rules)
                row.failed_logins, row.locked_until = state.failures, state.locked_until
                outcome = "locked_now" if state.locked_until else "wrong_password"
            audit.append(
                session,
                now=now,
                actor=name,
                action="operator.login",
                subject=name,
                outcome=outcome,
            )
            view = OperatorView(row.name, Role(row.role))
        if outcome == "ok":
            return view
        if outcome in {"locked", "locked_now"}:
            raise _locked(name, state.locked_until)
        raise WrongPassword("wrong operator name or password")


def _locked(name: str, until: dt.datetime | None) -> VpnError:
    when = f" until {until.isoformat(timespec='minutes')} UTC" if until else ""
    return AccountLocked(f"{name} is locked after repeated wrong passwords{when}; try again later")
