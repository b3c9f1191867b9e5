"""Failed logins counted per submitted ID, whether or not the ID exists.

The service locks a real account after repeated failures; if only real accounts could become
"locked", the lockout message would tell a stranger which IDs exist. The portal therefore keeps
its own count for every submitted name (by SHA-256, in memory) and shows the same lockout for
any name after the same number of failures. While a name is locked here the password is not
even checked, which also spares the argon2id cost of a guessing run.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

DEFAULT_THRESHOLD = 5
DEFAULT_LOCK_SECONDS = 15 * 60


class LoginThrottle:
    def __init__(
        self,
        threshold: int = DEFAULT_THRESHOLD,
        lock_seconds: int = DEFAULT_LOCK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self.threshold = threshold
        self.lock_seconds = lock_seconds
        self._clock = clock
        self._max = max_entries
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (count, last failure)
        self._lock = threading.Lock()

    @staticmethod
    def _key(side: str, name: str) -> str:
        return hashlib.sha256(f"{side}\0{name.strip().lower()}".encode()).hexdigest()

    def locked(self, side: str, name: str) -> bool:
        key = self._key(side, name)
        with self._lock:
            count, last = self._failures.get(key, (0, 0.0))
            if count and self._clock() - last > self.lock_seconds:
                del self._failures[key]
                return False
            return count >= self.threshold

    def failed(self, side: str, name: str) -> bool:
        """Count a failure; True when this one reached the threshold (now locked)."""
        key = self._key(side, name)
        now = self._clock()
        with self._lock:
            if len(self._failures) >= self._max:
                self._failures = {
                    k: v for k, v in self._failures.items() if now - v[1] <= self.lock_seconds
                }
            count, last = self._failures.get(key, (0, now))
            if now - last > self.lock_seconds:
                count = 0
            self._failures[key] = (count + 1, now)
            return count + 1 >= self.threshold

    def succeeded(self, side: str, name: str) -> None:
        with self._lock:
            self._failures.pop(self._key(side, name), None)
