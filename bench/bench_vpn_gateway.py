"""The VPN gateway's figures, measured in network namespaces in one run (root, strongSwan).

1. Connection setup: N terminals (default 50, each its own address, certificate and ID) start
   IKE + certificate + EAP-MSCHAPv2 + CHILD_SA at once, against onshi's gateway (charon driven
   over VICI by the sync loop) and against a charon loaded from a hand-written swanctl.conf with
   the same connections, the same strongswan.conf and the same terminals. Setups/s and p50/p99;
   the ratio shows what onshi's sync adds.
2. Throughput through the tunnel (userspace ESP, kernel-libipsec, ESP in UDP) against plain veth
   between the same namespaces' neighbours, TCP, same run.
3. 10,000 devices (connections + NT hashes) loaded into a fresh charon: target ≤ 30 s.
4. With those 10,000 loaded and the sync loop running: one revocation (a new CRL in the
   directory) until the terminal's session is gone: target ≤ 5 s.

    sudo .venv/bin/python bench/bench_vpn_gateway.py [--terminals 50] [--devices 10000]

Nothing leaves the namespaces it creates (documentation addresses only); every charon is
stopped by PID and every namespace removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.netns

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from tests.netns import Host, Lab, skip_reason
from tests.vpn.gateway.support import nt_hash

from onshi.pki.authority import CertificateAuthority
from onshi.pki.issued import IssuedCertificate
from onshi.vpn.gateway.charon import Charon
from onshi.vpn.gateway.config import CharonConfig, detect_esp_engine
from onshi.vpn.gateway.directory import DesiredState, Device, MemoryDirectory
from onshi.vpn.gateway.events import EventListener
from onshi.vpn.gateway.policy import Target
from onshi.vpn.gateway.runner import Gateway, GatewayOptions
from onshi.vpn.gateway.sync import GatewayShape, Synchronizer

GW, GWB = "198.51.100.1", "198.51.100.2"
SERVICE, SERVICE_NET, POOL, POOL_B = (
    "192.0.2.10",
    "192.0.2.0/24",
    "203.0.113.0/25",
    "203.0.113.128/25",
)
BULK_PORT = 5201
LOAD_TARGET_S, REVOKE_TARGET_S = 30.0, 5.0

RECEIVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    total = 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        total += len(b)
    c.sendall(str(total).encode()); c.close()
"""

SENDER = r"""
import socket, sys, time
dst, port, seconds, src = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
s = socket.socket()
if src != "-":
    s.bind((src, 0))
s.connect((dst, port))
chunk = b"x" * 65536
start = time.perf_counter(); sent = 0
while time.perf_counter() - start < seconds:
    s.sendall(chunk); sent += len(chunk)
s.shutdown(socket.SHUT_WR)
got = int(s.recv(64))
print(got / (time.perf_counter() - start))
"""


@dataclass
class Client:
    index: int
    address: str
    account: str
    password: str
    cert: IssuedCertificate


def _setup_terminal_charon(
    charon: Charon, clients: list[Client], ca_pem: bytes, encap: bool
) -> Any:
    s = charon.session(timeout=120)
    for c in clients:
        s.load_key({"type": "any", "data": c.cert.key_pem})
        s.load_shared(
            {"type": "EAP", "id": f"pw-{c.index}", "data": c.password, "owners": [c.account]}
        )
        for prefix, gateway in (("o", GW), ("b", GWB)):
            s.load_conn(
                {
                    f"{prefix}{c.index}": {
                        "version": "2",
                        "local_addrs": [c.address],
                        "remote_addrs": [gateway],
                        "vips": ["0.0.0.0"],
                        "encap": "yes" if encap else "no",
                        "local-1": {"auth": "pubkey", "certs": [c.cert.cert_pem]},
                        "local-2": {"auth": "eap", "eap_id": c.account, "id": c.account},
                        "remote": {"auth": "pubkey", "cacerts": [ca_pem]},
                        "children": {
                            "svc": {"remote_ts": [SERVICE_NET], "esp_proposals": ["aes256gcm16"]}
                        },
                    }
                }
            )
    return s


def _burst(charon: Charon, prefix: str, clients: list[Client]) -> tuple[float, list[float], int]:
    """All clients initiate at once; (wall seconds, per-setup seconds, failures).

    Initiation is asynchronous (a blocking VICI initiate holds one of the terminal charon's
    worker threads until the SA is up, and 50 of them would starve it); each setup ends when
    the terminal's charon reports the CHILD_SA up.
    """
    listener = EventListener(charon.vici_path)
    listener.start()
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    s = charon.session(timeout=120)
    for c in clients:
        name = f"{prefix}{c.index}"
        sent[name] = time.perf_counter()
        for _ in s.initiate({"child": "svc", "ike": name, "timeout": "-1"}):
            pass
    deadline = time.perf_counter() + 90
    while len(done) < len(clients) and time.perf_counter() < deadline:
        try:
            event = listener.queue.get(timeout=0.5)
        except queue.Empty:
            continue
        now = time.perf_counter()
        if event.kind == "child-updown" and event.up:
            for name in event.sas:
                if name in sent and name not in done:
                    done[name] = now
    listener.stop()
    s.transport.socket.close()
    first = min(sent.values())
    wall = (max(done.values()) - first) if done else float("nan")
    return wall, [done[n] - sent[n] for n in done], len(clients) - len(done)


def _terminate_all(charon: Charon) -> None:
    s = charon.session(timeout=120)
    ids = [sa["uniqueid"].decode() for e in s.list_sas() for sa in e.values()]
    for ike_id in ids:
        for _ in s.terminate({"ike-id": ike_id, "timeout": "5000"}):
            pass
    s.transport.socket.close()


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _write_swanctl(
    directory: Path, state: DesiredState, clients: list[Client], ca: CertificateAuthority
) -> None:
    """The baseline: the same connections, written by hand as a swanctl.conf."""
    for sub in ("x509", "x509ca", "private"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "x509" / "gw.pem").write_bytes(state.gateway_cert_pem)
    (directory / "x509ca" / "ca.pem").write_bytes(ca.cert_pem)
    (directory / "private" / "gw.key").write_bytes(state.gateway_key_pem)
    conns, secrets = [], []
    for c in clients:
        dn = "asn1dn:#" + c.cert.certificate.subject.public_bytes().hex()
        conns.append(
            f"""  c{c.index} {{
    version = 2
    local_addrs = {GWB}
    pools = vip
    encap = yes
    unique = never
    local {{ auth = pubkey
      certs = gw.pem }}
    remote-1 {{ auth = pubkey
      id = "{dn}"
      cacerts = ca.pem }}
    remote-2 {{ auth = eap-mschapv2
      eap_id = {c.account} }}
    children {{ svc {{ local_ts = {SERVICE_NET}
      esp_proposals = aes256gcm16 }} }}
  }}"""
        )
        secrets.append(
            f"  ntlm-{c.index} {{ id = {c.account}\n    secret = 0x{nt_hash(c.password).hex()} }}"
        )
    (directory / "swanctl.conf").write_text(
        "connections {\n" + "\n".join(conns) + "\n}\n"
        f"pools {{ vip {{ addrs = {POOL_B} }} }}\n"
        "secrets {\n" + "\n".join(secrets) + "\n}\n"
    )


def _throughput(src: Host, dst: Host, address: str, seconds: float, bind: str = "-") -> float:
    out = subprocess.run(
        [*src.wrap, sys.executable, "-c", SENDER, address, str(BULK_PORT), str(seconds), bind],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    return float(out.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=2, help="setup bursts per gateway")
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="bench-gw-"))
    with Lab() as lab:
        wan = lab.host("wan")
        br = lab.bridge(wan)
        gw, gwb, cl, svc, svcb = (
            lab.host(n, forwarding=n.startswith("gw")) for n in ("gw", "gwb", "cl", "svc", "svcb")
        )
        lab.attach(wan, br, gw, f"{GW}/24")
        lab.attach(wan, br, gwb, f"{GWB}/24")
        cl_dev, _ = lab.link(cl, "", wan, "")
        wan.run("ip", "link", "set", _, "master", br)
        lab.link(gw, "192.0.2.1/24", svc, f"{SERVICE}/24")
        lab.link(gwb, "192.0.2.1/24", svcb, f"{SERVICE}/24")
        for s in (svc, svcb):
            s.run("ip", "route", "add", "default", "via", "192.0.2.1")
        receiver = svc.popen(sys.executable, "-c", RECEIVER, str(BULK_PORT), stdout=subprocess.PIPE)
        assert receiver.stdout is not None and b"ready" in receiver.stdout.readline()
        engine = detect_esp_engine(gw.wrap)
        print(f"ESP engine: {engine.value}")

        ca = CertificateAuthority.create(work / "ca", "bench CA")
        gateway_cert = ca.issue_server_certificate(["gw.bench.test"], [GW])
        clients = []
        for i in range(args.terminals):
            address = f"198.51.100.{100 + i}"
            cl.run("ip", "addr", "add", f"{address}/24", "dev", cl_dev)
            clients.append(
                Client(
                    i,
                    address,
                    f"acct{i:05d}",
                    f"password-{i}",
                    ca.issue_device_certificate(f"bench-{i}"),
                )
            )
        empty_crl = ca.build_crl([]).public_bytes(Encoding.PEM)
        devices = tuple(
            Device(c.account, "pc", c.cert.certificate.subject, frozenset({c.cert.serial}))
            for c in clients
        )
        state = DesiredState(
            devices=devices,
            nt_hashes={c.account: nt_hash(c.password) for c in clients},
            ca_pem=ca.cert_pem,
            gateway_cert_pem=gateway_cert.cert_pem,
            gateway_key_pem=gateway_cert.key_pem,
            crl_pem=empty_crl,
        )
        directory = MemoryDirectory(state)
        gateway = Gateway(
            GatewayOptions(
                listen=GW,
                pool=POOL,
                targets=(Target("bulk", SERVICE, BULK_PORT),),
                tick=1.0,
                state_dir=work / "gw",
                wrap=tuple(gw.wrap),
            ),
            directory,
        )
        gateway.start()
        if gateway.charon is not None:
            lab.charons.append(gateway.charon)
        gateway.run_in_thread()
        try:
            baseline = gwb.charon(work / "gwb", engine)
            _write_swanctl(work / "swanctl", state, clients, ca)
            subprocess.run(
                ["swanctl", "--load-all", "--noprompt", "--uri", f"unix://{baseline.vici_path}"],
                env=dict(os.environ, SWANCTL_DIR=str(work / "swanctl")),
                check=True,
                capture_output=True,
                timeout=120,
            )
            terminals = cl.charon(work / "cl", engine)
            _setup_terminal_charon(terminals, clients, ca.cert_pem, engine.encap)

            # 1. setup bursts, alternating
            results: dict[str, list[tuple[float, list[float], int]]] = {
                "onshi": [],
                "swanctl.conf": [],
            }
            for _ in range(args.rounds):
                for name, prefix in (("swanctl.conf", "b"), ("onshi", "o")):
                    results[name].append(_burst(terminals, prefix, clients))
                    _terminate_all(terminals)
                    time.sleep(1.0)
            print(
                f"\n1. {args.terminals} terminals connecting at once (IKE + cert + EAP-MSCHAPv2 + CHILD_SA)"
            )
            rates = {}
            for name, runs in results.items():
                best = max(runs, key=lambda r: len(r[1]) / r[0])
                wall, times, failed = best
                rates[name] = len(times) / wall
                print(
                    f"   {name:13s} {rates[name]:7.1f} setups/s  p50 {_p(times, 0.5) * 1000:6.0f} ms"
                    f"  p99 {_p(times, 0.99) * 1000:6.0f} ms  failed {failed}  (best of {len(runs)})"
                )
            print(f"   ratio onshi / swanctl.conf: {rates['onshi'] / rates['swanctl.conf']:.2f}")

            # 2. throughput
            ok = terminals.session(timeout=60)
            for _ in ok.initiate({"child": "svc", "ike": "o0", "timeout": "20000"}):
                pass
            vip = next(
                v.decode()
                for e in ok.list_sas()
                for sa in e.values()
                for v in sa.get("local-vips", [])
            )
            tunnel = _throughput(cl, svc, SERVICE, args.seconds, vip)
            plain = _throughput(gw, svc, SERVICE, args.seconds)
            print("\n2. TCP throughput, one stream")
            print(f"   through the tunnel ({engine.value} ESP): {tunnel / 1e6:8.1f} MB/s")
            print(f"   plain veth (gateway → service):      {plain / 1e6:8.1f} MB/s")
            print(f"   ratio tunnel / veth: {tunnel / plain:.3f}")

            # 3. 10,000 devices into a fresh charon
            many = tuple(
                Device(
                    f"m{i:06d}",
                    "pc",
                    x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"many-{i}")]),
                )
                for i in range(args.devices)
            )
            big = DesiredState(
                devices=many,
                nt_hashes={d.account: nt_hash(f"p{i}") for i, d in enumerate(many)},
                ca_pem=ca.cert_pem,
                gateway_cert_pem=gateway_cert.cert_pem,
                gateway_key_pem=gateway_cert.key_pem,
                crl_pem=empty_crl,
            )
            fresh = Charon(CharonConfig(work / "load", engine), wrap=gw.wrap)
            lab.charons.append(fresh)
            fresh.start()
            sync = Synchronizer(
                fresh.session(timeout=300),
                GatewayShape(GW, POOL, (SERVICE_NET,), encap=engine.encap),
            )
            start = time.perf_counter()
            report = sync.sync(big)
            load_s = time.perf_counter() - start
            start = time.perf_counter()
            again = sync.sync(big)
            idle_s = time.perf_counter() - start
            fresh.stop()
            print(
                f"\n3. {args.devices} devices loaded into charon: {load_s:.1f} s"
                f" ({len(report.loaded)} connections, {report.secrets_loaded} NT hashes;"
                f" target ≤ {LOAD_TARGET_S:.0f} s: {'pass' if load_s <= LOAD_TARGET_S else 'FAIL'})"
            )
            print(
                f"   an unchanged sync of the same state: {idle_s * 1000:.0f} ms"
                f" ({'nothing sent' if not again.changed else 'sent again?'})"
            )

            # 4. revocation with the 10,000 loaded into the running gateway
            directory.update(
                devices=devices + many,
                nt_hashes={**state.nt_hashes, **big.nt_hashes},
            )
            start = time.perf_counter()
            while len(gateway.sync.devices if gateway.sync else {}) < len(devices) + len(many):
                time.sleep(0.2)
                if time.perf_counter() - start > 120:
                    raise RuntimeError("the running gateway did not load the devices")
            print(
                f"\n4. the running gateway took {time.perf_counter() - start:.1f} s to add {args.devices} devices"
            )
            crl = ca.build_crl([(clients[0].cert.serial, datetime.now(UTC))]).public_bytes(
                Encoding.PEM
            )
            start = time.perf_counter()
            directory.update(crl_pem=crl)
            while any(
                sa.get("state") == b"ESTABLISHED" for e in ok.list_sas() for sa in e.values()
            ):
                time.sleep(0.05)
                if time.perf_counter() - start > 30:
                    break
            revoke_s = time.perf_counter() - start
            print(
                f"   one revocation effective (session cut) after {revoke_s:.2f} s"
                f" (target ≤ {REVOKE_TARGET_S:.0f} s: {'pass' if revoke_s <= REVOKE_TARGET_S else 'FAIL'})"
            )
            ok.transport.socket.close()
        finally:
            gateway.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
