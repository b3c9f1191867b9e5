"""What the gateway needs from the control plane: the desired state, and where events go.

The gateway depends on this small :class:`Directory` protocol only, not on the control plane's
storage: :class:`MemoryDirectory` serves the tests, :mod:`onshi.vpn.gateway.adapter` reads the
control plane's services.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from cryptography import x509

DEFAULT_SESSION_LIMIT = 2  # the seed: two terminals at once with the standard certificates


@dataclass(frozen=True)
class Device:
    """A terminal allowed in: its account (ID), its name, the subject of its certificates.

    ``certificate_serials`` lists every certificate issued to the device (current and next,
    revoked ones included): when the CRL gains one of them, the device's live sessions are cut.
    """

    account: str
    name: str
    subject: x509.Name
    certificate_serials: frozenset[int] = frozenset()


@dataclass(frozen=True)
class DesiredState:
    """Everything charon must hold. Devices of cancelled contracts are simply absent."""

    devices: tuple[Device, ...]
    # EAP-MSCHAPv2 secrets: the 16-byte NT hash (MD4 of the UTF-16LE password) per account.
    nt_hashes: Mapping[str, bytes]
    ca_pem: bytes
    gateway_cert_pem: bytes
    gateway_key_pem: bytes
    crl_pem: bytes | None = None
    session_limits: Mapping[str, int] = field(default_factory=dict)

    def session_limit(self, account: str) -> int:
        return self.session_limits.get(account, DEFAULT_SESSION_LIMIT)


@dataclass(frozen=True)
class Termination:
    """An operator's "cut this session": one session (``session_id``, as reported in
    :class:`SessionEvent`), else one device, else every device of an account.

    ``request_id`` is the control plane's own reference, handed back in :meth:`Directory.done`.
    """

    account: str
    device: str | None = None
    reason: str = "operator"
    session_id: str | None = None
    request_id: int | None = None


@dataclass(frozen=True)
class SessionEvent:
    """One thing that happened to a session, for the portal and the audit log.

    ``kind``: ``up``, ``update`` (byte counters of a session still up), ``down``, ``refused``
    (beyond the account's limit), ``terminated`` (the gateway cut it: ``reason`` says why —
    revoked, removed, max-duration, operator).
    """

    kind: str
    account: str
    device: str
    # Unique across charon restarts: charon's start time and the IKE_SA's unique id.
    session_id: str = ""
    ike_id: str = ""
    virtual_ip: str | None = None
    remote_addr: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    reason: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Directory(Protocol):
    """The control plane as the gateway sees it."""

    def desired_state(self) -> DesiredState:
        """The current desired state (called about once a second: keep it cheap)."""
        ...

    def take_terminations(self) -> list[Termination]:
        """Pending operator terminations; each is returned once."""
        ...

    def record(self, event: SessionEvent) -> None:
        """Hand one session event to the control plane."""
        ...

    def done(self, termination: Termination, outcome: str) -> None:
        """A termination was carried out (``terminated``) or found nothing (``already_gone``)."""
        ...


class MemoryDirectory:
    """A :class:`Directory` held in memory (tests, benchmarks); thread-safe."""

    def __init__(self, state: DesiredState) -> None:
        self._lock = threading.Lock()
        self._state = state
        self._terminations: list[Termination] = []
        self.events: list[SessionEvent] = []
        self.completed: list[tuple[Termination, str]] = []

    def desired_state(self) -> DesiredState:
        with self._lock:
            return self._state

    def take_terminations(self) -> list[Termination]:
        with self._lock:
            taken, self._terminations = self._terminations, []
            return taken

    def record(self, event: SessionEvent) -> None:
        with self._lock:
            self.events.append(event)

    def done(self, termination: Termination, outcome: str) -> None:
        with self._lock:
            self.completed.append((termination, outcome))

    # -- changes, as the control plane would make them ---------------------------------

    def update(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]

    def terminate(self, termination: Termination) -> None:
        with self._lock:
            self._terminations.append(termination)

    def events_of(self, kind: str) -> list[SessionEvent]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]
