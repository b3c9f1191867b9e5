"""One mutation of a seed configuration per rule: the rule fires, on the right line, alone."""

from __future__ import annotations

import pytest

from onshi.edge.lint import RULES, lint_text
from onshi.edge.lint.findings import Severity

from .conftest import SEED_CLEAN, line_of, read_fixture, replace_line

REQUIRED_RULES = {
    "wan-inbound-default-deny", "dhcpv6-inbound-allowed", "icmpv6-inbound-allowed",
    "wan-outbound-stateful", "oqs-domains-complete", "dns-area-consistent",
    "dns-server-redundant", "dns-proxy-consistent", "terminal-lan-ra", "linkage-inbound-deny",
    "receipt-bridge-pppoe-only", "undefined-reference",
}  # fmt: skip


def found(text: str, area: str | None = "east") -> set[tuple[str, int]]:
    return {(f.rule, f.line) for f in lint_text(text, area).findings}


def test_every_required_rule_is_registered() -> None:
    assert set(RULES) >= REQUIRED_RULES
    assert RULES["dns-server-redundant"].severity is Severity.WARNING


@pytest.mark.parametrize("name", SEED_CLEAN)
def test_seed_configs_are_clean(name: str) -> None:
    area = "west" if "west" in name else "east"
    assert lint_text(read_fixture(name), area).findings == ()
    assert lint_text(read_fixture(name)).findings == ()  # area inferred, still clean


@pytest.mark.parametrize(
    ("name", "first_west"), [("seed_router1.cfg", 19), ("seed_router3.cfg", 23)]
)
def test_verbatim_seed_lists_both_areas(name: str, first_west: int) -> None:
    text = read_fixture(name)
    assert first_west == line_of(text, "proxy-dns server 2001:a7ff:f014:d00::53:1")
    assert found(text, None) == {("dns-area-consistent", first_west)}
    # with the site's area known, each of the other area's servers is named
    assert found(text, "east") == {
        ("dns-area-consistent", first_west),
        ("dns-area-consistent", first_west + 1),
    }


def test_other_areas_servers() -> None:
    text = read_fixture("seed_router1_east.cfg")
    lines = {line_of(text, "2404:1a8:f583:d00::53:1"), line_of(text, "2404:1a8:f583:d00::53:2")}
    assert found(text, "west") == {("dns-area-consistent", n) for n in lines}


# --- wan-inbound-default-deny ---------------------------------------------------------------


def test_inbound_without_deny_all(router1: str) -> None:
    text = replace_line(router1, "ipv6 filter v6-deny-list 200 in", None)
    assert found(text) == {
        ("wan-inbound-default-deny", line_of(text, "ipv6 filter v6-permit-list 100 in"))
    }


def test_inbound_without_any_filter(router1: str) -> None:
    text = replace_line(router1, "ipv6 filter v6-deny-list 200 in", None)
    text = replace_line(text, "ipv6 filter v6-permit-list 100 in", None)
    assert found(text) == {("wan-inbound-default-deny", line_of(text, "interface GigaEthernet0.0"))}


def test_inbound_permits_more_than_dhcpv6_and_icmpv6(router1: str) -> None:
    text = replace_line(
        router1,
        "ipv6 dhcp enable",
        "ipv6 dhcp enable\nipv6 access-list v6-rdp permit tcp src any sport any dest any dport eq 3389",
    )
    text = replace_line(
        text,
        "ipv6 filter v6-permit-list 100 in",
        "  ipv6 filter v6-rdp 50 in\n  ipv6 filter v6-permit-list 100 in",
    )
    result = lint_text(text, "east")
    assert {(f.rule, f.line) for f in result.findings} == {
        ("wan-inbound-default-deny", line_of(text, "v6-rdp permit"))
    }
    witness = result.findings[0].witness
    assert witness is not None and witness.proto == 6 and witness.dport == 3389


def test_inbound_permit_all_before_deny(router1: str) -> None:
    text = replace_line(
        router1,
        "ipv6 filter v6-deny-list 200 in",
        "ipv6 filter v6-dyn-list 150 in\nipv6 filter v6-deny-list 200 in",
    )
    assert found(text) == {("wan-inbound-default-deny", line_of(text, "v6-dyn-list permit ip"))}


# --- dhcpv6-inbound-allowed / icmpv6-inbound-allowed ------------------------------------------


def test_dhcpv6_client_port_not_let_in(router1: str) -> None:
    text = replace_line(router1, "dport eq 546", None)
    assert found(text) == {("dhcpv6-inbound-allowed", line_of(text, "v6-deny-list deny ip"))}


def test_dhcpv6_denied_from_some_link_local_sources(router1: str) -> None:
    text = replace_line(
        router1,
        "ipv6 dhcp enable",
        "ipv6 dhcp enable\nipv6 access-list v6-ll deny udp src fe80::/64 sport any dest any dport eq 546",
    )
    text = replace_line(
        text,
        "ipv6 filter v6-permit-list 100 in",
        "ipv6 filter v6-ll 10 in\nipv6 filter v6-permit-list 100 in",
    )
    result = lint_text(text, "east")
    assert {(f.rule, f.line) for f in result.findings} == {
        ("dhcpv6-inbound-allowed", line_of(text, "v6-ll deny udp"))
    }


def test_icmpv6_not_let_in(router1: str) -> None:
    text = replace_line(router1, "v6-permit-list permit icmp", None)
    assert found(text) == {("icmpv6-inbound-allowed", line_of(text, "v6-deny-list deny ip"))}


# --- wan-outbound-stateful ------------------------------------------------------------------


def test_no_dynamic_filter_outbound(router1: str) -> None:
    text = replace_line(router1, "ipv6 filter v6-dflt-list 200 out", None)
    assert found(text) == {
        ("wan-outbound-stateful", line_of(text, "ipv6 filter v6-permit-list 100 out"))
    }


def test_static_permit_before_the_dynamic_filter(router1: str) -> None:
    text = replace_line(
        router1,
        "ipv6 filter v6-dflt-list 200 out",
        "ipv6 filter v6-dyn-list 150 out\nipv6 filter v6-dflt-list 200 out",
    )
    assert found(text) == {("wan-outbound-stateful", line_of(text, "v6-dyn-list permit ip"))}


# --- DNS ------------------------------------------------------------------------------------


def test_url_list_lacks_a_domain(router1: str) -> None:
    text = replace_line(router1, "*cybertrust.ne.jp", None)
    result = lint_text(text, "east")
    assert {(f.rule, f.line) for f in result.findings} == {
        ("oqs-domains-complete", line_of(text, "*secomtrust.net"))
    }
    assert "*cybertrust.ne.jp" in result.findings[0].message


def test_broader_wildcards_cover_required_domains(router1: str) -> None:
    text = replace_line(
        router1, "*cybertrust.ne.jp", "url-list online-sikaku permit domain *.ne.jp"
    )
    assert found(text) == set()


def test_only_one_oqs_server(router1: str) -> None:
    text = replace_line(router1, "2404:1a8:f583:d00::53:2", None)
    result = lint_text(text, "east")
    assert {(f.rule, f.line) for f in result.findings} == {
        ("dns-server-redundant", line_of(text, "2404:1a8:f583:d00::53:1"))
    }
    assert not result.has_errors


def test_servers_without_proxy_enable(router1: str) -> None:
    text = replace_line(router1, "proxy-dns ipv6 enable", None)
    assert found(text) == {("dns-proxy-consistent", line_of(text, "2404:1a8:f583:d00::53:1"))}


def test_proxy_enable_without_servers(router1: str) -> None:
    text = replace_line(router1, "2404:1a8:f583:d00::53:1", None)
    text = replace_line(text, "2404:1a8:f583:d00::53:2", None)
    assert found(text) == {("dns-proxy-consistent", line_of(text, "proxy-dns ipv6 enable"))}


# --- terminal LAN ---------------------------------------------------------------------------


def test_terminal_lan_without_ra(router1: str) -> None:
    text = replace_line(router1, "ipv6 nd ra enable", None)
    assert found(text) == {("terminal-lan-ra", line_of(text, "interface GigaEthernet2.0"))}


def test_terminal_lan_without_dhcpv6_server(router1: str) -> None:
    text = replace_line(router1, "ipv6 dhcp server pd6s", None)
    assert found(text) == {("terminal-lan-ra", line_of(text, "ipv6 nd ra other-config-flag"))}


def test_terminal_lan_without_other_config_flag(router1: str) -> None:
    text = replace_line(router1, "ipv6 nd ra other-config-flag", None)
    assert found(text) == {("terminal-lan-ra", line_of(text, "ipv6 dhcp server pd6s"))}


def test_terminal_lan_in_layout_b(router3: str) -> None:
    text = replace_line(router3, "ipv6 nd ra enable", None)
    assert found(text) == {("terminal-lan-ra", line_of(text, "interface GigaEthernet2:1.0"))}


# --- linkage --------------------------------------------------------------------------------


def test_linkage_without_inbound_filter(router2: str) -> None:
    text = replace_line(router2, "ip filter v4-deny-list 100 in", None)
    assert found(text) == {("linkage-inbound-deny", line_of(text, "interface GigaEthernet1.0"))}


def test_linkage_inbound_permits(router2: str) -> None:
    text = replace_line(router2, "ip filter v4-deny-list 100 in", "ip filter v4-permit-list 100 in")
    assert found(text) == {("linkage-inbound-deny", line_of(text, "v4-permit-list permit ip"))}


def test_linkage_in_layout_b(router3: str) -> None:
    text = replace_line(router3, "ip filter v4-deny-list 100 in", None)
    assert found(text) == {("linkage-inbound-deny", line_of(text, "interface GigaEthernet2:2.0"))}


# --- receipt bridge -------------------------------------------------------------------------


def test_bridge_without_pppoe_only(router1: str) -> None:
    text = replace_line(router1, "bridge 1 bridge-only pppoe", None)
    wan_bridge = line_of(text, "ipv6 filter v6-dflt-list 200 out") + 1
    assert text.splitlines()[wan_bridge - 1].strip() == "bridge-group 1"
    assert found(text) == {("receipt-bridge-pppoe-only", wan_bridge)}


def test_bridge_defined_for_everything(router3: str) -> None:
    text = replace_line(router3, "bridge 1 bridge-only pppoe", "bridge 1 protocol ieee")
    assert found(text) == {("receipt-bridge-pppoe-only", line_of(text, "bridge 1 protocol ieee"))}


# --- references -----------------------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "also"), [
    ("ipv6 filter v6-permit-list 100 out", "ipv6 filter v6-permit-lst 100 out", set()),
    ("ipv6 dhcp client pd6c", "ipv6 dhcp client pd6x", set()),
    ("ipv6 dhcp server pd6s", "ipv6 dhcp server pd6x", set()),
    ("d00::53:2 url-list", "proxy-dns server 2404:1a8:f583:d00::53:2 url-list onshi-typo priority 190", set()),
    ("dynamic v6-dflt-list", "ipv6 access-list dynamic v6-dflt-list access v6-nothing", {"wan-outbound-stateful"}),
    ("ipv6 filter v6-deny-list 200 in", "ipv6 filter v6-deny-lst 200 in", {"wan-inbound-default-deny"}),
])  # fmt: skip
def test_undefined_references(router1: str, old: str, new: str, also: set[str]) -> None:
    text = replace_line(router1, old, new)
    result = found(text)
    assert ("undefined-reference", line_of(text, new)) in result
    assert {rule for rule, _ in result} == {"undefined-reference"} | also


def test_filter_of_the_wrong_family(router2: str) -> None:
    text = replace_line(router2, "ip filter v4-deny-list 100 in", "ipv6 filter v4-deny-list 100 in")
    report = lint_text(text, "east")
    hit = [f for f in report.findings if f.rule == "undefined-reference"]
    assert [f.line for f in hit] == [line_of(text, "ipv6 filter v4-deny-list")]
    assert "it is an ip list" in hit[0].message


# --- extra rules ----------------------------------------------------------------------------


def test_acl_name_too_long(router2: str) -> None:
    text = router2 + "ip access-list v4-name-far-too-long deny ip src any dest any\n"
    assert found(text) == {("acl-name-length", line_of(text, "v4-name-far-too-long"))}


def test_vrf_after_address(router3: str) -> None:
    lines = router3.splitlines()
    vrf = line_of(router3, "interface GigaEthernet2:3.0") + 2
    lines[vrf - 1], lines[vrf] = lines[vrf], lines[vrf - 1]
    text = "\n".join(lines) + "\n"
    assert found(text) == {("vrf-before-address", vrf + 1)}


def test_unreadable_entry(router1: str) -> None:
    text = replace_line(
        router1,
        "ipv6 dhcp enable",
        "ipv6 dhcp enable\nipv6 access-list v6-x permit tcp src any sport neq 5 dest any",
    )
    report = lint_text(text, "east")
    assert {(f.rule, f.line) for f in report.findings} == {
        ("unreadable-command", line_of(text, "sport neq 5"))
    }
    assert not report.has_errors


def test_every_rule_has_a_docs_page() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "edge"
    pages = {p.stem for p in (docs / "rules").glob("*.md")}
    assert set(RULES) == pages
    readme = (docs / "README.md").read_text(encoding="utf-8")
    for rule_id in RULES:
        assert f"(rules/{rule_id}.md)" in readme, rule_id
        text = (docs / "rules" / f"{rule_id}.md").read_text(encoding="utf-8")
        assert "## What breaks, and why" in text and "## How to fix" in text
