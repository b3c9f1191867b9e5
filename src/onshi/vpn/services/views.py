"""What the control plane's use cases return: frozen values, no ORM rows escape the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from onshi.vpn.domain.accounts import Role
from onshi.vpn.domain.lifecycle import ApplicationState


@dataclass(frozen=True)
class ApplicationEventView:
    kind: str  # "transition" or "extra_certificates"
    from_value: str
    to_value: str
    by: str
    at: dt.datetime


@dataclass(frozen=True)
class ApplicationView:
    """An application (申請書) and its IDs."""

    code: str  # "A000042"
    organisation: str
    ids: int
    extra_certificates: int
    devices_per_id: int
    state: ApplicationState
    submitted_on: dt.date
    standard_opening_date: dt.date
    opened_on: dt.date | None
    migration_go_live: str | None  # YYYY-MM
    cancellation_requested_on: dt.date | None
    cancellation_effective_on: dt.date | None
    accounts: tuple[str, ...]
    events: tuple[ApplicationEventView, ...] = field(default=())


@dataclass(frozen=True)
class AccountView:
    """One ID as the portal shows it (never a password or hash)."""

    name: str
    application: str
    organisation: str
    state: ApplicationState
    devices_allowed: int
    password_set: bool
    locked_until: dt.datetime | None
    last_login_at: dt.datetime | None


@dataclass(frozen=True)
class OperatorView:
    name: str
    role: Role


@dataclass(frozen=True)
class DeviceCertificateView:
    serial: str  # upper-case hex
    account: str
    device: str
    subject: str  # RFC 4514
    strongswan_id: str  # "asn1dn:#<hex DER>": matches the DN whatever characters it holds
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    status: str  # valid | revoked | superseded | expired
    revoked_at: dt.datetime | None
    cert_pem: str


@dataclass(frozen=True)
class IssuedDevice:
    """What one issuance hands out, once: the key exists only here and in ``p12``/``key_pem``."""

    certificate: DeviceCertificateView
    cert_pem: bytes
    key_pem: bytes
    p12: bytes
    passphrase: str
    ca_pem: bytes
    replaced_serial: str | None = None  # set by a renewal


@dataclass(frozen=True)
class GatewayCredentials:
    """The gateway host's certificate (serverAuth + ipsecIKE) and key, as files and bytes."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    cert_path: str
    key_path: str
    ca_path: str
    subject: str
    not_after: dt.datetime


class EapSecret(NamedTuple):
    """An ID's EAP-MSCHAPv2 secret for strongSwan (VICI ``load_shared`` type ``NTLM``); unpacks
    as ``(account, nt_hash)``."""

    account: str
    nt_hash: bytes  # 16 bytes, password-equivalent for MSCHAPv2: never log it

    def __repr__(self) -> str:  # a logged or printed value must not carry the hash
        return f"EapSecret(account={self.account!r}, nt_hash=<{len(self.nt_hash)} bytes>)"


@dataclass(frozen=True)
class GatewayAccount:
    """Everything the gateway needs about one ID allowed to connect now."""

    account: str
    organisation: str
    devices_allowed: int
    devices: tuple[DeviceCertificateView, ...]  # the valid ones only


@dataclass(frozen=True)
class SessionView:
    id: int
    gateway_session_id: str
    account: str
    device: str | None
    virtual_address: str | None
    started_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    bytes_in: int
    bytes_out: int
    termination_requested: bool = False


@dataclass(frozen=True)
class TerminationRequestView:
    id: int
    session_id: int
    gateway_session_id: str
    account: str
    device: str | None
    requested_by: str
    requested_at: dt.datetime


@dataclass(frozen=True)
class AuditEntryView:
    seq: int
    recorded_at: dt.datetime
    actor: str
    action: str
    subject: str | None
    outcome: str
    detail: str | None
    entry_hash: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    unretired: tuple[str, ...] = ()  # ids of replaced audit keys not retired yet
