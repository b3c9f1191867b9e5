"""The audit log's two keys, each a file outside the database, created on first use (0600).

- the *audit key* (32 random bytes, hex): links the chain; whoever verifies needs it too;
- the *checkpoint signing key* (Ed25519, PKCS#8 PEM): signs checkpoints; its public half is
  written beside it (``.pub``) to hand to whoever checks a published checkpoint.

A key file is created atomically (written aside, then hard-linked into place), so several
processes starting together agree on one key and none reads a half-written file.

Replacing the audit key (:func:`rotate_audit_key`) keeps the old one in a folder beside it,
``<audit key>.replaced/<key id>.key``, where verifiers find it (:func:`key_ring`); retiring it
adds ``<key id>.closing.json``, the signed checkpoint of its chains (written by
:func:`write_closing`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from onshi.audit.chain import (
    CheckpointInvalid,
    KeyRing,
    OldKey,
    key_id,
    parse_and_verify,
)

MIN_AUDIT_KEY_BYTES = 32


class KeyFileError(Exception):
    """A key file is missing (and may not be created here), unreadable, or a placeholder."""


def _written_aside(path: Path, content: bytes, mode: int = 0o600) -> Path:
    """``content`` in a new file beside ``path``, on disk (fsync) before anything links it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return aside


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_exclusively(path: Path, content: bytes) -> None:
    aside = _written_aside(path, content)
    try:
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)
    _sync_folder(path.parent)


def _replace(path: Path, content: bytes, mode: int = 0o600) -> None:
    _written_aside(path, content, mode).replace(path)
    _sync_folder(path.parent)


def parse_audit_key(text: str) -> bytes:
    """The key in a key file's text (hex); placeholders and short keys are refused."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyFileError("the audit key file must hold a hex key") from None
    if len(key) < MIN_AUDIT_KEY_BYTES or len(set(key)) < 8:
        raise KeyFileError(
            f"the audit key is shorter than {MIN_AUDIT_KEY_BYTES} bytes or a placeholder; "
            "delete the file to have a random one made"
        )
    return key


def audit_key(path: Path, *, create: bool) -> bytes:
    """Read the audit key at ``path``; make a random one first if ``create`` and it is missing."""
    if not path.exists():
        if not create:
            raise KeyFileError(f"no audit key at {path}")
        _create_exclusively(path, secrets.token_hex(MIN_AUDIT_KEY_BYTES).encode() + b"\n")
    try:
        return parse_audit_key(path.read_text())
    except OSError as exc:
        raise KeyFileError(f"the audit key at {path} cannot be read: {exc.strerror}") from None


def replaced_keys_dir(path: Path) -> Path:
    """Where the keys the audit key at ``path`` replaced are kept."""
    return path.with_name(path.name + ".replaced")


def rotate_audit_key(path: Path) -> tuple[str, str]:
    """Put a new random audit key at ``path``, the old one kept among the replaced keys first
    (so that a crash in between loses neither). Returns the ids of the old and the new key.

    Processes already running go on writing their chains under the old key until they stop;
    :func:`key_ring` gives verifiers both.
    """
    old = audit_key(path, create=False)
    folder = replaced_keys_dir(path)
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = folder / f"{key_id(old)}.key"
    _create_exclusively(kept, old.hex().encode() + b"\n")
    if parse_audit_key(kept.read_text()) != old:
        raise KeyFileError(f"{kept} holds another key than {path}")
    new = secrets.token_bytes(MIN_AUDIT_KEY_BYTES)
    _replace(path, new.hex().encode() + b"\n")
    return key_id(old), key_id(new)


def closing_path(path: Path, old_key_id: str) -> Path:
    return replaced_keys_dir(path) / f"{old_key_id}.closing.json"


def write_closing(path: Path, closing_json: str, old_key_id: str) -> Path:
    """Store the signed closing checkpoint of a replaced key: from now on it is retired."""
    out = closing_path(path, old_key_id)
    _replace(out, closing_json.encode(), 0o644)
    return out


def replaced_keys(path: Path) -> dict[str, bytes]:
    """The keys the audit key at ``path`` replaced, by id."""
    found: dict[str, bytes] = {}
    folder = replaced_keys_dir(path)
    for kept in sorted(folder.glob("*.key")) if folder.is_dir() else ():
        try:
            key = parse_audit_key(kept.read_text())
        except OSError as exc:
            raise KeyFileError(f"the replaced key {kept} cannot be read: {exc.strerror}") from None
        if kept.stem != key_id(key):
            raise KeyFileError(f"{kept} holds audit key {key_id(key)}, not {kept.stem}")
        found[kept.stem] = key
    return found


def key_ring(path: Path, public_key: Path) -> KeyRing:
    """The audit key at ``path`` and every key it replaced, each with its closing checkpoint
    once retired (whose signature must verify under the ``public_key`` file)."""
    current = audit_key(path, create=False)
    old: list[OldKey] = []
    for kept_id, key in replaced_keys(path).items():
        closing = None
        closed = closing_path(path, kept_id)
        if closed.exists():
            try:
                closing = parse_and_verify(closed.read_text(), verification_key(public_key))
            except OSError as exc:
                raise KeyFileError(f"{closed} cannot be read: {exc.strerror}") from None
            if closing.audit_key_id != kept_id:
                raise CheckpointInvalid(f"{closed} closes audit key {closing.audit_key_id}")
        old.append(OldKey(key, closing))
    return KeyRing(current, tuple(old))


class KeySource:
    """One process's audit keys, for a log that hands its one chain from key to key: the key
    file's, read at first use (made if missing) and again on demand (:meth:`current` with
    ``again``: the file was replaced since), and the keys it replaced (:meth:`replaced`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def current(self, *, again: bool = False) -> bytes:
        with self._lock:  # one creator per process; audit_key settles races between processes
            if self._key is None or again:
                self._key = audit_key(self.path, create=True)
            return self._key

    def replaced(self) -> dict[str, bytes]:
        return replaced_keys(self.path)


def public_key_path(private_key_path: Path) -> Path:
    return private_key_path.with_name(private_key_path.name + ".pub")


def signing_key(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """The checkpoint signing key at ``path`` (and its ``.pub`` beside it when creating)."""
    if not path.exists():
        if not create:
            raise KeyFileError(f"no checkpoint signing key at {path}")
        fresh = Ed25519PrivateKey.generate()
        _create_exclusively(
            path, fresh.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        )
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"the signing key at {path} cannot be read: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"the signing key at {path} is not an Ed25519 key")
    public = public_key_path(path)
    if not public.exists():
        _create_exclusively(
            public,
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        )
        public.chmod(0o644)
    return key


def verification_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (or the public half of a private key file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"no checkpoint key at {path}: {exc.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            private = load_pem_private_key(data, password=None)
            if isinstance(private, Ed25519PrivateKey):
                return private.public_key()
        else:
            public = load_pem_public_key(data)
            if isinstance(public, Ed25519PublicKey):
                return public
    except ValueError as exc:
        raise KeyFileError(f"the checkpoint key at {path} cannot be read: {exc}") from None
    raise KeyFileError(f"the checkpoint key at {path} is not an Ed25519 key")
