"""The field connectivity test (疎通確認), DNS part: resolve the OQS names through one server.

Each name passes when the server returns an AAAA or A record for it. Queries carry EDNS0 (some
replies exceed 512 bytes — pweb/ntp.base.oqs-pdl.org exceed 576); a truncated reply is retried
over TCP, so a resolver path that breaks either shows up as a named failure, not a hang.

All network I/O goes through :class:`DnsTransport`; the real one uses dnspython.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from onshi.edge.errors import DnsCheckError

EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: fits any IPv6 path without fragmentation


class Transport(enum.StrEnum):
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True)
class NameVerdict:
    name: str
    ok: bool
    addresses: tuple[str, ...]
    transport: Transport | None  # how the deciding answer came
    reason: str  # why it failed, or a short note on success

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ok": self.ok,
            "addresses": list(self.addresses),
            "transport": self.transport.value if self.transport else None,
            "reason": self.reason,
        }


class DnsTransport(Protocol):
    def udp(
        self, query: dns.message.Message, server: str, port: int, timeout: float
    ) -> dns.message.Message: ...

    def tcp(
        self, query: dns.message.Message, server: str, port: int, timeout: float
    ) -> dns.message.Message: ...


class DnspythonTransport:
    """The real network, through dnspython."""

    def udp(
        self, query: dns.message.Message, server: str, port: int, timeout: float
    ) -> dns.message.Message:
        return dns.query.udp(query, server, port=port, timeout=timeout, ignore_trailing=True)

    def tcp(
        self, query: dns.message.Message, server: str, port: int, timeout: float
    ) -> dns.message.Message:
        return dns.query.tcp(query, server, port=port, timeout=timeout)


class _Failure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _exchange(
    transport: DnsTransport,
    name: str,
    rdtype: dns.rdatatype.RdataType,
    server: str,
    port: int,
    timeout: float,
    edns: bool,
) -> tuple[dns.message.Message, Transport]:
    query = dns.message.make_query(
        name, rdtype, use_edns=0 if edns else False, payload=EDNS_PAYLOAD, want_dnssec=False
    )
    try:
        reply = transport.udp(query, server, port, timeout)
        if not reply.flags & dns.flags.TC:
            return reply, Transport.UDP
        return transport.tcp(query, server, port, timeout), Transport.TCP
    except dns.exception.Timeout:
        raise _Failure(f"no answer from {server} port {port} within {timeout:g} s") from None
    except (ConnectionError, OSError) as exc:
        raise _Failure(f"cannot reach {server} port {port}: {exc.strerror or exc}") from None
    except dns.exception.DNSException as exc:
        raise _Failure(f"malformed reply: {exc}") from None


def _addresses(reply: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> list[str]:
    # A CNAME chain ends at another owner name: any address of the asked type counts.
    return [rdata.to_text() for rrset in reply.answer if rrset.rdtype == rdtype for rdata in rrset]


def check_name(
    name: str,
    server: str,
    port: int = 53,
    *,
    timeout: float = 2.0,
    edns: bool = True,
    transport: DnsTransport | None = None,
) -> NameVerdict:
    """AAAA first (the terminal's OQS side is IPv6-only), then A."""
    transport = transport or DnspythonTransport()
    notes: list[str] = []
    how: Transport | None = None
    try:
        for rdtype in (dns.rdatatype.AAAA, dns.rdatatype.A):
            reply, how = _exchange(transport, name, rdtype, server, port, timeout, edns)
            rcode = reply.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                reason = "NXDOMAIN: the name does not exist there (do queries reach the OQS DNS?)"
                return NameVerdict(name, False, (), how, reason)
            if rcode != dns.rcode.NOERROR:
                return NameVerdict(
                    name, False, (), how, f"{dns.rcode.to_text(rcode)} from {server}"
                )
            addresses = _addresses(reply, rdtype)
            if addresses:
                note = f"{dns.rdatatype.to_text(rdtype)} over {how.value}"
                if how is Transport.TCP:
                    note += " (UDP reply truncated)"
                return NameVerdict(name, True, tuple(addresses), how, note)
            notes.append(f"no {dns.rdatatype.to_text(rdtype)}")
    except _Failure as failure:
        return NameVerdict(name, False, (), how, failure.reason)
    return NameVerdict(name, False, (), how, "no A or AAAA record (" + ", ".join(notes) + ")")


def validate_server(server: str, port: int) -> str:
    try:
        address = ipaddress.ip_address(server)
    except ValueError:
        raise DnsCheckError(
            f"--server must be an IP address, not {server!r} (the check must not depend on DNS)",
            code="edge.dns.server",
        ) from None
    if not 0 < port < 65536:
        raise DnsCheckError(f"port {port} is out of range", code="edge.dns.port")
    return str(address)


def check_names(
    names: Sequence[str],
    server: str,
    port: int = 53,
    *,
    timeout: float = 2.0,
    edns: bool = True,
    transport: DnsTransport | None = None,
) -> list[NameVerdict]:
    address = validate_server(server, port)
    return [
        check_name(n, address, port, timeout=timeout, edns=edns, transport=transport) for n in names
    ]
