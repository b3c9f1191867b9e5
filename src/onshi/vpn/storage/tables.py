"""Tables of the VPN control plane (SQLAlchemy 2), all prefixed ``vpn_`` so the service can share
a PostgreSQL database with the central service (its migrations keep their own version table).

The service only carries traffic: no table holds claims, receipts or My Number card data, and
no password in clear — see docs/vpn/secrets.md. Times are naive UTC; contract dates are
calendar dates in Japan.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Application(Base):
    """申請書: one organisation, K IDs, x extra certificates per ID."""

    __tablename__ = "vpn_application"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    organisation: Mapped[str] = mapped_column(String(200))
    id_count: Mapped[int] = mapped_column(Integer)
    extra_certificates: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), index=True)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    standard_opening_date: Mapped[dt.date] = mapped_column(Date)
    opened_on: Mapped[dt.date | None] = mapped_column(Date)
    migration_go_live: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM
    cancellation_requested_on: Mapped[dt.date | None] = mapped_column(Date)
    cancellation_effective_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApplicationEvent(Base):
    """Each state change or change of x, by whom and when."""

    __tablename__ = "vpn_application_event"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("vpn_application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # transition | extra_certificates
    from_value: Mapped[str] = mapped_column(String(30))
    to_value: Mapped[str] = mapped_column(String(30))
    by: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Account(Base):
    """One ID. ``password_hash`` is argon2id; ``nt_hash_sealed`` the MSCHAPv2 secret, AES-GCM sealed."""

    __tablename__ = "vpn_account"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("vpn_application.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    nt_hash_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Operator(Base):
    """An operator's or auditor's own login."""

    __tablename__ = "vpn_operator"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DeviceCertificate(Base):
    """A device certificate issued by the service CA. The private key is never stored."""

    __tablename__ = "vpn_device_certificate"
    __table_args__ = (Index("ix_vpn_device_certificate_account_device", "account", "device"),)
    serial: Mapped[str] = mapped_column(String(40), primary_key=True)  # upper-case hex
    account: Mapped[str] = mapped_column(ForeignKey("vpn_account.name"))
    device: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(400))
    not_before: Mapped[dt.datetime] = mapped_column(DateTime)
    not_after: Mapped[dt.datetime] = mapped_column(DateTime)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    issued_by: Mapped[str] = mapped_column(String(40))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(40))
    superseded_by: Mapped[str | None] = mapped_column(String(40))
    cert_pem: Mapped[str] = mapped_column(Text)


class VpnSession(Base):
    """One VPN session as the gateway reported it (up, then down)."""

    __tablename__ = "vpn_session"
    __table_args__ = (UniqueConstraint("gateway_session_id", name="uq_vpn_session_gateway_id"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    gateway_session_id: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(16), index=True)
    device: Mapped[str | None] = mapped_column(String(32))
    virtual_address: Mapped[str | None] = mapped_column(String(45))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)


class TerminationRequest(Base):
    """An operator's "cut this session": the gateway polls these and reports back."""

    __tablename__ = "vpn_termination_request"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("vpn_session.id"), index=True)
    requested_by: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))


class AuditEntry(Base):
    """Append-only, hash-chained record of one action (never a password)."""

    __tablename__ = "vpn_audit_entry"
    seq: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(400))
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
