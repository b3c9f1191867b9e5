"""Sending the IKE_SA_INIT probe over UDP and waiting for the gateway's answer (the I/O seam).

A connected UDP socket gives the local address and port the gateway will see when nothing
translates them (what the NAT detection hash is compared with) and reports an ICMP
"port unreachable" as a refused connection. The probe is retransmitted a few times inside the
timeout, as an IKE initiator would; datagrams that are not an answer to it are ignored.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from onshi.vpn.client.errors import ProbeInvalid
from onshi.vpn.client.ike import (
    NON_ESP_MARKER,
    IkeSaInitRequest,
    ProbeAnswer,
    interpret,
    parse_message,
)

__all__ = ["ProbeResult", "probe"]

_RETRANSMITS = 3


@dataclass(frozen=True)
class ProbeResult:
    """What happened: an answer, or why none came (``timeout``, ``refused``, ``unreachable``)."""

    host: str
    port: int
    answer: ProbeAnswer | None
    failure: str = ""
    elapsed: float = 0.0
    local: tuple[str, int] | None = None
    ignored: int = 0  # datagrams that were not a sane answer to this probe

    @property
    def reached(self) -> bool:
        return self.answer is not None


def _resolve(host: str, port: int) -> tuple[int, tuple[str, int]]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _type, _proto, _name, address = infos[0]
    return family, (str(address[0]), int(address[1]))


def probe(host: str, port: int, *, timeout: float, nat_t: bool = False) -> ProbeResult:
    """Send an IKE_SA_INIT to ``host:port`` (``nat_t``: with the non-ESP marker, for 4500)."""
    started = time.monotonic()
    try:
        family, remote = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        return ProbeResult(host, port, None, f"unresolvable: {exc}", 0.0)
    request = IkeSaInitRequest()
    ignored = 0
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(remote)
        except OSError as exc:
            return ProbeResult(host, port, None, f"unreachable: {exc.strerror}", 0.0)
        name = sock.getsockname()
        local = (str(name[0]), int(name[1]))
        datagram = request.encode(local, remote)
        if nat_t:
            datagram = NON_ESP_MARKER + datagram
        deadline = started + timeout
        interval = timeout / _RETRANSMITS
        next_send = started
        while True:
            now = time.monotonic()
            if now >= deadline:
                return ProbeResult(host, port, None, "timeout", now - started, local, ignored)
            try:
                if now >= next_send:
                    sock.send(datagram)
                    next_send = now + interval
                sock.settimeout(max(0.01, min(deadline, next_send) - time.monotonic()))
                data = sock.recv(65_535)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                return ProbeResult(
                    host, port, None, "refused", time.monotonic() - started, local, ignored
                )
            except OSError as exc:
                return ProbeResult(
                    host,
                    port,
                    None,
                    f"unreachable: {exc.strerror}",
                    time.monotonic() - started,
                    local,
                    ignored,
                )
            if nat_t:
                if not data.startswith(NON_ESP_MARKER):
                    ignored += 1
                    continue
                data = data[len(NON_ESP_MARKER) :]
            try:
                answer = interpret(request, parse_message(data), local, remote)
            except ProbeInvalid:
                ignored += 1
                continue
            return ProbeResult(host, port, answer, "", time.monotonic() - started, local, ignored)
