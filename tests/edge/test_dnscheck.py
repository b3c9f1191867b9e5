"""check-dns against a DNS server started on loopback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from onshi.edge.areas import Area, load_catalog
from onshi.edge.cli import router_app
from onshi.edge.dnscheck import Transport, check_name, check_names
from onshi.edge.errors import DnsCheckError

from .dns_server import Zone, serve

BIG = [f"2404:1a8:f583:d00::{i:x}" for i in range(1, 41)]  # 40 AAAA: ~1.2 KB, beyond 512


def field_zone(**kwargs: object) -> Zone:
    names = load_catalog().connectivity_test(Area.EAST)
    records: dict[tuple[str, str], list[str]] = {
        (n, "AAAA"): ["2404:1a8:f583:d00::10"] for n in names
    }
    records[("pweb.base.oqs-pdl.org", "AAAA")] = BIG
    records[("www.lineauth.mnw", "AAAA")] = []  # only an A record, as for an IPv4 host
    records[("www.lineauth.mnw", "A")] = ["10.10.10.10"]
    return Zone(records, **kwargs)  # type: ignore[arg-type]


def test_large_answer_over_udp_with_edns() -> None:
    zone = field_zone()
    with serve(zone) as port:
        verdict = check_name("pweb.base.oqs-pdl.org", "127.0.0.1", port)
    assert verdict.ok and len(verdict.addresses) == 40
    assert verdict.transport is Transport.UDP and zone.tcp_queries == 0


def test_truncated_answer_falls_back_to_tcp() -> None:
    zone = field_zone(honour_edns=False)
    with serve(zone) as port:
        verdict = check_name("pweb.base.oqs-pdl.org", "127.0.0.1", port)
    assert verdict.ok and len(verdict.addresses) == 40
    assert verdict.transport is Transport.TCP and "truncated" in verdict.reason
    assert zone.tcp_queries == 1


def test_without_edns_the_big_answer_needs_tcp() -> None:
    zone = field_zone()
    with serve(zone) as port:
        verdict = check_name("pweb.base.oqs-pdl.org", "127.0.0.1", port, edns=False)
    assert verdict.ok and verdict.transport is Transport.TCP


def test_a_record_when_no_aaaa() -> None:
    with serve(field_zone()) as port:
        verdict = check_name("www.lineauth.mnw", "127.0.0.1", port)
    assert (
        verdict.ok
        and verdict.addresses == ("10.10.10.10",)
        and verdict.reason.startswith("A over udp")
    )


def test_nxdomain_and_timeout_fail_with_reasons() -> None:
    zone = field_zone(silent={"ntp.base.oqs-pdl.org"})
    with serve(zone) as port:
        missing = check_name("nosuch.onshikaku.org", "127.0.0.1", port)
        silent = check_name("ntp.base.oqs-pdl.org", "127.0.0.1", port, timeout=0.3)
    assert not missing.ok and missing.reason.startswith("NXDOMAIN")
    assert not silent.ok and "no answer" in silent.reason and "0.3 s" in silent.reason


def test_name_without_addresses() -> None:
    zone = Zone({("empty.onshikaku.org", "TXT"): ["x"]})
    with serve(zone) as port:
        verdict = check_name("empty.onshikaku.org", "127.0.0.1", port)
    assert not verdict.ok and verdict.reason == "no A or AAAA record (no AAAA, no A)"


def test_bad_server_is_refused() -> None:
    with pytest.raises(DnsCheckError):
        check_names(["x.org"], "dns.example", 53)
    with pytest.raises(DnsCheckError):
        check_names(["x.org"], "127.0.0.1", 70000)


def test_cli_one_verdict_per_name_json() -> None:
    zone = field_zone(honour_edns=False)
    zone.records.pop(("hweb.oqs-st.onshikaku.org", "AAAA"))  # NXDOMAIN now
    with serve(zone) as port:
        result = CliRunner().invoke(
            router_app,
            [
                "check-dns",
                "--server",
                "127.0.0.1",
                "--port",
                str(port),
                "--area",
                "east",
                "--format",
                "json",
            ],
        )
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    names = [n["name"] for n in doc["names"]]
    assert names == list(load_catalog().connectivity_test(Area.EAST))
    by_name = {n["name"]: n for n in doc["names"]}
    assert by_name["hweb.oqs-st.onshikaku.org"]["ok"] is False
    assert by_name["hweb.oqs-st.onshikaku.org"]["reason"].startswith("NXDOMAIN")
    assert by_name["pweb.base.oqs-pdl.org"] == by_name["pweb.base.oqs-pdl.org"] | {
        "ok": True,
        "transport": "tcp",
    }
    assert sum(n["ok"] for n in doc["names"]) == 5 and doc["ok"] is False


def test_cli_all_pass_text() -> None:
    with serve(field_zone()) as port:
        result = CliRunner().invoke(
            router_app, ["check-dns", "--server", "127.0.0.1", "--port", str(port)]
        )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(line.startswith("PASS") for line in lines)


def test_cli_bad_server_exit_2() -> None:
    result = CliRunner().invoke(router_app, ["check-dns", "--server", "not-an-ip"])
    assert result.exit_code == 2 and "edge.dns.server" in result.stderr
