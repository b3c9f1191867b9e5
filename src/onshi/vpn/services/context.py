"""What every use case shares: the database, the settings, the clock, and lazily built keys."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property

from sqlalchemy.orm import Session

from onshi.pki import CertificateAuthority
from onshi.vpn.domain.accounts import LockoutRules, PasswordRules, Role
from onshi.vpn.domain.calendar import JST
from onshi.vpn.errors import NotPermitted, UnknownOperator
from onshi.vpn.services.secrets import Passwords, SealingKey, password_hasher
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage import tables as t
from onshi.vpn.storage.database import Database

Clock = Callable[[], dt.datetime]

#: Who acts when a command is run on the service host without ``--by``.
CONSOLE = "console"
CA_COMMON_NAME = "onshi medical VPN CA"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Context:
    def __init__(self, settings: VpnSettings, db: Database, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock

    def now(self) -> dt.datetime:
        """Aware UTC now (the clock is swappable: tests age certificates this way)."""
        return self.clock().astimezone(dt.UTC)

    def now_naive(self) -> dt.datetime:
        """UTC without tzinfo, as the tables store times; whole seconds."""
        return self.now().replace(tzinfo=None, microsecond=0)

    def today(self) -> dt.date:
        """Today's date in Japan: contract dates are calendar dates there."""
        return self.now().astimezone(JST).date()

    @cached_property
    def passwords(self) -> Passwords:
        return Passwords(password_hasher(self.settings))

    @cached_property
    def sealing_key(self) -> SealingKey:
        return SealingKey.load_or_create(self.settings.seal_key_path)

    @cached_property
    def ca(self) -> CertificateAuthority:
        return CertificateAuthority.load_or_create(self.settings.ca_dir, CA_COMMON_NAME)

    @property
    def password_rules(self) -> PasswordRules:
        return PasswordRules(self.settings.password_min_length, self.settings.password_max_length)

    @property
    def lockout_rules(self) -> LockoutRules:
        return LockoutRules(
            self.settings.lockout_threshold, dt.timedelta(minutes=self.settings.lockout_minutes)
        )


def acting_operator(session: Session, by: str | None, *, role: Role = Role.OPERATOR) -> str:
    """The name to record for an action: ``by`` if it is an operator with ``role``, else refuse.

    Without ``by`` the action comes from the service host's console (a command run by whoever
    can read the database and the data directory) and is recorded as ``console``.
    """
    if by is None:
        return CONSOLE
    row = session.get(t.Operator, by)
    if row is None:
        raise UnknownOperator(f"there is no operator named {by!r}")
    if row.role != role.value:
        raise NotPermitted(f"operator {by!r} has the role {row.role}, not {role.value}")
    return by
