"""The VPN control plane's use cases behind one facade, :class:`VpnControlPlane`.

The portal (H6's ``onshi.vpn.portal``), the gateway (``onshi.vpn.gateway``) and the
``onshi vpn`` commands call these methods and nothing below them. Every method runs in its own
transaction (all or nothing) and appends to the hash-chained audit log in that transaction.

``by`` names the operator who acts (an existing operator with the role ``operator``; an
auditor is refused), or is None for the service host's console (recorded as ``console``). For
device certificates ``by`` may also be the ID itself, after the portal has logged it in.

Build one per process at startup::

    control = VpnControlPlane.open(VpnSettings())   # migrates the database
    ...
    control.close()
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from onshi.audit import keys
from onshi.audit.chain import Checkpoint, KeyRing
from onshi.vpn.domain.accounts import Role
from onshi.vpn.domain.billing import Invoice
from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import InvalidInput, NotPermitted
from onshi.vpn.services import audit
from onshi.vpn.services.accounts import Accounts
from onshi.vpn.services.applications import Applications
from onshi.vpn.services.authority import Authority, Crl
from onshi.vpn.services.context import CONSOLE, Clock, Context, acting_operator, utc_now
from onshi.vpn.services.devices import Devices
from onshi.vpn.services.invoices import Invoices
from onshi.vpn.services.sessions import SessionEventKind, Sessions
from onshi.vpn.services.views import (
    AccountView,
    ApplicationEventView,
    ApplicationView,
    AuditEntryView,
    ChainReport,
    DeviceCertificateView,
    EapSecret,
    GatewayAccount,
    GatewayCredentials,
    IssuedDevice,
    OperatorView,
    SessionView,
    TerminationRequestView,
)
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage.database import Database

__all__ = [
    "CONSOLE",
    "AccountView",
    "ApplicationEventView",
    "ApplicationState",
    "ApplicationView",
    "AuditEntryView",
    "ChainReport",
    "Crl",
    "DeviceCertificateView",
    "EapSecret",
    "GatewayAccount",
    "GatewayCredentials",
    "IssuedDevice",
    "OperatorView",
    "Role",
    "SessionEventKind",
    "SessionView",
    "TerminationRequestView",
    "VpnControlPlane",
]


class VpnControlPlane:
    """Applications, IDs, operators, device certificates, sessions, audit and invoices."""

    def __init__(self, settings: VpnSettings, db: Database, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.db = db
        db.audit_key = keys.KeySource(settings.audit_key_path)
        self._context = Context(settings, db, clock)
        self._applications = Applications(self._context)
        self._accounts = Accounts(self._context)
        self._authority = Authority(self._context)
        self._devices = Devices(self._context, self._authority)
        self._sessions = Sessions(self._context)
        self._invoices = Invoices(self._context)

    @classmethod
    def open(
        cls, settings: VpnSettings, *, migrate: bool = True, clock: Clock = utc_now
    ) -> VpnControlPlane:
        """Open the database named by ``settings`` (migrating it unless told not to)."""
        db = Database(settings.database_url)
        if migrate:
            db.migrate()
        return cls(settings, db, clock)

    def close(self) -> None:
        self.db.dispose()

    # -- applications (申請書) ------------------------------------------------------------

    def submit_application(
        self,
        *,
        organisation: str,
        ids: int,
        extra_certificates: int,
        submitted: dt.date | None = None,
        migration_go_live: YearMonth | None = None,
        by: str | None = None,
    ) -> ApplicationView:
        """Store a new application and create its K IDs (``A000042-001`` …, no password yet).

        Raises InvalidInput (organisation, K outside 1–999) or ExtraCertificatesOutOfRange (x
        outside 0–3). The standard opening date is the 10th business day after ``submitted``
        (default: today in Japan).
        """
        return self._applications.submit(
            organisation=organisation,
            ids=ids,
            extra_certificates=extra_certificates,
            submitted=submitted,
            migration_go_live=migration_go_live,
            by=by,
        )

    def advance_application(
        self,
        code: str,
        to: ApplicationState,
        *,
        by: str | None = None,
        on: dt.date | None = None,
        cancel_at_end_of: YearMonth | None = None,
    ) -> ApplicationView:
        """submitted → reviewed → network_configured → opened → cancelled (cancel from any state).

        Raises IllegalTransition for any other step, UnknownApplication, NotPermitted. Opening
        stores ``on`` (default today) as the opening date; cancelling stores the request date
        and the month end it takes effect (never inside the 12-month minimum term).
        """
        return self._applications.advance(code, to, by=by, on=on, cancel_at_end_of=cancel_at_end_of)

    def set_extra_certificates(
        self, code: str, extra_certificates: int, *, by: str | None = None
    ) -> ApplicationView:
        """Change x for every ID of the application (ExtraCertificatesOutOfRange outside 0–3)."""
        return self._applications.set_extra_certificates(code, extra_certificates, by=by)

    def application(self, code: str) -> ApplicationView:
        """One application with its IDs and its history (events)."""
        return self._applications.get(code)

    def applications(self, state: ApplicationState | None = None) -> list[ApplicationView]:
        """All applications (or those in ``state``), oldest first, without their history."""
        return self._applications.list(state)

    # -- IDs -----------------------------------------------------------------------------

    def account(self, name: str) -> AccountView:
        """One ID (UnknownAccount if none)."""
        return self._accounts.get(name)

    def set_password(self, account: str, password: str, *, by: str | None = None) -> None:
        """An operator sets or resets an ID's password (WeakPassword if it breaks the rules);
        the ID is unlocked. Stores the argon2id hash and the sealed NT hash."""
        self._accounts.set_password(account, password, by=by)

    def change_password(self, account: str, current: str, new: str) -> None:
        """The ID changes its own password: WrongPassword/AccountLocked, then WeakPassword."""
        self._accounts.change_password(account, current, new)

    def authenticate(self, account: str, password: str) -> AccountView:
        """Portal login of an ID: WrongPassword (also for unknown IDs), AccountLocked after
        ``lockout_threshold`` failures in a row for ``lockout_minutes``, ApplicationClosed once
        the contract has ended. Every attempt is audited (never the password)."""
        return self._accounts.authenticate(account, password)

    # -- operators -----------------------------------------------------------------------

    def add_operator(
        self, name: str, role: Role, password: str, *, by: str | None = None
    ) -> OperatorView:
        """A new operator or auditor login (OperatorExists, WeakPassword, InvalidInput)."""
        return self._accounts.add_operator(name, role, password, by=by)

    def unlock_account(self, account: str, *, by: str | None = None) -> None:
        """Lift an ID's lockout before it runs out (UnknownAccount, NotPermitted)."""
        self._accounts.unlock(account, by=by)

    def set_operator_password(self, name: str, password: str, *, by: str | None = None) -> None:
        """Reset an operator's password and lockout (UnknownOperator, WeakPassword)."""
        self._accounts.set_operator_password(name, password, by=by)

    def operators(self) -> list[OperatorView]:
        return self._accounts.operators()

    def authenticate_operator(self, name: str, password: str) -> OperatorView:
        """Portal login of an operator; the same errors and lockout as :meth:`authenticate`."""
        return self._accounts.authenticate_operator(name, password)

    # -- device certificates ---------------------------------------------------------------

    def issue_device(self, account: str, device: str, *, by: str | None = None) -> IssuedDevice:
        """A device certificate (ECDSA P-256, clientAuth + ipsecIKE, CN ``<account>.<device>``,
        O the organisation) with its key and a PKCS#12 under a one-time passphrase.

        Refused before anything is stored: DeviceLimitReached (2 + x valid already),
        DeviceExists (that device has a valid one: renew), ApplicationClosed, UnknownAccount.
        The key is in the returned value only; nothing keeps it.
        """
        return self._devices.issue(account, device, by=by)

    def renew_device(self, serial: str, *, by: str | None = None) -> IssuedDevice:
        """A new certificate for the device of ``serial``; the old one is revoked (superseded)
        and the CRL regenerated. CertificateRevoked / CertificateExpired otherwise."""
        return self._devices.renew(serial, by=by)

    def revoke_device(self, serial: str, *, by: str | None = None) -> DeviceCertificateView:
        """Revoke a certificate and regenerate the CRL (CertificateRevoked if already)."""
        return self._devices.revoke(serial, by=by)

    def device_certificate(self, serial: str) -> DeviceCertificateView:
        return self._devices.get(serial)

    def devices(self, account: str) -> list[DeviceCertificateView]:
        """Every certificate ever issued to an ID, with its status (valid, revoked, …)."""
        return self._devices.of_account(account)

    def crl(self) -> Crl:
        """The CRL (PEM and DER, with nextUpdate), rebuilt if missing or half-way to stale.

        Also kept as files: ``settings.crl_pem_path`` and ``settings.crl_der_path``, rewritten
        atomically on every revocation.
        """
        return self._authority.crl()

    def ca_certificate_pem(self) -> bytes:
        """The service CA's certificate (the trust anchor for the gateway and the clients)."""
        return self._context.ca.cert_pem

    # -- what the gateway reads ----------------------------------------------------------

    def eap_secrets(self) -> list[EapSecret]:
        """``(account, nt_hash)`` for every ID that may connect now: its application is opened
        (or cancelled but not yet ended) and it has a password. For VICI ``load_shared`` with
        type ``NTLM``. Never log the hashes."""
        return self._accounts.eap_secrets()

    def eap_secret(self, account: str) -> EapSecret | None:
        return self._accounts.eap_secret(account)

    def gateway_accounts(self) -> list[GatewayAccount]:
        """IDs that may connect now, each with 2 + x and its valid device certificates
        (``strongswan_id`` matches the certificate's DN in a connection's remote id)."""
        return self._devices.gateway_accounts()

    def gateway_certificate(
        self,
        hostnames: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
        *,
        renew: bool = False,
        by: str | None = None,
    ) -> GatewayCredentials:
        """The gateway's certificate (serverAuth + ipsecIKE, SAN) and key from the service CA,
        kept in ``settings.gateway_dir`` and reissued when it no longer fits."""
        return self._authority.gateway_certificate(hostnames, ip_addresses, renew=renew, by=by)

    # -- sessions ------------------------------------------------------------------------

    def record_session_event(
        self,
        kind: SessionEventKind,
        gateway_session_id: str,
        *,
        account: str,
        device: str | None = None,
        virtual_address: str | None = None,
        bytes_in: int = 0,
        bytes_out: int = 0,
        at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> SessionView:
        """The gateway reports a session going up, its counters, or going down (idempotent
        per ``gateway_session_id``, e.g. the IKE_SA's unique id plus the charon start time)."""
        return self._sessions.record_event(
            kind,
            gateway_session_id,
            account=account,
            device=device,
            virtual_address=virtual_address,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            at=at,
            reason=reason,
        )

    def active_sessions(self, account: str | None = None) -> list[SessionView]:
        """Sessions up now: one ID's, or all (operators)."""
        return self._sessions.active(account)

    def recent_connections(self, account: str, limit: int = 20) -> list[SessionView]:
        """An ID's latest sessions, newest first."""
        return self._sessions.recent(account, limit)

    def request_session_termination(self, session_id: int, *, by: str | None = None) -> int:
        """An operator asks the gateway to cut a session; returns the request id."""
        return self._sessions.request_termination(session_id, by=by)

    def pending_terminations(self) -> list[TerminationRequestView]:
        """For the gateway to poll: sessions an operator asked to cut, not yet done."""
        return self._sessions.pending_terminations()

    def complete_termination(self, request_id: int, outcome: str = "terminated") -> None:
        """The gateway reports a termination request done."""
        self._sessions.complete_termination(request_id, outcome)

    # -- audit ---------------------------------------------------------------------------

    def audit_log(
        self,
        *,
        viewer: str | None = None,
        limit: int = 100,
        before_seq: int | None = None,
        subject: str | None = None,
    ) -> list[AuditEntryView]:
        """The newest audit entries; ``viewer`` must be an auditor (None: the console)."""
        with self.db.sessions() as session:
            if viewer is not None:
                acting_operator(session, viewer, role=Role.AUDITOR)
            return audit.entries(session, limit=limit, before_seq=before_seq, subject=subject)

    def record_audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        """Append an entry for something only an adapter sees (a portal logout, a refused CSRF
        token, a download). Never pass a password, a passphrase or a key; the action is
        truncated to 40 characters, the subject to 64, the detail to 400."""
        with self.db.transaction() as session:
            audit.append(
                session,
                now=self._context.now_naive(),
                actor=actor or "anonymous",
                action=action[:40],
                subject=subject[:64] if subject else None,
                outcome=outcome[:40],
                detail=detail,
            )

    def verify_audit_chain(self, checkpoint: Checkpoint | None = None) -> ChainReport:
        """Walk the chain; AuditChainBroken at the first altered or missing entry, or when the
        log does not extend ``checkpoint`` (one whose signature the caller verified). The
        report names the replaced keys not retired yet."""
        ring = self._audit_keys()
        report = audit.verify_chain(self.db, ring, checkpoint=checkpoint)
        return dataclasses.replace(report, unretired=tuple(o.id for o in ring.unretired()))

    def audit_checkpoint(self) -> Checkpoint:
        """Verify the chain, then sign its length and head (to publish outside the service)."""
        signer = audit.load_signing_key(self.settings.audit_signing_key_path)
        return audit.make_checkpoint(self.db, self._audit_keys(), signer, self._context.now())

    def rotate_audit_key(self) -> tuple[str, str]:
        """Replace the audit key (the old one kept beside it) and hand the chain over to the
        new one; the ids of the old and the new key. Running processes follow at their next
        append (see :mod:`~onshi.vpn.services.audit`)."""
        try:
            old, new = keys.rotate_audit_key(self.settings.audit_key_path)
        except (keys.KeyFileError, OSError) as exc:
            raise InvalidInput(
                f"cannot replace the audit key: {exc} (set ONSHI_VPN_AUDIT_KEY_FILE or --data-dir)"
            ) from None
        with self.db.transaction() as session:
            audit.hand_over(session, self._context.now_naive())
        return old, new

    def retire_audit_keys(self) -> list[tuple[Checkpoint, Path]]:
        """Close every replaced key: the chain handed over first if a rotation was cut short,
        the log verified, where each key's part ends signed and kept beside it; from then on
        an entry under it fails verification. Each closing, and where it was written."""
        if not self._audit_keys().unretired():
            return []
        with self.db.transaction() as session:
            audit.hand_over(session, self._context.now_naive())
        signer = audit.load_signing_key(self.settings.audit_signing_key_path)
        closings = audit.retire_old_keys(self.db, self._audit_keys(), signer, self._context.now())
        path = self.settings.audit_key_path
        try:
            return [(c, keys.write_closing(path, c.to_json(), c.audit_key_id)) for c in closings]
        except OSError as exc:
            raise InvalidInput(f"cannot write a closing checkpoint: {exc}") from None

    def _audit_keys(self) -> KeyRing:
        return audit.key_ring(self.settings.audit_key_path, self.settings.audit_signing_key_path)

    # -- invoices ------------------------------------------------------------------------

    def invoices(self, month: YearMonth, *, viewer: str | None = None) -> list[Invoice]:
        """Every contract's invoice for ``month`` (H4's billing rules over stored facts)."""
        if viewer is not None:
            with self.db.sessions() as session:
                try:
                    acting_operator(session, viewer)
                except NotPermitted:
                    acting_operator(session, viewer, role=Role.AUDITOR)
        return self._invoices.for_month(month)
