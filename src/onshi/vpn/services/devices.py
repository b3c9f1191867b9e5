"""Use cases of device certificates: issue (PKCS#12 once), renew, revoke, list, and what the
gateway needs to know about each ID. The CRL and the gateway's own certificate: ``authority``."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy.orm import Session

from onshi.pki import IssuedCertificate, PkiError
from onshi.vpn.domain import devices as rules
from onshi.vpn.domain import lifecycle
from onshi.vpn.domain.accounts import check_account_name
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import (
    ApplicationClosed,
    CertificateExpired,
    CertificateRevoked,
    DeviceExists,
    InvalidInput,
)
from onshi.vpn.services import audit
from onshi.vpn.services.accounts import is_in_service
from onshi.vpn.services.authority import Authority, naive_utc
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.secrets import new_passphrase
from onshi.vpn.services.views import (
    DeviceCertificateView,
    GatewayAccount,
    IssuedDevice,
)
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t

_BACKDATE = dt.timedelta(minutes=5)  # clock skew between the CA and the gateway
_ORGANISATION_MAX = 64  # X.520 ub-organization-name


def certificate_view(
    row: t.DeviceCertificate, now: dt.datetime, subject_der: bytes | None = None
) -> DeviceCertificateView:
    record = rules.DeviceCertificate(
        serial=row.serial,
        account=row.account,
        device=row.device,
        subject=row.subject,
        not_before=row.not_before,
        not_after=row.not_after,
        issued_at=row.issued_at,
        revoked_at=row.revoked_at,
        superseded_by=row.superseded_by,
    )
    if subject_der is None:
        subject_der = x509.load_pem_x509_certificate(row.cert_pem.encode()).subject.public_bytes()
    return DeviceCertificateView(
        serial=row.serial,
        account=row.account,
        device=row.device,
        subject=row.subject,
        strongswan_id="asn1dn:#" + subject_der.hex(),
        not_before=row.not_before,
        not_after=row.not_after,
        issued_at=row.issued_at,
        status=record.status(now),
        revoked_at=row.revoked_at,
        cert_pem=row.cert_pem,
    )


class Devices:
    def __init__(self, context: Context, authority: Authority) -> None:
        self._c = context
        self._authority = authority

    # -- issuing -------------------------------------------------------------------------

    def issue(self, account: str, device: str, *, by: str | None = None) -> IssuedDevice:
        """A new device certificate for ``account``'s ``device``, with its key and a PKCS#12.

        Refused (nothing stored) when the ID already holds 2 + x valid certificates or the
        device already has a valid one (renew that instead). The private key exists only in the
        returned value: the database keeps the certificate, never the key.
        """
        check_account_name(account)
        rules.check_device_name(device)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = by if by == account else acting_operator(session, by)
            # Locks the ID's row to the end of the transaction (PostgreSQL; SQLite transactions
            # are serialised anyway): two issuances for one ID cannot both pass the limit.
            holder = repo.issuing_account(session, account)
            if holder.state == ApplicationState.CANCELLED.value:
                raise ApplicationClosed(f"ID {account} belongs to a cancelled application")
            valid = repo.valid_device_names(session, now, account)
            if device in valid:
                raise DeviceExists(
                    f"device {device!r} of ID {account} already has a valid certificate; "
                    "renew it instead"
                )
            rules.check_capacity(
                account, len(valid), lifecycle.devices_allowed(holder.extra_certificates)
            )
            issued = self._issue(session, holder.name, device, holder.organisation, actor, now)
            audit.append(
                session,
                now=now,
                actor=actor,
                action="device.issue",
                subject=account,
                detail=f"device={device} serial={issued.certificate.serial}",
            )
        return issued

    def renew(self, serial: str, *, by: str | None = None) -> IssuedDevice:
        """A new certificate for the same device; the old one is revoked as superseded.

        Only an unrevoked, unexpired certificate is renewed (an expired one no longer counts
        towards the limit: issue a new one). The new certificate is valid at once and the old
        one appears in the next CRL, so the device must install the new PKCS#12 before it
        reconnects.
        """
        number = rules.serial_hex(rules.parse_serial(serial))
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            old = repo.certificate(session, number, for_update=True)
            actor = by if by == old.account else acting_operator(session, by)
            if old.revoked_at is not None:
                raise CertificateRevoked(f"certificate {number} is revoked; issue a new one")
            if old.not_after <= now:
                raise CertificateExpired(f"certificate {number} has expired; issue a new one")
            row, application = self._open_account(session, old.account)
            issued = self._issue(
                session, row.name, old.device, application.organisation, actor, now
            )
            old.revoked_at, old.revoked_by = now, actor
            old.superseded_by = issued.certificate.serial
            audit.append(
                session,
                now=now,
                actor=actor,
                action="device.renew",
                subject=old.account,
                detail=f"device={old.device} serial={number}->{issued.certificate.serial}",
            )
        self._authority.refresh_crl()
        return IssuedDevice(
            certificate=issued.certificate,
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
            p12=issued.p12,
            passphrase=issued.passphrase,
            ca_pem=issued.ca_pem,
            replaced_serial=number,
        )

    def _open_account(self, session: Session, account: str) -> tuple[t.Account, t.Application]:
        # The account row stays locked to the end of the transaction (PostgreSQL): two issues
        # for one ID at once are serialised, so the limit check cannot be raced.
        row, application = repo.account_with_application(session, account, for_update=True)
        if application.state == ApplicationState.CANCELLED.value:
            raise ApplicationClosed(f"ID {account} belongs to a cancelled application")
        return row, application

    def _issue(
        self,
        session: Session,
        account: str,
        device: str,
        organisation: str,
        actor: str,
        now: dt.datetime,
    ) -> IssuedDevice:
        ca = self._c.ca
        start = now.replace(tzinfo=dt.UTC) - _BACKDATE
        try:
            issued = ca.issue_device_certificate(
                rules.common_name(account, device),
                organisation=organisation[:_ORGANISATION_MAX],
                not_before=start,
                not_after=start + dt.timedelta(days=self._c.settings.device_certificate_days),
            )
        except (PkiError, ValueError) as exc:
            raise InvalidInput(f"cannot issue a certificate for {device!r}: {exc}") from exc
        passphrase = new_passphrase()
        p12 = self._pkcs12(issued, passphrase, rules.common_name(account, device))
        row = t.DeviceCertificate(
            serial=rules.serial_hex(issued.serial),
            account=account,
            device=device,
            subject=issued.certificate.subject.rfc4514_string(),
            not_before=naive_utc(issued.certificate.not_valid_before_utc),
            not_after=naive_utc(issued.certificate.not_valid_after_utc),
            issued_at=now,
            issued_by=actor,
            cert_pem=issued.cert_pem.decode(),
        )
        repo.add_certificate(
            session, {c.key: getattr(row, c.key) for c in t.DeviceCertificate.__table__.columns}
        )
        return IssuedDevice(
            certificate=certificate_view(row, now, issued.certificate.subject.public_bytes()),
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
            p12=p12,
            passphrase=passphrase,
            ca_pem=ca.cert_pem,
        )

    def _pkcs12(self, issued: IssuedCertificate, passphrase: str, name: str) -> bytes:
        # PBES2 with AES-256 and an HMAC-SHA256 MAC: Windows 10 1709+, Android and strongSwan
        # import it; the passphrase is random, so a moderate PBKDF2 count is enough.
        encryption = (
            serialization.PrivateFormat.PKCS12.encryption_builder()
            .kdf_rounds(self._c.settings.pkcs12_kdf_rounds)
            .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
            .hmac_hash(hashes.SHA256())
            .build(passphrase.encode())
        )
        return pkcs12.serialize_key_and_certificates(
            name.encode(),
            issued.signing_key,
            issued.certificate,
            [self._c.ca.certificate],
            encryption,
        )

    # -- revoking and listing ------------------------------------------------------------

    def revoke(self, serial: str, *, by: str | None = None) -> DeviceCertificateView:
        """Revoke a certificate (the CRL is regenerated at once); refuse one already revoked."""
        number = rules.serial_hex(rules.parse_serial(serial))
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            row = repo.certificate(session, number, for_update=True)
            actor = by if by == row.account else acting_operator(session, by)
            if row.revoked_at is not None:
                raise CertificateRevoked(
                    f"certificate {number} was already revoked on "
                    f"{row.revoked_at.isoformat(timespec='seconds')} UTC"
                )
            row.revoked_at, row.revoked_by = now, actor
            audit.append(
                session,
                now=now,
                actor=actor,
                action="device.revoke",
                subject=row.account,
                detail=f"device={row.device} serial={number}",
            )
            view = certificate_view(row, now)
        self._authority.refresh_crl()
        return view

    def of_account(self, account: str) -> list[DeviceCertificateView]:
        now = self._c.now_naive()
        with self._c.db.sessions() as session:
            repo.account(session, account)
            return [certificate_view(r, now) for r in repo.certificates_of(session, account)]

    def get(self, serial: str) -> DeviceCertificateView:
        number = rules.serial_hex(rules.parse_serial(serial))
        with self._c.db.sessions() as session:
            return certificate_view(repo.certificate(session, number), self._c.now_naive())

    def gateway_accounts(self) -> list[GatewayAccount]:
        """The IDs allowed to connect now, with their limit and their valid certificates."""
        now, today = self._c.now_naive(), self._c.today()
        result: list[GatewayAccount] = []
        with self._c.db.sessions() as session:
            by_account: dict[str, list[DeviceCertificateView]] = {}
            for cert in repo.valid_certificates(session, now):
                by_account.setdefault(cert.account, []).append(certificate_view(cert, now))
            pairs = repo.accounts_with_applications(
                session, [ApplicationState.OPENED.value, ApplicationState.CANCELLED.value]
            )
            for row, application in pairs:
                if is_in_service(application, today):
                    result.append(
                        GatewayAccount(
                            account=row.name,
                            organisation=application.organisation,
                            devices_allowed=lifecycle.devices_allowed(
                                application.extra_certificates
                            ),
                            devices=tuple(by_account.get(row.name, ())),
                        )
                    )
        return result
