"""Rules about packet filters, proved over whole regions of packet space (see ixconfig.filters).

Each finding carries a witness packet; the property tests evaluate that packet through the
filters to check the lint tells the truth, and sample packets to check its silence does too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

from onshi.edge.ixconfig.filters import (
    ANY_PORT,
    ICMP6,
    NO_PORT,
    TCP,
    UDP,
    Box,
    FilterEntry,
    Packet,
    TooComplex,
    address_space,
    classify,
    full_box,
    prefix_interval,
    subtract_all,
)
from onshi.edge.lint.context import LintContext
from onshi.edge.lint.findings import Finding, Severity
from onshi.edge.lint.registry import Check, finding, rule

V6 = address_space(6)
LINK_LOCAL = prefix_interval("fe80::/10", 6)
# DHCPv6 replies from the line's server: link-local udp 547 → link-local udp 546.
DHCPV6_REPLY: Box = ((UDP, UDP), LINK_LOCAL, (547, 547), LINK_LOCAL, (546, 546))
ICMPV6_ANY: Box = ((ICMP6, ICMP6), V6, NO_PORT, V6, NO_PORT)
TCP_ANY: Box = ((TCP, TCP), V6, ANY_PORT, V6, ANY_PORT)
# What may come in from the NGN unsolicited: DHCPv6 (both ports, as the seed) and ICMPv6.
# (Port intervals of ICMPv6 are "any": its packets carry port 0, and entries never split them.)
INBOUND_ALLOWED: tuple[Box, ...] = (
    ((UDP, UDP), V6, ANY_PORT, V6, (546, 547)),
    ((ICMP6, ICMP6), V6, ANY_PORT, V6, ANY_PORT),
)


def _bounded(rule_id: str) -> Callable[[Check], Check]:
    """Turn an analysis that runs out of budget into a warning instead of a hang or a crash."""

    def wrap(check: Check) -> Check:
        @functools.wraps(check)
        def run(ctx: LintContext) -> Iterator[Finding]:
            try:
                yield from list(check(ctx))
            except TooComplex as exc:
                yield finding(
                    rule_id,
                    exc.line,
                    f"filters too complex to analyse ({exc}); this rule was not checked",
                    severity=Severity.WARNING,
                )

        return run

    return wrap


def _last_filter_line(ctx: LintContext, direction: str, family: int = 6) -> int:
    iface = ctx.wan if family == 6 else ctx.linkage
    assert iface is not None
    uses = iface.chain_uses(family, direction)
    return max((u.line for u in uses), default=iface.line)


def _wan_chain(ctx: LintContext, direction: str) -> list[FilterEntry] | None:
    wan = ctx.wan
    if wan is None or not wan.ipv6_enabled:
        return None
    return ctx.config.chain(wan, 6, direction)


@rule(
    "wan-inbound-default-deny",
    Severity.ERROR,
    "the WAN's inbound IPv6 filters end in deny-all and let in nothing but DHCPv6 and ICMPv6",
)
@_bounded("wan-inbound-default-deny")
def wan_inbound_default_deny(ctx: LintContext) -> Iterator[Finding]:
    chain = _wan_chain(ctx, "in")
    if chain is None:
        return
    assert ctx.wan is not None
    rid = "wan-inbound-default-deny"
    if not chain:
        yield finding(
            rid,
            ctx.wan.line,
            f"{ctx.wan.name} (WAN) has no inbound IPv6 filter: everything from the NGN reaches "
            "the terminal LAN",
            witness=Packet.corner(full_box(6), 6),
        )
        return
    pieces = classify(chain, full_box(6))
    residual = [box for box, verdict in pieces if verdict.entry is None]
    if residual:
        yield finding(
            rid,
            _last_filter_line(ctx, "in"),
            f"the inbound IPv6 filters of {ctx.wan.name} do not end in deny-all: e.g. "
            f"{Packet.corner(residual[0], 6)} matches no entry (add `ipv6 filter v6-deny-list "
            "200 in` with `deny ip src any dest any`)",
            witness=Packet.corner(residual[0], 6),
        )
    for box, verdict in pieces:
        if not verdict.permitted or verdict.entry is None:
            continue
        beyond = subtract_all([box], INBOUND_ALLOWED[0])
        beyond = subtract_all(beyond, INBOUND_ALLOWED[1])
        if beyond:
            witness = Packet.corner(beyond[0], 6)
            yield finding(
                rid,
                verdict.entry.line,
                f"{verdict.entry.list_name} lets in from the NGN more than DHCPv6 and ICMPv6, "
                f"e.g. {witness}: only replies to the terminal's own connections may come in",
                witness=witness,
            )
            return


def _denied_in(ctx: LintContext, region: Box) -> tuple[Packet, int] | None:
    chain = _wan_chain(ctx, "in")
    if not chain:
        return None
    for box, verdict in classify(chain, region):
        if not verdict.permitted:
            line = verdict.entry.line if verdict.entry else _last_filter_line(ctx, "in")
            return Packet.corner(box, 6), line
    return None


@rule("dhcpv6-inbound-allowed", Severity.ERROR, "DHCPv6 replies (udp 546) are let in on the WAN")
@_bounded("dhcpv6-inbound-allowed")
def dhcpv6_inbound_allowed(ctx: LintContext) -> Iterator[Finding]:
    denied = _denied_in(ctx, DHCPV6_REPLY)
    if denied:
        witness, line = denied
        yield finding(
            "dhcpv6-inbound-allowed",
            line,
            f"DHCPv6 replies to the client port are dropped on the WAN (e.g. {witness}): the "
            "router gets no prefix and no DNS servers from the line; permit udp dport eq 546",
            witness=witness,
        )


@rule("icmpv6-inbound-allowed", Severity.ERROR, "ICMPv6 is let in on the WAN")
@_bounded("icmpv6-inbound-allowed")
def icmpv6_inbound_allowed(ctx: LintContext) -> Iterator[Finding]:
    denied = _denied_in(ctx, ICMPV6_ANY)
    if denied:
        witness, line = denied
        yield finding(
            "icmpv6-inbound-allowed",
            line,
            f"ICMPv6 is dropped on the WAN (e.g. {witness}): neighbour discovery and path-MTU "
            "discovery break; permit icmp src any dest any",
            witness=witness,
        )


@rule(
    "wan-outbound-stateful",
    Severity.ERROR,
    "outbound traffic on the WAN passes a dynamic (stateful) filter so replies come back",
)
@_bounded("wan-outbound-stateful")
def wan_outbound_stateful(ctx: LintContext) -> Iterator[Finding]:
    chain = _wan_chain(ctx, "out")
    if chain is None:
        return
    assert ctx.wan is not None
    if not any(entry.stateful for entry in chain):
        yield finding(
            "wan-outbound-stateful",
            _last_filter_line(ctx, "out"),
            f"no dynamic (stateful) IPv6 filter outbound on {ctx.wan.name}: replies from the OQS "
            "servers hit the inbound deny-all (add `ipv6 filter v6-dflt-list 200 out`)",
            witness=Packet.corner(TCP_ANY, 6),
        )
        return
    for box, verdict in classify(chain, TCP_ANY):
        if verdict.permitted and not verdict.stateful:
            witness = Packet.corner(box, 6)
            where = f"line {verdict.entry.line}" if verdict.entry else "the implicit default"
            yield finding(
                "wan-outbound-stateful",
                verdict.entry.line if verdict.entry else _last_filter_line(ctx, "out"),
                f"outbound {witness} is permitted statically by {where} before any dynamic "
                "filter: its replies are not tracked and the inbound deny-all drops them",
                witness=witness,
            )
            return


@rule(
    "linkage-inbound-deny",
    Severity.ERROR,
    "the interface facing the terminal's IPv4 linkage NIC denies everything inbound",
)
@_bounded("linkage-inbound-deny")
def linkage_inbound_deny(ctx: LintContext) -> Iterator[Finding]:
    link = ctx.linkage
    if link is None:
        return
    rid = "linkage-inbound-deny"
    chain = ctx.config.chain(link, 4, "in")
    if not chain:
        yield finding(
            rid,
            link.line,
            f"{link.name} faces the terminal's linkage NIC but has no inbound IPv4 filter: the "
            "terminal can open connections into the in-hospital systems (add `ip filter "
            "v4-deny-list 100 in`)",
            witness=Packet.corner(full_box(4), 4),
        )
        return
    for box, verdict in classify(chain, full_box(4)):
        if verdict.permitted or verdict.entry is None:
            witness = Packet.corner(box, 4)
            why = (
                f"is permitted by line {verdict.entry.line}"
                if verdict.entry
                else "matches no entry (no deny-all at the end)"
            )
            yield finding(
                rid,
                verdict.entry.line if verdict.entry else _last_filter_line(ctx, "in", 4),
                f"inbound on {link.name} (from the terminal's linkage NIC), {witness} {why}: "
                "nothing may start from the terminal's side",
                witness=witness,
            )
            return
