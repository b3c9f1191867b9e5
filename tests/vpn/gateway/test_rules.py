"""The gateway's pure parts: which sessions to cut, what charon and nftables are given."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from onshi.vpn.gateway.config import CharonConfig, EspEngine, render_strongswan_conf
from onshi.vpn.gateway.directory import DesiredState, Device, Termination
from onshi.vpn.gateway.events import parse_event
from onshi.vpn.gateway.policy import AccessPolicy, Target, render_ruleset
from onshi.vpn.gateway.sweeper import LiveSession, parse_sa, plan_cuts
from onshi.vpn.gateway.sync import GatewayShape, connection_name, identity_of, render_connection


def session(
    ike_id: str,
    account: str = "a",
    device: str = "pc1",
    *,
    age: int = 10,
    state: str = "ESTABLISHED",
) -> LiveSession:
    return LiveSession(
        ike_id,
        f"1700000000-{ike_id}",
        f"dev-{account}-{device}",
        account,
        device,
        state,
        age,
        None,
        None,
        0,
        0,
    )


def limit_two(_: str) -> int:
    return 2


# -- sweeper -------------------------------------------------------------------------


def test_sessions_within_the_limit_are_left_alone() -> None:
    assert (
        plan_cuts([session("1"), session("2", device="pc2")], limit_of=limit_two, max_connect=None)
        == []
    )


def test_the_newest_session_beyond_the_limit_is_refused() -> None:
    sessions = [
        session("1", age=30),
        session("3", device="pc3", age=0),
        session("2", device="pc2", age=5),
    ]
    cuts = plan_cuts(sessions, limit_of=limit_two, max_connect=None)
    assert [(c.session.ike_id, c.kind, c.reason) for c in cuts] == [
        ("3", "refused", "session-limit")
    ]


def test_within_one_second_the_higher_ike_id_is_the_newer() -> None:
    sessions = [
        session("10", age=0),
        session("9", device="pc2", age=0),
        session("11", device="pc3", age=0),
    ]
    cuts = plan_cuts(sessions, limit_of=limit_two, max_connect=None)
    assert [c.session.ike_id for c in cuts] == ["11"]


def test_half_open_sessions_do_not_count() -> None:
    sessions = [
        session("1"),
        session("2", device="pc2"),
        session("3", device="pc3", state="CONNECTING"),
    ]
    assert plan_cuts(sessions, limit_of=limit_two, max_connect=None) == []


def test_limits_are_per_account() -> None:
    sessions = [session("1"), session("2", device="pc2"), session("3", account="b")]
    assert plan_cuts(sessions, limit_of=limit_two, max_connect=None) == []


def test_a_zero_limit_refuses_everything() -> None:
    cuts = plan_cuts([session("1")], limit_of=lambda _: 0, max_connect=None)
    assert [c.kind for c in cuts] == ["refused"]


def test_maximum_connection_time_is_inclusive() -> None:
    cuts = plan_cuts(
        [session("1", age=59), session("2", device="pc2", age=60)],
        limit_of=limit_two,
        max_connect=60,
    )
    assert [(c.session.ike_id, c.reason) for c in cuts] == [("2", "max-duration")]


def test_a_session_cut_for_its_age_frees_a_place_within_the_limit() -> None:
    sessions = [
        session("1", age=100),
        session("2", device="pc2", age=5),
        session("3", device="pc3", age=1),
    ]
    cuts = plan_cuts(sessions, limit_of=limit_two, max_connect=60)
    assert [(c.session.ike_id, c.reason) for c in cuts] == [("1", "max-duration")]


def test_operator_terminations_by_device_and_by_account() -> None:
    sessions = [session("1"), session("2", device="pc2"), session("3", account="b")]
    cuts = plan_cuts(
        sessions, limit_of=limit_two, max_connect=None, terminations=[Termination("a", "pc2")]
    )
    assert [(c.session.ike_id, c.kind, c.reason) for c in cuts] == [("2", "terminated", "operator")]
    cuts = plan_cuts(
        sessions,
        limit_of=limit_two,
        max_connect=None,
        terminations=[Termination("a", reason="cancelled")],
    )
    assert sorted(c.session.ike_id for c in cuts) == ["1", "2"]


def test_sessions_of_unknown_connections_are_not_touched() -> None:
    stray = session("1", account="")
    assert plan_cuts([stray], limit_of=lambda _: 0, max_connect=0) == []


def test_parse_sa_reads_what_list_sas_gives() -> None:
    device = Device("a", "pc1", _name("a-pc1"))
    sa = {
        "uniqueid": b"7",
        "state": b"ESTABLISHED",
        "established": b"42",
        "remote-host": b"198.51.100.31",
        "remote-vips": [b"203.0.113.5"],
        "child-sas": {
            "svc-1": {"bytes-in": b"100", "bytes-out": b"50"},
            "svc-2": {"bytes-in": b"1", "bytes-out": b"2"},
        },
    }
    s = parse_sa("dev-a-pc1", sa, {"dev-a-pc1": device})
    assert (s.ike_id, s.account, s.device, s.established) == ("7", "a", "pc1", 42)
    assert (s.virtual_ip, s.remote_addr, s.bytes_in, s.bytes_out) == (
        "203.0.113.5",
        "198.51.100.31",
        101,
        52,
    )
    assert parse_sa("other", {"uniqueid": b"1"}, {}).account == ""


def test_parse_event() -> None:
    e = parse_event(b"ike-updown", {"up": b"yes", "dev-a-pc1": {"uniqueid": b"1"}})
    assert (e.kind, e.up, list(e.sas)) == ("ike-updown", True, ["dev-a-pc1"])
    assert not parse_event("child-updown", {"dev-a-pc1": {}}).up


# -- what charon is given -------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onshi, devices"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _state() -> DesiredState:
    return DesiredState(
        devices=(Device("a", "pc1", _name("a-pc1")),),
        nt_hashes={"a": b"\x00" * 16},
        ca_pem=b"CA",
        gateway_cert_pem=b"GW",
        gateway_key_pem=b"KEY",
    )


def test_a_device_connection_ties_certificate_and_password_to_one_id() -> None:
    shape = GatewayShape(
        "198.51.100.1", "203.0.113.0/25", ("192.0.2.0/24",), idle_timeout=90, encap=True
    )
    conn = render_connection(_state().devices[0], _state(), shape, "asn1dn:#3000")
    assert conn["local"] == {"auth": "pubkey", "id": "asn1dn:#3000"}
    assert conn["remote-1"] == {"auth": "pubkey", "id": identity_of(_name("a-pc1"))}
    assert conn["remote-2"] == {"auth": "eap-mschapv2", "eap_id": "a"}
    assert conn["children"]["svc"]["inactivity"] == "90"
    assert conn["children"]["svc"]["local_ts"] == ["192.0.2.0/24"]
    assert conn["encap"] == "yes" and conn["unique"] == "never"
    assert "reauth_time" not in conn  # the maximum connection time is the sweeper's


def test_identity_is_the_subject_in_der_so_commas_need_no_quoting() -> None:
    name = _name("a-pc1")
    assert identity_of(name) == "asn1dn:#" + name.public_bytes().hex()
    assert connection_name("a", "pc1") == "dev-a-pc1"


def test_gateway_shape_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        GatewayShape("not an address", "203.0.113.0/25", ())
    with pytest.raises(ValueError):
        GatewayShape("198.51.100.1", "203.0.113.0/33", ())


def test_strongswan_conf_per_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = render_strongswan_conf(CharonConfig(tmp_path, EspEngine.USERSPACE))
    kernel = render_strongswan_conf(CharonConfig(tmp_path, EspEngine.KERNEL))
    assert "kernel-libipsec" in user and "kernel-libipsec" not in kernel
    assert f"unix://{tmp_path}/charon.vici" in user
    assert "inactivity_close_ike = yes" in user
    assert EspEngine.USERSPACE.encap and not EspEngine.KERNEL.encap


# -- what nftables is given ---------------------------------------------------------------


def test_target_parse() -> None:
    assert Target.parse("eligibility=192.0.2.10:443") == Target("eligibility", "192.0.2.10", 443)
    for bad in (
        "x",
        "a=192.0.2.1",
        "a=192.0.2.1:0",
        "a=192.0.2.1:70000",
        "a=host:443",
        "a=2001:db8::1:443",
        "=192.0.2.1:1",
        "a b=192.0.2.1:1",
    ):
        with pytest.raises(ValueError):
            Target.parse(bad)


def test_ruleset_replaces_its_table_atomically_and_drops_by_default() -> None:
    rules = render_ruleset(
        AccessPolicy(
            "203.0.113.0/25",
            (Target("claims", "192.0.2.10", 8444), Target("eligibility", "192.0.2.10", 8443)),
            'iifname "ipsec0"',
        )
    )
    lines = [line.strip() for line in rules.splitlines()]
    assert lines[:3] == [
        "table inet onshi_vpn",
        "delete table inet onshi_vpn",
        "table inet onshi_vpn {",
    ]
    assert "elements = { 192.0.2.10 . 8443, 192.0.2.10 . 8444 }" in lines
    assert "type filter hook forward priority filter; policy drop;" in lines
    assert 'iifname "ipsec0" ip daddr 203.0.113.0/25 counter drop' in lines
    assert 'iifname "ipsec0" counter drop' in lines
    # the accept for targets comes after the hairpin drop
    assert rules.index("ip daddr 203.0.113.0/25 counter drop") < rules.index(
        "@targets counter accept"
    )


def test_ruleset_without_targets_still_parses_as_an_empty_set() -> None:
    rules = render_ruleset(AccessPolicy("203.0.113.0/25", (), "meta ipsec exists"))
    assert "elements" not in rules and "set targets" in rules


def test_the_gateway_identity_is_what_terminal_profiles_expect() -> None:
    shape = GatewayShape("198.51.100.1", "203.0.113.0/25", ("192.0.2.0/24",), identity="vpn.test")
    conn = render_connection(_state().devices[0], _state(), shape)
    assert conn["local"] == {"auth": "pubkey", "id": "vpn.test"}
