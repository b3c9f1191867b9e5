"""YAMAHA RTX and Linux renderings print the same policy as the IX one."""

from __future__ import annotations

import itertools
import re

import pytest

from onshi.edge.areas import Area, load_catalog
from onshi.edge.errors import RenderError
from onshi.edge.policy import Direction, derive_policy
from onshi.edge.render import render, render_policy
from onshi.edge.render.vendors import Vendor
from onshi.edge.site import SiteProfile

CATALOG = load_catalog()
COMBOS = list(itertools.product(["rtx", "linux"], ["a", "b"], ["east", "west"]))


def joined(profile: SiteProfile, vendor: str) -> str:
    return "\n".join(render(profile, vendor).values())


@pytest.mark.parametrize(("vendor", "layout", "area"), COMBOS)
def test_dns_forwarding_names_every_domain_with_only_the_areas_servers(
    vendor: str, layout: str, area: str
) -> None:
    profile = SiteProfile.create(area=area, layout=layout, extra_domains=["kenporen.com"])
    text = joined(profile, vendor)
    ours = CATALOG.area(Area(area))
    other = CATALOG.area(Area("west" if area == "east" else "east"))
    for server in ours.oqs_dns:
        assert str(server) in text
    for server in other.oqs_dns:
        assert str(server) not in text
    for domain in profile.domains:
        body = domain.lstrip("*").lstrip(".")
        if vendor == "rtx":
            assert re.search(
                rf"dns server select \d+ .*edns=on .*any \*?\.?{re.escape(body)}$", text, re.M
            )
        else:
            for server in ours.oqs_dns:
                assert f"server=/{body}/{server}" in text


@pytest.mark.parametrize(("vendor", "layout", "area"), COMBOS)
def test_files_per_layout_and_no_dns_lines_without_proxy(
    vendor: str, layout: str, area: str
) -> None:
    profile = SiteProfile.create(area=area, layout=layout, dns_proxy=False)
    configs = render(profile, vendor)
    assert list(configs) == (["router1", "router2"] if layout == "a" else ["router"])
    text = "\n".join(configs.values())
    assert "dns server select" not in text and "server=/" not in text
    assert "o_flag=off" in text if vendor == "rtx" else "OtherConfigFlag off" in text


def test_rtx_filters_follow_the_policy() -> None:
    text = joined(SiteProfile.create(area="east", layout="a"), "rtx")
    lines = text.splitlines()
    assert "ipv6 lan2 secure filter in 101000 101010 101020 101030" in lines
    assert "ipv6 filter 101030 reject * * * * *" in lines
    assert "ipv6 filter 101000 pass * * udp * 546" in lines
    out = next(line for line in lines if line.startswith("ipv6 lan2 secure filter out"))
    assert out.split(" dynamic ")[1].split() == ["101130", "101131", "101132"]
    assert "ipv6 filter dynamic 101130 * * tcp" in lines
    assert "pppoe pass-through member lan2 lan3" in lines
    assert (
        "ip lan1 secure filter in 200000" in lines and "ip filter 200000 reject * * * * *" in lines
    )


@pytest.mark.parametrize(("mode", "expect", "absent"), [
    ("auto", "ra-prefix@lan2::/64", "dhcp-prefix"),  # RTX cannot autoselect: RA /64
    ("ra64", "ipv6 lan2 dhcp service client ir=on", "dhcp-prefix"),
    ("pd56", "ipv6 prefix 1 dhcp-prefix@lan2::/64", "ra-prefix"),
])  # fmt: skip
def test_rtx_line_modes(mode: str, expect: str, absent: str) -> None:
    text = joined(SiteProfile.create(area="west", layout="a", line_mode=mode), "rtx")
    assert expect in text and absent not in text


def test_linux_filters_follow_the_policy() -> None:
    text = joined(SiteProfile.create(area="east", layout="a"), "linux")
    forward = text.split("chain forward {", 1)[1].split("}", 1)[0]
    inbound = [line.strip() for line in forward.splitlines() if 'iifname "wan0"' in line]
    assert inbound == [
        'iifname "wan0" meta l4proto udp th dport 546 accept',
        'iifname "wan0" meta l4proto udp th dport 547 accept',
        'iifname "wan0" meta l4proto ipv6-icmp accept',
        'iifname "wan0" drop',
    ]
    assert 'oifname "wan0" ct state new accept' in forward
    assert "policy drop;" in forward
    assert "ether type { 0x8863, 0x8864 } accept" in text
    assert 'iifname "link0" drop' in text and 'oifname "link0" ct state new accept' in text
    assert "edns-packet-max=1232" in text


@pytest.mark.parametrize(("mode", "expect", "absent"), [
    ("ra64", "/etc/ndppd.conf", "PrefixDelegationHint"),
    ("pd56", "PrefixDelegationHint=::/56", "ndppd"),
])  # fmt: skip
def test_linux_line_modes(mode: str, expect: str, absent: str) -> None:
    text = joined(SiteProfile.create(area="east", layout="b", line_mode=mode), "linux")
    assert expect in text and absent not in text
    assert "Kind=vrf" in text


def test_the_policy_decides_the_chains() -> None:
    policy = derive_policy(SiteProfile.create(area="east", layout="a"))
    inbound = policy.chain("wan", Direction.IN)
    assert inbound[-1].rule.matches_everything and inbound[-1].rule.action == "deny"
    outbound = policy.chain("wan", Direction.OUT)
    assert outbound[-1].stateful and not any(e.stateful for e in inbound)
    assert [e.rule.action for e in policy.chain("linkage", Direction.IN)] == ["deny"]


def test_a_broken_template_is_a_render_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import onshi.edge.render as render_module

    monkeypatch.setattr(
        render_module, "_templates", lambda vendor, layout: {"router": "ix/no-such.cfg.j2"}
    )
    with pytest.raises(RenderError):
        render_policy(derive_policy(SiteProfile.create(area="east", layout="b")), Vendor.IX)
