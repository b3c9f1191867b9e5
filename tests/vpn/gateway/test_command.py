"""``onshi vpn gateway run`` for real: the command in the gateway's namespace, the control plane's
database behind it, a terminal with a certificate the control plane issued."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onshi.pki.issued import IssuedCertificate, parse_certificate_pem, parse_private_key_pem
from onshi.vpn.client.profiles import ClientProfile, render_swanctl
from onshi.vpn.services import IssuedDevice, VpnControlPlane
from onshi.vpn.settings import VpnSettings
from tests.netns import Lab, tcp_exchange, wait_for
from tests.vpn.conftest import PASSWORD, open_application
from tests.vpn.gateway import topology as net
from tests.vpn.gateway.conftest import esp_engine_of
from tests.vpn.gateway.support import Terminal

pytestmark = [pytest.mark.netns, pytest.mark.slow]


def _issued(device: IssuedDevice) -> IssuedCertificate:
    return IssuedCertificate(
        parse_certificate_pem(device.cert_pem), parse_private_key_pem(device.key_pem)
    )


def test_the_command_serves_what_the_control_plane_decides(lab: Lab, module_dir: Path) -> None:
    network = net.build(lab)
    engine = esp_engine_of(network.gw)
    settings = VpnSettings(
        database_url=f"sqlite:///{module_dir}/vpn.sqlite3",
        data_dir=module_dir / "vpn",
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    control = VpnControlPlane.open(settings)
    try:
        (account,) = open_application(control, opened_on=dt.date(2026, 4, 15)).accounts
        pc1 = control.issue_device(account, "pc1")
        gateway = network.gw.popen(
            sys.executable, "-m", "onshi", "vpn", "gateway", "run",
            "--db", settings.database_url, "--data-dir", str(settings.data_dir),
            "--listen", net.GATEWAY_WAN, "--pool", net.POOL,
            "--target", f"eligibility={net.SERVICE}:{net.ELIGIBILITY_PORT}",
            "--state-dir", str(module_dir / "charon"),
            stdout=subprocess.PIPE,
            stderr=(module_dir / "gateway.log").open("wb"),
        )  # fmt: skip
        assert gateway.stdout is not None
        banner = gateway.stdout.readline().decode()
        assert banner.startswith(f"onshi VPN gateway on {net.GATEWAY_WAN}"), banner
        terminal = Terminal.start(network.t3, module_dir / "t3", engine)

        def connect(device: IssuedDevice, password: str = PASSWORD) -> bool:
            name = f"c{time.monotonic_ns()}"
            terminal.configure(
                gateway=net.GATEWAY_WAN,
                certificate=_issued(device),
                ca_pem=device.ca_pem,
                account=account,
                password=password,
                remote_ts=net.SERVICE_NET,
                encap=engine.encap,
                name=name,
            )
            return terminal.connect(name)[0]

        assert connect(pc1)
        assert tcp_exchange(network.t3, net.SERVICE, net.ELIGIBILITY_PORT) == "eligibility:ping"
        assert tcp_exchange(network.t3, net.SERVICE, net.FORBIDDEN_PORT, 0.5).startswith("FAILED")
        assert wait_for(lambda: control.active_sessions(account), 3)
        (live,) = control.active_sessions(account)
        assert (live.device, live.virtual_address) == ("pc1", terminal.virtual_ips()[0])

        # a revocation in the control plane cuts the live session within 5 s
        started = time.monotonic()
        control.revoke_device(pc1.certificate.serial)
        assert wait_for(lambda: not terminal.established(), 5), "revoked session not cut"
        assert time.monotonic() - started <= 5
        assert wait_for(lambda: not control.active_sessions(account), 3)
        assert control.recent_connections(account)[0].end_reason == "terminated: revoked"
        assert not connect(pc1)

        # a new device reaches charon within 5 s
        pc2 = control.issue_device(account, "pc2")
        started = time.monotonic()
        assert wait_for(lambda: connect(pc2), 5, interval=0.5), "new device not loaded"
        # an operator's termination request is carried out and reported done
        assert wait_for(lambda: control.active_sessions(account), 3)
        (live,) = control.active_sessions(account)
        control.request_session_termination(live.id)
        assert wait_for(lambda: not terminal.established(), 5)
        assert wait_for(lambda: not control.pending_terminations(), 3)

        # the profile `onshi vpn client profile` writes connects as it is
        swanctl = module_dir / "swanctl"
        for sub in ("x509", "x509ca", "private"):
            (swanctl / sub).mkdir(parents=True, exist_ok=True)
        profile = ClientProfile(
            account=account,
            device="pc2",
            gateway_host=net.GATEWAY_WAN,
            ca_pem=pc2.ca_pem,
            service_subnets=(net.SERVICE_NET,),
            device_cert_pem=pc2.cert_pem,
        )
        (swanctl / "swanctl.conf").write_text(render_swanctl(profile, eap_password=PASSWORD))
        (swanctl / "x509" / profile.device_cert_file).write_bytes(pc2.cert_pem)
        (swanctl / "x509ca" / profile.ca_cert_file).write_bytes(pc2.ca_pem)
        (swanctl / "private" / profile.device_key_file).write_bytes(pc2.key_pem)
        uri = ["--uri", f"unix://{terminal.charon.vici_path}"]
        env = {"SWANCTL_DIR": str(swanctl), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        loaded = subprocess.run(
            ["swanctl", "--load-all", "--noprompt", *uri], env=env, capture_output=True, text=True
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        up = subprocess.run(
            ["swanctl", "--initiate", "--child", profile.connection_name, *uri],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert up.returncode == 0, up.stdout[-3000:]
        assert tcp_exchange(network.t3, net.SERVICE, net.ELIGIBILITY_PORT) == "eligibility:ping"

        gateway.send_signal(signal.SIGTERM)
        assert gateway.wait(20) == 0
        assert not (module_dir / "charon" / "charon.vici").exists()
        assert "onshi_vpn" not in network.gw.run("nft", "list", "tables")
    finally:
        control.close()
