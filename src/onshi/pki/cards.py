"""Virtual My Number cards (マイナンバーカード) as password-protected PKCS#12 files.

A real card keeps its 利用者証明用 key in the IC chip behind a 4-digit PIN; onshi's
stand-in keeps it in a PKCS#12 file behind a password. There is no retry counter: a real
card locks after three wrong PINs, a file cannot enforce that (see docs/pki.md).
"""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from ._files import PRIVATE_MODE, read_file, write_atomically
from .errors import CardPasswordIncorrect, PkiError
from .issued import IssuedCertificate

__all__ = ["load_card_p12", "write_card_p12"]

_FRIENDLY_NAME = b"onshi virtual My Number card"


def write_card_p12(
    path: Path,
    issued: IssuedCertificate,
    password: bytes,
    *,
    ca_certificate: x509.Certificate | None = None,
) -> None:
    """Write the card's certificate and key (and optionally its CA) encrypted, mode 0600."""
    if not password:
        raise PkiError("a virtual card needs a non-empty password")
    extra = [ca_certificate] if ca_certificate is not None else None
    data = pkcs12.serialize_key_and_certificates(
        _FRIENDLY_NAME,
        issued.signing_key,
        issued.certificate,
        extra,
        serialization.BestAvailableEncryption(password),
    )
    write_atomically(Path(path), data, mode=PRIVATE_MODE)


def load_card_p12(path: Path, password: bytes) -> IssuedCertificate:
    """Open a virtual card; :class:`CardPasswordIncorrect` if the password does not open it."""
    data = read_file(Path(path), "virtual card")
    if not _looks_like_pfx(data):
        raise PkiError(f"virtual card {path} is not a PKCS#12 file")
    try:
        key, certificate, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        raise CardPasswordIncorrect(
            f"cannot open virtual card {path}: wrong password (or the file is damaged)"
        ) from exc
    if certificate is None or key is None:
        raise PkiError(f"virtual card {path} lacks its certificate or key")
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"virtual card {path} holds a non elliptic-curve key")
    return IssuedCertificate(certificate, key)


def _looks_like_pfx(data: bytes) -> bool:
    """Whether ``data`` starts like a DER PFX: SEQUENCE { INTEGER 3, ... }.

    cryptography raises the same ValueError for a wrong password and for garbage; this
    cheap structural check lets a wrong password be reported as exactly that.
    """
    if len(data) < 2 or data[0] != 0x30:
        return False
    length_byte = data[1]
    header = 2 + (length_byte & 0x7F if length_byte & 0x80 else 0)
    return data[header : header + 3] == b"\x02\x01\x03"
