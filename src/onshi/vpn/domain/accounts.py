"""IDs (ID利用料の単位) and operators: names, password rules and lockout, without I/O.

An ID is the login a clinic's staff type into the portal and the VPN client; its password is
also the VPN's second factor (EAP, the seed's ID・パスワード認証). Operators run the service.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass

from onshi.vpn.errors import InvalidInput, WeakPassword

# ``A000042-003``: the application's id, a hyphen, the ID's number within it (001–999).
_ACCOUNT_NAME = re.compile(r"A[0-9]{6}-[0-9]{3}")
_OPERATOR_NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")


class Role(enum.StrEnum):
    """What an operator may do: ``operator`` acts, ``auditor`` only reads (the audit log too)."""

    OPERATOR = "operator"
    AUDITOR = "auditor"


def account_name(application_code: str, index: int) -> str:
    """The generated name of the ``index``-th ID (1-based) of an application: ``A000042-003``."""
    if not 1 <= index <= 999:
        raise InvalidInput(f"an ID's number within its application is 1–999, got {index}")
    return f"{application_code}-{index:03d}"


def is_account_name(value: str) -> bool:
    return _ACCOUNT_NAME.fullmatch(value) is not None


def check_account_name(value: str) -> str:
    if not is_account_name(value):
        raise InvalidInput(f"{value!r} is not an ID (like A000042-003)")
    return value


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}: operator or auditor") from None


def check_operator_name(value: str) -> str:
    if _OPERATOR_NAME.fullmatch(value) is None:
        raise InvalidInput(
            f"{value!r} is not an operator name (2–32 of a-z 0-9 . _ -, starting with a letter)"
        )
    return value


@dataclass(frozen=True)
class PasswordRules:
    min_length: int
    max_length: int


def check_password(password: str, rules: PasswordRules, *, login: str) -> str:
    """Raise :class:`WeakPassword` unless ``password`` follows the rules; never echo it.

    Printable ASCII only: VPN clients (strongSwan on Windows and Android, swanctl) and the
    MSCHAPv2 NT hash must agree on every character, and not every client normalises Unicode.
    """
    if not rules.min_length <= len(password) <= rules.max_length:
        raise WeakPassword(f"a password is {rules.min_length}–{rules.max_length} characters long")
    if any(not " " <= ch <= "~" for ch in password):
        raise WeakPassword("a password uses printable ASCII characters only (no tabs, no kana)")
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        raise WeakPassword("a password contains at least one letter and one digit")
    if len(set(password)) < 4:
        raise WeakPassword("a password uses at least 4 different characters")
    if login.lower() in password.lower():
        raise WeakPassword("a password must not contain the login name")
    return password


@dataclass(frozen=True)
class LoginState:
    """Consecutive failed logins, and until when the login is locked (UTC, naive)."""

    failures: int = 0
    locked_until: dt.datetime | None = None

    def locked_at(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class LockoutRules:
    threshold: int
    duration: dt.timedelta


def after_failure(state: LoginState, now: dt.datetime, rules: LockoutRules) -> LoginState:
    """The state after one more wrong password; the ``threshold``-th in a row locks the login."""
    failures = 0 if state.locked_until is not None and now >= state.locked_until else state.failures
    failures += 1
    if failures >= rules.threshold:
        return LoginState(failures, now + rules.duration)
    return LoginState(failures, None)


def after_success() -> LoginState:
    return LoginState(0, None)
