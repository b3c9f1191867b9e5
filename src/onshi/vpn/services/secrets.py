"""How the control plane holds passwords: argon2id for logins, a sealed NT hash for EAP.

The portal checks passwords against an argon2id hash. The gateway authenticates the same
password with EAP-MSCHAPv2, for which strongSwan needs the NT hash (MD4 of the UTF-16LE
password) — password-equivalent for MSCHAPv2, so it is sealed with AES-256-GCM under a key
file kept outside the database (0600, created on first use), bound to the account name so a
sealed value cannot be moved to another account. See docs/vpn/secrets.md.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from Crypto.Hash import MD4
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from onshi.vpn.errors import SecretStoreError
from onshi.vpn.settings import VpnSettings

_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12
_KEY_BYTES = 32
_CREATION_POLLS = 20
# No 0/o/1/l/i: a passphrase is read off a screen and typed into Windows' certificate import.
_PASSPHRASE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 (an alphabet)
_PASSPHRASE_GROUPS = 5  # 5 × 4 characters of 31 symbols ≈ 99 bits


def nt_hash(password: str) -> bytes:
    """The NT hash MSCHAPv2 works with: MD4 over the password in UTF-16LE (RFC 2759 NtPasswordHash)."""
    # MD4 is what MSCHAPv2 is defined with (RFC 2759); the result is sealed, see the docstring.
    return bytes(MD4.new(password.encode("utf-16-le")).digest())  # noqa: S303


def password_hasher(settings: VpnSettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        hash_len=32,
        salt_len=16,
        type=Type.ID,
    )


class Passwords:
    """argon2id hashing and checking; an unknown login costs as much as a wrong password."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        # Verified against when the login does not exist, so timing does not reveal which do.
        self._decoy = hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._decoy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def new_passphrase() -> str:
    """A one-time PKCS#12 passphrase such as ``k7mq-x2hd-9rtp-c4wa-ze8n``."""
    groups = (
        "".join(secrets.choice(_PASSPHRASE_ALPHABET) for _ in range(4))
        for _ in range(_PASSPHRASE_GROUPS)
    )
    return "-".join(groups)


class SealingKey:
    """AES-256-GCM over small secrets, under a key file created 0600 on first use."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise SecretStoreError("the sealing key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, path: Path) -> SealingKey:
        path = Path(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(_KEY_BYTES))
                    fh.flush()
                    os.fsync(fh.fileno())
            if path.stat().st_mode & 0o077:
                raise SecretStoreError(f"the sealing key {path} must not be readable by others")
            key = path.read_bytes()
            # Another process may have created the file an instant ago and still be writing.
            for _ in range(_CREATION_POLLS):
                if len(key) == _KEY_BYTES:
                    break
                time.sleep(0.05)
                key = path.read_bytes()
        except OSError as exc:
            raise SecretStoreError(f"cannot use the sealing key {path}: {exc.strerror}") from exc
        if len(key) != _KEY_BYTES:
            # A half-written key (a crash on creation): refuse rather than guess.
            raise SecretStoreError(f"the sealing key {path} is not 32 bytes")
        return cls(key)

    def seal(self, secret: bytes, *, bound_to: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _SEAL_VERSION + nonce + self._aead.encrypt(nonce, secret, bound_to.encode())

    def open(self, sealed: bytes, *, bound_to: str) -> bytes:
        if sealed[:1] != _SEAL_VERSION:
            raise SecretStoreError("a sealed secret has an unknown format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, bound_to.encode())
        except InvalidTag:
            raise SecretStoreError(
                "a sealed EAP secret does not open with this key (wrong key file, or moved row)"
            ) from None
