"""Test support: a terminal (端末) as a charon in its own namespace, and the test PKI."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from Crypto.Hash import MD4

from onshi.pki.authority import CertificateAuthority
from onshi.pki.issued import IssuedCertificate
from onshi.vpn.gateway.charon import Charon
from onshi.vpn.gateway.config import EspEngine
from onshi.vpn.gateway.directory import Device
from tests.netns import Host


def nt_hash(password: str) -> bytes:
    """MD4 of the UTF-16LE password: what EAP-MSCHAPv2 verifies against."""
    return bytes(MD4.new(password.encode("utf-16-le")).digest())


def device_of(account: str, name: str, *certificates: IssuedCertificate) -> Device:
    return Device(
        account=account,
        name=name,
        subject=certificates[0].certificate.subject,
        certificate_serials=frozenset(c.serial for c in certificates),
    )


@dataclass
class Terminal:
    """A terminal host with its own charon; connects with certificate + account/password."""

    host: Host
    charon: Charon
    session: Any

    @classmethod
    def start(cls, host: Host, directory: Path, engine: EspEngine) -> Terminal:
        charon = host.charon(directory, engine)
        return cls(host, charon, charon.session(timeout=60))

    def configure(
        self,
        *,
        gateway: str,
        certificate: IssuedCertificate,
        ca_pem: bytes,
        account: str,
        password: str,
        remote_ts: str,
        encap: bool = True,
        name: str = "vpn",
        without_certificate: bool = False,
    ) -> None:
        """Load a connection ``name``: round 1 the device certificate, round 2 EAP as ``account``.

        ``without_certificate`` offers EAP only (a terminal that has no certificate).
        """
        s = self.session
        with contextlib.suppress(Exception):
            s.unload_conn({"name": name})
        s.load_key({"type": "any", "data": certificate.key_pem})
        s.load_shared({"type": "EAP", "id": f"pw-{name}", "data": password, "owners": [account]})
        conn: dict[str, Any] = {
            "version": "2",
            "remote_addrs": [gateway],
            "vips": ["0.0.0.0"],
            "encap": "yes" if encap else "no",
            "local-1": {"auth": "pubkey", "certs": [certificate.cert_pem]},
            "local-2": {"auth": "eap", "eap_id": account, "id": account},
            "remote": {"auth": "pubkey", "cacerts": [ca_pem]},
            "children": {"svc": {"remote_ts": [remote_ts], "esp_proposals": ["aes256gcm16"]}},
        }
        if without_certificate:
            conn["local-1"] = conn.pop("local-2")
        s.load_conn({name: conn})

    def connect(self, name: str = "vpn", timeout_ms: int = 10000) -> tuple[bool, str]:
        """Initiate; (True, log) when the CHILD_SA is up, (False, log) when refused."""
        log: list[str] = []
        try:
            for entry in self.session.initiate(
                {"child": "svc", "ike": name, "timeout": str(timeout_ms), "loglevel": "1"}
            ):
                msg = entry.get("msg", b"")
                log.append(msg.decode() if isinstance(msg, bytes) else str(msg))
        except Exception as exc:
            log.append(f"{type(exc).__name__}: {exc}")
            return False, "\n".join(log)
        return True, "\n".join(log)

    def established(self) -> list[dict[str, Any]]:
        result = []
        for entry in self.session.list_sas():
            for _, sa in entry.items():
                if sa.get("state") == b"ESTABLISHED":
                    result.append(sa)
        return result

    def virtual_ips(self) -> list[str]:
        return [v.decode() for sa in self.established() for v in sa.get("local-vips", [])]

    def disconnect(self) -> None:
        for sa in self.established():
            with contextlib.suppress(Exception):
                for _ in self.session.terminate(
                    {"ike-id": sa["uniqueid"].decode(), "timeout": "3000"}
                ):
                    pass


@dataclass
class Pki:
    ca: CertificateAuthority
    foreign: CertificateAuthority
    gateway: IssuedCertificate

    @classmethod
    def create(cls, directory: Path, gateway_addr: str) -> Pki:
        ca = CertificateAuthority.create(directory / "ca", "onshi VPN test CA")
        foreign = CertificateAuthority.create(directory / "foreign", "foreign CA")
        gateway = ca.issue_server_certificate(["gw.vpn.test"], [gateway_addr])
        return cls(ca, foreign, gateway)
