"""Portal sessions (ログインセッション), held server-side, and their CSRF tokens.

The cookie carries only a random token; the server keeps what it means (who, which side, when
it started, when it was last used, its CSRF token, a PKCS#12 waiting to be downloaded). That
makes logout, a password change and an operator's "cut" immediate, which a signed stateless
cookie could not do without a deny-list. The store is in memory: a restart logs everyone out,
which for a portal used a few times per device is an acceptable price for keeping no session
secrets at rest. Tokens are looked up by their SHA-256 so a memory dump of the table does not
hold usable cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Side = Literal["clinic", "operator"]


@dataclass
class PendingDownload:
    """A device's PKCS#12 between issuance and its one download; the passphrase shows once."""

    serial: str
    device_name: str
    p12: bytes
    passphrase: str | None
    created: float


@dataclass
class PortalSession:
    side: Side
    principal: str  # the account (ID) or the operator's login name
    role: str  # "clinic", "operator" or "auditor"
    csrf: str
    started: float
    last_seen: float
    pending: dict[str, PendingDownload] = field(default_factory=dict)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    """Sessions in memory, expired by idle and absolute limits on every lookup."""

    def __init__(
        self,
        *,
        idle_seconds: int,
        absolute_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._idle = idle_seconds
        self._absolute = absolute_seconds
        self._clock = clock
        self._sessions: dict[str, PortalSession] = {}
        self._lock = threading.Lock()

    def create(self, side: Side, principal: str, role: str) -> tuple[str, PortalSession]:
        """A new session (a new token: never reuse one from before login)."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        session = PortalSession(side, principal, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sweep(now)
            self._sessions[_digest(token)] = session
        return token, session

    def get(self, token: str | None, side: Side) -> PortalSession | None:
        """The live session of ``token`` on ``side``, its idle clock reset; None if none."""
        if not token:
            return None
        now = self._clock()
        key = _digest(token)
        with self._lock:
            session = self._sessions.get(key)
            if session is None or session.side != side:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session.last_seen = now
            return session

    def drop(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(_digest(token), None)

    def drop_principal(self, side: Side, principal: str, *, keep: str | None = None) -> int:
        """End every session of ``principal`` (after a password change, except ``keep``)."""
        kept = _digest(keep) if keep else None
        with self._lock:
            gone = [
                k
                for k, s in self._sessions.items()
                if s.side == side and s.principal == principal and k != kept
            ]
            for k in gone:
                del self._sessions[k]
        return len(gone)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: PortalSession, now: float) -> bool:
        return now - session.last_seen >= self._idle or now - session.started >= self._absolute

    def _sweep(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def same_token(given: str | None, expected: str) -> bool:
    """Compare a submitted CSRF token in constant time (a missing one never matches)."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class LoginFormTokens:
    """CSRF tokens for the login forms, before any session exists.

    The login page sets a random nonce cookie and puts HMAC(key, nonce) in the form: a site that
    cannot read our cookie cannot produce the matching field (no login CSRF), and the server
    keeps nothing per visitor. The key is per process.
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def token_for(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def valid(self, nonce: str | None, given: str | None) -> bool:
        if not nonce:
            return False
        return same_token(given, self.token_for(nonce))
