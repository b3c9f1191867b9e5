"""The sweeper: live sessions and which of them to cut — pure rules, no I/O (接続セッションの管理).

A session is one ESTABLISHED IKE_SA of a device's connection; half-open SAs (a login still in
EAP, or a failed one) do not count. Three rules cut sessions, in this order:

1. an operator's termination (one device, or every device of an account);
2. the maximum continuous connection time (IKE_SA ``established`` ≥ limit) — the control plane
   does this, not charon's ``reauth_time``, which clients answer by silently logging in again;
3. the account's simultaneous-session limit (2 + x): the oldest sessions stay, the newest are
   refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .directory import Device, Termination


@dataclass(frozen=True)
class LiveSession:
    ike_id: str
    session_id: str  # charon's start time and the ike id: see SessionEvent
    connection: str
    account: str
    device: str
    state: str
    established: int  # seconds since the IKE_SA was established
    virtual_ip: str | None
    remote_addr: str | None
    bytes_in: int
    bytes_out: int

    @property
    def is_established(self) -> bool:
        return self.state == "ESTABLISHED"


@dataclass(frozen=True)
class Cut:
    """A session to terminate; ``kind`` is ``terminated`` or ``refused`` (for the event)."""

    session: LiveSession
    kind: str
    reason: str


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int:
    try:
        return int(_text(value))
    except ValueError:
        return 0


def identify(connection: str, devices: Mapping[str, Device]) -> tuple[str, str]:
    """(account, device) of a connection name; unknown connections give ("", name)."""
    device = devices.get(connection)
    if device is None:
        return "", connection
    return device.account, device.name


def parse_sa(
    connection: str, sa: Mapping[str, Any], devices: Mapping[str, Device], instance: str = ""
) -> LiveSession:
    """A ``list_sas`` (or ``ike-updown``) entry as a :class:`LiveSession`."""
    account, device = identify(connection, devices)
    bytes_in = bytes_out = 0
    children = sa.get("child-sas") or {}
    for child in children.values():
        bytes_in += _int(child.get("bytes-in", 0))
        bytes_out += _int(child.get("bytes-out", 0))
    vips = sa.get("remote-vips") or []
    ike_id = _text(sa.get("uniqueid", ""))
    return LiveSession(
        ike_id=ike_id,
        session_id=f"{instance}-{ike_id}" if instance else ike_id,
        connection=connection,
        account=account,
        device=device,
        state=_text(sa.get("state", "")),
        established=_int(sa.get("established", 0)),
        virtual_ip=_text(vips[0]) if vips else None,
        remote_addr=_text(sa["remote-host"]) if "remote-host" in sa else None,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
    )


def matches(termination: Termination, session: LiveSession) -> bool:
    if termination.session_id is not None:
        return session.session_id == termination.session_id
    return session.account == termination.account and (
        termination.device is None or session.device == termination.device
    )


def plan_cuts(
    sessions: Iterable[LiveSession],
    *,
    limit_of: Callable[[str], int],
    max_connect: int | None,
    terminations: Iterable[Termination] = (),
) -> list[Cut]:
    live = [s for s in sessions if s.is_established and s.account]
    cuts: dict[str, Cut] = {}
    for t in terminations:
        for s in live:
            if matches(t, s):
                cuts.setdefault(s.ike_id, Cut(s, "terminated", t.reason))
    if max_connect is not None:
        for s in live:
            if s.established >= max_connect:
                cuts.setdefault(s.ike_id, Cut(s, "terminated", "max-duration"))
    by_account: dict[str, list[LiveSession]] = {}
    for s in live:
        if s.ike_id not in cuts:
            by_account.setdefault(s.account, []).append(s)
    for account, group in by_account.items():
        # Oldest first; charon's unique ids grow, so they break ties within one second.
        group.sort(key=lambda s: (-s.established, _int(s.ike_id)))
        for s in group[max(limit_of(account), 0) :]:
            cuts[s.ike_id] = Cut(s, "refused", "session-limit")
    return list(cuts.values())
