"""What the portal needs from the service, as one narrow interface (the portal's only seam).

The routes speak to a :class:`PortalBackend`; :mod:`onshi.vpn.portal.services_backend` implements
it on the service's use cases (storage, CA, audit log). Keeping the seam here lets the pages and
their security machinery be read, and tested, without knowing the tables.

Errors come back as :class:`onshi.vpn.errors.VpnError` subclasses with stable codes; the portal
turns each code into a Japanese sentence (:mod:`onshi.vpn.portal.messages_ja`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Principal:
    """Who logged in: an account (ID) of a clinic, or an operator with a role."""

    name: str
    role: str  # "clinic", "operator", "auditor"
    organisation: str = ""


@dataclass(frozen=True)
class DeviceRow:
    serial: str
    name: str
    subject: str
    not_after: dt.datetime
    status: str  # valid | revoked | superseded | expired
    revoked_at: dt.datetime | None = None
    account: str = ""

    @property
    def revoked(self) -> bool:
        return self.status in ("revoked", "superseded")


@dataclass(frozen=True)
class IssuedDevice:
    serial: str
    subject: str
    name: str
    p12: bytes
    passphrase: str


@dataclass(frozen=True)
class SessionRow:
    id: str
    account: str
    device: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    virtual_ip: str = ""
    end_reason: str = ""
    cut_requested: bool = False

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class ApplicationRow:
    id: str
    organisation: str
    ids: int
    extra_certificates: int
    state: str
    submitted: dt.date
    opening_date: dt.date  # the standard one: the 10th business day after submission
    opened_on: dt.date | None
    next_states: tuple[str, ...]
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class InvoiceRow:
    contract: str
    organisation: str
    month: str
    total_yen: int
    lines: tuple[tuple[str, int, int, int], ...]  # (label, quantity, unit yen, amount yen)


@dataclass(frozen=True)
class AuditRow:
    at: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str


@dataclass(frozen=True)
class ProfileMaterial:
    """What a client profile needs for one device of one account."""

    account: str
    device_name: str
    serial: str
    device_cert_pem: str
    ca_pem: str
    gateway_host: str
    gateway_id: str
    service_subnets: tuple[str, ...]


class PortalBackend(Protocol):
    # -- clinic side ------------------------------------------------------------------------
    def login_account(self, account: str, password: str) -> Principal: ...
    def devices(self, account: str) -> list[DeviceRow]: ...
    def issue_device(self, account: str, name: str) -> IssuedDevice: ...
    def renew_device(self, account: str, serial: str) -> IssuedDevice: ...
    def change_password(self, account: str, current: str, new: str) -> None: ...
    def password_lengths(self) -> tuple[int, int]: ...
    def lockout(self) -> tuple[int, int]: ...  # (failures, seconds locked), as the service's
    def sessions(self, account: str | None) -> list[SessionRow]: ...
    def profile_material(self, account: str, serial: str) -> ProfileMaterial: ...

    # -- operator side ----------------------------------------------------------------------
    def login_operator(self, name: str, password: str) -> Principal: ...
    def applications(self) -> list[ApplicationRow]: ...
    def advance(self, application: str, to_state: str, actor: str) -> None: ...
    def all_devices(self) -> list[DeviceRow]: ...
    def revoke(self, serial: str, actor: str) -> None: ...
    def cut_session(self, session_id: str, actor: str) -> None: ...
    def invoices(self, month: str) -> list[InvoiceRow]: ...
    def invoice_pdf(self, month: str, contract: str) -> bytes: ...
    def audit_log(self, limit: int) -> list[AuditRow]: ...

    # -- both -------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, target: str, outcome: str) -> None: ...
