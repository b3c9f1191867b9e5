"""Use cases of device certificates: issue (PKCS#12 once), renew, revoke, the CRL, the gateway's
own certificate, and what the gateway needs to know about each ID."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy.orm import Session

from onshi.pki import IssuedCertificate, PkiError
from onshi.pki._files import PUBLIC_MODE, write_atomically
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
    UnknownCertificate,
)
from onshi.vpn.services import audit
from onshi.vpn.services.accounts import is_in_service
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.secrets import new_passphrase
from onshi.vpn.services.views import (
    DeviceCertificateView,
    GatewayAccount,
    GatewayCredentials,
    IssuedDevice,
)
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t

_BACKDATE = dt.timedelta(minutes=5)  # clock skew between the CA and the gateway
_GATEWAY_RENEW_BEFORE = dt.timedelta(days=30)
_ORGANISATION_MAX = 64  # X.520 ub-organization-name


@dataclass(frozen=True)
class Crl:
    pem: bytes
    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    revoked: int


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


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
    def __init__(self, context: Context) -> None:
        self._c = context

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
        self.refresh_crl()
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
            not_before=_naive(issued.certificate.not_valid_before_utc),
            not_after=_naive(issued.certificate.not_valid_after_utc),
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
        self.refresh_crl()
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

    # -- the CRL -------------------------------------------------------------------------

    def crl(self) -> Crl:
        """The current CRL; rebuilt when missing or past half its validity."""
        now = self._c.now()
        try:
            pem = self._c.settings.crl_pem_path.read_bytes()
            current = x509.load_pem_x509_crl(pem)
        except (OSError, ValueError):
            return self.refresh_crl()
        next_update = current.next_update_utc
        if next_update is None or next_update - now < (next_update - current.last_update_utc) / 2:
            return self.refresh_crl()
        if current.issuer != self._c.ca.certificate.subject:
            return self.refresh_crl()
        return _crl_of(current)

    def refresh_crl(self) -> Crl:
        """Rebuild the CRL from every revoked certificate and write it (PEM and DER) atomically."""
        with self._c.db.sessions() as session:
            revoked = [
                (int(serial, 16), at.replace(tzinfo=dt.UTC))
                for serial, at in repo.revoked_certificates(session)
            ]
        built = self._c.ca.build_crl(
            revoked,
            next_update_days=self._c.settings.crl_next_update_days,
            this_update=self._c.now().replace(microsecond=0),
        )
        crl = _crl_of(built)
        pem_path, der_path = self._c.settings.crl_pem_path, self._c.settings.crl_der_path
        pem_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(der_path, crl.der, mode=PUBLIC_MODE)
        write_atomically(pem_path, crl.pem, mode=PUBLIC_MODE)
        return crl

    # -- the gateway's own certificate ---------------------------------------------------

    def gateway_certificate(
        self,
        hostnames: tuple[str, ...] = (),
        ip_addresses: tuple[str, ...] = (),
        *,
        renew: bool = False,
        by: str | None = None,
    ) -> GatewayCredentials:
        """The gateway host's certificate (serverAuth + ipsecIKE, SAN = the names given) and key.

        Kept in the data directory (key 0600): returned as is while it covers the names and is
        more than 30 days from expiry, issued anew otherwise (or with ``renew``).
        """
        if not hostnames and not ip_addresses:
            raise InvalidInput("a gateway certificate needs at least one hostname or IP address")
        directory = self._c.settings.gateway_dir
        cert_path, key_path = directory / "gateway.cert.pem", directory / "gateway.key.pem"
        now = self._c.now()
        if not renew and cert_path.exists() and key_path.exists():
            try:
                existing = IssuedCertificate.load(cert_path, key_path)
            except PkiError:
                existing = None
            if (
                existing is not None
                and _covers(existing.certificate, hostnames, ip_addresses)
                and (existing.certificate.not_valid_after_utc - now > _GATEWAY_RENEW_BEFORE)
                and existing.certificate.issuer == self._c.ca.certificate.subject
            ):
                return self._credentials(existing, cert_path, key_path)
        start = now - _BACKDATE
        try:
            issued = self._c.ca.issue_server_certificate(
                list(hostnames),
                list(ip_addresses),
                not_before=start,
                not_after=start + dt.timedelta(days=self._c.settings.gateway_certificate_days),
                ipsec=True,
            )
        except PkiError as exc:
            raise InvalidInput(f"cannot issue the gateway certificate: {exc}") from exc
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        issued.write(cert_path, key_path)
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            audit.append(
                session,
                now=self._c.now_naive(),
                actor=actor,
                action="gateway.certificate",
                subject=rules.serial_hex(issued.serial),
                detail="names=" + ",".join([*hostnames, *ip_addresses]),
            )
        return self._credentials(issued, cert_path, key_path)

    def _credentials(
        self, issued: IssuedCertificate, cert_path: object, key_path: object
    ) -> GatewayCredentials:
        return GatewayCredentials(
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
            ca_pem=self._c.ca.cert_pem,
            cert_path=str(cert_path),
            key_path=str(key_path),
            ca_path=str(self._c.ca.cert_path),
            subject=issued.certificate.subject.rfc4514_string(),
            not_after=_naive(issued.certificate.not_valid_after_utc),
        )


def _covers(cert: x509.Certificate, hostnames: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    names = set(san.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in san.get_values_for_type(x509.IPAddress)}
    return set(hostnames) <= names and set(ips) <= addresses


def _crl_of(crl: x509.CertificateRevocationList) -> Crl:
    next_update = crl.next_update_utc
    if next_update is None:  # build_crl always sets it; a foreign file may not
        raise UnknownCertificate("the CRL has no nextUpdate")
    return Crl(
        pem=crl.public_bytes(serialization.Encoding.PEM),
        der=crl.public_bytes(serialization.Encoding.DER),
        this_update=_naive(crl.last_update_utc),
        next_update=_naive(next_update),
        revoked=len(crl),
    )


__all__ = ["Crl", "Devices"]
