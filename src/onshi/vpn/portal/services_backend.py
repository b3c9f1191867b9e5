"""The portal's backend on the control plane's facade (:class:`onshi.vpn.services.VpnControlPlane`).

Translates in both directions and nothing more: the services' views into the portal's rows, the
services' login refusals into :class:`LoginFailed` / :class:`LoginLocked`. The services audit
their own actions (logins, issuance, transitions, revocations, cut requests) inside the action's
transaction; :meth:`ServicesBackend.audit` records what only the portal sees (logouts, downloads,
refused CSRF tokens, refused roles, refusals of actions).
"""

from __future__ import annotations

from onshi.vpn.domain.billing import Invoice
from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.domain.lifecycle import ApplicationState, check_transition, parse_state
from onshi.vpn.errors import (
    AccountLocked,
    IllegalTransition,
    InvalidInput,
    UnknownCertificate,
    UnknownSession,
    WrongPassword,
)
from onshi.vpn.portal.backend import (
    ApplicationRow,
    AuditRow,
    DeviceRow,
    InvoiceRow,
    IssuedDevice,
    Principal,
    ProfileMaterial,
    SessionRow,
)
from onshi.vpn.portal.errors import LoginFailed, LoginLocked, NotFound
from onshi.vpn.portal.settings import PortalSettings
from onshi.vpn.services import (
    ApplicationView,
    DeviceCertificateView,
    SessionView,
    VpnControlPlane,
)

_FORWARD = (
    ApplicationState.REVIEWED,
    ApplicationState.NETWORK_CONFIGURED,
    ApplicationState.OPENED,
    ApplicationState.CANCELLED,
)


def next_states(current: ApplicationState) -> tuple[str, ...]:
    allowed = []
    for target in _FORWARD:
        try:
            check_transition(current, target)
        except IllegalTransition:
            continue
        allowed.append(target.value)
    return tuple(allowed)


def _device_row(view: DeviceCertificateView) -> DeviceRow:
    return DeviceRow(
        serial=view.serial,
        name=view.device,
        subject=view.subject,
        not_after=view.not_after,
        status=view.status,
        revoked_at=view.revoked_at,
        account=view.account,
    )


def _session_row(view: SessionView) -> SessionRow:
    return SessionRow(
        id=str(view.id),
        account=view.account,
        device=view.device or "",
        started_at=view.started_at,
        ended_at=view.ended_at,
        virtual_ip=view.virtual_address or "",
        end_reason=view.end_reason or "",
        cut_requested=view.termination_requested,
    )


def _application_row(view: ApplicationView) -> ApplicationRow:
    return ApplicationRow(
        id=view.code,
        organisation=view.organisation,
        ids=view.ids,
        extra_certificates=view.extra_certificates,
        state=view.state.value,
        submitted=view.submitted_on,
        opening_date=view.standard_opening_date,
        opened_on=view.opened_on,
        next_states=next_states(view.state),
        accounts=view.accounts,
    )


def _invoice_row(invoice: Invoice) -> InvoiceRow:
    return InvoiceRow(
        contract=invoice.application_id,
        organisation=invoice.organisation,
        month=str(invoice.month),
        total_yen=invoice.total_yen,
        lines=tuple(
            (line.description, line.quantity, line.unit_yen, line.amount_yen)
            for line in invoice.lines
        ),
    )


class ServicesBackend:
    """:class:`onshi.vpn.portal.backend.PortalBackend` on one :class:`VpnControlPlane`."""

    def __init__(self, control: VpnControlPlane, portal: PortalSettings | None = None) -> None:
        self.control = control
        self._portal = portal or PortalSettings()

    # -- clinic side ------------------------------------------------------------------------

    def login_account(self, account: str, password: str) -> Principal:
        try:
            view = self.control.authenticate(account, password)
        except AccountLocked as exc:
            raise LoginLocked(exc.message) from None
        except (WrongPassword, InvalidInput) as exc:
            raise LoginFailed(exc.message) from None
        return Principal(view.name, "clinic", view.organisation)

    def devices(self, account: str) -> list[DeviceRow]:
        rows = [_device_row(v) for v in self.control.devices(account)]
        return sorted(rows, key=lambda d: (d.status != "valid", d.name, d.serial))

    def issue_device(self, account: str, name: str) -> IssuedDevice:
        issued = self.control.issue_device(account, name, by=account)
        return IssuedDevice(
            serial=issued.certificate.serial,
            subject=issued.certificate.subject,
            name=issued.certificate.device,
            p12=issued.p12,
            passphrase=issued.passphrase,
        )

    def renew_device(self, account: str, serial: str) -> IssuedDevice:
        self._own_certificate(account, serial)  # another ID's serial reads like a missing one
        issued = self.control.renew_device(serial, by=account)
        return IssuedDevice(
            serial=issued.certificate.serial,
            subject=issued.certificate.subject,
            name=issued.certificate.device,
            p12=issued.p12,
            passphrase=issued.passphrase,
        )

    def change_password(self, account: str, current: str, new: str) -> None:
        try:
            self.control.change_password(account, current, new)
        except WrongPassword as exc:
            raise LoginFailed(exc.message) from None
        except AccountLocked as exc:
            raise LoginLocked(exc.message) from None

    def password_lengths(self) -> tuple[int, int]:
        settings = self.control.settings
        return settings.password_min_length, settings.password_max_length

    def lockout(self) -> tuple[int, int]:
        settings = self.control.settings
        return settings.lockout_threshold, settings.lockout_minutes * 60

    def sessions(self, account: str | None) -> list[SessionRow]:
        if account is None:
            return [_session_row(v) for v in self.control.active_sessions()]
        return [_session_row(v) for v in self.control.recent_connections(account, limit=50)]

    def profile_material(self, account: str, serial: str) -> ProfileMaterial:
        view = self._own_certificate(account, serial)
        return ProfileMaterial(
            account=account,
            device_name=view.device,
            serial=view.serial,
            device_cert_pem=view.cert_pem,
            ca_pem=self.control.ca_certificate_pem().decode(),
            gateway_host=self._portal.gateway_host,
            gateway_id=self._portal.gateway_id,
            service_subnets=self._portal.service_subnets,
        )

    def _own_certificate(self, account: str, serial: str) -> DeviceCertificateView:
        try:
            view = self.control.device_certificate(serial)
        except (InvalidInput, UnknownCertificate):
            raise NotFound("no such device") from None
        if view.account != account or view.status != "valid":
            # Another ID's device reads exactly like a missing one.
            raise NotFound("no such device")
        return view

    # -- operator side ----------------------------------------------------------------------

    def login_operator(self, name: str, password: str) -> Principal:
        try:
            view = self.control.authenticate_operator(name, password)
        except AccountLocked as exc:
            raise LoginLocked(exc.message) from None
        except (WrongPassword, InvalidInput) as exc:
            raise LoginFailed(exc.message) from None
        return Principal(view.name, view.role.value)

    def applications(self) -> list[ApplicationRow]:
        return [_application_row(v) for v in self.control.applications()]

    def advance(self, application: str, to_state: str, actor: str) -> None:
        self.control.advance_application(application, parse_state(to_state), by=actor)

    def all_devices(self) -> list[DeviceRow]:
        rows: list[DeviceRow] = []
        for gateway_account in self.control.gateway_accounts():
            rows.extend(_device_row(v) for v in gateway_account.devices)
        return sorted(rows, key=lambda d: (d.account, d.name))

    def revoke(self, serial: str, actor: str) -> None:
        self.control.revoke_device(serial, by=actor)

    def cut_session(self, session_id: str, actor: str) -> None:
        if not session_id.isdigit():
            raise UnknownSession(f"there is no active session {session_id}")
        self.control.request_session_termination(int(session_id), by=actor)

    def _invoices(self, month: str) -> list[Invoice]:
        return self.control.invoices(YearMonth.parse(month))

    def invoices(self, month: str) -> list[InvoiceRow]:
        return [_invoice_row(i) for i in self._invoices(month)]

    def invoice_pdf(self, month: str, contract: str) -> bytes:
        from onshi.vpn.invoice_pdf import render_invoice_pdf

        for invoice in self._invoices(month):
            if invoice.application_id == contract:
                return render_invoice_pdf(invoice)
        raise NotFound("no such invoice")

    def audit_log(self, limit: int) -> list[AuditRow]:
        # The portal checked the login; the facade's ``viewer`` admits auditors only, and
        # operators read the log too.
        entries = self.control.audit_log(limit=limit)
        return [
            AuditRow(
                at=e.recorded_at,
                actor=e.actor,
                action=e.action,
                target=" ".join(x for x in (e.subject or "", e.detail or "") if x),
                outcome=e.outcome,
            )
            for e in entries
        ]

    # -- both -------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, target: str, outcome: str) -> None:
        self.control.record_audit(
            actor=actor or "anonymous",
            action=f"portal.{action}",
            subject=target or None,
            outcome=outcome,
        )
