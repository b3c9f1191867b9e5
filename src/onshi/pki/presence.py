"""The card-presence challenge (カード提示の確認): one protocol shared by reader, terminal and central.

A My Number card proves it is on the reader at a facility now:

1. the central service issues a **nonce** (:func:`new_nonce`: 32 random bytes as 64 lowercase
   hex characters) to the asking facility; it lives :data:`NONCE_LIFETIME` by default and is
   usable once;
2. the card signs :func:`challenge` — ``onshi-card-presence/v1:<facility>:<nonce>`` in ASCII —
   with the key of its user certificate (利用者証明用電子証明書), ECDSA P-256/SHA-256, DER;
3. the central service checks, in this order: the nonce (issued to this facility, unused, not
   expired — :func:`nonce_refusal`, enforced by the database so it holds across processes),
   the certificate (issued by the JPKI CA, valid, not revoked), then :func:`verify` — the
   signature over the challenge for *its own* facility, so a signature seen at one facility is
   useless at another.

Pure: no I/O, no clock of its own. The reader (signer), the terminal (relay) and the central
service (verifier) import this module; none of them imports another's internals for it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from .challenge import verify_challenge

__all__ = [
    "NONCE_BYTES",
    "NONCE_LIFETIME",
    "PROTOCOL",
    "NonceMalformed",
    "challenge",
    "is_nonce",
    "new_nonce",
    "nonce_refusal",
    "verify",
]

PROTOCOL = "onshi-card-presence/v1"
NONCE_BYTES = 32
NONCE_LIFETIME = dt.timedelta(seconds=120)  # the central service's default (nonce_ttl_seconds)
_NONCE = re.compile(rf"[0-9a-f]{{{NONCE_BYTES * 2}}}")
_FACILITY = re.compile(r"[0-9]{10}")  # 医療機関コード: 10 digits


class NonceMalformed(ValueError):
    """Not a nonce this protocol issues (wrong length or characters), or no facility code."""


def new_nonce() -> str:
    """A fresh nonce: 32 random bytes, 64 lowercase hex characters."""
    return secrets.token_hex(NONCE_BYTES)


def is_nonce(value: str) -> bool:
    return bool(_NONCE.fullmatch(value))


def challenge(facility: str, nonce: str) -> bytes:
    """The bytes a card signs: the nonce bound to the facility that asked for it.

    Raises :class:`NonceMalformed` for anything but a 10-digit facility code and a nonce of
    :func:`new_nonce`'s shape, so nobody signs or verifies bytes of another protocol.
    """
    if not _FACILITY.fullmatch(facility):
        raise NonceMalformed("the facility code must be 10 digits")
    if not is_nonce(nonce):
        raise NonceMalformed(f"a nonce is {NONCE_BYTES * 2} lowercase hexadecimal characters")
    return f"{PROTOCOL}:{facility}:{nonce}".encode("ascii")


def verify(
    signer: x509.Certificate | ec.EllipticCurvePublicKey,
    facility: str,
    nonce: str,
    signature: bytes,
) -> None:
    """Raise :class:`~onshi.pki.SignatureInvalid` unless ``signature`` is the card's over the
    challenge for ``facility`` and ``nonce`` (the certificate is checked before, by the caller)."""
    verify_challenge(signer, challenge(facility, nonce), signature)


def nonce_refusal(
    *,
    issued_to: str | None,
    facility: str,
    used_at: dt.datetime | None,
    expires_at: dt.datetime | None,
    now: dt.datetime,
) -> str | None:
    """Why a stored nonce cannot be used now (None: it can). ``issued_to`` None: never issued.

    The order is the one a person can act on: not ours, already used (a replay), expired.
    """
    if issued_to is None or issued_to != facility:
        return "the nonce was not issued to this facility; ask for a new one"
    if used_at is not None:
        return "the nonce was already used (a replay); ask for a new one"
    if expires_at is None or expires_at <= now:
        return "the nonce has expired; ask for a new one"
    return None
