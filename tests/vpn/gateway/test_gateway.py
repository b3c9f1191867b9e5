"""The gateway end to end: terminals in namespaces log in through a real charon the gateway drives.

One gateway serves the whole module (starting one costs about a second); every test leaves it
with no session up.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from onshi.pki.issued import IssuedCertificate
from onshi.vpn.gateway.config import EspEngine
from onshi.vpn.gateway.directory import DesiredState, MemoryDirectory, Termination
from onshi.vpn.gateway.policy import Target
from onshi.vpn.gateway.runner import Gateway, GatewayOptions
from tests.netns import Lab, tcp_exchange, wait_for
from tests.vpn.gateway import topology as net
from tests.vpn.gateway.conftest import esp_engine_of
from tests.vpn.gateway.support import Pki, Terminal, device_of, nt_hash

pytestmark = [pytest.mark.netns, pytest.mark.slow]

PASSWORDS = {"acctA": "correct horse A", "acctB": "battery staple B"}
_names = itertools.count()


@dataclass
class Setup:
    network: net.Network
    pki: Pki
    directory: MemoryDirectory
    gateway: Gateway
    engine: EspEngine
    terminals: dict[str, Terminal]
    certs: dict[tuple[str, str], IssuedCertificate]
    revoked: list[tuple[int, datetime]]

    def connect(
        self,
        terminal: str,
        account: str,
        device: str,
        *,
        password: str | None = None,
        eap_account: str | None = None,
        certificate: IssuedCertificate | None = None,
        without_certificate: bool = False,
    ) -> tuple[bool, str]:
        t = self.terminals[terminal]
        name = f"c{next(_names)}"
        eap = eap_account or account
        t.configure(
            gateway=net.GATEWAY_WAN,
            certificate=certificate or self.certs[(account, device)],
            ca_pem=self.pki.ca.cert_pem,
            account=eap,
            password=password if password is not None else PASSWORDS[eap],
            remote_ts=net.SERVICE_NET,
            encap=self.engine.encap,
            name=name,
            without_certificate=without_certificate,
        )
        return t.connect(name)

    def revoke(self, *certificates: IssuedCertificate, **changes: object) -> None:
        """Add to the CRL (CRLs only grow: charon keeps the newer one) and publish it."""
        self.revoked += [(c.serial, datetime.now(UTC)) for c in certificates]
        crl = self.pki.ca.build_crl(self.revoked).public_bytes(Encoding.PEM)
        self.directory.update(crl_pem=crl, **changes)

    def gateway_sessions(self) -> int:
        return len(self.gateway.live_sessions())


@pytest.fixture(scope="module")
def setup(lab: Lab, module_dir: Path) -> Iterator[Setup]:
    network = net.build(lab)
    engine = esp_engine_of(network.gw)
    pki = Pki.create(module_dir, net.GATEWAY_WAN)
    certs = {
        (account, device): pki.ca.issue_device_certificate(f"{account}-{device}")
        for account, device in [
            ("acctA", "pc1"),
            ("acctA", "pc2"),
            ("acctA", "pc3"),
            ("acctB", "pc1"),
            ("acctB", "revoked"),
            ("acctB", "cancelled"),
            ("acctB", "renewed"),
        ]
    }
    devices = tuple(device_of(a, d, c) for (a, d), c in certs.items())
    state = DesiredState(
        devices=devices,
        nt_hashes={a: nt_hash(p) for a, p in PASSWORDS.items()},
        ca_pem=pki.ca.cert_pem,
        gateway_cert_pem=pki.gateway.cert_pem,
        gateway_key_pem=pki.gateway.key_pem,
        crl_pem=pki.ca.build_crl([]).public_bytes(Encoding.PEM),
        session_limits={"acctA": 2, "acctB": 3},
    )
    directory = MemoryDirectory(state)
    options = GatewayOptions(
        listen=net.GATEWAY_WAN,
        pool=net.POOL,
        targets=(
            Target("eligibility", net.SERVICE, net.ELIGIBILITY_PORT),
            Target("claims", net.SERVICE, net.CLAIMS_PORT),
        ),
        tick=0.5,
        update_interval=1.0,
        state_dir=module_dir / "gw",
        wrap=tuple(network.gw.wrap),
    )
    gateway = Gateway(options, directory)
    gateway.start()
    lab.charons.append(gateway.charon)  # type: ignore[arg-type]
    gateway.run_in_thread()
    terminals = {
        h.short: Terminal.start(h, module_dir / h.short, engine)
        for h in (network.t1, network.t2, network.t3)
    }
    try:
        yield Setup(network, pki, directory, gateway, engine, terminals, certs, [])
    finally:
        gateway.stop()


@pytest.fixture
def gw(setup: Setup) -> Iterator[Setup]:
    saved = setup.directory.desired_state()
    yield setup
    for t in setup.terminals.values():
        t.disconnect()
    # The CRL stays: revocations are for good, so each test revokes a device of its own.
    setup.directory.update(devices=saved.devices, nt_hashes=saved.nt_hashes)
    assert wait_for(lambda: setup.gateway_sessions() == 0, 10), "sessions left on the gateway"
    setup.directory.events.clear()


# -- acceptance -------------------------------------------------------------------------


def test_certificate_and_password_of_one_id_connect_and_reach_the_targets(gw: Setup) -> None:
    ok, log = gw.connect("t3", "acctA", "pc1")
    assert ok, log
    vips = gw.terminals["t3"].virtual_ips()
    assert len(vips) == 1 and vips[0].startswith("203.0.113.")
    assert tcp_exchange(gw.network.t3, net.SERVICE, net.ELIGIBILITY_PORT) == "eligibility:ping"
    assert tcp_exchange(gw.network.t3, net.SERVICE, net.CLAIMS_PORT) == "claims:ping"
    assert wait_for(lambda: gw.directory.events_of("up"), 5)
    up = gw.directory.events_of("up")[0]
    assert (up.account, up.device, up.virtual_ip) == ("acctA", "pc1", vips[0])
    assert up.remote_addr == "198.51.100.31"
    assert wait_for(lambda: [e for e in gw.directory.events_of("update") if e.bytes_in], 3)
    gw.terminals["t3"].disconnect()
    assert wait_for(lambda: gw.directory.events_of("down"), 5)
    down = gw.directory.events_of("down")[0]
    assert (down.account, down.device) == ("acctA", "pc1")
    assert down.bytes_in > 0 and down.bytes_out > 0


def test_two_terminals_behind_one_site_nat_each_get_an_address(gw: Setup) -> None:
    assert gw.connect("t1", "acctA", "pc1")[0]
    assert gw.connect("t2", "acctA", "pc2")[0]
    a, b = gw.terminals["t1"].virtual_ips(), gw.terminals["t2"].virtual_ips()
    assert len(a) == len(b) == 1 and a != b
    for t in (gw.network.t1, gw.network.t2):
        assert tcp_exchange(t, net.SERVICE, net.ELIGIBILITY_PORT) == "eligibility:ping"


# -- refusals ---------------------------------------------------------------------------


def test_wrong_password_is_refused(gw: Setup) -> None:
    ok, log = gw.connect("t3", "acctA", "pc1", password="not the password")
    assert not ok
    assert "EAP" in log or "AUTHENTICATION_FAILED" in log
    assert gw.terminals["t3"].virtual_ips() == []


def test_another_ids_password_with_this_certificate_is_refused(gw: Setup) -> None:
    # acctB's own, correct password, offered with acctA's device certificate
    ok, _ = gw.connect("t3", "acctA", "pc1", eap_account="acctB")
    assert not ok
    assert gw.gateway_sessions() == 0


def test_certificate_from_a_foreign_ca_is_refused(gw: Setup) -> None:
    forged = gw.pki.foreign.issue_device_certificate("acctA-pc1")  # same subject, wrong issuer
    ok, _ = gw.connect("t3", "acctA", "pc1", certificate=forged)
    assert not ok
    assert gw.gateway_sessions() == 0


def test_no_certificate_is_refused(gw: Setup) -> None:
    ok, _ = gw.connect("t3", "acctA", "pc1", without_certificate=True)
    assert not ok
    assert gw.gateway_sessions() == 0


def test_unknown_device_is_refused(gw: Setup) -> None:
    stranger = gw.pki.ca.issue_device_certificate("acctA-unregistered")
    ok, _ = gw.connect("t3", "acctA", "pc1", certificate=stranger)
    assert not ok


def test_revocation_cuts_the_live_session_within_5_s_and_refuses_the_next(gw: Setup) -> None:
    assert gw.connect("t3", "acctB", "revoked")[0]
    gw.revoke(gw.certs[("acctB", "revoked")])
    assert wait_for(lambda: not gw.terminals["t3"].established(), 5), "session not cut"
    # the terminal hears the DELETE before the gateway's loop records why it sent it
    assert wait_for(lambda: gw.directory.events_of("terminated"), 2)
    cut = gw.directory.events_of("terminated")
    assert [(e.account, e.device, e.reason) for e in cut] == [("acctB", "revoked", "revoked")]
    ok, log = gw.connect("t3", "acctB", "revoked")
    assert not ok, log


def test_cancelled_device_is_cut_within_5_s(gw: Setup) -> None:
    assert gw.connect("t3", "acctB", "cancelled")[0]
    state = gw.directory.desired_state()
    gw.directory.update(devices=tuple(d for d in state.devices if d.name != "cancelled"))
    assert wait_for(lambda: not gw.terminals["t3"].established(), 5), "session not cut"
    assert not gw.connect("t3", "acctB", "cancelled")[0]


def test_password_change_takes_effect(gw: Setup) -> None:
    state = gw.directory.desired_state()
    gw.directory.update(nt_hashes={**state.nt_hashes, "acctB": nt_hash("new password B")})
    wait_for(lambda: False, 1.5)  # a sync tick
    assert not gw.connect("t3", "acctB", "pc1")[0]
    assert gw.connect("t3", "acctB", "pc1", password="new password B")[0]


def test_a_session_beyond_the_ids_limit_is_refused(gw: Setup) -> None:
    assert gw.connect("t1", "acctA", "pc1")[0]
    assert gw.connect("t2", "acctA", "pc2")[0]
    gw.connect("t3", "acctA", "pc3")  # may come up for an instant; must not stay
    assert wait_for(lambda: not gw.terminals["t3"].established(), 5)
    assert gw.terminals["t1"].established() and gw.terminals["t2"].established()
    assert wait_for(lambda: gw.directory.events_of("refused"), 2)
    refused = gw.directory.events_of("refused")
    assert [(e.account, e.device, e.reason) for e in refused] == [("acctA", "pc3", "session-limit")]


def test_operator_cuts_one_session_by_its_id(gw: Setup) -> None:
    assert gw.connect("t1", "acctA", "pc1")[0]
    assert gw.connect("t3", "acctA", "pc2")[0]
    assert wait_for(lambda: len(gw.directory.events_of("up")) == 2, 5)
    target = next(e for e in gw.directory.events_of("up") if e.device == "pc2")
    request = Termination("acctA", session_id=target.session_id, request_id=7)
    gw.directory.terminate(request)
    assert wait_for(lambda: not gw.terminals["t3"].established(), 5)
    assert gw.terminals["t1"].established()
    assert gw.directory.completed == [(request, "terminated")]
    gone = Termination("acctA", session_id=target.session_id, request_id=8)
    gw.directory.terminate(gone)
    assert wait_for(lambda: len(gw.directory.completed) == 2, 5)
    assert gw.directory.completed[1] == (gone, "already_gone")
    gw.directory.completed.clear()


def test_renewal_revokes_the_old_certificate_and_cuts_its_session(gw: Setup) -> None:
    old = gw.certs[("acctB", "renewed")]
    assert gw.connect("t3", "acctB", "renewed")[0]
    new = gw.pki.ca.issue_device_certificate("acctB-renewed")
    state = gw.directory.desired_state()
    renewed = tuple(
        device_of("acctB", "renewed", new) if d.name == "renewed" else d for d in state.devices
    )
    gw.revoke(old, devices=renewed)
    assert wait_for(lambda: not gw.terminals["t3"].established(), 5), "old certificate stays"
    assert wait_for(lambda: gw.directory.events_of("terminated"), 2)
    assert [e.reason for e in gw.directory.events_of("terminated")] == ["revoked"]
    assert not gw.connect("t3", "acctB", "renewed")[0]
    assert gw.connect("t3", "acctB", "renewed", certificate=new)[0]


# -- access policy ---------------------------------------------------------------------


def test_only_the_targets_are_reachable_through_the_tunnel(gw: Setup) -> None:
    assert gw.connect("t3", "acctA", "pc1")[0]
    t3 = gw.network.t3
    assert tcp_exchange(t3, net.SERVICE, net.ELIGIBILITY_PORT) == "eligibility:ping"
    assert tcp_exchange(t3, net.SERVICE, net.FORBIDDEN_PORT).startswith("FAILED")
    assert tcp_exchange(t3, net.SERVICE_OTHER, net.ELIGIBILITY_PORT).startswith("FAILED")
    # the listeners are there: the gateway host itself reaches them
    assert tcp_exchange(gw.network.gw, net.SERVICE, net.FORBIDDEN_PORT) == "forbidden:ping"


def test_terminals_cannot_reach_the_gateway_itself(gw: Setup) -> None:
    assert gw.connect("t3", "acctA", "pc1")[0]
    assert tcp_exchange(gw.network.t3, net.GATEWAY_SVC, net.GATEWAY_PORT).startswith("FAILED")
    assert tcp_exchange(gw.network.svc, net.GATEWAY_SVC, net.GATEWAY_PORT) == "gateway:ping"


def test_no_terminal_to_terminal_same_site_or_other_site(gw: Setup) -> None:
    assert gw.connect("t1", "acctA", "pc1")[0]
    assert gw.connect("t2", "acctA", "pc2")[0]
    assert gw.connect("t3", "acctB", "pc1")[0]
    vip = {name: t.virtual_ips()[0] for name, t in gw.terminals.items()}
    t1 = gw.network.t1
    assert tcp_exchange(t1, vip["t2"], net.TERMINAL_PORT, 1.0).startswith("FAILED")  # same site
    assert tcp_exchange(t1, vip["t3"], net.TERMINAL_PORT, 1.0).startswith("FAILED")  # other site
    # the same listener answers on the terminal itself
    assert tcp_exchange(gw.network.t3, vip["t3"], net.TERMINAL_PORT) == "t3:ping"
