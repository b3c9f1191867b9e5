"""A virtual My Number card (マイナンバーカード): a PKCS#12 file plus a simulated IC chip.

The .p12 holds the key pair and the 利用者証明用電子証明書 issued by onshi's test JPKI CA.
Its PKCS#12 password is the fixed, public :data:`P12_PASSWORD`: a file cannot count wrong
guesses, so the PIN is enforced by the simulated chip instead — ``CARD.p12.chip.json`` beside
it holds an argon2 hash of the 4-digit PIN, the consecutive-failure counter and the lock flag.
Three consecutive wrong PINs lock the card (as the real user-certificate PIN does); a right
PIN resets the counter; only :meth:`VirtualCard.reset` (the municipal office, 市区町村窓口)
unlocks it. A locked card signs nothing, whatever the identity method.

This simulates the card's behaviour for training and tests; it protects nothing — whoever
has the files has the key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from onshi import pki
from onshi.reader.errors import CardFileInvalid, CardLocked, PinFormatInvalid, PinIncorrect

P12_PASSWORD = b"onshi-virtual-card"  # public on purpose: see the module docstring
MAX_PIN_TRIES = 3
CHIP_SUFFIX = ".chip.json"
_PIN = re.compile(r"[0-9]{4}")
# OWASP's minimum argon2id parameters: a 4-digit PIN has 10,000 values, so no hash cost saves
# it from an offline search — the chip's lock is the protection; the hash only keeps the PIN
# out of plain sight.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def check_pin_format(pin: str) -> str:
    """A PIN is exactly 4 ASCII digits; anything else never reaches the chip (no try is used)."""
    if not _PIN.fullmatch(pin):
        raise PinFormatInvalid()
    return pin


@dataclass(frozen=True, slots=True)
class ChipState:
    """What the simulated IC chip remembers between uses."""

    pin_hash: str
    failures: int = 0
    locked: bool = False

    @property
    def remaining(self) -> int:
        return 0 if self.locked else MAX_PIN_TRIES - self.failures

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": 1,
                "pin_hash": self.pin_hash,
                "failures": self.failures,
                "locked": self.locked,
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> ChipState:
        try:
            raw = json.loads(data)
            state = cls(str(raw["pin_hash"]), int(raw["failures"]), bool(raw["locked"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CardFileInvalid() from exc
        if not 0 <= state.failures <= MAX_PIN_TRIES:
            raise CardFileInvalid()
        return state


def chip_path_of(card_path: Path) -> Path:
    return card_path.with_name(card_path.name + CHIP_SUFFIX)


def _write_atomically(path: Path, data: bytes) -> None:
    """Temporary sibling, fsync, rename: a crash leaves the old state or the new, never half."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class VirtualCard:
    """One card: ``path`` is the .p12; the chip state lives at ``path`` + ``.chip.json``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.chip_path = chip_path_of(self.path)
        self._lock_path = self.path.with_name(f".{self.path.name}.chip.lock")

    def __repr__(self) -> str:
        return f"VirtualCard({self.path.name!r})"

    @classmethod
    def create(
        cls,
        path: Path,
        issued: pki.IssuedCertificate,
        pin: str,
        *,
        ca_certificate: x509.Certificate | None = None,
    ) -> VirtualCard:
        """Write a new card (the .p12, mode 0600, and a fresh chip holding ``pin``)."""
        check_pin_format(pin)
        card = cls(path)
        pki.write_card_p12(card.path, issued, P12_PASSWORD, ca_certificate=ca_certificate)
        _write_atomically(card.chip_path, ChipState(_hasher.hash(pin)).to_json())
        return card

    # -- the chip ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One reader at a time: two racing wrong PINs must both count."""
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise CardFileInvalid() from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def state(self) -> ChipState:
        try:
            return ChipState.from_json(self.chip_path.read_bytes())
        except OSError as exc:
            raise CardFileInvalid() from exc

    def _save(self, state: ChipState) -> None:
        _write_atomically(self.chip_path, state.to_json())

    def verify_pin(self, pin: str) -> None:
        """Check the PIN on the chip; raise :class:`CardLocked` or :class:`PinIncorrect`.

        The third consecutive wrong PIN locks the card and raises :class:`CardLocked`.
        """
        check_pin_format(pin)
        with self._exclusive():
            state = self.state()
            if state.locked:
                raise CardLocked()
            try:
                _hasher.verify(state.pin_hash, pin)
            except InvalidHashError as exc:
                raise CardFileInvalid() from exc
            except VerificationError:
                failures = state.failures + 1
                locked = failures >= MAX_PIN_TRIES
                self._save(replace(state, failures=failures, locked=locked))
                if locked:
                    raise CardLocked() from None
                raise PinIncorrect(MAX_PIN_TRIES - failures) from None
            if state.failures or _hasher.check_needs_rehash(state.pin_hash):
                self._save(ChipState(_hasher.hash(pin)))

    def reset(self, new_pin: str) -> None:
        """Set a new PIN and unlock, as the municipal office does after checking identity."""
        check_pin_format(new_pin)
        with self._exclusive():
            self.state()  # a card that cannot be read is not reset blindly
            self._save(ChipState(_hasher.hash(new_pin)))

    def require_unlocked(self) -> None:
        if self.state().locked:
            raise CardLocked()

    # -- the certificate and key -------------------------------------------------------------

    def credentials(self) -> pki.IssuedCertificate:
        """The user certificate and its key; a locked card gives neither."""
        self.require_unlocked()
        try:
            return pki.load_card_p12(self.path, P12_PASSWORD)
        except pki.PkiError as exc:
            raise CardFileInvalid() from exc

    def certificate_pem(self) -> str:
        return self.credentials().certificate.public_bytes(Encoding.PEM).decode("ascii")

    def sign(self, challenge: bytes) -> bytes:
        """Sign with the user certificate's key (the chip does this; the key never leaves it)."""
        return pki.sign_challenge(self.credentials().signing_key, challenge)
