"""Rules about interfaces, bridges and references between configuration parts."""

from __future__ import annotations

from collections.abc import Iterator

from onshi.edge.lint.context import LintContext
from onshi.edge.lint.findings import Finding, Severity
from onshi.edge.lint.registry import finding, rule

MAX_ACL_NAME = 15  # IX refuses longer access-list names


@rule(
    "terminal-lan-ra",
    Severity.ERROR,
    "the terminal LAN sends router advertisements and serves the DHCPv6 it announces",
)
def terminal_lan_ra(ctx: LintContext) -> Iterator[Finding]:
    wan = ctx.wan
    if wan is None or not wan.ipv6_enabled:
        return
    rid = "terminal-lan-ra"
    lan = ctx.terminal_lan
    if lan is None:
        yield finding(
            rid,
            wan.line,
            f"{wan.name} (WAN) neither proxies ND to nor delegates a prefix to a terminal LAN: "
            "the terminal gets no IPv6 address",
        )
        return
    if lan.ra_enable is None:
        yield finding(
            rid,
            lan.line,
            f"{lan.name} (terminal LAN) sends no router advertisements: the terminal gets no "
            "IPv6 address (add `ipv6 nd ra enable`)",
        )
    needs_dhcp = ctx.config.proxy_dns_enable is not None or lan.ra_other_config is not None
    if needs_dhcp and lan.dhcp_server is None:
        yield finding(
            rid,
            lan.ra_other_config or lan.line,
            f"{lan.name} (terminal LAN) has no DHCPv6 server: the terminal does not learn the "
            "router's DNS proxy (add `ipv6 dhcp server pd6s`)",
        )
    if lan.dhcp_server is not None and lan.ra_other_config is None:
        yield finding(
            rid,
            lan.dhcp_server[1],
            f"{lan.name} serves DHCPv6 but its RAs lack the other-config flag: the terminal "
            "never asks for DNS servers (add `ipv6 nd ra other-config-flag`)",
        )


@rule(
    "receipt-bridge-pppoe-only",
    Severity.ERROR,
    "a bridge group joining the WAN passes PPPoE only",
)
def receipt_bridge_pppoe_only(ctx: LintContext) -> Iterator[Finding]:
    wan = ctx.wan
    if wan is None or wan.bridge_group is None:
        return
    group, line = wan.bridge_group
    bridge = ctx.config.bridges.get(group)
    if bridge is not None and bridge.words[2:] == ("bridge-only", "pppoe"):
        return
    yield finding(
        "receipt-bridge-pppoe-only",
        bridge.line if bridge is not None else line,
        f"bridge group {group} joins the WAN {wan.name} without `bridge {group} bridge-only "
        "pppoe`: IPv6 from the NGN crosses the bridge past every filter",
    )


@rule(
    "undefined-reference",
    Severity.ERROR,
    "every filter, access list, dynamic list, DHCP profile, url-list and interface used is defined",
)
def undefined_reference(ctx: LintContext) -> Iterator[Finding]:
    config = ctx.config
    rid = "undefined-reference"
    family_name = {4: "ip", 6: "ipv6"}
    for iface in config.interfaces.values():
        for use in iface.filters:
            key = (use.family, use.list_name)
            if key in config.access_lists or key in config.dynamic_lists:
                continue
            other = (10 - use.family, use.list_name)
            hint = (
                f" (it is an {family_name[10 - use.family]} list)"
                if other in config.access_lists or other in config.dynamic_lists
                else ""
            )
            yield finding(
                rid,
                use.line,
                f"{family_name[use.family]} filter {use.list_name} on {iface.name} is not "
                f"defined as an {family_name[use.family]} access-list{hint}",
            )
        for kind, ref, profiles in (
            ("client", iface.dhcp_client, config.client_profiles),
            ("server", iface.dhcp_server, config.server_profiles),
        ):
            if ref is not None and ref[0] not in profiles:
                yield finding(
                    rid, ref[1], f"ipv6 dhcp {kind}-profile {ref[0]} is used but not defined"
                )
        if iface.nd_proxy is not None and iface.nd_proxy[0] not in config.interfaces:
            yield finding(
                rid, iface.nd_proxy[1], f"ND proxy to interface {iface.nd_proxy[0]}, not defined"
            )
    for dynamic in config.dynamic_lists.values():
        if dynamic.access is None or (dynamic.family, dynamic.access) not in config.access_lists:
            yield finding(
                rid,
                dynamic.line,
                f"dynamic list {dynamic.name} refers to access-list {dynamic.access or '(none)'}, "
                "not defined",
            )
    for server in config.proxy_dns_servers:
        if server.url_list is not None and server.url_list not in config.url_lists:
            yield finding(
                rid, server.line, f"proxy-dns server uses url-list {server.url_list}, not defined"
            )
    for profile in config.client_profiles.values():
        for child in profile.children:
            if (
                child.startswith("ia-pd", "subscriber")
                and len(child.words) > 2
                and child.words[2] not in config.interfaces
            ):
                yield finding(
                    rid, child.line, f"prefix delegated to interface {child.words[2]}, not defined"
                )


@rule("acl-name-length", Severity.ERROR, "access-list names have at most 15 characters")
def acl_name_length(ctx: LintContext) -> Iterator[Finding]:
    named = [(a.name, a.line) for a in ctx.config.access_lists.values()]
    named += [(d.name, d.line) for d in ctx.config.dynamic_lists.values()]
    for name, line in named:
        if len(name) > MAX_ACL_NAME:
            yield finding(
                "acl-name-length",
                line,
                f"access-list name {name} has {len(name)} characters; IX accepts "
                f"at most {MAX_ACL_NAME}",
            )


@rule("vrf-before-address", Severity.WARNING, "an interface's VRF is set before its address")
def vrf_before_address(ctx: LintContext) -> Iterator[Finding]:
    for iface in ctx.config.interfaces.values():
        if iface.vrf and iface.address and iface.vrf[1] > iface.address[1]:
            yield finding(
                "vrf-before-address",
                iface.vrf[1],
                f"`ip vrf forwarding {iface.vrf[0]}` comes after the address on {iface.name}: "
                "entered in this order, IX deletes the address",
            )


@rule("unreadable-command", Severity.WARNING, "every filter-related command can be read")
def unreadable_command(ctx: LintContext) -> Iterator[Finding]:
    for line, message in ctx.config.syntax_problems:
        yield finding("unreadable-command", line, message)
