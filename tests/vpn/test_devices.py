"""Device certificates, the CRL, the gateway's certificate and sessions; both databases."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from onshi.vpn.domain import devices as device_rules
from onshi.vpn.errors import (
    ApplicationClosed,
    CertificateRevoked,
    DeviceExists,
    DeviceLimitReached,
    InvalidInput,
    NotPermitted,
    UnknownCertificate,
    UnknownSession,
)
from onshi.vpn.services import ApplicationState, Role, SessionEventKind, VpnControlPlane
from onshi.vpn.storage import tables as t
from tests.vpn.conftest import FakeClock, open_application


def _count(control: VpnControlPlane, table: type[t.Base]) -> int:
    with control.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_issued_certificate_and_pkcs12(control: VpnControlPlane, clock: FakeClock) -> None:
    (account,) = open_application(control).accounts
    issued = control.issue_device(account, "reception-pc")
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "A000001-001.reception-pc"
    )
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "さくら薬局"
    assert issued.certificate.subject == cert.subject.rfc4514_string()
    assert issued.certificate.serial == f"{cert.serial_number:X}"
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.IPSEC_IKE}
    ca = x509.load_pem_x509_certificate(control.ca_certificate_pem())
    cert.verify_directly_issued_by(ca)
    assert cert.not_valid_before_utc <= clock.now < cert.not_valid_after_utc
    assert issued.certificate.strongswan_id == "asn1dn:#" + cert.subject.public_bytes().hex()
    # The PKCS#12 opens with the one-time passphrase only, and holds key, certificate and CA.
    key, p12_cert, extra = pkcs12.load_key_and_certificates(issued.p12, issued.passphrase.encode())
    assert p12_cert == cert and extra == [ca]
    assert key is not None and key.public_key() == public
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(issued.p12, b"wrong-passphrase")
    assert len(issued.passphrase) == 24
    assert issued.passphrase != control.issue_device(account, "back-office").passphrase


def test_the_private_key_is_not_stored(control: VpnControlPlane) -> None:
    (account,) = open_application(control).accounts
    issued = control.issue_device(account, "pc1")
    key_der = serialization.load_pem_private_key(issued.key_pem, None).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with control.db.sessions() as session:
        rows = session.execute(select(t.DeviceCertificate)).scalars().all()
    stored = repr([vars(r) for r in rows])
    assert "PRIVATE KEY" not in stored
    assert key_der.hex() not in stored.lower()
    assert issued.key_pem.decode() not in stored


def test_at_most_two_plus_x_valid_certificates(control: VpnControlPlane) -> None:
    (account,) = open_application(control, extra_certificates=0).accounts
    control.issue_device(account, "pc1")
    control.issue_device(account, "pc2")
    rows, audit = _count(control, t.DeviceCertificate), _count(control, t.AuditEntry)
    with pytest.raises(DeviceLimitReached) as caught:
        control.issue_device(account, "pc3")
    assert caught.value.code == "VPN_DEVICE_LIMIT"
    assert "already has 2 valid device certificates" in caught.value.message
    assert (_count(control, t.DeviceCertificate), _count(control, t.AuditEntry)) == (rows, audit)


def test_extra_certificates_raise_the_limit(control: VpnControlPlane) -> None:
    view = open_application(control, ids=2, extra_certificates=1)
    for account in view.accounts:
        for n in range(3):
            control.issue_device(account, f"pc{n}")
        with pytest.raises(DeviceLimitReached):
            control.issue_device(account, "pc9")
    control.set_extra_certificates(view.code, 2)
    for account in view.accounts:  # changing x changed it for every ID
        control.issue_device(account, "pc9")


def test_revoked_and_expired_certificates_do_not_count(
    control: VpnControlPlane, clock: FakeClock
) -> None:
    (account,) = open_application(control).accounts
    first = control.issue_device(account, "pc1")
    control.issue_device(account, "pc2")
    revoked = control.revoke_device(first.certificate.serial)
    assert revoked.status == "revoked"
    third = control.issue_device(account, "pc3")  # the revoked one no longer counts
    clock.advance(days=control.settings.device_certificate_days + 1)
    assert {d.status for d in control.devices(account)} == {"revoked", "expired"}
    control.issue_device(account, "pc4")
    control.issue_device(account, "pc5")
    with pytest.raises(DeviceLimitReached):
        control.issue_device(account, "pc6")
    statuses = {d.serial: d.status for d in control.devices(account)}
    assert statuses[third.certificate.serial] == "expired"


def test_one_valid_certificate_per_device(control: VpnControlPlane) -> None:
    (account,) = open_application(control, extra_certificates=3).accounts
    control.issue_device(account, "pc1")
    with pytest.raises(DeviceExists):
        control.issue_device(account, "pc1")


@pytest.mark.parametrize("name", ["", "a b", "pc/1", "x" * 33, "-lead", "端末"])
def test_bad_device_names(control: VpnControlPlane, name: str) -> None:
    (account,) = open_application(control).accounts
    with pytest.raises(InvalidInput):
        control.issue_device(account, name)
    assert _count(control, t.DeviceCertificate) == 0


def test_renewal_supersedes_the_old_certificate(control: VpnControlPlane) -> None:
    (account,) = open_application(control).accounts
    old = control.issue_device(account, "pc1")
    control.issue_device(account, "pc2")
    renewed = control.renew_device(old.certificate.serial)  # at the limit: renewal still works
    assert renewed.replaced_serial == old.certificate.serial
    assert renewed.certificate.device == "pc1"
    assert renewed.certificate.subject == old.certificate.subject
    statuses = {d.serial: d.status for d in control.devices(account)}
    assert statuses[old.certificate.serial] == "superseded"
    assert statuses[renewed.certificate.serial] == "valid"
    crl = x509.load_pem_x509_crl(control.crl().pem)
    assert crl.get_revoked_certificate_by_serial_number(int(old.certificate.serial, 16))
    with pytest.raises(CertificateRevoked):
        control.renew_device(old.certificate.serial)


def test_revocation_is_published_in_the_crl(control: VpnControlPlane, clock: FakeClock) -> None:
    (account,) = open_application(control).accounts
    empty = control.crl()
    assert empty.revoked == 0
    issued = control.issue_device(account, "pc1")
    control.revoke_device(issued.certificate.serial)
    published = control.settings.crl_pem_path.read_bytes()
    crl = x509.load_pem_x509_crl(published)
    ca = x509.load_pem_x509_certificate(control.ca_certificate_pem())
    assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(int(issued.certificate.serial, 16))
    assert entry is not None
    assert crl.next_update_utc == clock.now + dt.timedelta(days=7)
    assert control.settings.crl_der_path.read_bytes() == control.crl().der
    with pytest.raises(CertificateRevoked) as caught:
        control.revoke_device(issued.certificate.serial)
    assert caught.value.code == "VPN_CERTIFICATE_REVOKED"
    with pytest.raises(UnknownCertificate):
        control.revoke_device("ABCDEF")
    with pytest.raises(InvalidInput):
        control.revoke_device("not-hex")


def test_crl_is_rebuilt_when_stale(control: VpnControlPlane, clock: FakeClock) -> None:
    first = control.crl()
    clock.advance(days=2)
    assert control.crl().this_update == first.this_update
    clock.advance(days=2)  # past half of the 7 days
    assert control.crl().this_update > first.this_update


def test_no_certificates_for_a_cancelled_contract(control: VpnControlPlane) -> None:
    view = open_application(control)
    control.advance_application(view.code, ApplicationState.CANCELLED)
    with pytest.raises(ApplicationClosed):
        control.issue_device(view.accounts[0], "pc1")


def test_auditors_do_not_issue(control: VpnControlPlane) -> None:
    control.add_operator("kato", Role.AUDITOR, "Auditor-pass-1")
    (account,) = open_application(control).accounts
    with pytest.raises(NotPermitted):
        control.issue_device(account, "pc1", by="kato")
    control.issue_device(account, "pc1", by=account)  # the ID itself, logged in on the portal


def test_gateway_certificate(control: VpnControlPlane) -> None:
    creds = control.gateway_certificate(("vpn.example.test",), ("192.0.2.1",))
    cert = x509.load_pem_x509_certificate(creds.cert_pem)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.IPSEC_IKE}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["vpn.example.test"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.1"]
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(control.ca_certificate_pem()))
    from pathlib import Path

    assert Path(creds.key_path).stat().st_mode & 0o777 == 0o600
    again = control.gateway_certificate(("vpn.example.test",), ("192.0.2.1",))
    assert again.cert_pem == creds.cert_pem  # kept while it fits
    other = control.gateway_certificate(("vpn2.example.test",))
    assert other.cert_pem != creds.cert_pem
    with pytest.raises(InvalidInput):
        control.gateway_certificate()


def test_gateway_accounts(control: VpnControlPlane) -> None:
    opened = open_application(control, ids=2, extra_certificates=1)
    control.submit_application(organisation="b", ids=1, extra_certificates=0)
    issued = control.issue_device(opened.accounts[0], "pc1")
    revoked = control.issue_device(opened.accounts[0], "pc2")
    control.revoke_device(revoked.certificate.serial)
    accounts = control.gateway_accounts()
    assert [a.account for a in accounts] == list(opened.accounts)
    assert accounts[0].devices_allowed == 3
    assert [d.serial for d in accounts[0].devices] == [issued.certificate.serial]
    assert accounts[1].devices == ()


def test_sessions(control: VpnControlPlane, clock: FakeClock) -> None:
    control.add_operator("sato", Role.OPERATOR, "Operator-pass-1")
    (account,) = open_application(control).accounts
    up = control.record_session_event(
        SessionEventKind.UP,
        "7@1700000000",
        account=account,
        device="pc1",
        virtual_address="10.99.0.2",
    )
    control.record_session_event(
        SessionEventKind.UP,
        "8@1700000000",
        account=account,
        device="pc2",
        virtual_address="10.99.0.3",
    )
    assert [s.device for s in control.active_sessions(account)] == ["pc1", "pc2"]
    clock.advance(minutes=5)
    control.record_session_event(
        SessionEventKind.UPDATE, "7@1700000000", account=account, bytes_in=100, bytes_out=50
    )
    request = control.request_session_termination(up.id, by="sato")
    (pending,) = control.pending_terminations()
    assert (pending.id, pending.gateway_session_id, pending.requested_by) == (
        request,
        "7@1700000000",
        "sato",
    )
    assert control.active_sessions(account)[0].termination_requested
    control.record_session_event(
        SessionEventKind.DOWN,
        "7@1700000000",
        account=account,
        bytes_in=120,
        bytes_out=60,
        reason="terminated",
    )
    control.complete_termination(request)
    assert control.pending_terminations() == []
    assert [s.device for s in control.active_sessions(account)] == ["pc2"]
    recent = control.recent_connections(account)
    ended = next(s for s in recent if s.device == "pc1")
    assert (ended.bytes_in, ended.bytes_out, ended.end_reason) == (120, 60, "terminated")
    assert ended.ended_at == clock.now.replace(tzinfo=None)
    with pytest.raises(UnknownSession):
        control.request_session_termination(up.id)  # already ended
    with pytest.raises(InvalidInput):
        control.record_session_event(
            SessionEventKind.UP, "9", account=account, virtual_address="not-an-ip"
        )
    actions = [e.action for e in control.audit_log()]
    assert {"session.up", "session.down", "session.terminate_request", "session.terminate"} <= set(
        actions
    )
    assert "session.update" not in actions


def test_concurrent_issuance_cannot_pass_the_limit(control: VpnControlPlane) -> None:
    from concurrent.futures import ThreadPoolExecutor

    (account,) = open_application(control).accounts

    def issue(n: int) -> str:
        try:
            control.issue_device(account, f"pc{n}")
        except DeviceLimitReached:
            return "refused"
        return "issued"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(issue, range(6)))
    assert sorted(outcomes) == ["issued"] * 2 + ["refused"] * 4
    assert len([d for d in control.devices(account) if d.status == "valid"]) == 2
    assert control.verify_audit_chain().entries == _count(control, t.AuditEntry)


def test_adapters_add_their_own_audit_entries(control: VpnControlPlane) -> None:
    control.record_audit(actor="A000001-001", action="portal.logout", subject="A000001-001")
    (entry,) = control.audit_log()
    assert (entry.actor, entry.action, entry.outcome) == ("A000001-001", "portal.logout", "ok")
    control.verify_audit_chain()


# -- pure rules ----------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=2**159))
def test_serials_round_trip(serial: int) -> None:
    text = device_rules.serial_hex(serial)
    assert device_rules.parse_serial(text) == serial
    assert device_rules.parse_serial(text.lower()) == serial
    colons = ":".join(text[max(i - 2, 0) : i] for i in range(len(text), 0, -2)[::-1])
    assert device_rules.parse_serial(colons) == serial


@given(st.text(max_size=50))
def test_device_names_accepted_are_safe_in_a_cn(name: str) -> None:
    try:
        device_rules.check_device_name(name)
    except InvalidInput:
        return
    cn = device_rules.common_name("A000001-001", name)
    assert len(cn) <= 64 and cn.isascii() and not set(cn) & set('/,=+<>#;\\" ')
