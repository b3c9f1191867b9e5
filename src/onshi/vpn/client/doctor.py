"""``onshi vpn doctor``: why a terminal cannot connect, in plain words, with what to change.

The checklist is the port table of the service description (2-3 暗号化通信に必要となるポート番号):
UDP 500 (ISAKMP/IKE) both ways, UDP 4500 (IPsec over UDP, when NAT/PAT is in the way) both ways,
IP protocol 50 (ESP, when there is no NAT/PAT), through the broadband router, the ISP's equipment,
the firewalls on the way and the PC's own personal firewall. Each check gives a verdict and a fix
in Japanese and English:

* ``ike_udp_500`` — a real IKE_SA_INIT to UDP 500 gets an IKE answer;
* ``nat_t_udp_4500`` — the same with the non-ESP marker to UDP 4500;
* ``nat`` — the NAT detection hashes of the answer: is our address translated, hence ESP in
  UDP 4500 or plain ESP (protocol 50);
* ``certificate`` — the device certificate of ``--profile``: issued by the profile's CA, valid,
  not expiring within 30 days (a warning);
* ``clock`` — the clock against an HTTP ``Date`` (``--time-url`` or the health URL); without
  one, only against the certificate's validity window (a weak check, said so);
* ``service`` — the eligibility service answers at ``--health-url`` (through the tunnel).

A failed check is a result, not an exception. Overall ``ok`` is the AND of the checks.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography import x509

from onshi.vpn.client.errors import ProfileInvalid
from onshi.vpn.client.ike import IKE_PORT, NAT_T_PORT, ProbeOutcome
from onshi.vpn.client.probe import ProbeResult, probe

__all__ = ["Check", "DoctorOptions", "Report", "read_profile", "run_checks"]

EXPIRY_WARNING = timedelta(days=30)
# Certificates onshi issues are back-dated 5 minutes; a clock further off than that breaks a
# freshly issued certificate, and IKE itself does not care about seconds.
CLOCK_TOLERANCE = timedelta(minutes=5)
MAX_PROFILE_BYTES = 256 * 1024

Level = Literal["ok", "warn", "fail", "skip"]

_PORT_FIX_500 = (
    "ブロードバンドルータ・外部/内部ファイアウォール・ISP設備・パソコンのパーソナルファイアウォールで、"
    "UDP 送信元ポートany→宛先ポート500 とその戻り (500→any) を許可してください (ISAKMP)。",
    "Allow UDP from any port to port 500 and the answers back (500 → any) on the broadband "
    "router, the external/internal firewalls, the ISP's equipment and the PC's personal firewall "
    "(ISAKMP).",
)
_PORT_FIX_4500 = (
    "同じ機器で UDP 送信元any→宛先4500 とその戻り (4500→any) を許可してください "
    "(NAT/PAT 環境での IPsec over UDP)。",
    "Allow UDP from any port to port 4500 and back (4500 → any) on the same devices "
    "(IPsec over UDP, needed behind NAT/PAT).",
)
_PROTO_50_FIX = (
    "NAT/PAT を使わない場合は IP プロトコル番号50 (ESP) を上り下りとも許可してください。",
    "Without NAT/PAT, allow IP protocol 50 (ESP) in both directions.",
)


@dataclass(frozen=True)
class Check:
    """One check's result: ``verdict`` and ``fix`` are ``(Japanese, English)``."""

    check: str
    level: Level
    verdict: tuple[str, str]
    fix: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.level != "fail"

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "ok": self.ok,
            "level": self.level,
            "verdict": {"ja": self.verdict[0], "en": self.verdict[1]},
            "fix": None if self.fix is None else {"ja": self.fix[0], "en": self.fix[1]},
        }


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.as_json() for c in self.checks]}

    def as_text(self) -> str:
        marks = {"ok": "OK  ", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
        lines = []
        for c in self.checks:
            lines.append(f"[{marks[c.level]}] {c.check}: {c.verdict[0]}")
            lines.append(f"       {c.verdict[1]}")
            if c.fix is not None and c.level in ("fail", "warn"):
                lines.append(f"       対処: {c.fix[0]}")
                lines.append(f"       fix: {c.fix[1]}")
        lines.append("all checks passed" if self.ok else "some checks failed")
        return "\n".join(lines)


@dataclass(frozen=True)
class TerminalProfile:
    """What the doctor reads from a swanctl profile."""

    path: Path
    gateway: str
    encap: bool
    device_cert: Path | None
    ca_cert: Path | None


@dataclass(frozen=True)
class DoctorOptions:
    gateway: str = ""
    profile_path: Path | None = None
    health_url: str = ""
    time_url: str = ""
    timeout: float = 3.0
    health_ca: Path | None = None
    now: datetime | None = None  # tests fix the clock
    ports: tuple[int, int] = field(default=(IKE_PORT, NAT_T_PORT))


# -- the profile ------------------------------------------------------------------------------

_SETTING = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$")


def read_profile(path: Path) -> TerminalProfile:
    """Read the settings the doctor needs from a swanctl profile written by ``client profile``.

    File names are looked up the swanctl way: ``certs`` in ``x509/``, ``cacerts`` in
    ``x509ca/`` of the swanctl directory (the profile's directory or its parent for
    ``conf.d/``), or beside the profile.
    """
    try:
        raw = path.read_bytes()[: MAX_PROFILE_BYTES + 1]
    except OSError as exc:
        raise ProfileInvalid(f"cannot read profile {path}: {exc.strerror}") from exc
    if len(raw) > MAX_PROFILE_BYTES:
        raise ProfileInvalid(f"profile {path} is too large to be a swanctl profile")
    text = raw.decode("utf-8", errors="replace")
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = _SETTING.match(line.split("#", 1)[0])
        if match and match.group(1) not in values:
            values[match.group(1)] = match.group(2).strip('"')
    if "remote_addrs" not in values:
        raise ProfileInvalid(f"{path} has no remote_addrs: not a swanctl connection profile")
    bases = [path.parent, path.parent.parent]

    def find(name: str | None, sub: str) -> Path | None:
        if not name:
            return None
        candidate = Path(name)
        if candidate.is_absolute():
            return candidate
        for base in bases:
            for where in (base / sub / name, base / name):
                if where.is_file():
                    return where
        return bases[0] / sub / name

    return TerminalProfile(
        path=path,
        gateway=values["remote_addrs"].split(",")[0].strip(),
        encap=values.get("encap", "no").lower() in ("yes", "true"),
        device_cert=find(values.get("certs"), "x509"),
        ca_cert=find(values.get("cacerts"), "x509ca"),
    )


# -- the checks -------------------------------------------------------------------------------


def check_port(result: ProbeResult, *, nat_t: bool, timeout: float) -> Check:
    name = "nat_t_udp_4500" if nat_t else "ike_udp_500"
    port_fix = _PORT_FIX_4500 if nat_t else _PORT_FIX_500
    where = f"UDP {result.port}"
    if result.answer is None:
        if result.failure == "refused":
            ja = f"{where}: ゲートウェイまたは途中の機器で拒否されました (ICMP port unreachable)。"
            en = f"{where}: refused (ICMP port unreachable): nothing listens there, or it is filtered."
        elif result.failure == "timeout":
            ja = f"{where}: {timeout:g}秒以内に応答がありません。途中で遮断されています。"
            en = f"{where}: no answer within {timeout:g} s — blocked on the way."
        elif result.failure.startswith("unresolvable"):
            return Check(
                name,
                "fail",
                (
                    f"ゲートウェイ名 {result.host} を名前解決できません。",
                    f"The gateway name {result.host} does not resolve.",
                ),
                (
                    "プロファイルのゲートウェイ名と、パソコンの DNS 設定を確認してください。",
                    "Check the gateway name in the profile and the PC's DNS settings.",
                ),
            )
        else:
            ja = f"{where}: 送信できません ({result.failure})。"
            en = f"{where}: cannot send ({result.failure})."
        return Check(name, "fail", (ja, en), port_fix)
    ms = f"{result.elapsed * 1000:.0f} ms"
    if result.answer.outcome is ProbeOutcome.NO_PROPOSAL:
        return Check(
            name,
            "warn",
            (
                f"{where}: 届いています ({ms})。ただしゲートウェイは試験用の暗号方式を受け付けませんでした。",
                f"{where}: reachable ({ms}), but the gateway refused the probe's algorithms "
                "(NO_PROPOSAL_CHOSEN).",
            ),
            (
                "接続できない場合はポータルから最新のプロファイルを取得し直してください。",
                "If connecting fails, download a fresh profile from the portal.",
            ),
        )
    return Check(
        name,
        "ok",
        (
            f"{where}: ゲートウェイが IKE に応答しました ({ms})。",
            f"{where}: the gateway answered IKE ({ms}, {result.answer.outcome.value}).",
        ),
    )


def check_nat(result: ProbeResult, profile: TerminalProfile | None, udp_4500_ok: bool) -> Check:
    answer = result.answer
    if answer is None or answer.nat_local is None:
        return Check(
            "nat",
            "skip" if answer is not None else "fail",
            (
                "NAT の有無を判定できません (IKE の応答がありません)。",
                "Cannot tell whether NAT is in the way (no IKE answer with NAT detection).",
            ),
            _PORT_FIX_500 if answer is None else None,
        )
    encap = profile is not None and profile.encap
    if answer.nat_local:
        level: Level = "ok" if udp_4500_ok else "fail"
        return Check(
            "nat",
            level,
            (
                "NAT/PAT を検出しました。ESP は UDP 4500 番にカプセル化されます (ESP-in-UDP)。",
                "NAT/PAT detected: ESP travels inside UDP 4500 (ESP-in-UDP).",
            ),
            _PORT_FIX_4500,
        )
    if encap:
        return Check(
            "nat",
            "ok" if udp_4500_ok else "fail",
            (
                "NAT はありません。プロファイルが UDP カプセル化 (encap = yes) を指定しているため、"
                "ESP は UDP 4500 番を使い、IP プロトコル50 は不要です。",
                "No NAT. The profile forces UDP encapsulation (encap = yes): ESP uses UDP 4500, "
                "IP protocol 50 is not needed.",
            ),
            _PORT_FIX_4500,
        )
    return Check(
        "nat",
        "ok",
        (
            "NAT はありません。ESP は IP プロトコル50 で直接送られます (この疎通は IKE 後にしか試せません)。",
            "No NAT: ESP goes as IP protocol 50 (which can only be tried once IKE is done).",
        ),
        _PROTO_50_FIX,
    )


def _load_pem(path: Path | None, what: str) -> x509.Certificate:
    if path is None:
        raise ProfileInvalid(f"the profile names no {what}")
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise ProfileInvalid(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ProfileInvalid(f"the {what} {path} is not a PEM certificate") from exc


def check_certificate(profile: TerminalProfile | None, now: datetime) -> Check:
    from onshi.pki import CertificateExpired, CertificateNotYetValid, PkiError, verify_certificate

    if profile is None:
        return Check(
            "certificate",
            "skip",
            (
                "プロファイル未指定のため証明書は確認していません。",
                "No --profile: certificate not checked.",
            ),
        )
    renew = (
        "ポータルにログインし、端末の証明書を再発行してインストールしてください。",
        "Log in to the portal, reissue this device's certificate and install it.",
    )
    try:
        device = _load_pem(profile.device_cert, "device certificate")
        authority = _load_pem(profile.ca_cert, "CA certificate")
    except ProfileInvalid as exc:
        return Check(
            "certificate",
            "fail",
            (f"証明書を読めません: {exc.message}", f"Cannot read the certificate: {exc.message}"),
            renew,
        )
    try:
        verify_certificate(device, authority, at=now)
    except CertificateNotYetValid:
        return Check(
            "certificate",
            "fail",
            (
                "証明書はまだ有効期間前です (時計が遅れていませんか)。",
                "The certificate is not valid yet (is the clock behind?).",
            ),
            (
                "パソコンの時刻を合わせてください。",
                "Set the PC's clock right (time synchronisation).",
            ),
        )
    except CertificateExpired:
        return Check(
            "certificate",
            "fail",
            ("証明書の有効期限が切れています。", "The device certificate has expired."),
            renew,
        )
    except PkiError:
        return Check(
            "certificate",
            "fail",
            (
                "証明書がこのサービスの認証局で発行されたものではありません。",
                "The device certificate was not issued by the profile's CA.",
            ),
            renew,
        )
    left = device.not_valid_after_utc - now
    until = device.not_valid_after_utc.date().isoformat()
    if left < EXPIRY_WARNING:
        return Check(
            "certificate",
            "warn",
            (
                f"証明書は {until} に期限切れになります (残り {left.days} 日)。",
                f"The device certificate expires on {until} ({left.days} days left).",
            ),
            renew,
        )
    return Check(
        "certificate",
        "ok",
        (f"証明書は有効です ({until} まで)。", f"The device certificate is valid until {until}."),
    )


def http_date(url: str, timeout: float) -> datetime | None:
    """The ``Date`` header of a HEAD request to ``url``; None when there is none to read.

    The server's certificate is not verified: only its clock is read, nothing is sent, and a
    terminal whose clock is wrong may not be able to verify any certificate at all.
    """
    import httpx

    try:
        with httpx.Client(verify=False, timeout=timeout) as client:  # noqa: S501
            response = client.head(url)
    except httpx.HTTPError:
        return None
    value = response.headers.get("date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def check_clock(
    reference: datetime | None, source: str, profile: TerminalProfile | None, now: datetime
) -> Check:
    fix = (
        "Windows の「日付と時刻」で「時刻を自動的に設定する」を有効にし、今すぐ同期してください。",
        "Turn on automatic time (NTP) and synchronise now.",
    )
    if reference is not None:
        skew = now - reference
        seconds = skew.total_seconds()
        if abs(skew) > CLOCK_TOLERANCE:
            return Check(
                "clock",
                "fail",
                (
                    f"時計が {source} と {seconds:+.0f} 秒ずれています。",
                    f"The clock is {seconds:+.0f} s off {source}.",
                ),
                fix,
            )
        return Check(
            "clock",
            "ok",
            (
                f"時計のずれは {seconds:+.0f} 秒です ({source} の Date と比較)。",
                f"Clock skew {seconds:+.0f} s against {source}'s Date header.",
            ),
        )
    if profile is not None and profile.device_cert is not None:
        try:
            device = _load_pem(profile.device_cert, "device certificate")
        except ProfileInvalid:
            device = None
        if device is not None and now < device.not_valid_before_utc:
            return Check(
                "clock",
                "fail",
                (
                    "時計が証明書の発行時刻より前を指しています。",
                    "The clock is earlier than the certificate's issue time.",
                ),
                fix,
            )
        return Check(
            "clock",
            "skip",
            (
                "比較できる時刻源がないため、証明書の有効期間内であることだけを確認しました。",
                "No time source to compare with: only checked the clock is inside the "
                "certificate's validity (give --time-url for a real check).",
            ),
        )
    return Check(
        "clock",
        "skip",
        ("時刻源が指定されていません。", "No time source given (--time-url): clock not checked."),
    )


def check_service(url: str, timeout: float, ca: Path | None) -> Check:
    """The service answers at ``url``: TCP connects and the server speaks TLS/HTTP."""
    if not url:
        return Check(
            "service",
            "skip",
            (
                "確認先 URL が指定されていません (--health-url)。",
                "No --health-url: the service through the tunnel was not checked.",
            ),
        )
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    fix = (
        "VPN に接続してから再度実行してください。接続済みならゲートウェイ側の設定を管理者に確認してください。",
        "Connect the VPN first and run again; if it is up, ask the operator to check the "
        "gateway's access policy.",
    )
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if parts.scheme == "https":
                _tls_hello(sock, host, timeout, ca)
    except TimeoutError:
        return Check(
            "service",
            "fail",
            (
                f"{host}:{port} に {timeout:g} 秒以内に接続できません (トンネル未接続か遮断)。",
                f"No connection to {host}:{port} within {timeout:g} s (tunnel down or blocked).",
            ),
            fix,
        )
    except OSError as exc:
        return Check(
            "service",
            "fail",
            (
                f"{host}:{port} に接続できません ({exc.strerror or exc})。",
                f"Cannot connect to {host}:{port} ({exc.strerror or exc}).",
            ),
            fix,
        )
    ms = (time.monotonic() - started) * 1000
    return Check(
        "service",
        "ok",
        (
            f"資格確認サービス ({host}:{port}) が応答しました ({ms:.0f} ms)。",
            f"The eligibility service at {host}:{port} answered ({ms:.0f} ms).",
        ),
    )


def _tls_hello(sock: socket.socket, host: str, timeout: float, ca: Path | None) -> None:
    """A TLS handshake; a server that asks for a client certificate we lack still answered."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if ca is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    sock.settimeout(timeout)
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            tls.settimeout(timeout)
            tls.sendall(b"HEAD / HTTP/1.0\r\nHost: " + host.encode("idna") + b"\r\n\r\n")
            tls.recv(1)
    except ssl.SSLError:
        # An alert from the server (e.g. certificate required) is an answer: it is there.
        return


def run_checks(options: DoctorOptions) -> Report:
    """Run every check; never raises for what it finds (only for unusable options)."""
    now = options.now or datetime.now(UTC)
    profile = read_profile(options.profile_path) if options.profile_path else None
    gateway = options.gateway or (profile.gateway if profile else "")
    if not gateway:
        raise ProfileInvalid("give --gateway (or a --profile that names it)")
    port_500, port_4500 = options.ports
    ike = probe(gateway, port_500, timeout=options.timeout)
    nat_t = probe(gateway, port_4500, timeout=options.timeout, nat_t=True)
    checks = [
        check_port(ike, nat_t=False, timeout=options.timeout),
        check_port(nat_t, nat_t=True, timeout=options.timeout),
    ]
    checks.append(check_nat(ike, profile, nat_t.reached))
    checks.append(check_certificate(profile, now))
    time_url = options.time_url or options.health_url
    reference = http_date(time_url, options.timeout) if time_url else None
    source = urlsplit(time_url).hostname or time_url if time_url else ""
    if reference is not None and options.now is None:
        now = datetime.now(UTC)
    checks.append(check_clock(reference, source, profile, now))
    checks.append(check_service(options.health_url, options.timeout, options.health_ca))
    return Report(tuple(checks))
