"""The gateway's Directory over the real control plane (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from onshi.vpn.gateway.adapter import ControlPlaneDirectory
from onshi.vpn.gateway.directory import SessionEvent
from onshi.vpn.gateway.sync import identity_of
from onshi.vpn.services import VpnControlPlane
from tests.vpn.conftest import PASSWORD, FakeClock, open_application
from tests.vpn.gateway.support import nt_hash

OPENED = dt.date(2026, 4, 1)


def _directory(control: VpnControlPlane) -> ControlPlaneDirectory:
    return ControlPlaneDirectory(control, gateway_addresses=["198.51.100.1"])


def test_desired_state_carries_devices_secrets_limits_and_pki(control: VpnControlPlane) -> None:
    (account,) = open_application(control, extra_certificates=1, opened_on=OPENED).accounts
    pc1 = control.issue_device(account, "pc1")
    control.issue_device(account, "pc2")
    state = _directory(control).desired_state()
    assert [(d.account, d.name) for d in state.devices] == [(account, "pc1"), (account, "pc2")]
    first = state.devices[0]
    assert first.certificate_serials == {int(pc1.certificate.serial, 16)}
    assert identity_of(first.subject) == pc1.certificate.strongswan_id
    assert state.nt_hashes == {account: nt_hash(PASSWORD)}
    assert state.session_limit(account) == 3  # 2 + x
    assert state.ca_pem == control.ca_certificate_pem()
    gateway = x509.load_pem_x509_certificate(state.gateway_cert_pem)
    ca = x509.load_pem_x509_certificate(state.ca_pem)
    gateway.verify_directly_issued_by(ca)
    assert state.crl_pem is not None
    x509.load_pem_x509_crl(state.crl_pem).is_signature_valid(ca.public_key())  # type: ignore[arg-type]


def test_revocation_and_renewal_reach_the_desired_state(control: VpnControlPlane) -> None:
    (account,) = open_application(control, opened_on=OPENED).accounts
    pc1 = control.issue_device(account, "pc1")
    pc2 = control.issue_device(account, "pc2")
    directory = _directory(control)
    control.revoke_device(pc2.certificate.serial)
    renewed = control.renew_device(pc1.certificate.serial)
    state = directory.desired_state()
    assert [(d.name, d.certificate_serials) for d in state.devices] == [
        ("pc1", {int(renewed.certificate.serial, 16)})
    ]
    assert state.crl_pem is not None
    revoked = {r.serial_number for r in x509.load_pem_x509_crl(state.crl_pem)}
    assert {int(pc1.certificate.serial, 16), int(pc2.certificate.serial, 16)} <= revoked


def test_ids_without_a_password_or_an_open_contract_are_absent(control: VpnControlPlane) -> None:
    open_application(control, password=None, opened_on=OPENED)
    state = _directory(control).desired_state()
    assert state.devices == () and dict(state.nt_hashes) == {}


def test_session_events_and_terminations_round_trip(
    control: VpnControlPlane, clock: FakeClock
) -> None:
    (account,) = open_application(control, opened_on=OPENED).accounts
    directory = _directory(control)
    directory.record(
        SessionEvent(
            "up", account, "pc1", session_id="17000-5", virtual_ip="203.0.113.9", at=clock.now
        )
    )
    (live,) = control.active_sessions(account)
    assert (live.device, live.virtual_address) == ("pc1", "203.0.113.9")
    request = control.request_session_termination(live.id)
    (termination,) = directory.take_terminations()
    assert (termination.session_id, termination.request_id) == ("17000-5", request)
    directory.done(termination, "terminated")
    assert directory.take_terminations() == []
    directory.record(
        SessionEvent("update", account, "pc1", session_id="17000-5", bytes_in=7, at=clock.now)
    )
    assert control.active_sessions(account)[0].bytes_in == 7
    directory.record(
        SessionEvent(
            "terminated", account, "pc1", session_id="17000-5", reason="operator", at=clock.now
        )
    )
    directory.record(
        SessionEvent(
            "down", account, "pc1", session_id="17000-5", bytes_in=10, bytes_out=20, at=clock.now
        )
    )
    assert control.active_sessions(account) == []
    (ended,) = control.recent_connections(account)
    assert ended.end_reason == "terminated: operator"
    assert (ended.bytes_in, ended.bytes_out) == (10, 20)


def test_the_state_is_read_again_only_after_a_change(control: VpnControlPlane) -> None:
    (account,) = open_application(control, opened_on=OPENED).accounts
    device = control.issue_device(account, "pc1")
    directory = _directory(control)
    directory.desired_state()  # the first read issues the gateway certificate and the CRL
    first = directory.desired_state()
    assert directory.desired_state() is first  # nothing changed: no full read
    control.revoke_device(device.certificate.serial)
    after = directory.desired_state()
    assert after is not first and after.devices == ()


def test_the_gateways_own_session_reports_do_not_force_a_read(
    control: VpnControlPlane, clock: FakeClock
) -> None:
    (account,) = open_application(control, opened_on=OPENED).accounts
    directory = _directory(control)
    directory.desired_state()
    first = directory.desired_state()
    directory.record(SessionEvent("up", account, "pc1", session_id="1-1", at=clock.now))
    assert directory.desired_state() is first
    control.issue_device(account, "pc1")
    assert directory.desired_state() is not first
