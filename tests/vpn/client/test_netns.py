"""The terminal side against a real charon in network namespaces.

Topology (all addresses inside namespaces this module creates and removes)::

    tnat 10.0.0.2 ── 10.0.0.1 router 192.0.2.254 ── 192.0.2.1 gw (charon; service 10.99.0.1)
                     (masquerade)  198.51.100.1
    tdir 198.51.100.2 ──────────────┘   (routed, no NAT)

The gateway runs a hand-written swanctl configuration in the shape docs/vpn describes (device
certificate, then EAP-MSCHAPv2); the terminal loads exactly what ``onshi vpn client profile``
wrote. ``onshi vpn doctor`` runs as a process inside the terminals' namespaces.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from onshi.claims.uke import sample_uke
from onshi.pki import CertificateAuthority, IssuedCertificate
from onshi.vpn.client.profiles import ClientProfile, render_swanctl
from onshi.vpn.gateway.charon import Charon
from onshi.vpn.gateway.config import EspEngine
from tests.netns import Host, Lab, skip_reason, start_echo, tcp_exchange

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

GATEWAY = "192.0.2.1"
SERVICE = "10.99.0.1"
SERVICE_SUBNET = "10.99.0.0/24"
ACCOUNT, DEVICE, PASSWORD = "acct01", "pc1", "correct horse 7"
ONSHI = str(Path(sys.executable).with_name("onshi"))

GATEWAY_CONF = """
connections {
  dev-acct01-pc1 {
    version = 2
    local_addrs = %(gateway)s
    pools = vip4
    encap = yes
    unique = never
    local {
      auth = pubkey
      certs = gw.cert.pem
      id = %(gateway)s
    }
    remote-1 {
      auth = pubkey
      id = "%(subject)s"
      cacerts = ca.cert.pem
    }
    remote-2 {
      auth = eap-mschapv2
      eap_id = acct01
    }
    children {
      svc {
        local_ts = %(subnet)s
        esp_proposals = aes256gcm16
      }
    }
  }
}
pools {
  vip4 {
    addrs = 10.100.0.0/24
  }
}
secrets {
  eap-acct01 {
    id = acct01
    secret = "%(password)s"
  }
}
"""


@dataclass
class World:
    lab: Lab
    gw: Host
    router: Host
    tnat: Host
    tdir: Host
    gw_charon: Charon
    ca: CertificateAuthority
    device: IssuedCertificate
    root: Path
    router_to_gw: str


def swanctl(
    host: Host, swanctl_dir: Path, charon: Charon, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *host.wrap,
            "env",
            f"SWANCTL_DIR={swanctl_dir}",
            "swanctl",
            *args,
            "--uri",
            f"unix://{charon.vici_path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def doctor(host: Host, *args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [*host.wrap, ONSHI, "vpn", "doctor", "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def by_name(report: dict[str, object]) -> dict[str, dict[str, object]]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {c["check"]: c for c in checks}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("client-netns")
    ca = CertificateAuthority.create(root / "ca", "onshi VPN test CA")
    device = ca.issue_device_certificate(f"{ACCOUNT}-{DEVICE}")
    gateway_cert = ca.issue_server_certificate(["gw.example"], [GATEWAY])
    lab = Lab()
    try:
        gw, router = lab.host("gw"), lab.host("rt", forwarding=True)
        tnat, tdir = lab.host("tn"), lab.host("td")
        _, router_to_gw = lab.link(gw, f"{GATEWAY}/24", router, "192.0.2.254/24")
        lab.link(router, "10.0.0.1/24", tnat, "10.0.0.2/24")
        lab.link(router, "198.51.100.1/24", tdir, "198.51.100.2/24")
        gw.run("ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.254")
        tnat.run("ip", "route", "add", "default", "via", "10.0.0.1")
        tdir.run("ip", "route", "add", "default", "via", "198.51.100.1")
        router.run(
            "nft",
            f"add table ip onshi_nat; add chain ip onshi_nat post {{ type nat hook postrouting priority 100; }}; "
            f'add rule ip onshi_nat post ip saddr 10.0.0.0/24 oifname "{router_to_gw}" masquerade',
        )
        # The service subnet holds a gateway address (kernel-libipsec needs one in local_ts).
        gw.run("ip", "addr", "add", f"{SERVICE}/32", "dev", "lo")
        start_echo(gw, (SERVICE, 8080, "svc"))

        gw_dir = root / "gw-swanctl"
        for sub in ("x509", "x509ca", "private"):
            (gw_dir / sub).mkdir(parents=True)
        gateway_cert.write(gw_dir / "x509" / "gw.cert.pem", gw_dir / "private" / "gw.key.pem")
        (gw_dir / "x509ca" / "ca.cert.pem").write_bytes(ca.cert_pem)
        profile = ClientProfile(
            account=ACCOUNT,
            device=DEVICE,
            gateway_host=GATEWAY,
            ca_pem=ca.cert_pem,
            service_subnets=(SERVICE_SUBNET,),
            device_cert_pem=device.cert_pem,
        )
        (gw_dir / "swanctl.conf").write_text(
            GATEWAY_CONF
            % {
                "gateway": GATEWAY,
                "subject": profile.device_subject,
                "subnet": SERVICE_SUBNET,
                "password": PASSWORD,
            }
        )
        gw_charon = gw.charon(root / "gw-charon", EspEngine.USERSPACE)
        loaded = swanctl(gw, gw_dir, gw_charon, "--load-all", "--noprompt")
        assert loaded.returncode == 0, loaded.stderr + loaded.stdout
        yield World(lab, gw, router, tnat, tdir, gw_charon, ca, device, root, router_to_gw)
    finally:
        lab.close()


def terminal_tree(world: World, name: str, *, password: str | None) -> Path:
    """A swanctl directory laid out as docs/vpn/client.md says, with the rendered profile."""
    tree = world.root / name
    for sub in ("conf.d", "x509", "x509ca", "private"):
        (tree / sub).mkdir(parents=True, exist_ok=True)
    profile = ClientProfile(
        account=ACCOUNT,
        device=DEVICE,
        gateway_host=GATEWAY,
        ca_pem=world.ca.cert_pem,
        service_subnets=(SERVICE_SUBNET,),
    )
    world.device.write(
        tree / "x509" / profile.device_cert_file, tree / "private" / profile.device_key_file
    )
    (tree / "x509ca" / profile.ca_cert_file).write_bytes(world.ca.cert_pem)
    (tree / "swanctl.conf").write_text(render_swanctl(profile, eap_password=password))
    return tree


def test_rendered_profile_connects_through_nat_and_reaches_only_the_service(world: World) -> None:
    tree = terminal_tree(world, "tnat-swanctl", password=PASSWORD)
    charon = world.tnat.charon(world.root / "tnat-charon", EspEngine.USERSPACE)
    try:
        loaded = swanctl(world.tnat, tree, charon, "--load-all", "--noprompt")
        assert loaded.returncode == 0, loaded.stderr + loaded.stdout
        assert "loaded connection 'onshi'" in loaded.stdout
        # Before the tunnel there is no way to the service.
        assert tcp_exchange(world.tnat, SERVICE, 8080, timeout=1.0).startswith("FAILED")
        up = swanctl(world.tnat, tree, charon, "--initiate", "--child", "onshi", "--timeout", "20")
        assert up.returncode == 0, up.stdout[-3000:]
        sas = swanctl(world.tnat, tree, charon, "--list-sas").stdout
        assert "ESTABLISHED" in sas and "10.100.0." in sas
        assert SERVICE_SUBNET in sas  # remote traffic selector: the service subnet only
        assert tcp_exchange(world.tnat, SERVICE, 8080) == "svc:ping"

        # The doctor, run on this terminal with the tunnel up: NAT seen, service answers.
        code, report = doctor(
            world.tnat,
            "--gateway", GATEWAY,
            "--profile", str(tree / "swanctl.conf"),
            "--health-url", f"http://{SERVICE}:8080/",
            "--timeout", "2",
        )  # fmt: skip
        checks = by_name(report)
        assert checks["ike_udp_500"]["level"] == "ok"
        assert checks["nat_t_udp_4500"]["level"] == "ok"
        assert checks["nat"]["ok"] is True and "NAT/PAT detected" in str(checks["nat"]["verdict"])
        assert checks["certificate"]["level"] == "ok"
        assert checks["service"]["level"] == "ok"
        assert report["ok"] is True and code == 0

        # The VPN's second destination: a claims file through the same tunnel.
        receipt = submit_claims_through_tunnel(world)
        assert receipt == "202611-1311234567-000001"
    finally:
        charon.stop()


def submit_claims_through_tunnel(world: World) -> str:
    data_dir = world.root / "claims"
    receiver = world.gw.popen(
        ONSHI, "claims", "serve", "--data-dir", str(data_dir), "--host", SERVICE, "--port", "8444",
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        line = receiver.stdout.readline().decode()
        assert f"https://{SERVICE}:8444" in line, line
        facility = world.root / "facility"
        made = subprocess.run(
            [ONSHI, "claims", "facility", "add", "1311234567", "オンシ診療所", "--out", str(facility), "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        uke = world.root / "claims.uke"
        uke.write_bytes(sample_uke("1311234567", "202611"))
        sent = subprocess.run(
            [
                *world.tnat.wrap, ONSHI, "claims", "submit", str(uke), "--url", f"https://{SERVICE}:8444",
                "--cert", str(facility / "facility.cert.pem"), "--key", str(facility / "facility.key.pem"),
                "--ca", str(facility / "ca.cert.pem"), "--timeout", "10",
            ],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        return sent.stdout.strip()
    finally:
        receiver.send_signal(signal.SIGINT)
        receiver.wait(15)


def test_windows_layout_connects_with_the_p12(world: World) -> None:
    """The swanctl.conf the Windows script installs (device from a .p12), loaded into charon."""
    passphrase = "one-time-passphrase"
    tree = world.root / "tdir-p12"
    for sub in ("pkcs12", "x509ca"):
        (tree / sub).mkdir(parents=True)
    profile = ClientProfile(
        account=ACCOUNT,
        device=DEVICE,
        gateway_host=GATEWAY,
        ca_pem=world.ca.cert_pem,
        service_subnets=(SERVICE_SUBNET,),
        device_cert_pem=world.device.cert_pem,
    )
    p12 = pkcs12.serialize_key_and_certificates(
        b"onshi device",
        world.device.signing_key,
        world.device.certificate,
        [world.ca.certificate],
        serialization.BestAvailableEncryption(passphrase.encode()),
    )
    (tree / "pkcs12" / profile.device_p12_file).write_bytes(p12)
    (tree / "x509ca" / profile.ca_cert_file).write_bytes(world.ca.cert_pem)
    conf = render_swanctl(profile, pkcs12=True, eap_password=PASSWORD)
    # What the script does on the terminal with the passphrase the user types.
    conf = conf.replace("%P12_PASSWORD%", f'"{passphrase}"')
    (tree / "swanctl.conf").write_text(conf)
    charon = world.tdir.charon(world.root / "tdir-charon-p12", EspEngine.USERSPACE)
    try:
        loaded = swanctl(world.tdir, tree, charon, "--load-all", "--noprompt")
        assert loaded.returncode == 0, loaded.stderr + loaded.stdout
        assert "loaded ECDSA key from" in loaded.stdout and "onshi-device.p12" in loaded.stdout
        up = swanctl(world.tdir, tree, charon, "--initiate", "--child", "onshi", "--timeout", "20")
        assert up.returncode == 0, up.stdout[-3000:]
        assert tcp_exchange(world.tdir, SERVICE, 8080) == "svc:ping"
    finally:
        charon.stop()


def test_wrong_password_in_the_profile_is_refused(world: World) -> None:
    tree = terminal_tree(world, "tdir-swanctl-bad", password="not the password")
    charon = world.tdir.charon(world.root / "tdir-charon-bad", EspEngine.USERSPACE)
    try:
        assert swanctl(world.tdir, tree, charon, "--load-all", "--noprompt").returncode == 0
        up = swanctl(world.tdir, tree, charon, "--initiate", "--child", "onshi", "--timeout", "20")
        assert up.returncode != 0
        assert "ESTABLISHED" not in swanctl(world.tdir, tree, charon, "--list-sas").stdout
    finally:
        charon.stop()


def test_doctor_without_nat_and_without_tunnel(world: World) -> None:
    tree = terminal_tree(world, "tdir-swanctl", password=None)
    code, report = doctor(
        world.tdir,
        "--gateway", GATEWAY,
        "--profile", str(tree / "swanctl.conf"),
        "--health-url", f"http://{SERVICE}:8080/",
        "--timeout", "1",
    )  # fmt: skip
    checks = by_name(report)
    assert checks["ike_udp_500"]["ok"] and checks["nat_t_udp_4500"]["ok"]
    nat = checks["nat"]
    assert (
        nat["ok"] is True
        and "No NAT" in str(nat["verdict"])
        and "encap = yes" in str(nat["verdict"])
    )
    assert checks["service"]["level"] == "fail"  # no tunnel: the service is not reachable
    assert report["ok"] is False and code == 1


def test_doctor_names_the_blocked_port(world: World) -> None:
    rule = "add table inet onshi_block; add chain inet onshi_block forward_filter { type filter hook forward priority 0; }; add rule inet onshi_block forward_filter ip saddr 198.51.100.2 udp dport 4500 drop"
    world.router.run("nft", rule)
    try:
        code, report = doctor(world.tdir, "--gateway", GATEWAY, "--timeout", "1")
        checks = by_name(report)
        assert checks["ike_udp_500"]["level"] == "ok"
        blocked = checks["nat_t_udp_4500"]
        assert blocked["level"] == "fail" and "blocked" in str(blocked["verdict"])
        assert "4500" in str(blocked["fix"])
        assert code == 1
    finally:
        world.router.run("nft", "delete table inet onshi_block")
    world.router.run("nft", rule.replace("4500", "500"))
    try:
        code, report = doctor(world.tdir, "--gateway", GATEWAY, "--timeout", "1")
        checks = by_name(report)
        assert checks["ike_udp_500"]["level"] == "fail"
        assert "UDP" in str(checks["ike_udp_500"]["fix"]) and "500" in str(
            checks["ike_udp_500"]["fix"]
        )
        assert checks["nat"]["ok"] is False
    finally:
        world.router.run("nft", "delete table inet onshi_block")
