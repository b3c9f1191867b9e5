"""Per-vendor facts the policy does not decide: port names, filter numbering, file layout."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from onshi.edge.policy import Action, ChainEntry, Direction, EdgePolicy
from onshi.edge.site import Layout, LineMode


class Vendor(enum.StrEnum):
    IX = "ix"  # NEC UNIVERGE IX (the seed)
    RTX = "rtx"  # YAMAHA RTX
    LINUX = "linux"  # nftables + dnsmasq + radvd/ndppd or systemd-networkd


@dataclass(frozen=True)
class Ports:
    """Interface names of the site's roles on one vendor's hardware."""

    wan: str
    receipt: str
    terminal: str
    linkage: str
    hospital: str
    vrf: str | None = None


IX_PORTS = {
    Layout.A: Ports(
        wan="GigaEthernet0.0",
        receipt="GigaEthernet1.0",
        terminal="GigaEthernet2.0",
        # router ②: GigaEthernet0.0 faces the in-hospital systems, 1.0 the terminal's linkage NIC
        linkage="GigaEthernet1.0",
        hospital="GigaEthernet0.0",
    ),
    Layout.B: Ports(
        wan="GigaEthernet0.0",
        receipt="GigaEthernet1.0",
        terminal="GigaEthernet2:1.0",
        linkage="GigaEthernet2:2.0",
        hospital="GigaEthernet2:3.0",
        vrf="VRF1",
    ),
}
# The seed's layout B switch ports: VLAN group per role (terminal, linkage, in-hospital).
IX_VLAN_GROUPS = ((1, (1, 3, 5)), (2, (2, 4, 6)), (3, (7,)))

RTX_PORTS = {
    # RTX1220-class: lan1 switch, lan2 to the ONU, lan3 for the receipt terminal.
    Layout.A: Ports(wan="lan2", receipt="lan3", terminal="lan1", linkage="lan1", hospital="lan2"),
    Layout.B: Ports(
        wan="lan2", receipt="lan3", terminal="vlan1", linkage="vlan2", hospital="vlan3"
    ),
}

LINUX_PORTS = {
    Layout.A: Ports(wan="wan0", receipt="rece0", terminal="oqs0", linkage="link0", hospital="lan0"),
    Layout.B: Ports(
        wan="wan0",
        receipt="rece0",
        terminal="lan0.1",
        linkage="lan0.2",
        hospital="lan0.3",
        vrf="vrf-link",
    ),
}


def effective_line_mode(policy: EdgePolicy, vendor: Vendor) -> LineMode:
    """Only IX picks RA or PD by itself; elsewhere ``auto`` means the commoner RA /64 line."""
    mode = policy.profile.line_mode
    if mode is LineMode.AUTO and vendor is not Vendor.IX:
        return LineMode.RA64
    return mode


@dataclass(frozen=True)
class NumberedFilter:
    """An RTX filter: number, and whether it is a dynamic (stateful) one."""

    number: int
    text: str
    dynamic: bool


def rtx_filters(
    policy: EdgePolicy, where: str, direction: Direction, base: int
) -> list[NumberedFilter]:
    """The policy's chain as RTX numbered filters (a stateful "any" becomes tcp, udp and icmp)."""
    family = "ipv6 " if where == "wan" else ""
    icmp = "icmp6" if where == "wan" else "icmp"
    out: list[NumberedFilter] = []
    number = base
    for entry in policy.chain(where, direction):
        out += _rtx_entry(entry, family, icmp, number)
        number += 10
    return out


def _rtx_entry(entry: ChainEntry, family: str, icmp: str, number: int) -> list[NumberedFilter]:
    rule = entry.rule
    if entry.stateful:
        protocols = ("tcp", "udp", icmp) if rule.protocol == "ip" else (rule.protocol,)
        return [
            NumberedFilter(number + i, f"{family}filter dynamic {number + i} * * {p}", True)
            for i, p in enumerate(protocols)
        ]
    verb = "pass" if rule.action is Action.PERMIT else "reject"
    if rule.protocol == "ip":
        fields = "* * * * *"
    elif rule.protocol == "icmp":
        fields = f"* * {icmp} * *"
    else:
        fields = f"* * {rule.protocol} * {rule.dport if rule.dport is not None else '*'}"
    return [NumberedFilter(number, f"{family}filter {number} {verb} {fields}", False)]


def rtx_domain(pattern: str) -> str:
    """RTX ``dns server select`` takes ``*.example.jp`` or an exact name."""
    body = pattern.lstrip("*").lstrip(".")
    return f"*.{body}" if pattern.startswith("*") else body


def bare_domain(pattern: str) -> str:
    """dnsmasq's ``server=/example.jp/`` already covers every name under it."""
    return pattern.lstrip("*").lstrip(".")
