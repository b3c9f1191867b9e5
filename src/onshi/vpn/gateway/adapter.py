"""The gateway's :class:`~onshi.vpn.gateway.directory.Directory` over the control plane's services.

Reads the desired state from :class:`onshi.vpn.services.VpnControlPlane` (IDs allowed to connect
now with their valid device certificates and 2 + x, their NT hashes, the CA, the CRL, the gateway's
own certificate), hands session events to ``record_session_event`` and carries out the operators'
termination requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography import x509

from .directory import DesiredState, Device, SessionEvent, Termination

if TYPE_CHECKING:
    from onshi.vpn.services import GatewayCredentials, VpnControlPlane

logger = logging.getLogger(__name__)

# The gateway's certificate is looked at (and reissued by the control plane when it no longer
# fits) this often, not on every one-second pass.
GATEWAY_CERTIFICATE_CHECK_SECONDS = 300.0
# Every change the control plane makes appends to its audit log, so the newest entry's number
# says whether anything changed; the whole state (≈ 0.25 s per 1,000 devices) is read only then,
# and at least this often for what changes with time alone (a contract's last day ending, a
# certificate expiring, the CRL's scheduled refresh).
FULL_READ_SECONDS = 30.0
MARKER_WINDOW = 50  # audit entries looked at; more since the last read means "changed"


class ControlPlaneDirectory:
    """A Directory reading and writing through the control plane's facade."""

    def __init__(
        self,
        control: VpnControlPlane,
        *,
        gateway_hostnames: Sequence[str] = (),
        gateway_addresses: Sequence[str] = (),
    ) -> None:
        self.control = control
        self._hostnames = tuple(gateway_hostnames)
        self._addresses = tuple(gateway_addresses)
        self._subjects: dict[str, x509.Name] = {}  # serial → subject: parse each PEM once
        self._gateway: GatewayCredentials | None = None
        self._gateway_checked = 0.0
        self._state: DesiredState | None = None
        self._state_marker: int | None = None
        self._state_read = 0.0

    def _gateway_credentials(self) -> GatewayCredentials:
        now = time.monotonic()
        if (
            self._gateway is None
            or now - self._gateway_checked >= GATEWAY_CERTIFICATE_CHECK_SECONDS
        ):
            self._gateway = self.control.gateway_certificate(self._hostnames, self._addresses)
            self._gateway_checked = now
        return self._gateway

    def desired_state(self) -> DesiredState:
        marker = self._change_marker()
        now = time.monotonic()
        if (
            self._state is None
            or marker is None
            or marker != self._state_marker
            or now - self._state_read >= FULL_READ_SECONDS
        ):
            self._state = self._read_state()
            self._state_marker, self._state_read = marker, now
        return self._state

    def _change_marker(self) -> int | None:
        """The newest audit entry's number, ignoring the gateway's own session reports (a burst
        of logins would otherwise mean a full read on every pass)."""
        from onshi.vpn.services.sessions import GATEWAY

        entries = self.control.audit_log(limit=MARKER_WINDOW)
        if not entries:
            return None
        known = self._state_marker
        if known is None:
            return entries[0].seq
        newer = [e for e in entries if e.seq > known]
        if len(newer) < len(entries) and all(e.actor == GATEWAY for e in newer):
            return known  # only session reports since: nothing the gateway must load
        return entries[0].seq

    def _read_state(self) -> DesiredState:
        c = self.control
        gateway = self._gateway_credentials()
        devices: dict[tuple[str, str], list[tuple[int, x509.Name]]] = {}
        limits: dict[str, int] = {}
        for account in c.gateway_accounts():
            limits[account.account] = account.devices_allowed
            for cert in account.devices:
                subject = self._subjects.get(cert.serial)
                if subject is None:
                    subject = x509.load_pem_x509_certificate(cert.cert_pem.encode()).subject
                    self._subjects[cert.serial] = subject
                devices.setdefault((cert.account, cert.device), []).append(
                    (int(cert.serial, 16), subject)
                )
        return DesiredState(
            devices=tuple(
                Device(
                    account=account,
                    name=device,
                    subject=certs[0][1],
                    certificate_serials=frozenset(serial for serial, _ in certs),
                )
                for (account, device), certs in sorted(devices.items())
            ),
            nt_hashes={s.account: s.nt_hash for s in c.eap_secrets() if s.account in limits},
            ca_pem=c.ca_certificate_pem(),
            gateway_cert_pem=gateway.cert_pem,
            gateway_key_pem=gateway.key_pem,
            crl_pem=c.crl().pem,
            session_limits=limits,
        )

    def take_terminations(self) -> list[Termination]:
        return [
            Termination(
                account=r.account,
                device=r.device,
                reason="operator",
                session_id=r.gateway_session_id,
                request_id=r.id,
            )
            for r in self.control.pending_terminations()
        ]

    def done(self, termination: Termination, outcome: str) -> None:
        if termination.request_id is not None:
            self.control.complete_termination(termination.request_id, outcome)

    def record(self, event: SessionEvent) -> None:
        from onshi.vpn.services import SessionEventKind

        if not event.session_id:
            return
        if event.kind == "up":
            kind, reason = SessionEventKind.UP, None
        elif event.kind == "update":
            kind, reason = SessionEventKind.UPDATE, None
        elif event.kind == "down":
            kind, reason = SessionEventKind.DOWN, None
        else:  # terminated / refused: the gateway ended it, and says why
            kind, reason = SessionEventKind.DOWN, f"{event.kind}: {event.reason}"
        self.control.record_session_event(
            kind,
            event.session_id,
            account=event.account,
            device=event.device or None,
            virtual_address=event.virtual_ip,
            bytes_in=event.bytes_in,
            bytes_out=event.bytes_out,
            at=event.at,
            reason=reason,
        )
