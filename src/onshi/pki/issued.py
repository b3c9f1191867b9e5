"""A certificate together with its private key, and PEM loading helpers.

Kept as a frozen value so it can be passed around freely (tests, fixtures, the terminal
agent's virtual card) without anybody mutating a key behind the holder's back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ._files import PRIVATE_MODE, PUBLIC_MODE, read_file, write_atomically
from .errors import PkiError

__all__ = [
    "IssuedCertificate",
    "load_certificate",
    "load_private_key",
    "parse_certificate_pem",
    "parse_private_key_pem",
    "private_key_pem",
]


def private_key_pem(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8, unencrypted: the files are protected by mode 0600, as uvicorn and strongSwan expect."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class IssuedCertificate:
    """An end-entity certificate and, when the CA generated it, the matching private key.

    ``private_key`` is None only when the CA certified a public key it was handed (the key
    then lives elsewhere, like a real card's key that never leaves the IC chip); use
    :attr:`signing_key` where a key is required.
    """

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | None

    def __post_init__(self) -> None:
        if self.private_key is not None and (
            self.private_key.public_key() != self.certificate.public_key()
        ):
            raise PkiError("private key does not match the certificate's public key")

    @property
    def signing_key(self) -> ec.EllipticCurvePrivateKey:
        """The private key; raises :class:`PkiError` if this holder never had it."""
        if self.private_key is None:
            raise PkiError(
                f"certificate serial {self.serial:x} was issued for an externally held key; "
                "this object has no private key"
            )
        return self.private_key

    @property
    def serial(self) -> int:
        return self.certificate.serial_number

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return private_key_pem(self.signing_key)

    def with_private_key(self, private_key: ec.EllipticCurvePrivateKey) -> IssuedCertificate:
        """Attach the externally held key, checking it really belongs to this certificate."""
        return IssuedCertificate(self.certificate, private_key)

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (0644) and key (0600), each atomically; key first.

        The key goes first so that a reader who sees the new certificate never pairs it with
        the previous key.
        """
        write_atomically(Path(key_path), self.key_pem, mode=PRIVATE_MODE)
        write_atomically(Path(cert_path), self.cert_pem, mode=PUBLIC_MODE)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> IssuedCertificate:
        """Read back what :meth:`write` wrote; :class:`PkiError` if missing, corrupt or mismatched."""
        return cls(load_certificate(cert_path), load_private_key(key_path))


def parse_certificate_pem(data: bytes, *, source: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"{source} is not a PEM X.509 certificate") from exc


def parse_private_key_pem(
    data: bytes, *, source: str = "private key"
) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: the key is encrypted; onshi never writes encrypted PEM keys.
        raise PkiError(f"{source} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{source} is not an elliptic-curve key")
    return key


def load_certificate(path: Path) -> x509.Certificate:
    return parse_certificate_pem(read_file(path, "certificate"), source=f"certificate {path}")


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    return parse_private_key_pem(read_file(path, "private key"), source=f"private key {path}")
