"""A certificate authority whose key and self-signed certificate live in one directory.

onshi runs several small CAs rather than one big one (see docs/pki.md): the facility TLS CA,
the test JPKI CA that stands in for J-LIS, and later the VPN device CA. Each is just a
directory holding ``ca.key.pem`` (0600) and ``ca.cert.pem``; the directory itself is 0700.
There is no database of issued certificates: issuance is stateless and revocation is the
caller's record, turned into a CRL by :meth:`CertificateAuthority.build_crl`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ._files import PRIVATE_MODE, PUBLIC_MODE, write_atomically
from .errors import InvalidCertificateRequest, PkiError
from .issued import IssuedCertificate, load_certificate, load_private_key
from .profiles import FACILITY_CN_PREFIX, CertificateProfile, is_medical_institution_code

__all__ = ["CA_CERT_FILE", "CA_KEY_FILE", "CertificateAuthority"]

CA_KEY_FILE = "ca.key.pem"
CA_CERT_FILE = "ca.cert.pem"
DIRECTORY_MODE = 0o700

# Backdating absorbs clock skew between the CA host and the verifying hosts, so a freshly
# issued certificate is not "not yet valid" on a machine a few seconds behind.
CLOCK_SKEW = timedelta(minutes=5)
JPKI_USER_CERT_DAYS = 5 * 365
MAX_DEVICE_ID_LENGTH = 64
_RACE_POLLS = 40
_RACE_POLL_SECONDS = 0.05


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _window(
    valid_days: int, not_before: datetime | None, not_after: datetime | None
) -> tuple[datetime, datetime]:
    """The validity window: explicit bounds win (tests make expired certificates this way)."""
    if valid_days <= 0:
        raise InvalidCertificateRequest(f"valid_days must be positive, got {valid_days}")
    for name, value in (("not_before", not_before), ("not_after", not_after)):
        if value is not None and value.tzinfo is None:
            raise InvalidCertificateRequest(f"{name} must be timezone-aware")
    start = not_before if not_before is not None else _utcnow() - CLOCK_SKEW
    end = not_after if not_after is not None else start + timedelta(days=valid_days)
    if end <= start:
        raise InvalidCertificateRequest(
            f"not_after ({end}) must be later than not_before ({start})"
        )
    return start, end


class CertificateAuthority:
    """A CA backed by a directory. Build it with :meth:`create`, :meth:`load` or :meth:`load_or_create`."""

    def __init__(
        self,
        directory: Path,
        private_key: ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
    ) -> None:
        if private_key.public_key() != certificate.public_key():
            raise PkiError(f"CA key and certificate in {directory} do not belong together")
        self.directory = Path(directory)
        self._private_key = private_key
        self.certificate = certificate

    def __repr__(self) -> str:
        return (
            f"CertificateAuthority({self.certificate.subject.rfc4514_string()!r}, {self.directory})"
        )

    # -- lifecycle -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        common_name: str,
        *,
        valid_days: int = 3650,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> CertificateAuthority:
        """Make a new CA in ``directory`` (created 0700); refuses if a CA is already there."""
        directory = Path(directory)
        if not common_name.strip():
            raise InvalidCertificateRequest("a CA needs a non-empty common name")
        if (directory / CA_KEY_FILE).exists() or (directory / CA_CERT_FILE).exists():
            raise PkiError(f"refusing to overwrite the existing CA in {directory}")
        start, end = _window(valid_days, not_before, not_after)
        try:
            directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            directory.chmod(DIRECTORY_MODE)
        except OSError as exc:
            raise PkiError(f"cannot create CA directory {directory}: {exc.strerror}") from exc

        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onshi"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        ca = cls(directory, key, certificate)
        # Key first and never overwritten: if two processes race, exactly one key wins and the
        # loser fails before writing a certificate that would not match it.
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_atomically(directory / CA_KEY_FILE, key_pem, mode=PRIVATE_MODE, overwrite=False)
        try:
            write_atomically(
                directory / CA_CERT_FILE, ca.cert_pem, mode=PUBLIC_MODE, overwrite=False
            )
        except PkiError:
            with contextlib.suppress(OSError):
                (directory / CA_KEY_FILE).unlink()
            raise
        return ca

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """Open an existing CA; :class:`PkiError` says what is missing or broken."""
        directory = Path(directory)
        if not directory.is_dir():
            raise PkiError(f"no CA directory at {directory}")
        certificate = load_certificate(directory / CA_CERT_FILE)
        key = load_private_key(directory / CA_KEY_FILE)
        try:
            constraints = certificate.extensions.get_extension_for_class(
                x509.BasicConstraints
            ).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is None or not constraints.ca:
            raise PkiError(f"{directory / CA_CERT_FILE} is not a CA certificate")
        return cls(directory, key, certificate)

    @classmethod
    def load_or_create(
        cls, directory: Path, common_name: str, *, valid_days: int = 3650
    ) -> CertificateAuthority:
        """Open the CA in ``directory``, creating it first if the directory holds none."""
        directory = Path(directory)
        if not (directory / CA_KEY_FILE).exists() and not (directory / CA_CERT_FILE).exists():
            try:
                return cls.create(directory, common_name, valid_days=valid_days)
            except PkiError:
                # Another process won the race to write the key; load what it made.
                if not (directory / CA_KEY_FILE).exists():
                    raise
        # A CA being created elsewhere has its key a moment before its certificate.
        for _ in range(_RACE_POLLS):
            if (directory / CA_CERT_FILE).exists() or not (directory / CA_KEY_FILE).exists():
                break
            time.sleep(_RACE_POLL_SECONDS)
        return cls.load(directory)

    # -- what the CA is ------------------------------------------------------------------

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_path(self) -> Path:
        """Where the CA certificate lives: the trust anchor to hand to TLS peers."""
        return self.directory / CA_CERT_FILE

    # -- issuing -------------------------------------------------------------------------

    def issue_server_certificate(
        self,
        hostnames: Sequence[str],
        ip_addresses: Sequence[str] = (),
        *,
        valid_days: int = 825,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        ipsec: bool = False,
    ) -> IssuedCertificate:
        """A TLS server certificate (serverAuth) for the given DNS names and IP addresses.

        ``ipsec=True`` adds the ipsecIKE usage, for an IKEv2 gateway (the VPN service's).
        """
        names: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
        try:
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        except ValueError as exc:
            raise InvalidCertificateRequest(str(exc)) from exc
        if not names:
            raise InvalidCertificateRequest(
                "a server certificate needs at least one hostname or IP"
            )
        common_name = hostnames[0] if hostnames else str(ip_addresses[0])
        return self._issue(
            subject=[x509.NameAttribute(NameOID.COMMON_NAME, common_name)],
            profile=CertificateProfile.SERVER,
            usages=[ExtendedKeyUsageOID.SERVER_AUTH]
            + ([ExtendedKeyUsageOID.IPSEC_IKE] if ipsec else []),
            alt_names=names,
            window=_window(valid_days, not_before, not_after),
        )

    def issue_facility_certificate(
        self,
        medical_institution_code: str,
        facility_name: str,
        *,
        valid_days: int = 825,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """A TLS client certificate for a 医療機関・薬局, carrying its 10-digit code.

        The code is the subject's serialNumber (what :func:`medical_institution_code_of`
        reads) and, for people reading logs, also the CN ``OQS-<code>``.
        """
        if not is_medical_institution_code(medical_institution_code):
            raise InvalidCertificateRequest(
                f"a medical institution code is 10 ASCII digits, got {medical_institution_code!r}"
            )
        if not facility_name.strip():
            raise InvalidCertificateRequest("a facility certificate needs the facility's name")
        return self._issue(
            subject=[
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, facility_name),
                x509.NameAttribute(
                    NameOID.COMMON_NAME, FACILITY_CN_PREFIX + medical_institution_code
                ),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, medical_institution_code),
            ],
            profile=CertificateProfile.FACILITY,
            usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
            window=_window(valid_days, not_before, not_after),
        )

    def issue_card_certificate(
        self,
        public_key: ec.EllipticCurvePublicKey | None = None,
        *,
        valid_days: int = JPKI_USER_CERT_DAYS,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> IssuedCertificate:
        """A 利用者証明用電子証明書 for a virtual My Number card.

        Like the real JPKI user certificate it names nobody: the subject is a random
        identifier, so the certificate alone reveals no personal data. Pass ``public_key``
        to certify a key generated elsewhere (the result then has no private key).
        """
        return self._issue(
            subject=[
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(16).upper()),
            ],
            profile=CertificateProfile.CARD,
            usages=[ExtendedKeyUsageOID.CLIENT_AUTH],
            window=_window(valid_days, not_before, not_after),
            public_key=public_key,
        )

    def issue_device_certificate(
        self,
        device_id: str,
        *,
        valid_days: int = 825,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        organisation: str = "onshi devices",
    ) -> IssuedCertificate:
        """A VPN device certificate (IPsec/IKEv2 via strongSwan); CN is the device id, O the
        ``organisation`` holding the device.

        Call it twice for the two certificates a device holds (current and next): each gets
        its own key and serial, the subject is the same.
        """
        if not device_id or len(device_id) > MAX_DEVICE_ID_LENGTH or not device_id.isprintable():
            raise InvalidCertificateRequest(
                f"a device id is 1–{MAX_DEVICE_ID_LENGTH} printable characters, got {device_id!r}"
            )
        return self._issue(
            subject=[
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, device_id),
            ],
            profile=CertificateProfile.DEVICE,
            usages=[ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.IPSEC_IKE],
            window=_window(valid_days, not_before, not_after),
        )

    def _issue(
        self,
        *,
        subject: list[x509.NameAttribute[str]],
        profile: CertificateProfile,
        usages: list[x509.ObjectIdentifier],
        window: tuple[datetime, datetime],
        alt_names: list[x509.GeneralName] | None = None,
        public_key: ec.EllipticCurvePublicKey | None = None,
    ) -> IssuedCertificate:
        private_key: ec.EllipticCurvePrivateKey | None = None
        if public_key is None:
            private_key = _new_key()
            public_key = private_key.public_key()
        elif not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise InvalidCertificateRequest("onshi certifies elliptic-curve (P-256) keys only")
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(subject))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(window[0])
            .not_valid_after(window[1])
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(profile.policies(), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        certificate = builder.sign(self._private_key, hashes.SHA256())
        return IssuedCertificate(certificate, private_key)

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        try:
            ski = self.certificate.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value
        except x509.ExtensionNotFound:
            return x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self._private_key.public_key()
            )
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)

    # -- revocation ----------------------------------------------------------------------

    def build_crl(
        self,
        revoked: Iterable[tuple[int, datetime]],
        *,
        next_update_days: int = 7,
        this_update: datetime | None = None,
    ) -> x509.CertificateRevocationList:
        """A signed CRL listing ``(serial, revocation_time)`` pairs.

        The CRL number is this update's time in milliseconds, so successive CRLs from the
        same CA number upwards without the CA having to remember anything.
        """
        if next_update_days <= 0:
            raise InvalidCertificateRequest("next_update_days must be positive")
        now = this_update if this_update is not None else _utcnow()
        if now.tzinfo is None:
            raise InvalidCertificateRequest("this_update must be timezone-aware")
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now)
            .next_update(now + timedelta(days=next_update_days))
            .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        for serial, revoked_at in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(revoked_at)
                .build()
            )
        return builder.sign(self._private_key, hashes.SHA256())
