"""The nftables policy on its own, in a router namespace: every rule shown to be the one that acts.

Two "terminal" namespaces stand behind interfaces the ruleset treats as the tunnel (the
``tunnel_match`` is data), so hairpin traffic really crosses the forward chain — through a real
tunnel the terminals' own traffic selectors already stop it before the gateway sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from onshi.vpn.gateway.errors import PolicyApplyFailed
from onshi.vpn.gateway.policy import (
    TABLE,
    AccessPolicy,
    Target,
    apply_ruleset,
    remove_ruleset,
    render_ruleset,
)
from tests.netns import Host, Lab, start_echo, tcp_exchange

pytestmark = pytest.mark.netns

POOL = "203.0.113.0/25"
A, B = "203.0.113.5", "203.0.113.6"
SERVICE, OTHER, ROUTER = "192.0.2.10", "192.0.2.11", "192.0.2.1"


@dataclass
class Router:
    r: Host
    a: Host
    b: Host
    s: Host
    policy: AccessPolicy

    def apply(self, policy: AccessPolicy | None = None) -> None:
        apply_ruleset(render_ruleset(policy or self.policy), self.r.wrap)


def _terminal(lab: Lab, r: Host, name: str, addr: str) -> tuple[Host, str]:
    t = lab.host(name)
    t_dev, r_dev = lab.link(t, f"{addr}/32", r, "")
    t.run("ip", "route", "add", "default", "dev", t_dev)
    r.run("sysctl", "-q", "-w", f"net.ipv4.conf.{r_dev}.proxy_arp=1")
    r.run("sysctl", "-q", "-w", f"net.ipv4.neigh.{r_dev}.proxy_delay=0")
    r.run("ip", "route", "add", f"{addr}/32", "dev", r_dev)
    start_echo(t, ("0.0.0.0", 7001, name))
    return t, r_dev


@pytest.fixture(scope="module")
def router(lab: Lab) -> Iterator[Router]:
    r = lab.host("r", forwarding=True)
    s = lab.host("s")
    _, s_dev = lab.link(r, f"{ROUTER}/24", s, f"{SERVICE}/24")
    s.run("ip", "addr", "add", f"{OTHER}/24", "dev", s_dev)
    s.run("ip", "route", "add", "default", "via", ROUTER)
    a, ra = _terminal(lab, r, "a", A)
    b, rb = _terminal(lab, r, "b", B)
    start_echo(s, ("0.0.0.0", 8443, "eligibility"), ("0.0.0.0", 9000, "forbidden"))
    start_echo(r, ("0.0.0.0", 7000, "gateway"))
    policy = AccessPolicy(
        POOL, (Target("eligibility", SERVICE, 8443),), f'iifname {{ "{ra}", "{rb}" }}'
    )
    yield Router(r, a, b, s, policy)


@pytest.fixture
def without_policy(router: Router) -> Iterator[Router]:
    remove_ruleset(router.r.wrap)
    yield router
    remove_ruleset(router.r.wrap)


def test_without_the_policy_everything_flows(without_policy: Router) -> None:
    """The control: each refusal below is the policy's doing, not the topology's."""
    r = without_policy
    assert tcp_exchange(r.a, SERVICE, 9000) == "forbidden:ping"
    assert tcp_exchange(r.a, OTHER, 8443) == "eligibility:ping"
    assert tcp_exchange(r.a, B, 7001) == "b:ping"
    assert tcp_exchange(r.a, ROUTER, 7000) == "gateway:ping"


def test_the_policy_lets_through_the_targets_only(without_policy: Router) -> None:
    r = without_policy
    r.apply()
    assert tcp_exchange(r.a, SERVICE, 8443) == "eligibility:ping"
    assert tcp_exchange(r.a, SERVICE, 9000, 0.5).startswith("FAILED")
    assert tcp_exchange(r.a, OTHER, 8443, 0.5).startswith("FAILED")


def test_no_hairpin_between_terminals(without_policy: Router) -> None:
    r = without_policy
    r.apply()
    assert tcp_exchange(r.a, B, 7001, 0.5).startswith("FAILED")
    assert tcp_exchange(r.b, A, 7001, 0.5).startswith("FAILED")


def test_terminals_do_not_reach_the_gateway(without_policy: Router) -> None:
    r = without_policy
    r.apply()
    assert tcp_exchange(r.a, ROUTER, 7000, 0.5).startswith("FAILED")
    assert tcp_exchange(r.s, ROUTER, 7000) == "gateway:ping"


def test_a_policy_change_is_atomic(without_policy: Router) -> None:
    """While the policy is replaced again and again, a forbidden port is never open."""
    r = without_policy
    r.apply()
    seen: list[str] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            seen.append(tcp_exchange(r.a, SERVICE, 9000, 0.3))

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        wider = AccessPolicy(
            POOL, (*r.policy.targets, Target("claims", SERVICE, 8444)), r.policy.tunnel_match
        )
        for i in range(30):
            r.apply(wider if i % 2 else r.policy)
    finally:
        stop.set()
        thread.join(10)
    assert seen and all(s.startswith("FAILED") for s in seen)
    tables = r.r.run("nft", "list", "tables")
    assert tables.count(TABLE) == 1


def test_a_new_target_opens_at_once(without_policy: Router) -> None:
    r = without_policy
    r.apply()
    assert tcp_exchange(r.a, SERVICE, 9000, 0.5).startswith("FAILED")
    r.apply(
        AccessPolicy(POOL, (*r.policy.targets, Target("x", SERVICE, 9000)), r.policy.tunnel_match)
    )
    assert tcp_exchange(r.a, SERVICE, 9000) == "forbidden:ping"


def test_kernel_esp_match_is_valid_nft(router: Router) -> None:
    rules = render_ruleset(AccessPolicy(POOL, router.policy.targets, "meta ipsec exists"))
    apply_ruleset(rules, router.r.wrap)
    remove_ruleset(router.r.wrap)


def test_a_broken_ruleset_is_refused_with_its_code(router: Router) -> None:
    with pytest.raises(PolicyApplyFailed) as caught:
        apply_ruleset("table inet onshi_vpn { chain x { nonsense } }", router.r.wrap)
    assert caught.value.code == "VPN_GATEWAY_POLICY"
