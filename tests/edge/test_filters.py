"""The first-match evaluator, and property tests that the lint's verdicts agree with it.

For each filter rule, random filter chains are written as IX text and linted. When the rule
fires, its witness packet must really show the problem when evaluated through the filters; when
it stays silent, sampled packets of the class it speaks about must all pass the evaluator's test.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from onshi.edge.ixconfig.filters import (
    ICMP6,
    TCP,
    UDP,
    Action,
    Packet,
    classify,
    evaluate,
    full_box,
    matches,
    parse_entry,
    subtract,
)
from onshi.edge.ixconfig.model import load
from onshi.edge.lint import lint_text

# --- unit tests -----------------------------------------------------------------------------


def v6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


def test_parse_entry_forms() -> None:
    action, box = parse_entry(
        ["permit", "udp", "src", "any", "sport", "any", "dest", "any", "dport", "eq", "546"], 6
    )
    assert action is Action.PERMIT and box[0] == (UDP, UDP) and box[4] == (546, 546)
    _, box = parse_entry(
        [
            "deny",
            "tcp",
            "src",
            "2001:db8::/32",
            "dest",
            "host",
            "2001:db8::1",
            "dport",
            "range",
            "1000",
            "2000",
        ],
        6,
    )
    assert box[1] == (v6("2001:db8::"), v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"))
    assert box[3] == (v6("2001:db8::1"),) * 2 and box[4] == (1000, 2000)
    _, box = parse_entry(["permit", "icmp", "src", "any", "dest", "any"], 4)
    assert box[0] == (1, 1)
    _, box = parse_entry(
        [
            "permit",
            "tcp",
            "src",
            "any",
            "sport",
            "gt",
            "1023",
            "dest",
            "any",
            "dport",
            "lt",
            "1024",
        ],
        4,
    )
    assert box[2] == (1024, 65535) and box[4] == (0, 1023)


@pytest.mark.parametrize("text", [
    "allow ip src any dest any", "permit ip src any sport eq 5 dest any", "permit tcp src any dport neq 5",
    "permit tcp src 10.0.0.0/8 dest any", "permit bogus src any dest any", "permit tcp src any src any",
    "permit tcp src", "permit udp src any dport eq 70000", "permit udp src any dport range 9 3",
])  # fmt: skip
def test_parse_entry_refuses(text: str) -> None:
    with pytest.raises((ValueError, IndexError)):
        parse_entry(text.split(), 6)


def test_evaluate_first_match_and_defaults() -> None:
    config = load(
        "ipv6 access-list a permit udp src any sport any dest any dport eq 546\n"
        "ipv6 access-list b deny ip src any dest any\n"
        "interface GigaEthernet0.0\n  ipv6 filter b 200 in\n  ipv6 filter a 100 in\n!\n"
    )
    chain = config.chain(config.interfaces["GigaEthernet0.0"], 6, "in")
    assert [e.list_name for e in chain] == ["a", "b"]  # by sequence number, not by line
    dhcp = Packet(6, UDP, v6("fe80::1"), 547, v6("fe80::2"), 546)
    other = Packet(6, TCP, v6("2001:db8::1"), 1234, v6("2001:db8::2"), 443)
    assert evaluate(chain, dhcp).permitted and evaluate(chain, dhcp).entry is chain[0]
    assert not evaluate(chain, other).permitted
    assert evaluate([], other).permitted  # no filter: everything passes
    assert evaluate(chain[:1], other).entry is None and not evaluate(chain[:1], other).permitted
    assert evaluate(chain[:1], other, Action.PERMIT).permitted


# --- property tests -------------------------------------------------------------------------

PREFIXES = [
    "any",
    "fe80::/10",
    "fe80::/64",
    "2001:db8::/32",
    "host 2001:db8::1",
    "::/1",
    "8000::/1",
]
SPORTS = ["", "sport any", "sport eq 547", "sport range 500 600", "sport gt 1000"]
DPORTS = ["", "dport any", "dport eq 546", "dport eq 547", "dport lt 1024", "dport range 540 550"]
ADDRESSES = [
    "fe80::1",
    "fe80::1:2",
    "fe80::8000:0:0:1",
    "2001:db8::1",
    "2001:db8::2",
    "2404:1a8::1",
    "::",
    "febf::1",
    "ffff::1",
]


@st.composite
def entries(draw: st.DrawFn) -> str:
    action = draw(st.sampled_from(["permit", "deny"]))
    proto = draw(st.sampled_from(["ip", "tcp", "udp", "icmp", "50"]))
    src, dst = draw(st.sampled_from(PREFIXES)), draw(st.sampled_from(PREFIXES))
    sport = draw(st.sampled_from(SPORTS)) if proto in ("tcp", "udp") else ""
    dport = draw(st.sampled_from(DPORTS)) if proto in ("tcp", "udp") else ""
    return " ".join(w for w in [action, proto, "src", src, sport, "dest", dst, dport] if w)


@st.composite
def tidy_entries(draw: st.DrawFn) -> str:
    """Entries of a careful integrator: DHCPv6 and ICMPv6 permits, denies of anything."""
    src = draw(st.sampled_from(PREFIXES))
    return draw(st.sampled_from([
        f"permit udp src {src} sport any dest any dport eq 546",
        f"permit udp src {src} dest any dport eq 547",
        f"permit icmp src {src} dest any",
        f"deny ip src {src} dest any",
        f"deny udp src {src} sport eq 547 dest any",
        f"permit tcp src {src} dest any",
    ]))  # fmt: skip


@st.composite
def wan_configs(draw: st.DrawFn) -> str:
    """A WAN with 0-3 inbound and 0-3 outbound filters over random lists, some dynamic.

    Half the time the lists are "tidy" and inbound ends in deny-all, so that the rules' silent
    side is exercised as much as their findings.
    """
    tidy = draw(st.booleans())
    lines: list[str] = []
    names = [f"l{i}" for i in range(draw(st.integers(1, 3)))]
    for name in names:
        pool = tidy_entries() if tidy else entries()
        lines += [
            f"ipv6 access-list {name} {e}" for e in draw(st.lists(pool, min_size=1, max_size=4))
        ]
    lines.append("ipv6 access-list zz deny ip src any dest any")
    lines.append("ipv6 access-list all permit ip src any dest any")
    lines.append(f"ipv6 access-list dynamic d0 access {draw(st.sampled_from([*names, 'all']))}")
    iface = ["interface GigaEthernet0.0", "  ipv6 enable", "  ipv6 dhcp client pd6c"]
    for direction in ("in", "out"):
        usable = names + (["d0"] if direction == "out" else [])
        for seq in draw(st.lists(st.integers(1, 500), max_size=3, unique=True)):
            iface.append(f"  ipv6 filter {draw(st.sampled_from(usable))} {seq} {direction}")
        if tidy:
            iface.append(f"  ipv6 filter {'zz' if direction == 'in' else 'd0'} 900 {direction}")
    return (
        "\n".join(
            [
                *lines,
                *iface,
                "!",
                "ipv6 dhcp client-profile pd6c",
                "  ia-pd subscriber GigaEthernet0.0",
                "!",
            ]
        )
        + "\n"
    )


def packets(proto: st.SearchStrategy[int], src: list[str], sport: st.SearchStrategy[int],
            dst: list[str], dport: st.SearchStrategy[int]) -> st.SearchStrategy[Packet]:  # fmt: skip
    return st.builds(
        lambda p, s, sp, d, dp: Packet(6, p, v6(s), sp if p in (TCP, UDP) else 0, v6(d), dp if p in (TCP, UDP) else 0),
        proto, st.sampled_from(src), sport, st.sampled_from(dst), dport,
    )  # fmt: skip


PORT = st.one_of(
    st.sampled_from([0, 545, 546, 547, 548, 600, 1023, 1024, 65535]), st.integers(0, 65535)
)
ANY_PACKET = packets(st.sampled_from([TCP, UDP, ICMP6, 50, 0]), ADDRESSES, PORT, ADDRESSES, PORT)
LINK_LOCAL = [
    a for a in ADDRESSES if ipaddress.IPv6Address(a) in ipaddress.IPv6Network("fe80::/10")
]
DHCPV6_REPLY = packets(st.just(UDP), LINK_LOCAL, st.just(547), LINK_LOCAL, st.just(546))
ICMPV6 = packets(st.just(ICMP6), ADDRESSES, st.just(0), ADDRESSES, st.just(0))
TCP_PACKET = packets(st.just(TCP), ADDRESSES, PORT, ADDRESSES, PORT)

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chains(text: str) -> tuple[list, list]:  # type: ignore[type-arg]
    config = load(text)
    wan = config.interfaces["GigaEthernet0.0"]
    return config.chain(wan, 6, "in"), config.chain(wan, 6, "out")


def witnesses(text: str, rule: str) -> list[Packet]:
    hits = [f for f in lint_text(text).findings if f.rule == rule]
    assert all(f.witness is not None for f in hits)
    return [f.witness for f in hits if f.witness is not None]


def allowed_inbound(p: Packet) -> bool:
    return p.proto == ICMP6 or (p.proto == UDP and p.dport in (546, 547))


@PROPERTY
@given(wan_configs(), st.lists(DHCPV6_REPLY, min_size=5, max_size=5))
def test_dhcpv6_rule_agrees_with_evaluation(text: str, sample: list[Packet]) -> None:
    inbound, _ = chains(text)
    found = witnesses(text, "dhcpv6-inbound-allowed")
    if found:
        (w,) = found
        assert w.proto == UDP and w.sport == 547 and w.dport == 546
        assert w.src >> 118 == 0xFE80 >> 6 and w.dst >> 118 == 0xFE80 >> 6
        assert not evaluate(inbound, w).permitted
    else:
        assert all(evaluate(inbound, p).permitted for p in sample)


@PROPERTY
@given(wan_configs(), st.lists(ICMPV6, min_size=5, max_size=5))
def test_icmpv6_rule_agrees_with_evaluation(text: str, sample: list[Packet]) -> None:
    inbound, _ = chains(text)
    found = witnesses(text, "icmpv6-inbound-allowed")
    if found:
        (w,) = found
        assert w.proto == ICMP6 and not evaluate(inbound, w).permitted
    else:
        assert all(evaluate(inbound, p).permitted for p in sample)


@PROPERTY
@given(wan_configs(), st.lists(ANY_PACKET, min_size=8, max_size=8))
def test_default_deny_rule_agrees_with_evaluation(text: str, sample: list[Packet]) -> None:
    inbound, _ = chains(text)
    found = witnesses(text, "wan-inbound-default-deny")
    for w in found:
        verdict = evaluate(inbound, w)
        # either the packet falls through to the implicit default, or it is let in beyond need
        assert verdict.entry is None or (verdict.permitted and not allowed_inbound(w))
    if not found:
        for p in sample:
            # an explicit deny-all decides everything: the implicit default never matters …
            assert evaluate(inbound, p, Action.PERMIT) == evaluate(inbound, p, Action.DENY)
            # … and nothing beyond DHCPv6 and ICMPv6 comes in
            if not allowed_inbound(p):
                assert not evaluate(inbound, p).permitted


@PROPERTY
@given(wan_configs(), st.lists(TCP_PACKET, min_size=5, max_size=5))
def test_outbound_stateful_rule_agrees_with_evaluation(text: str, sample: list[Packet]) -> None:
    _, outbound = chains(text)
    found = witnesses(text, "wan-outbound-stateful")
    if found:
        (w,) = found
        verdict = evaluate(outbound, w)
        no_dynamic = not any(e.stateful for e in outbound)
        assert no_dynamic or (verdict.permitted and not verdict.stateful)
    else:
        assert any(e.stateful for e in outbound)
        for p in sample:
            verdict = evaluate(outbound, p)
            assert not verdict.permitted or verdict.stateful


@st.composite
def linkage_configs(draw: st.DrawFn) -> str:
    v4_prefixes = ["any", "192.168.0.0/24", "192.168.0.10", "10.0.0.0/8", "0.0.0.0/1"]
    lines = []
    for name in ("a", "b"):
        for _ in range(draw(st.integers(1, 3))):
            action = draw(st.sampled_from(["permit", "deny", "deny"]))
            proto = draw(st.sampled_from(["ip", "tcp", "udp", "icmp"]))
            port = (
                draw(st.sampled_from(["", "dport eq 445", "dport lt 1024"]))
                if proto in ("tcp", "udp")
                else ""
            )
            src, dst = draw(st.sampled_from(v4_prefixes)), draw(st.sampled_from(v4_prefixes))
            lines.append(
                " ".join(
                    w
                    for w in ["ip access-list", name, action, proto, "src", src, "dest", dst, port]
                    if w
                )
            )
    lines += [
        "interface GigaEthernet1.0",
        "  description ## Renkei ##",
        "  ip address 192.168.0.254/24",
    ]
    for seq in draw(st.lists(st.integers(1, 300), max_size=2, unique=True)):
        lines.append(f"  ip filter {draw(st.sampled_from(['a', 'b']))} {seq} in")
    if draw(st.booleans()):  # a deny-all at the end, so that silence is exercised too
        lines.insert(0, "ip access-list zz deny ip src any dest any")
        lines.append("  ip filter zz 999 in")
    return "\n".join(lines) + "\n!\n"


V4_PACKET = st.builds(
    lambda p, s, d, port: Packet(4, p, int(ipaddress.IPv4Address(s)), port if p in (TCP, UDP) else 0,
                                  int(ipaddress.IPv4Address(d)), port if p in (TCP, UDP) else 0),
    st.sampled_from([TCP, UDP, 1, 47]),
    st.sampled_from(["192.168.0.10", "192.168.0.1", "192.168.1.5", "10.1.2.3", "203.0.113.9"]),
    st.sampled_from(["192.168.1.5", "192.168.0.10", "10.1.2.3", "0.0.0.0"]),
    PORT,
)  # fmt: skip


@PROPERTY
@given(linkage_configs(), st.lists(V4_PACKET, min_size=8, max_size=8))
def test_linkage_rule_agrees_with_evaluation(text: str, sample: list[Packet]) -> None:
    config = load(text)
    inbound = config.chain(config.interfaces["GigaEthernet1.0"], 4, "in")
    hits = [f for f in lint_text(text).findings if f.rule == "linkage-inbound-deny"]
    if hits:
        w = hits[0].witness
        assert w is not None
        verdict = evaluate(inbound, w)
        assert verdict.permitted or verdict.entry is None
    else:
        for p in sample:
            assert not evaluate(inbound, p, Action.PERMIT).permitted
            assert not evaluate(inbound, p, Action.DENY).permitted


@PROPERTY
@given(wan_configs(), st.lists(ANY_PACKET, min_size=10, max_size=10))
def test_classify_partitions_space_like_evaluate(text: str, sample: list[Packet]) -> None:
    inbound, _ = chains(text)
    pieces = classify(inbound, full_box(6))
    for p in sample:
        owners = [verdict for box, verdict in pieces if matches(box, p)]
        assert len(owners) == 1  # a partition: every packet in exactly one piece
        assert owners[0] == evaluate(inbound, p)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_subtract_is_set_difference(data: st.DataObject) -> None:
    def interval() -> tuple[int, int]:
        lo = data.draw(st.integers(0, 20))
        return (lo, data.draw(st.integers(lo, 20)))

    a = tuple(interval() for _ in range(5))
    b = tuple(interval() for _ in range(5))
    pieces = subtract(a, b)  # type: ignore[arg-type]
    point = Packet(6, *(data.draw(st.integers(lo, hi)) for lo, hi in a))
    assume(True)
    in_pieces = sum(matches(piece, point) for piece in pieces)
    assert in_pieces == (0 if matches(b, point) else 1)  # type: ignore[arg-type]
