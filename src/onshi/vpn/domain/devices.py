"""Device certificates (デバイス証明書, the seed's 機体認証): who holds one, and how many count.

An ID may hold at most 2 + x *valid* device certificates — unrevoked and not expired — one per
device at a time; that number is how many of its devices can connect at once.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from onshi.vpn.errors import DeviceLimitReached, InvalidInput

_DEVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")


def check_device_name(value: str) -> str:
    """A device's name: 1–32 of letters, digits, ``-`` and ``_`` (it becomes part of the CN)."""
    if _DEVICE_NAME.fullmatch(value) is None:
        raise InvalidInput(
            f"{value!r} is not a device name (1–32 letters, digits, - or _, e.g. reception-pc)"
        )
    return value


def common_name(account: str, device: str) -> str:
    """The certificate's CN, ``<account>.<device>`` (e.g. ``A000042-003.reception-pc``).

    A dot rather than a slash: strongSwan reads ``/`` in an identity string as an RDN separator.
    """
    return f"{account}.{device}"


def serial_hex(serial: int) -> str:
    """Serials are written as upper-case hex without separators, like ``openssl x509 -serial``."""
    return f"{serial:X}"


def parse_serial(value: str) -> int:
    cleaned = value.strip().replace(":", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        if not cleaned or len(cleaned) > 40:
            raise ValueError
        return int(cleaned, 16)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a certificate serial (hex)") from None


@dataclass(frozen=True)
class DeviceCertificate:
    """One device certificate as the control plane records it (never its private key)."""

    serial: str
    account: str
    device: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    issued_at: dt.datetime
    revoked_at: dt.datetime | None = None
    superseded_by: str | None = None

    def valid_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and self.not_before <= now < self.not_after

    def status(self, now: dt.datetime) -> str:
        """``valid``, ``revoked``, ``superseded`` (revoked by a renewal) or ``expired``."""
        if self.superseded_by is not None:
            return "superseded"
        if self.revoked_at is not None:
            return "revoked"
        if now >= self.not_after:
            return "expired"
        return "valid"


def check_capacity(account: str, valid: int, allowed: int) -> None:
    """Refuse one more certificate when ``account`` already holds ``allowed`` valid ones."""
    if valid >= allowed:
        raise DeviceLimitReached(
            f"ID {account} already has {valid} valid device certificates, the most its contract "
            f"allows ({allowed}); revoke one, or add extra certificates to the application"
        )
