"""The edge policy: what a site's routers must do, derived from its :class:`SiteProfile`.

The policy decides everything that matters (filters, DNS forwarding, which DHCPv6 and RA pieces
exist); renderers only print it in a vendor's syntax. The filter lists keep the seed's names
(``v6-permit-list`` …) because they are meaningful to integrators who know the samples.

IPv6 side (WAN towards NTT NGN, 収容ルータ): inbound only DHCPv6 and ICMPv6, then deny all;
outbound the same static permits, then everything stateful so replies come back.
IPv4 linkage side (医療機関等ネットワーク連携): nothing from the terminal's linkage NIC may start a
connection; in-hospital systems reach it statefully.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from onshi.edge.areas import AreaFacts, load_catalog
from onshi.edge.site import Layout, LineMode, SiteProfile


class Action(enum.StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"


@dataclass(frozen=True)
class Rule:
    """One filter entry; addresses are always "any" at this level (the policy is site-wide)."""

    action: Action
    protocol: str  # "ip" (any), "tcp", "udp", "icmp" (ICMPv6 in an IPv6 list)
    dport: int | None = None

    @property
    def matches_everything(self) -> bool:
        return self.protocol == "ip" and self.dport is None


@dataclass(frozen=True)
class AccessList:
    name: str
    family: int
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class DynamicList:
    """A stateful list: traffic matching ``access`` passes and its replies are let back in."""

    name: str
    family: int
    access: str


@dataclass(frozen=True)
class FilterUse:
    list_name: str
    seq: int
    direction: Direction


@dataclass(frozen=True)
class ChainEntry:
    """A rule as seen on an interface: resolved through the lists, in evaluation order."""

    rule: Rule
    stateful: bool
    list_name: str


@dataclass(frozen=True)
class DnsForwarder:
    address: ipaddress.IPv6Address
    priority: int


@dataclass(frozen=True)
class DnsProxy:
    """The router answers the terminal's DNS and forwards the OQS domains to the OQS servers."""

    url_list: str
    forwarders: tuple[DnsForwarder, ...]
    domains: tuple[str, ...]


@dataclass(frozen=True)
class WanPolicy:
    autoselect: bool  # let the router pick RA /64 or DHCPv6-PD /56
    nd_proxy: bool  # proxy neighbour discovery of the /64 to the terminal LAN
    prefix_delegation: bool  # ask for a prefix and hand a /64 to the terminal LAN
    request_dns: bool  # ask the line's DHCPv6 server for DNS servers

    @property
    def dhcp_client(self) -> bool:
        return self.prefix_delegation or self.request_dns


@dataclass(frozen=True)
class TerminalLanPolicy:
    router_advertisement: bool
    other_config_flag: bool  # tells the terminal to ask DHCPv6 for "other" settings (DNS)
    dhcp_server: bool


@dataclass(frozen=True)
class EdgePolicy:
    profile: SiteProfile
    area: AreaFacts
    ipv6_lists: tuple[AccessList, ...]
    ipv6_dynamic: tuple[DynamicList, ...]
    ipv4_lists: tuple[AccessList, ...]
    ipv4_dynamic: tuple[DynamicList, ...]
    wan_filters: tuple[FilterUse, ...]
    linkage_filters: tuple[FilterUse, ...]
    wan: WanPolicy
    terminal_lan: TerminalLanPolicy
    dns_proxy: DnsProxy | None
    pppoe_bridge: bool  # the receipt terminal's online claims (オンライン請求) cross by PPPoE only
    routers: tuple[str, ...]

    @property
    def dhcpv6(self) -> bool:
        return self.wan.dhcp_client or self.terminal_lan.dhcp_server

    def filters(self, where: str, direction: Direction) -> tuple[FilterUse, ...]:
        uses = self.wan_filters if where == "wan" else self.linkage_filters
        return tuple(sorted((u for u in uses if u.direction is direction), key=lambda u: u.seq))

    def chain(self, where: str, direction: Direction) -> tuple[ChainEntry, ...]:
        """The rules an interface applies, in order: what non-IX renderers print."""
        family = 6 if where == "wan" else 4
        lists = {a.name: a for a in (self.ipv6_lists if family == 6 else self.ipv4_lists)}
        dynamic = {d.name: d for d in (self.ipv6_dynamic if family == 6 else self.ipv4_dynamic)}
        entries: list[ChainEntry] = []
        for use in self.filters(where, direction):
            if use.list_name in dynamic:
                access = lists[dynamic[use.list_name].access]
                entries += [
                    ChainEntry(r, r.action is Action.PERMIT, use.list_name) for r in access.rules
                ]
            else:
                entries += [ChainEntry(r, False, use.list_name) for r in lists[use.list_name].rules]
        return tuple(entries)


DHCPV6_CLIENT_PORT = 546
DHCPV6_SERVER_PORT = 547

_DENY_ALL = Rule(Action.DENY, "ip")
_PERMIT_ALL = Rule(Action.PERMIT, "ip")


def derive_policy(profile: SiteProfile) -> EdgePolicy:
    """The one place that decides what a site's routers do."""
    catalog = load_catalog()
    area = catalog.area(profile.area)
    proxy = profile.dns_proxy
    mode = profile.line_mode
    wan = WanPolicy(
        autoselect=mode is LineMode.AUTO,
        nd_proxy=mode in (LineMode.AUTO, LineMode.RA64),
        prefix_delegation=mode in (LineMode.AUTO, LineMode.PD56),
        request_dns=proxy,
    )
    # The seed's blue lines: without the DNS proxy the terminal is given its DNS servers by hand,
    # so it needs no DHCPv6 "other configuration" from the router.
    lan = TerminalLanPolicy(router_advertisement=True, other_config_flag=proxy, dhcp_server=proxy)
    dns = (
        DnsProxy(
            url_list=catalog.url_list_name,
            forwarders=tuple(
                DnsForwarder(address, priority)
                for address, priority in zip(area.oqs_dns, catalog.proxy_priorities, strict=True)
            ),
            domains=profile.domains,
        )
        if proxy
        else None
    )
    return EdgePolicy(
        profile=profile,
        area=area,
        ipv6_lists=(
            AccessList("v6-deny-list", 6, (_DENY_ALL,)),
            AccessList("v6-dyn-list", 6, (_PERMIT_ALL,)),
            AccessList(
                "v6-permit-list",
                6,
                (
                    Rule(Action.PERMIT, "udp", DHCPV6_CLIENT_PORT),
                    Rule(Action.PERMIT, "udp", DHCPV6_SERVER_PORT),
                    Rule(Action.PERMIT, "icmp"),
                ),
            ),
        ),
        ipv6_dynamic=(DynamicList("v6-dflt-list", 6, "v6-dyn-list"),),
        ipv4_lists=(
            AccessList("v4-deny-list", 4, (_DENY_ALL,)),
            AccessList("v4-permit-list", 4, (_PERMIT_ALL,)),
        ),
        ipv4_dynamic=(DynamicList("v4-dflt-list", 4, "v4-permit-list"),),
        wan_filters=(
            FilterUse("v6-permit-list", 100, Direction.IN),
            FilterUse("v6-deny-list", 200, Direction.IN),
            FilterUse("v6-permit-list", 100, Direction.OUT),
            FilterUse("v6-dflt-list", 200, Direction.OUT),
        ),
        linkage_filters=(
            FilterUse("v4-deny-list", 100, Direction.IN),
            FilterUse("v4-dflt-list", 100, Direction.OUT),
        ),
        wan=wan,
        terminal_lan=lan,
        dns_proxy=dns,
        pppoe_bridge=True,
        routers=("router1", "router2") if profile.layout is Layout.A else ("router",),
    )
