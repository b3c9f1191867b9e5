"""Proof of key possession: the card (or device) signs a fresh challenge from the server.

This is what a 利用者証明用電子証明書 is for: the server sends random bytes, the card signs
them with the key that never leaves it, and the server checks the signature against the
certificate it has already verified with :func:`onshi.pki.verify_certificate`.
The data is signed as-is (ECDSA P-256 with SHA-256, DER signature), matching how a real
card signs whatever digest it is handed; freshness is the caller's job (one-time challenges).
"""

from __future__ import annotations

import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .errors import SignatureInvalid

__all__ = ["CHALLENGE_BYTES", "new_challenge", "sign_challenge", "verify_challenge"]

CHALLENGE_BYTES = 32
_ALGORITHM = ec.ECDSA(hashes.SHA256())


def new_challenge(size: int = CHALLENGE_BYTES) -> bytes:
    """Fresh random bytes for a client to sign; 32 bytes leaves nothing to guess or replay."""
    return secrets.token_bytes(size)


def sign_challenge(private_key: ec.EllipticCurvePrivateKey, challenge: bytes) -> bytes:
    """ECDSA-SHA256 signature (DER) over ``challenge``."""
    return private_key.sign(challenge, _ALGORITHM)


def verify_challenge(
    signer: x509.Certificate | ec.EllipticCurvePublicKey, challenge: bytes, signature: bytes
) -> None:
    """Raise :class:`SignatureInvalid` unless ``signature`` is ``signer``'s over ``challenge``.

    ``signer`` is the certificate (or its public key) — verify the certificate first; a
    good signature from an untrusted certificate proves nothing.
    """
    public_key = signer.public_key() if isinstance(signer, x509.Certificate) else signer
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SignatureInvalid("the signer's key is not an elliptic-curve key; cannot check ECDSA")
    try:
        public_key.verify(signature, challenge, _ALGORITHM)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalid(
            "the challenge signature does not verify with the signer's key"
        ) from exc
