"""The service CA's other duties: the CRL the gateway loads, and the gateway's own certificate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from onshi.pki import IssuedCertificate, PkiError
from onshi.pki._files import PUBLIC_MODE, write_atomically
from onshi.vpn.domain import devices as rules
from onshi.vpn.errors import InvalidInput, UnknownCertificate
from onshi.vpn.services import audit
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.views import GatewayCredentials
from onshi.vpn.storage import repository as repo

_BACKDATE = dt.timedelta(minutes=5)  # clock skew between the CA and the gateway
_GATEWAY_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class Crl:
    pem: bytes
    der: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    revoked: int


def naive_utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None)


class Authority:
    def __init__(self, context: Context) -> None:
        self._c = context

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
        self, issued: IssuedCertificate, cert_path: Path, key_path: Path
    ) -> GatewayCredentials:
        return GatewayCredentials(
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
            ca_pem=self._c.ca.cert_pem,
            cert_path=str(cert_path),
            key_path=str(key_path),
            ca_path=str(self._c.ca.cert_path),
            subject=issued.certificate.subject.rfc4514_string(),
            not_after=naive_utc(issued.certificate.not_valid_after_utc),
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
        this_update=naive_utc(crl.last_update_utc),
        next_update=naive_utc(next_update),
        revoked=len(crl),
    )
