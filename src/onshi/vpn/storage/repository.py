"""Queries of the VPN control plane: rows in, views out. Every function works in the caller's
session, so a use case's reads and writes share one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from onshi.vpn.domain import lifecycle
from onshi.vpn.errors import UnknownAccount, UnknownApplication, UnknownCertificate
from onshi.vpn.storage import tables as t


def application(session: Session, number: int, *, for_update: bool = False) -> t.Application:
    query = select(t.Application).where(t.Application.id == number)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise UnknownApplication(f"there is no application {lifecycle.application_code(number)}")
    return row


def applications(session: Session, state: str | None = None) -> Sequence[t.Application]:
    query = select(t.Application).order_by(t.Application.id)
    if state is not None:
        query = query.where(t.Application.state == state)
    return session.scalars(query).all()


def account_names(session: Session, application_id: int) -> list[str]:
    return list(
        session.scalars(
            select(t.Account.name)
            .where(t.Account.application_id == application_id)
            .order_by(t.Account.number)
        )
    )


def application_events(session: Session, application_id: int) -> Sequence[t.ApplicationEvent]:
    return session.scalars(
        select(t.ApplicationEvent)
        .where(t.ApplicationEvent.application_id == application_id)
        .order_by(t.ApplicationEvent.id)
    ).all()


def account(session: Session, name: str, *, for_update: bool = False) -> t.Account:
    query = select(t.Account).where(t.Account.name == name)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise UnknownAccount(f"there is no ID {name!r}")
    return row


def account_with_application(
    session: Session, name: str, *, for_update: bool = False
) -> tuple[t.Account, t.Application]:
    query = (
        select(t.Account, t.Application)
        .join(t.Application, t.Application.id == t.Account.application_id)
        .where(t.Account.name == name)
    )
    if for_update:
        query = query.with_for_update(of=t.Account)
    found = session.execute(query).first()
    if found is None:
        raise UnknownAccount(f"there is no ID {name!r}")
    return found[0], found[1]


# Issuing is the hot path (bench/bench_vpn_control.py): its statements are built once, and run
# on the session's connection without the ORM layer.
_VALID_DEVICE_NAMES = (
    select(t.DeviceCertificate.device)
    .where(t.DeviceCertificate.account == bindparam("account"))
    .where(t.DeviceCertificate.revoked_at.is_(None))
    .where(t.DeviceCertificate.not_before <= bindparam("now"))
    .where(t.DeviceCertificate.not_after > bindparam("now"))
)
_ISSUING_ACCOUNT = (
    select(
        t.Account.name,
        t.Application.state,
        t.Application.extra_certificates,
        t.Application.organisation,
    )
    .join(t.Application, t.Application.id == t.Account.application_id)
    .where(t.Account.name == bindparam("name"))
    .with_for_update(of=t.Account)
)
_INSERT_CERTIFICATE = insert(t.DeviceCertificate)


@dataclass(frozen=True)
class IssuingAccount:
    name: str
    state: str
    extra_certificates: int
    organisation: str


def issuing_account(session: Session, name: str) -> IssuingAccount:
    """The ID and what issuing needs of its application; locks the ID's row (PostgreSQL)."""
    found = session.connection().execute(_ISSUING_ACCOUNT, {"name": name}).first()
    if found is None:
        raise UnknownAccount(f"there is no ID {name!r}")
    return IssuingAccount(*found)


def valid_device_names(session: Session, now: dt.datetime, account: str) -> list[str]:
    """The devices of ``account`` holding a valid (unrevoked, unexpired) certificate."""
    rows = session.connection().execute(_VALID_DEVICE_NAMES, {"account": account, "now": now})
    return [r[0] for r in rows]


def add_certificate(session: Session, values: dict[str, object]) -> None:
    session.connection().execute(_INSERT_CERTIFICATE, values)


def find_account(session: Session, name: str, *, for_update: bool = False) -> t.Account | None:
    query = select(t.Account).where(t.Account.name == name)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def accounts_with_applications(
    session: Session, states: Sequence[str]
) -> Sequence[tuple[t.Account, t.Application]]:
    rows = session.execute(
        select(t.Account, t.Application)
        .join(t.Application, t.Application.id == t.Account.application_id)
        .where(t.Application.state.in_(states))
        .order_by(t.Account.name)
    ).all()
    return [(r[0], r[1]) for r in rows]


def certificate(session: Session, serial: str, *, for_update: bool = False) -> t.DeviceCertificate:
    query = select(t.DeviceCertificate).where(t.DeviceCertificate.serial == serial)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).first()
    if row is None:
        raise UnknownCertificate(f"there is no device certificate with serial {serial}")
    return row


def certificates_of(session: Session, account: str) -> Sequence[t.DeviceCertificate]:
    return session.scalars(
        select(t.DeviceCertificate)
        .where(t.DeviceCertificate.account == account)
        .order_by(
            t.DeviceCertificate.issued_at, t.DeviceCertificate.device, t.DeviceCertificate.serial
        )
    ).all()


def valid_certificates(
    session: Session, now: dt.datetime, account: str | None = None
) -> Sequence[t.DeviceCertificate]:
    query = (
        select(t.DeviceCertificate)
        .where(t.DeviceCertificate.revoked_at.is_(None))
        .where(t.DeviceCertificate.not_before <= now)
        .where(t.DeviceCertificate.not_after > now)
        .order_by(t.DeviceCertificate.account, t.DeviceCertificate.device)
    )
    if account is not None:
        query = query.where(t.DeviceCertificate.account == account)
    return session.scalars(query).all()


def count_valid_certificates(session: Session, account: str, now: dt.datetime) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(t.DeviceCertificate)
            .where(t.DeviceCertificate.account == account)
            .where(t.DeviceCertificate.revoked_at.is_(None))
            .where(t.DeviceCertificate.not_before <= now)
            .where(t.DeviceCertificate.not_after > now)
        )
        or 0
    )


def revoked_certificates(session: Session) -> Sequence[tuple[str, dt.datetime]]:
    rows = session.execute(
        select(t.DeviceCertificate.serial, t.DeviceCertificate.revoked_at)
        .where(t.DeviceCertificate.revoked_at.is_not(None))
        .order_by(t.DeviceCertificate.revoked_at)
    ).all()
    return [(r.serial, r.revoked_at) for r in rows]


def session_by_gateway_id(session: Session, gateway_session_id: str) -> t.VpnSession | None:
    return session.scalars(
        select(t.VpnSession).where(t.VpnSession.gateway_session_id == gateway_session_id)
    ).first()


# Logins are the other hot path (argon2id aside): one read, one locked read and one update.
_LOGIN = (
    select(
        t.Account.name,
        t.Account.password_hash,
        t.Account.failed_logins,
        t.Account.locked_until,
        t.Account.last_login_at,
        t.Application.id,
        t.Application.organisation,
        t.Application.state,
        t.Application.extra_certificates,
        t.Application.opened_on,
        t.Application.cancellation_effective_on,
    )
    .join(t.Application, t.Application.id == t.Account.application_id)
    .where(t.Account.name == bindparam("name"))
)
_LOGIN_LOCKED = _LOGIN.with_for_update(of=t.Account)
_SAVE_LOGIN = update(t.Account).where(t.Account.name == bindparam("account_name"))


@dataclass(frozen=True)
class LoginRecord:
    """An ID's login state and its application's, as one row."""

    name: str
    password_hash: str | None
    failed_logins: int
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None
    application_id: int
    organisation: str
    state: str
    extra_certificates: int
    opened_on: dt.date | None
    cancellation_effective_on: dt.date | None


def login_record(session: Session, name: str, *, for_update: bool = False) -> LoginRecord | None:
    statement = _LOGIN_LOCKED if for_update else _LOGIN
    found = session.connection().execute(statement, {"name": name}).first()
    return LoginRecord(*found) if found is not None else None


def save_login(session: Session, name: str, **values: object) -> None:
    """Update ``failed_logins``, ``locked_until``, ``last_login_at``, ``password_hash``."""
    session.connection().execute(_SAVE_LOGIN, {"account_name": name, **values})
