"""A small authoritative DNS server on loopback for the check-dns tests (UDP and TCP, port 0).

Answers come from a zone dict; one name has enough AAAA records to exceed 512 bytes, like
pweb.base.oqs-pdl.org. ``honour_edns=False`` plays an old resolver that truncates at 512 bytes
whatever the client offers, forcing the TCP fallback; ``silent`` names are never answered.
"""

from __future__ import annotations

import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Zone:
    records: dict[tuple[str, str], list[str]]  # (name, "A"/"AAAA") → addresses
    silent: set[str] = field(default_factory=set)
    honour_edns: bool = True
    udp_queries: int = 0
    tcp_queries: int = 0

    def names(self) -> set[str]:
        return {name for name, _ in self.records}

    def answer(self, wire: bytes, limit: int | None) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().rstrip(".")
        if name in self.silent:
            return None
        reply = dns.message.make_response(query)
        rdtype = dns.rdatatype.to_text(question.rdtype)
        if name not in self.names():
            reply.set_rcode(dns.rcode.NXDOMAIN)
        else:
            values = self.records.get((name, rdtype), [])
            if values:
                reply.answer.append(
                    dns.rrset.from_text_list(question.name, 300, "IN", rdtype, values)
                )
        if limit is None:
            return reply.to_wire()
        size = query.payload if (self.honour_edns and query.edns >= 0) else 512
        try:
            return reply.to_wire(max_size=size)
        except dns.exception.TooBig:
            reply.answer.clear()
            reply.flags |= dns.flags.TC
            return reply.to_wire()


class _Udp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        zone: Zone = self.server.zone  # type: ignore[attr-defined]
        zone.udp_queries += 1
        out = zone.answer(data, limit=512)
        if out is not None:
            sock.sendto(out, self.client_address)


class _Tcp(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        zone: Zone = self.server.zone  # type: ignore[attr-defined]
        head = self.request.recv(2)
        if len(head) < 2:
            return
        (length,) = struct.unpack("!H", head)
        data = b""
        while len(data) < length:
            chunk = self.request.recv(length - len(data))
            if not chunk:
                return
            data += chunk
        zone.tcp_queries += 1
        out = zone.answer(data, limit=None)
        if out is not None:
            self.request.sendall(struct.pack("!H", len(out)) + out)


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def serve(zone: Zone) -> Iterator[int]:
    """Serve ``zone`` on 127.0.0.1 (UDP and TCP on the same free port); yield the port."""
    for _ in range(20):
        udp = _UdpServer(("127.0.0.1", 0), _Udp)
        port = udp.server_address[1]
        try:
            tcp = _TcpServer(("127.0.0.1", port), _Tcp)
            break
        except OSError:
            udp.server_close()
    else:  # pragma: no cover
        raise RuntimeError("no free port for both UDP and TCP")
    udp.zone = tcp.zone = zone  # type: ignore[attr-defined]
    threads = [
        threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in (udp, tcp)
    ]
    for t in threads:
        t.start()
    try:
        yield port
    finally:
        for s in (udp, tcp):
            s.shutdown()
            s.server_close()
