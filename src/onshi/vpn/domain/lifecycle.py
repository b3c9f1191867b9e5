"""The life of an application (申請書): its states, who may move it, and what it allows.

An application for one organisation holds K IDs and one number x of extra certificates that
applies to every ID in it (the seed: 各IDで同数適用); each ID then allows 2 + x devices at once.
"""

from __future__ import annotations

import enum
import re

from onshi.vpn.errors import (
    ExtraCertificatesOutOfRange,
    IdCountOutOfRange,
    IllegalTransition,
    InvalidInput,
)

INCLUDED_CERTIFICATES = 2  # 1IDあたり証明書2枚付与
MAX_EXTRA_CERTIFICATES = 3  # 1IDあたり最大3枚まで追加可
MAX_IDS = 999  # the account name has three digits for the ID's number


class ApplicationState(enum.StrEnum):
    SUBMITTED = "submitted"  # 申請書のご提出
    REVIEWED = "reviewed"  # 申請書内容確認
    NETWORK_CONFIGURED = "network_configured"  # ネットワーク設定
    OPENED = "opened"  # サービス開通のご連絡 (開通通知)
    CANCELLED = "cancelled"  # 解約


# Forward one step at a time; cancellation from any state but itself (a contract withdrawn
# before opening is cancelled too, and bills nothing because it never opened).
_NEXT: dict[ApplicationState, frozenset[ApplicationState]] = {
    ApplicationState.SUBMITTED: frozenset({ApplicationState.REVIEWED, ApplicationState.CANCELLED}),
    ApplicationState.REVIEWED: frozenset(
        {ApplicationState.NETWORK_CONFIGURED, ApplicationState.CANCELLED}
    ),
    ApplicationState.NETWORK_CONFIGURED: frozenset(
        {ApplicationState.OPENED, ApplicationState.CANCELLED}
    ),
    ApplicationState.OPENED: frozenset({ApplicationState.CANCELLED}),
    ApplicationState.CANCELLED: frozenset(),
}


def parse_state(value: str) -> ApplicationState:
    try:
        return ApplicationState(value.strip().lower().replace("-", "_"))
    except ValueError:
        names = ", ".join(s.value for s in ApplicationState)
        raise InvalidInput(f"unknown application state {value!r}: one of {names}") from None


def check_transition(current: ApplicationState, target: ApplicationState) -> None:
    """Raise :class:`IllegalTransition` unless ``current → target`` is a step the rules allow."""
    if target not in _NEXT[current]:
        allowed = ", ".join(sorted(s.value for s in _NEXT[current])) or "none"
        raise IllegalTransition(
            f"an application in state {current.value} cannot move to {target.value} "
            f"(allowed: {allowed})"
        )


def check_extra_certificates(extra: int) -> int:
    if not 0 <= extra <= MAX_EXTRA_CERTIFICATES:
        raise ExtraCertificatesOutOfRange(
            f"extra certificates per ID must be 0–{MAX_EXTRA_CERTIFICATES} "
            f"(at most {INCLUDED_CERTIFICATES + MAX_EXTRA_CERTIFICATES} devices per ID), got {extra}"
        )
    return extra


def check_id_count(ids: int) -> int:
    if not 1 <= ids <= MAX_IDS:
        raise IdCountOutOfRange(f"an application holds 1–{MAX_IDS} IDs, got {ids}")
    return ids


def devices_allowed(extra_certificates: int) -> int:
    """Devices one ID may have at once (= valid device certificates): 2 + x."""
    return INCLUDED_CERTIFICATES + check_extra_certificates(extra_certificates)


def check_organisation(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 200 or not cleaned.isprintable():
        raise InvalidInput("the organisation name must be 1–200 printable characters")
    return cleaned


_APPLICATION_ID = re.compile(r"A?0*([1-9][0-9]{0,8})", re.IGNORECASE)


def application_code(number: int) -> str:
    """The application's public id: ``A`` and six digits, e.g. ``A000042``."""
    return f"A{number:06d}"


def parse_application_code(value: str) -> int:
    """``A000042``, ``a42`` or ``42`` → 42."""
    match = _APPLICATION_ID.fullmatch(value.strip())
    if match is None:
        raise InvalidInput(f"{value!r} is not an application id (like A000042)")
    return int(match.group(1))
