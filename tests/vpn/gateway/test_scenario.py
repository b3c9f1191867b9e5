"""The medical VPN end to end, set up only with onshi's commands (issue 9 §4), as
docs/vpn/scenario.md tells a network integrator to do it by hand::

    site A (NAT router ra 198.51.100.20)        site B (direct)
      t1 10.10.1.11   t2 10.10.1.12               t3 198.51.100.31   t4 198.51.100.32
             └──── ra ────┐                              │                 │
                          └──── "internet" bridge 198.51.100.0/24 ─────────┴──── gw 198.51.100.1
                                                                                  gw 192.0.2.1
                                                                                   │
                                          svc 192.0.2.10: `onshi central serve` :8443
                                                          `onshi claims serve`  :8444

The control-plane, central and facility commands run in this process through onshi's own
command-line app (the same argv as by hand, without a Python start-up each); everything on the
network runs as its own process in its namespace: the gateway (`onshi vpn gateway run`), the
central service, the claims receiver, one charon per terminal loaded with `swanctl` from the
tree `onshi vpn client profile` wrote, the agent (`onshi terminal run`) and `onshi claims
submit`. Processes are stopped by PID and namespaces removed by the module's lab.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from onshi.claims.uke import sample_uke
from onshi.cli import app
from tests.netns import Host, Lab, start_echo, tcp_exchange, wait_for
from tests.terminal.oqs_files import drop, eligibility_request, read, text
from tests.terminal.oqs_files import wait_for as wait_for_file
from tests.vpn.gateway.conftest import esp_engine_of
from tests.vpn.gateway.support import Terminal

pytestmark = [pytest.mark.netns, pytest.mark.slow]

GATEWAY = "198.51.100.1"
SERVICE = "192.0.2.10"
SERVICE_NET = "192.0.2.0/24"
POOL = "203.0.113.0/25"
ELIGIBILITY = f"{SERVICE}:8443"
CLAIMS = f"{SERVICE}:8444"
TERMINAL_PORT = 7001  # a listener on terminal t3, for the terminal-to-terminal probe

PASSWORDS = {"A000001-001": "Sakura-site-A-2026", "A000001-002": "Sakura-site-B-2026"}
# (host, ID, device) — one ID per site, 2 + 0 devices each: both terminals of a site at once.
TERMINALS = [
    ("t1", "A000001-001", "reception-pc"),
    ("t2", "A000001-001", "exam-room-pc"),
    ("t3", "A000001-002", "reception-pc"),
    ("t4", "A000001-002", "claims-pc"),
]
FACILITY_A, FACILITY_B = "1311111111", "1312345678"
# The person the insurer's file brings (synthetic).
PERSON = {
    "InsurerNumber": "06139999",
    "InsurerName": "オンシ健康保険組合",
    "InsuredCardSymbol": "12-34",
    "InsuredIdentificationNumber": "7001",
    "InsuredBranchNumber": "00",
    "PersonalFamilyClassification": "1",
    "InsuredName": "通院　花子",
    "Name": "通院　花子",
    "NameKana": "ﾂｳｲﾝ ﾊﾅｺ",
    "Sex1": "2",
    "Birthdate": "19850505",
    "Address": "",
    "PostNumber": "",
    "InsuredCardClassification": "01",
    "InsuredCertificateIssuanceDate": "20200401",
    "InsuredCardValidDate": "20200401",
    "InsuredCardExpirationDate": "",
    "InsuredPartialContributionRatio": "030",
    "QualificationDate": "20200401",
    "DisqualificationDate": "",
    "ReasonOfLoss": "",
}

_runner = CliRunner()


def onshi(*args: str, stdin: str | None = None) -> str:
    """``onshi ARGS`` through the command-line app; its standard output, exit 0 required."""
    result = _runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, f"onshi {' '.join(args)}: {result.output}"
    return result.stdout


def spawn(host: Host, log: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``onshi ARGS`` as a process in ``host``; its first line (the banner), then drained to ``log``."""
    with log.open("wb") as err:
        process = host.popen(
            sys.executable, "-m", "onshi", *args, stdout=subprocess.PIPE, stderr=err
        )
    assert process.stdout is not None
    out = process.stdout
    deadline = time.monotonic() + 90
    banner = b""
    while not banner.strip():
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"onshi {args[0]} {args[1]}: no banner (see {log})"
        if select.select([out], [], [], remaining)[0]:
            banner = out.readline()
            assert banner, f"onshi {' '.join(args[:3])} exited {process.wait()}: see {log}"

    def drain() -> None:
        with log.with_suffix(".out").open("wb") as sink:
            sink.write(banner)
            shutil.copyfileobj(out, sink)

    threading.Thread(target=drain, daemon=True).start()
    return process, banner.decode()


def gateway_loaded(gw: Host, state_dir: Path, connections: set[str]) -> None:
    """Wait until the gateway's charon holds a connection of each of these names."""

    def missing() -> set[str]:
        listed = subprocess.run(
            [*gw.wrap, "swanctl", "--list-conns", "--uri", f"unix://{state_dir / 'charon.vici'}"],
            capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        return {c for c in connections if f"{c}:" not in listed}

    assert wait_for(lambda: not missing(), 20, 0.2), f"the gateway never loaded {missing()}"


def swanctl(host: Host, tree: Path, terminal: Terminal, *args: str) -> str:
    result = subprocess.run(
        [*host.wrap, "env", f"SWANCTL_DIR={tree}", "swanctl", *args,
         "--uri", f"unix://{terminal.charon.vici_path}"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"swanctl {args[0]} on {host.short}: {result.stdout[-3000:]}"
    return result.stdout


@dataclass
class Scenario:
    hosts: dict[str, Host]
    terminals: dict[str, Terminal]
    root: Path
    facilities: dict[str, Path]
    claims_dir: Path
    oqs: Path
    vpn: list[str]


def build_network(lab: Lab) -> dict[str, Host]:
    wan = lab.host("wan")
    internet = lab.bridge(wan)
    gw = lab.host("gw", forwarding=True)
    ra = lab.host("ra", forwarding=True)
    hosts = {"gw": gw, "svc": lab.host("svc")}
    hosts |= {short: lab.host(short) for short in ("t1", "t2", "t3", "t4")}
    lab.attach(wan, internet, gw, f"{GATEWAY}/24")
    lab.attach(wan, internet, ra, "198.51.100.20/24")
    lab.attach(wan, internet, hosts["t3"], "198.51.100.31/24")
    lab.attach(wan, internet, hosts["t4"], "198.51.100.32/24")
    lan = lab.bridge(ra, "lan0", "10.10.1.1/24")
    for short, addr in (("t1", "10.10.1.11/24"), ("t2", "10.10.1.12/24")):
        lab.attach(ra, lan, hosts[short], addr)
        hosts[short].run("ip", "route", "add", "default", "via", "10.10.1.1")
    ra.run(
        "nft",
        "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; };"
        " add rule ip nat post ip saddr 10.10.1.0/24 masquerade",
    )
    lab.link(gw, "192.0.2.1/24", hosts["svc"], f"{SERVICE}/24")
    hosts["svc"].run("ip", "route", "add", "default", "via", "192.0.2.1")
    return hosts


def person_csv(path: Path) -> Path:
    path.write_text(",".join(PERSON) + "\n" + ",".join(PERSON.values()) + "\n", encoding="utf-8")
    return path


def terminal_tree(root: Path, account: str, device: str, vpn: list[str]) -> Path:
    """What the integrator puts in the terminal's swanctl directory (docs/vpn/client.md)."""
    issued = json.loads(
        onshi("vpn", "device", "issue", account, "--name", device,
              "--out", str(root / "issued"), "--format", "json", *vpn)
    )  # fmt: skip
    tree = root / "swanctl"
    tree.mkdir(parents=True)
    onshi("vpn", "client", "profile", "--account", account, "--device", device,
          "--gateway", GATEWAY, "--service-subnet", SERVICE_NET,
          "--format", "swanctl", "--out", str(tree), *vpn)  # fmt: skip
    # Debian's own /etc/swanctl/swanctl.conf, which includes conf.d.
    (tree / "swanctl.conf").write_text("include conf.d/*.conf\n")
    key = tree / "private" / "onshi-device.key.pem"
    shutil.copyfile(issued["key_pem"], key)
    key.chmod(0o600)
    secret = tree / "conf.d" / "onshi-secret.conf"
    secret.write_text(
        f'secrets {{\n  eap-onshi {{\n    id = {account}\n    secret = "{PASSWORDS[account]}"\n  }}\n}}\n'
    )
    secret.chmod(0o600)
    return tree


@pytest.fixture(scope="module")
def scenario(lab: Lab, module_dir: Path) -> Iterator[Scenario]:
    root = module_dir
    hosts = build_network(lab)
    engine = esp_engine_of(hosts["gw"])

    # Control plane: the application, opened; a password per ID.
    vpn = ["--db", f"sqlite:///{root}/vpn.sqlite3", "--data-dir", str(root / "vpn")]
    submitted = json.loads(
        onshi("vpn", "application", "submit", "--organisation", "医療法人社団オンシ会",
              "--ids", "2", "--extra-certificates", "0", "--format", "json", *vpn)
    )  # fmt: skip
    assert submitted["accounts"] == list(PASSWORDS)
    for state in ("reviewed", "network_configured", "opened"):
        onshi("vpn", "application", "advance", submitted["application"], "--to", state, *vpn)
    for account, password in PASSWORDS.items():
        onshi("vpn", "account", "password", account, *vpn, stdin=password + "\n")

    # Central service: a facility per site, one insured person.
    central = ["--db", f"sqlite:///{root}/central.sqlite3", "--data-dir", str(root / "central")]
    facilities = {}
    for code, name in ((FACILITY_A, "オンシ会 A診療所"), (FACILITY_B, "オンシ会 B診療所")):
        facilities[code] = root / f"facility-{code}"
        onshi("central", "facility", "add", code, name, "--out", str(facilities[code]), *central)
    onshi(
        "central",
        "import",
        "insured",
        str(person_csv(root / "insured.csv")),
        central[0],
        central[1],
    )

    # The servers and the gateway start while the terminals are prepared.
    svc, gw = hosts["svc"], hosts["gw"]
    claims_dir = root / "claims"
    with ThreadPoolExecutor(4) as pool:
        started = [
            pool.submit(spawn, svc, root / "central.log", "central", "serve", *central,
                        "--host", SERVICE, "--port", "8443"),
            pool.submit(spawn, svc, root / "claims.log", "claims", "serve",
                        "--data-dir", str(claims_dir), "--ca-dir", str(root / "central" / "ca"),
                        "--host", SERVICE, "--port", "8444"),
            pool.submit(spawn, gw, root / "gateway.log", "vpn", "gateway", "run", *vpn,
                        "--listen", GATEWAY, "--pool", POOL,
                        "--target", f"eligibility={ELIGIBILITY}", "--target", f"claims={CLAIMS}",
                        "--state-dir", str(root / "gw-charon")),
        ]  # fmt: skip
        # Site A's reception PC runs the agent against the central service through the tunnel.
        oqs = root / "t1-OQS"
        facility = facilities[FACILITY_A]
        started.append(
            pool.submit(spawn, hosts["t1"], root / "agent.log", "terminal", "run",
                        "--oqs-dir", str(oqs), "--central-url", f"https://{ELIGIBILITY}",
                        "--facility", FACILITY_A, "--cert", str(facility / "facility.cert.pem"),
                        "--key", str(facility / "facility.key.pem"),
                        "--ca", str(facility / "ca.cert.pem"),
                        "--state-dir", str(root / "t1-agent"), "--port", "8780")
        )  # fmt: skip
        trees = {
            short: terminal_tree(root / short, account, device, vpn)
            for short, account, device in TERMINALS
        }
        terminals = {
            short: Terminal.start(hosts[short], root / f"{short}-charon", engine) for short in trees
        }
        banners = [future.result()[1] for future in started]
    assert banners[0].startswith(f"onshi central API on https://{ELIGIBILITY}"), banners[0]
    assert banners[1].startswith(f"onshi claims receiver on https://{CLAIMS}"), banners[1]
    assert banners[2].startswith(f"onshi VPN gateway on {GATEWAY}"), banners[2]
    assert banners[3].startswith("reception screen"), banners[3]

    # Before the tunnels, no terminal has a way to the service host.
    assert tcp_exchange(hosts["t1"], SERVICE, 8443, 1.0).startswith("FAILED")
    for short, tree in trees.items():
        loaded = swanctl(hosts[short], tree, terminals[short], "--load-all", "--noprompt")
        assert "loaded connection 'onshi'" in loaded

    # Devices issued while the gateway was starting reach it at its next sync (every 2 s).
    gateway_loaded(gw, root / "gw-charon", {f"dev-{a}-{d}" for _, a, d in TERMINALS})

    def initiate(short: str) -> str:
        up = ("--initiate", "--child", "onshi", "--timeout", "30")
        return swanctl(hosts[short], trees[short], terminals[short], *up)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(initiate, trees))
    yield Scenario(hosts, terminals, root, facilities, claims_dir, oqs, vpn)


def test_two_sites_reach_both_services_and_not_each_other(scenario: Scenario) -> None:
    # One test over one build: split into tests, pytest-xdist (`./dev test -n 2`) could build
    # the whole scenario on both workers.
    both_sites_are_up_at_once_each_with_its_own_address(scenario)
    the_agent_gets_its_eligibility_answer_through_the_tunnel(scenario)
    a_claims_file_from_another_terminal_is_received(scenario)
    a_terminal_cannot_reach_a_terminal_of_the_other_site(scenario)


def both_sites_are_up_at_once_each_with_its_own_address(scenario: Scenario) -> None:
    addresses = {short: t.virtual_ips() for short, t in scenario.terminals.items()}
    assert all(len(vips) == 1 for vips in addresses.values()), addresses
    vips = [vips[0] for vips in addresses.values()]
    assert len(set(vips)) == 4
    assert all(vip.startswith("203.0.113.") for vip in vips), vips
    # The gateway reported the four sessions to the control plane, device by device.
    assert wait_for(lambda: len(_sessions(scenario)) == 4, 5), _sessions(scenario)
    seen = {(s["account"], s["device"], s["virtual_address"]) for s in _sessions(scenario)}
    assert seen == {(account, device, addresses[short][0]) for short, account, device in TERMINALS}


def _sessions(scenario: Scenario) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(
        onshi("vpn", "session", "list", "--format", "json", *scenario.vpn)
    )
    return rows


def the_agent_gets_its_eligibility_answer_through_the_tunnel(scenario: Scenario) -> None:
    today = dt.datetime.now(ZoneInfo("Asia/Tokyo")).strftime("%Y%m%d")
    request = eligibility_request(
        number=PERSON["InsuredIdentificationNumber"],
        birthdate=PERSON["Birthdate"],
        date=today,
        facility=FACILITY_A,
        identifier="VPN1",
    )
    drop(scenario.oqs / "req", "OQSsiquc01req_vpn000001.xml", request)
    answer = read(wait_for_file(scenario.oqs / "res" / "OQSsiquc01res_vpn000001.xml", 30))
    assert text(answer, "MessageBody/QualificationValidity") == "1"
    assert text(answer, "MessageHeader/ArbitraryFileIdentifier") == "VPN1"
    result = "MessageBody/ResultList/ResultOfQualificationConfirmation/"
    assert text(answer, result + "NameKana") == PERSON["NameKana"]


def a_claims_file_from_another_terminal_is_received(scenario: Scenario) -> None:
    today = dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()
    month = (today.replace(day=1) - dt.timedelta(days=1)).strftime("%Y%m")
    uke = scenario.root / "claims.uke"
    uke.write_bytes(sample_uke(FACILITY_B, month))
    facility = scenario.facilities[FACILITY_B]
    sent = subprocess.run(
        [*scenario.hosts["t4"].wrap, sys.executable, "-m", "onshi", "claims", "submit", str(uke),
         "--url", f"https://{CLAIMS}", "--cert", str(facility / "facility.cert.pem"),
         "--key", str(facility / "facility.key.pem"), "--ca", str(facility / "ca.cert.pem"),
         "--timeout", "20"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    receipt = sent.stdout.strip()
    assert re.fullmatch(rf"{month}-{FACILITY_B}-\d{{6}}", receipt), receipt
    (stored,) = (scenario.claims_dir / "received" / FACILITY_B / month).glob("*.uke")
    assert stored.read_bytes() == uke.read_bytes()
    index = json.loads((stored.parent / "index.json").read_text())
    assert list(index) == [stored.stem] and index[stored.stem]["receipt"] == receipt


def a_terminal_cannot_reach_a_terminal_of_the_other_site(scenario: Scenario) -> None:
    t1, t3, t4 = (scenario.hosts[s] for s in ("t1", "t3", "t4"))
    start_echo(t3, ("0.0.0.0", TERMINAL_PORT, "t3"))
    (t3_vip,) = scenario.terminals["t3"].virtual_ips()
    assert tcp_exchange(t1, t3_vip, TERMINAL_PORT, 1.0).startswith("FAILED")
    # Not for want of a listener: it answers on that very address and to its neighbour outside
    # the VPN; and t1's own tunnel is up.
    assert tcp_exchange(t3, t3_vip, TERMINAL_PORT) == "t3:ping"
    assert tcp_exchange(t4, "198.51.100.31", TERMINAL_PORT) == "t3:ping"
    assert scenario.terminals["t1"].established()
