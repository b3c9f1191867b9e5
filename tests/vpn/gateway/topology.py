"""The test network: two sites, the gateway, and a service host.

::

    site A (NAT router sa, 198.51.100.20)       site B
      t1 10.10.1.11   t2 10.10.1.12               t3 198.51.100.31
             └──── sa ────┐                        │
                          └──── "internet" bridge (wan ns), 198.51.100.0/24 ────┐
                                                                     gw 198.51.100.1
                                                                     gw 192.0.2.1 ── svc 192.0.2.10, .11

Pool (virtual addresses): 203.0.113.0/25. Targets: 192.0.2.10:8443 ("eligibility") and
192.0.2.10:8444 ("claims"); the service host also listens where terminals must not reach.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.netns import Host, Lab, start_echo

GATEWAY_WAN = "198.51.100.1"
GATEWAY_SVC = "192.0.2.1"
SERVICE = "192.0.2.10"
SERVICE_OTHER = "192.0.2.11"
POOL = "203.0.113.0/25"
SERVICE_NET = "192.0.2.0/24"
ELIGIBILITY_PORT = 8443
CLAIMS_PORT = 8444
FORBIDDEN_PORT = 9000
GATEWAY_PORT = 7000  # a listener on the gateway host itself
TERMINAL_PORT = 7001  # a listener on every terminal


@dataclass
class Network:
    gw: Host
    svc: Host
    t1: Host
    t2: Host
    t3: Host


def build(lab: Lab) -> Network:
    wan = lab.host("wan")
    br = lab.bridge(wan)
    gw = lab.host("gw", forwarding=True)
    svc = lab.host("svc")
    sa = lab.host("sa", forwarding=True)
    t1, t2, t3 = lab.host("t1"), lab.host("t2"), lab.host("t3")
    lab.attach(wan, br, gw, f"{GATEWAY_WAN}/24")
    lab.attach(wan, br, sa, "198.51.100.20/24")
    lab.attach(wan, br, t3, "198.51.100.31/24")
    lan = lab.bridge(sa, "lan0", "10.10.1.1/24")
    lab.attach(sa, lan, t1, "10.10.1.11/24")
    lab.attach(sa, lan, t2, "10.10.1.12/24")
    for t in (t1, t2):
        t.run("ip", "route", "add", "default", "via", "10.10.1.1")
    sa.run(
        "nft",
        "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; };"
        " add rule ip nat post ip saddr 10.10.1.0/24 masquerade",
    )
    _, svc_dev = lab.link(gw, f"{GATEWAY_SVC}/24", svc, f"{SERVICE}/24")
    svc.run("ip", "addr", "add", f"{SERVICE_OTHER}/24", "dev", svc_dev)
    svc.run("ip", "route", "add", "default", "via", GATEWAY_SVC)
    start_echo(
        svc,
        ("0.0.0.0", ELIGIBILITY_PORT, "eligibility"),
        ("0.0.0.0", CLAIMS_PORT, "claims"),
        ("0.0.0.0", FORBIDDEN_PORT, "forbidden"),
    )
    start_echo(gw, ("0.0.0.0", GATEWAY_PORT, "gateway"))
    for t in (t1, t2, t3):
        start_echo(t, ("0.0.0.0", TERMINAL_PORT, t.short))
    return Network(gw, svc, t1, t2, t3)
