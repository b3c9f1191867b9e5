"""The sync's diff and its failure handling, against a recording stand-in for charon's VICI.

The real charon is driven in test_gateway.py; here the point is what is sent, and what is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from vici.exception import CommandException

from onshi.pki.authority import CertificateAuthority
from onshi.vpn.gateway.directory import DesiredState, Device
from onshi.vpn.gateway.errors import ViciFailed
from onshi.vpn.gateway.sync import GatewayShape, Synchronizer
from tests.vpn.gateway.support import device_of, nt_hash

SHAPE = GatewayShape("198.51.100.1", "203.0.113.0/25", ("192.0.2.0/24",))


class RecordingVici:
    """Records commands; ``refuse`` names connections charon would refuse; ``sas`` is list_sas."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.refuse: set[str] = set()
        self.sas: list[dict[str, Any]] = []
        self.broken = False

    def __getattr__(self, command: str) -> Any:
        def call(message: Any = None) -> Any:
            if self.broken:
                raise OSError("socket closed")
            self.sent.append((command, message))
            if command == "load_conn" and set(message) & self.refuse:
                raise CommandException("loading connection failed")
            if command in ("unload_conn", "unload_shared") and message.get("name") == "gone":
                raise CommandException("not found")
            if command == "get_conns":
                return {"conns": [b"dev-old-pc"]}
            if command == "get_shared":
                return {"keys": [b"old"]}
            if command == "list_sas":
                return iter(self.sas)
            if command == "terminate":
                return iter([])
            return None

        return call

    def commands(self) -> list[str]:
        return [c for c, _ in self.sent]

    def take(self) -> list[tuple[str, Any]]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.create(tmp_path_factory.mktemp("ca") / "ca", "sync test CA")


@pytest.fixture
def state(ca: CertificateAuthority) -> Iterator[DesiredState]:
    gateway = ca.issue_server_certificate(["gw"], ["198.51.100.1"])
    devices = tuple(
        device_of("acct", name, ca.issue_device_certificate(f"acct-{name}")) for name in ("a", "b")
    )
    yield DesiredState(
        devices=devices,
        nt_hashes={"acct": nt_hash("pw")},
        ca_pem=ca.cert_pem,
        gateway_cert_pem=gateway.cert_pem,
        gateway_key_pem=gateway.key_pem,
        crl_pem=ca.build_crl([]).public_bytes(Encoding.PEM),
    )


def test_first_sync_loads_everything_and_removes_what_it_did_not_put(state: DesiredState) -> None:
    vici = RecordingVici()
    report = Synchronizer(vici, SHAPE).sync(state)
    assert sorted(report.loaded) == ["dev-acct-a", "dev-acct-b"]
    assert report.unloaded == ["dev-old-pc"] and report.secrets_unloaded == 1
    sent = dict((c, m) for c, m in vici.sent if c != "load_conn")
    assert sent["load_shared"] == {
        "type": "NTLM",
        "id": "acct",
        "data": nt_hash("pw"),
        "owners": ["acct"],
    }
    assert sent["load_authority"] == {"onshi-ca": {"cacert": state.ca_pem}}
    assert "flush_certs" in sent  # after the CRL


def test_an_unchanged_state_sends_nothing_and_a_change_sends_only_itself(
    state: DesiredState,
) -> None:
    vici = RecordingVici()
    sync = Synchronizer(vici, SHAPE)
    sync.sync(state)
    vici.take()
    assert not sync.sync(state).changed
    assert vici.commands() == []
    changed = DesiredState(**{**state.__dict__, "nt_hashes": {"acct": nt_hash("new")}})
    report = sync.sync(changed)
    assert report.secrets_loaded == 1 and not report.loaded
    assert vici.commands() == ["load_shared"]


def test_a_refused_device_does_not_keep_the_others_out(state: DesiredState) -> None:
    vici = RecordingVici()
    vici.refuse = {"dev-acct-a"}
    sync = Synchronizer(vici, SHAPE)
    report = sync.sync(state)
    assert report.loaded == ["dev-acct-b"] and report.refused == ["dev-acct-a"]
    vici.take()
    sync.sync(state)  # not retried while its data is the same
    assert "load_conn" not in vici.commands()


def test_a_broken_socket_is_an_error_with_its_code(state: DesiredState) -> None:
    vici = RecordingVici()
    vici.broken = True
    with pytest.raises(ViciFailed) as caught:
        Synchronizer(vici, SHAPE).sync(state)
    assert caught.value.code == "VPN_GATEWAY_VICI"


def test_a_removed_device_is_unloaded_and_its_sessions_terminated(state: DesiredState) -> None:
    vici = RecordingVici()
    sync = Synchronizer(vici, SHAPE)
    sync.sync(state)
    vici.sas = [
        {"dev-acct-a": {"uniqueid": b"4", "state": b"ESTABLISHED"}},
        {"dev-acct-a": {"uniqueid": b"5", "state": b"CONNECTING"}},
        {"dev-acct-b": {"uniqueid": b"6", "state": b"ESTABLISHED"}},
    ]
    vici.take()
    kept: tuple[Device, ...] = tuple(d for d in state.devices if d.name != "a")
    report = sync.sync(DesiredState(**{**state.__dict__, "devices": kept}))
    assert report.unloaded == ["dev-acct-a"]
    terminated = [m["ike-id"] for c, m in vici.sent if c == "terminate"]
    assert terminated == ["4", "5"]  # the half-open one goes too
    assert report.terminated == [("dev-acct-a", "4", "removed")]  # only the session is reported


def test_a_crl_revoking_a_serial_cuts_only_that_device(
    state: DesiredState, ca: CertificateAuthority
) -> None:
    vici = RecordingVici()
    sync = Synchronizer(vici, SHAPE)
    sync.sync(state)
    vici.sas = [
        {"dev-acct-a": {"uniqueid": b"4", "state": b"ESTABLISHED"}},
        {"dev-acct-b": {"uniqueid": b"6", "state": b"ESTABLISHED"}},
    ]
    (serial,) = state.devices[1].certificate_serials
    crl = ca.build_crl([(serial, datetime.now(UTC))])
    report = sync.sync(
        DesiredState(**{**state.__dict__, "crl_pem": crl.public_bytes(Encoding.PEM)})
    )
    assert report.crl_loaded
    assert report.terminated == [("dev-acct-b", "6", "revoked")]
