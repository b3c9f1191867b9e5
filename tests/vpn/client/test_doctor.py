"""The doctor's checks on loopback: a fake IKE responder, certificates, clock, the service."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onshi.cli import app
from onshi.pki import CertificateAuthority
from onshi.vpn.client.doctor import (
    Check,
    DoctorOptions,
    Report,
    check_certificate,
    check_clock,
    check_service,
    read_profile,
    run_checks,
)
from onshi.vpn.client.errors import ProfileInvalid
from onshi.vpn.client.ike import (
    NON_ESP_MARKER,
    PAYLOAD_KE,
    PAYLOAD_SA,
    IkeSaInitRequest,
    parse_message,
)
from onshi.vpn.client.profiles import ClientProfile, render_swanctl
from tests.vpn.client.ike_answers import nat_notifies, response


class FakeGateway:
    """UDP responders on two loopback ports answering IKE_SA_INIT like a gateway would."""

    def __init__(self) -> None:
        self.sockets = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.2)
            self.sockets.append(s)
        self.ports = (self.sockets[0].getsockname()[1], self.sockets[1].getsockname()[1])
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._serve, args=(s, i == 1), daemon=True)
            for i, s in enumerate(self.sockets)
        ]
        for t in self.threads:
            t.start()

    def _serve(self, sock: socket.socket, nat_t: bool) -> None:
        while not self.stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            if nat_t:
                data = data[4:]
            request = IkeSaInitRequest(spi_i=parse_message(data).spi_i)
            here = sock.getsockname()
            answer = response(
                request,
                [
                    (PAYLOAD_SA, b""),
                    (PAYLOAD_KE, struct.pack("!HH", 31, 0) + bytes(32)),
                    *nat_notifies(request, peer, here),
                ],
            )
            sock.sendto((NON_ESP_MARKER if nat_t else b"") + answer, peer)

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(2)
        for s in self.sockets:
            s.close()


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    yield fake
    fake.close()


@pytest.fixture
def tcp_service() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def write_profile(tmp_path: Path, ca: CertificateAuthority, cert_pem: bytes) -> Path:
    tree = tmp_path / "swanctl"
    for sub in ("conf.d", "x509", "x509ca"):
        (tree / sub).mkdir(parents=True)
    profile = ClientProfile(
        account="acct01",
        device="pc1",
        gateway_host="127.0.0.1",
        ca_pem=ca.cert_pem,
        service_subnets=("10.99.0.0/24",),
    )
    (tree / "x509" / profile.device_cert_file).write_bytes(cert_pem)
    (tree / "x509ca" / profile.ca_cert_file).write_bytes(ca.cert_pem)
    path = tree / "conf.d" / "onshi.conf"
    path.write_text(render_swanctl(profile))
    return path


def test_all_good_against_a_fake_gateway(
    gateway: FakeGateway,
    tcp_service: int,
    tmp_path: Path,
    service_ca: CertificateAuthority,
    device_cert,
) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(tmp_path, service_ca, device_cert.cert_pem)
    report = run_checks(
        DoctorOptions(
            profile_path=path,
            health_url=f"http://127.0.0.1:{tcp_service}/",
            timeout=1.0,
            ports=gateway.ports,
        )
    )
    levels = {c.check: c.level for c in report.checks}
    assert levels == {
        "ike_udp_500": "ok",
        "nat_t_udp_4500": "ok",
        "nat": "ok",
        "certificate": "ok",
        "clock": "skip",  # no time source: said so, not pretended
        "service": "ok",
    }
    assert report.ok
    document = report.as_json()
    assert document["ok"] is True
    for check in document["checks"]:
        assert set(check) >= {"check", "ok", "verdict", "fix"}
        assert set(check["verdict"]) == {"ja", "en"}
    assert "No NAT" in document["checks"][2]["verdict"]["en"]


def test_nothing_listening_is_blocked_with_the_port_table_fix(tmp_path: Path) -> None:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    for s in socks:
        s.bind(("127.0.0.1", 0))  # swallow probes silently: a firewall that drops
    try:
        ports = (socks[0].getsockname()[1], socks[1].getsockname()[1])
        report = run_checks(DoctorOptions(gateway="127.0.0.1", timeout=0.5, ports=ports))
    finally:
        for s in socks:
            s.close()
    checks = {c.check: c for c in report.checks}
    assert not report.ok
    for name, port in (("ike_udp_500", "500"), ("nat_t_udp_4500", "4500")):
        assert checks[name].level == "fail" and "blocked" in checks[name].verdict[1]
        assert checks[name].fix is not None and port in checks[name].fix[1]
        assert "ブロードバンドルータ" in checks[name].fix[0] or "同じ機器" in checks[name].fix[0]
    assert checks["nat"].level == "fail"


def cert_check(service_ca: CertificateAuthority, tmp_path: Path, **window: datetime) -> Check:
    cert = service_ca.issue_device_certificate("acct01-pc1", **window)
    path = write_profile(tmp_path, service_ca, cert.cert_pem)
    return check_certificate(read_profile(path), datetime.now(UTC))


def test_certificate_expiring_soon_warns(service_ca: CertificateAuthority, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    check = cert_check(
        service_ca,
        tmp_path,
        not_before=now - timedelta(days=300),
        not_after=now + timedelta(days=10),
    )
    assert check.level == "warn" and check.ok and "days left" in check.verdict[1]


def test_certificate_expired_or_foreign_fails(
    service_ca: CertificateAuthority, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    check = cert_check(
        service_ca,
        tmp_path / "a",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    assert check.level == "fail" and "expired" in check.verdict[1]
    foreign = CertificateAuthority.create(tmp_path / "foreign", "foreign CA")
    path = write_profile(tmp_path / "b", service_ca, foreign.issue_device_certificate("x").cert_pem)
    check = check_certificate(read_profile(path), now)
    assert check.level == "fail" and "not issued by" in check.verdict[1]
    (path.parent.parent / "x509" / "onshi-device.cert.pem").unlink()
    assert check_certificate(read_profile(path), now).level == "fail"


def test_clock_against_a_reference(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    assert check_clock(now - timedelta(seconds=20), "portal", None, now).level == "ok"
    skewed = check_clock(now - timedelta(minutes=9), "portal", None, now)
    assert skewed.level == "fail" and "+540 s" in skewed.verdict[1]
    assert check_clock(None, "", None, now).level == "skip"


def test_clock_behind_the_certificate_fails(
    service_ca: CertificateAuthority, tmp_path: Path, device_cert
) -> None:  # type: ignore[no-untyped-def]
    path = write_profile(tmp_path, service_ca, device_cert.cert_pem)
    check = check_clock(None, "", read_profile(path), datetime(2020, 1, 1, tzinfo=UTC))
    assert check.level == "fail"


def test_service_closed_port_fails(tcp_service: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert check_service(f"http://127.0.0.1:{closed}/", 1.0, None).level == "fail"
    assert check_service(f"http://127.0.0.1:{tcp_service}/", 1.0, None).level == "ok"
    assert check_service("", 1.0, None).level == "skip"


def test_read_profile_refuses_what_is_not_one(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    path.write_text("hello = world\n")
    with pytest.raises(ProfileInvalid):
        read_profile(path)
    path.write_bytes(b"remote_addrs = 1\n" + b"#" * 300_000)
    with pytest.raises(ProfileInvalid, match="too large"):
        read_profile(path)
    with pytest.raises(ProfileInvalid):
        read_profile(tmp_path / "missing.conf")


def _port_500_free() -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 500))
    except OSError:
        return False
    return True


def test_report_text_and_exit_status() -> None:
    report = Report(
        (Check("a", "ok", ("良", "good")), Check("b", "fail", ("悪", "bad"), ("直す", "fix it")))
    )
    text = report.as_text()
    assert "[FAIL] b: 悪" in text and "fix: fix it" in text and not report.ok
    result = CliRunner().invoke(
        app, ["vpn", "doctor", "--gateway", "127.0.0.1", "--format", "json", "--timeout", "0.3"]
    )
    assert result.exit_code == 1  # nothing answers IKE on 127.0.0.1:500 here
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["checks"][0]["check"] == "ike_udp_500"
    bad = CliRunner().invoke(app, ["vpn", "doctor", "--gateway", "127.0.0.1", "--format", "yaml"])
    assert bad.exit_code == 2 and "VPN_CLIENT_PROFILE_INVALID" in bad.stderr


def test_an_unresolvable_gateway_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # No real DNS query leaves the machine: the resolver's answer is what is faked.
    def no_such_name(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    report = run_checks(DoctorOptions(gateway="gateway.invalid", timeout=0.5))
    first = report.checks[0]
    assert first.level == "fail" and "does not resolve" in first.verdict[1]
    assert first.fix is not None and "DNS" in first.fix[1]
