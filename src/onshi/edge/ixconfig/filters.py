"""IX access lists as boxes in packet space, and a first-match evaluator over them.

A filter entry matches a box: an interval on each of protocol, source address, source port,
destination address and destination port. Packets without ports (ICMP…) carry port 0. An
interface applies its filters in sequence order and the first matching entry decides; a packet
no entry matches meets the *implicit* verdict (deny, once any filter is applied — the lint
nevertheless asks for an explicit deny-all so the intent does not depend on it). Entries of a
dynamic list permit *statefully*: replies of what they let out come back in.

:func:`classify` splits a whole region of packet space by the entry that decides it: the lint
rules use it to prove "every DHCPv6 reply is let in" or to find a counterexample packet.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

Interval = tuple[int, int]
Box = tuple[Interval, Interval, Interval, Interval, Interval]  # proto, src, sport, dst, dport

ANY_PORT: Interval = (0, 65535)
NO_PORT: Interval = (0, 0)
TCP, UDP, ICMP4, ICMP6 = 6, 17, 1, 58
_PORTED = (TCP, UDP)

_PROTOCOLS = {"tcp": TCP, "udp": UDP, "esp": 50, "ah": 51, "gre": 47, "ospf": 89, "icmpv6": ICMP6}
_PORT_NAMES = {
    "domain": 53, "www": 80, "http": 80, "https": 443, "ntp": 123, "bootps": 67, "bootpc": 68,
    "dhcpv6-client": 546, "dhcpv6-server": 547, "telnet": 23, "ssh": 22, "smtp": 25,
}  # fmt: skip


class Action(enum.StrEnum):
    PERMIT = "permit"
    DENY = "deny"


def address_space(family: int) -> Interval:
    return (0, (1 << (128 if family == 6 else 32)) - 1)


def full_box(family: int) -> Box:
    space = address_space(family)
    return ((0, 255), space, ANY_PORT, space, ANY_PORT)


def prefix_interval(text: str, family: int) -> Interval:
    network = ipaddress.ip_network(text, strict=False)
    if network.version != family:
        raise ValueError(f"{text} is not an IPv{family} address")
    return (int(network.network_address), int(network.broadcast_address))


@dataclass(frozen=True, slots=True)
class Packet:
    family: int
    proto: int
    src: int
    sport: int
    dst: int
    dport: int

    @classmethod
    def corner(cls, box: Box, family: int) -> Packet:
        """The lowest packet of a box: a concrete witness of it."""
        return cls(family, box[0][0], box[1][0], box[2][0], box[3][0], box[4][0])

    def __str__(self) -> str:
        def addr(value: int) -> str:
            return str(
                ipaddress.ip_address(value) if self.family == 4 else ipaddress.IPv6Address(value)
            )

        names = {TCP: "tcp", UDP: "udp", ICMP6: "icmpv6", ICMP4: "icmp"}
        proto = names.get(self.proto, f"protocol {self.proto}")
        if self.family == 4 and self.proto == ICMP6:
            proto = f"protocol {ICMP6}"
        if self.family == 6 and self.proto == ICMP4:
            proto = "protocol 1"
        if self.proto in _PORTED:
            return (
                f"{proto} {addr(self.src)} port {self.sport} → {addr(self.dst)} port {self.dport}"
            )
        return f"{proto} {addr(self.src)} → {addr(self.dst)}"


@dataclass(frozen=True, slots=True)
class FilterEntry:
    """One access-list entry as applied on an interface."""

    action: Action
    box: Box
    line: int
    list_name: str
    stateful: bool = False

    @property
    def matches_everything(self) -> bool:
        family = 6 if self.box[1][1] > 0xFFFFFFFF else 4
        return self.box == full_box(family)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    stateful: bool
    entry: FilterEntry | None  # None: no entry matched (implicit) or no filter applied

    @property
    def permitted(self) -> bool:
        return self.action is Action.PERMIT


def matches(box: Box, packet: Packet) -> bool:
    values = (packet.proto, packet.src, packet.sport, packet.dst, packet.dport)
    return all(lo <= v <= hi for (lo, hi), v in zip(box, values, strict=True))


def evaluate(
    chain: Sequence[FilterEntry], packet: Packet, implicit: Action = Action.DENY
) -> Verdict:
    """First match over the chain; no filter at all lets everything pass."""
    if not chain:
        return Verdict(Action.PERMIT, False, None)
    for entry in chain:
        if matches(entry.box, packet):
            return Verdict(entry.action, entry.stateful and entry.action is Action.PERMIT, entry)
    return Verdict(implicit, False, None)


def intersect(a: Box, b: Box) -> Box | None:
    out = []
    for (alo, ahi), (blo, bhi) in zip(a, b, strict=True):
        lo, hi = max(alo, blo), min(ahi, bhi)
        if lo > hi:
            return None
        out.append((lo, hi))
    return (out[0], out[1], out[2], out[3], out[4])


def subtract(a: Box, b: Box) -> list[Box]:
    """``a`` minus ``b`` as disjoint boxes (at most two per dimension)."""
    if intersect(a, b) is None:
        return [a]
    pieces: list[Box] = []
    rest = list(a)
    for dim, ((alo, ahi), (blo, bhi)) in enumerate(zip(a, b, strict=True)):
        if alo < blo:
            low = list(rest)
            low[dim] = (alo, blo - 1)
            pieces.append((low[0], low[1], low[2], low[3], low[4]))
        if ahi > bhi:
            high = list(rest)
            high[dim] = (bhi + 1, ahi)
            pieces.append((high[0], high[1], high[2], high[3], high[4]))
        rest[dim] = (max(alo, blo), min(ahi, bhi))
    return pieces


def subtract_all(boxes: list[Box], cut: Box) -> list[Box]:
    return [piece for box in boxes for piece in subtract(box, cut)]


class TooComplex(Exception):
    """The filters split packet space into more pieces than the analysis budget allows."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


MAX_PIECES = 20_000  # real configurations need a few dozen; hostile ones could need millions


def classify(
    chain: Sequence[FilterEntry],
    region: Box,
    implicit: Action = Action.DENY,
    budget: int = MAX_PIECES,
) -> list[tuple[Box, Verdict]]:
    """Split ``region`` into boxes, each decided by one entry (or by the implicit verdict).

    Raises :class:`TooComplex` when more than ``budget`` pieces would be needed.
    """
    if not chain:
        return [(region, Verdict(Action.PERMIT, False, None))]
    decided: list[tuple[Box, Verdict]] = []
    remaining = [region]
    for entry in chain:
        if not remaining:
            break
        verdict = Verdict(entry.action, entry.stateful and entry.action is Action.PERMIT, entry)
        next_remaining: list[Box] = []
        for box in remaining:
            hit = intersect(box, entry.box)
            if hit is None:
                next_remaining.append(box)
                continue
            decided.append((hit, verdict))
            next_remaining += subtract(box, entry.box)
        remaining = next_remaining
        if len(remaining) + len(decided) > budget:
            raise TooComplex(f"more than {budget} pieces of packet space", entry.line)
    decided += [(box, Verdict(implicit, False, None)) for box in remaining]
    return decided


# --- IX access-list syntax -------------------------------------------------------------------


def _protocol(word: str, family: int) -> Interval:
    if word == "ip":
        return (0, 255)
    if word == "icmp":
        return (ICMP6, ICMP6) if family == 6 else (ICMP4, ICMP4)
    if word in _PROTOCOLS:
        value = _PROTOCOLS[word]
    elif word.isdigit() and int(word) <= 255:
        value = int(word)
    else:
        raise ValueError(f"unknown protocol {word!r}")
    return (value, value)


def _port(word: str) -> int:
    value = _PORT_NAMES.get(word)
    if value is None:
        if not word.isdigit() or int(word) > 65535:
            raise ValueError(f"not a port: {word!r}")
        value = int(word)
    return value


def _port_spec(words: list[str]) -> Interval:
    op = words.pop(0) if words else "any"
    if op == "any":
        return ANY_PORT
    if op == "eq":
        p = _port(words.pop(0))
        return (p, p)
    if op == "range":
        low, high = _port(words.pop(0)), _port(words.pop(0))
        if low > high:
            raise ValueError("port range upside down")
        return (low, high)
    if op == "gt":
        p = _port(words.pop(0))
        if p >= 65535:
            raise ValueError("no port is greater than 65535")
        return (p + 1, 65535)
    if op == "lt":
        p = _port(words.pop(0))
        if p == 0:
            raise ValueError("no port is less than 0")
        return (0, p - 1)
    raise ValueError(f"unsupported port operator {op!r}")


def _address(words: list[str], family: int) -> Interval:
    word = words.pop(0)
    if word == "any":
        return address_space(family)
    if word == "host":
        word = words.pop(0)
    return prefix_interval(word, family)


def parse_entry(words: Sequence[str], family: int) -> tuple[Action, Box]:
    """``permit udp src any sport any dest any dport eq 546`` → (action, box).

    Raises ValueError (or IndexError, for a truncated entry) on anything else.
    """
    rest = list(words)
    action = Action(rest.pop(0))
    proto = _protocol(rest.pop(0), family)
    src = dst = address_space(family)
    sport = dport = ANY_PORT
    seen: set[str] = set()
    while rest:
        key = rest.pop(0)
        if key in seen:
            raise ValueError(f"{key} given twice")
        seen.add(key)
        if key == "src":
            src = _address(rest, family)
        elif key == "dest":
            dst = _address(rest, family)
        elif key in ("sport", "dport"):
            if proto[0] != proto[1] or proto[0] not in _PORTED:
                raise ValueError(f"{key} needs protocol tcp or udp")
            spec = _port_spec(rest)
            if key == "sport":
                sport = spec
            else:
                dport = spec
        else:
            raise ValueError(f"unexpected {key!r}")
    return action, (proto, src, sport, dst, dport)
