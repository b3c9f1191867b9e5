"""A load generator that saturates the server, not itself: asyncio over raw TLS streams.

Each client process runs one event loop holding a share of the keep-alive mutual-TLS
connections; each connection writes a prebuilt HTTP/1.1 request, reads the response (status
line, headers, ``Content-Length`` body) and writes the next one. No HTTP library sits between
the socket and the clock: on the development machine one such process drives ≈ 4× the requests
of an httpx thread, so the figures are the server's.

The parent samples the server process's CPU time (``utime + stime`` of ``/proc/<pid>/stat``,
every thread) at the start and end of each round, which gives CPU milliseconds per request —
a figure a busy machine moves far less than throughput.

    from loadgen import Request, run_round
    result = run_round(pool, "127.0.0.1", port, files, requests, connections=16,
                       processes=2, seconds=3, server_pid=pid)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import ssl
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path


def encode(method: str, path: str, body: Any = None) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to write."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body is None:
        return (head + "\r\n").encode()
    payload = json.dumps(body, separators=(",", ":")).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    return head.encode() + payload


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) the process and its live children (the workers
    of ``serve --workers N``) have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str,
    port: int,
    context: ssl.SSLContext,
    requests: list[bytes],
    start_at: float,
    end_at: float,
    offset: int,
    out: _Tally,
) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        import socket

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        # Handshake done; wait for the common start so that every connection begins together.
        await asyncio.sleep(max(0.0, start_at - time.time()))
        i = offset
        count = len(requests)
        while True:
            began = time.perf_counter()
            writer.write(requests[i % count])
            status = await _read_response(reader)
            out.latencies.append(time.perf_counter() - began)
            if status >= 400:
                out.errors += 1
            i += 1
            if time.time() >= end_at:
                break
    finally:
        writer.close()


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def client_process(
    host: str,
    port: int,
    files: TlsFiles,
    requests: list[bytes],
    connections: int,
    start_at: float,
    seconds: float,
    seed: int,
) -> tuple[list[float], int]:
    """Run ``connections`` keep-alive connections in one event loop; latencies and errors."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca))
    context.load_cert_chain(str(files.cert), str(files.key))
    context.check_hostname = False  # the server certificate names 127.0.0.1; the CA is pinned
    tally = _Tally()
    rng = random.Random(seed)

    async def run() -> None:
        await asyncio.gather(
            *(
                _connection(
                    host,
                    port,
                    context,
                    requests,
                    start_at,
                    start_at + seconds,
                    rng.randrange(len(requests)),
                    tally,
                )
                for _ in range(connections)
            )
        )

    asyncio.run(run())
    return tally.latencies, tally.errors


@dataclass(frozen=True)
class Round:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float | None
    database_cpu_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def run_round(
    pool: Any,
    host: str,
    port: int,
    files: TlsFiles,
    requests: list[bytes],
    *,
    connections: int,
    processes: int,
    seconds: float,
    server_pid: int | None = None,
    database_pid: int | None = None,
) -> Round:
    """One round: every client process starts at the same instant and runs ``seconds``.

    ``database_pid``: a local PostgreSQL postmaster, whose backends' CPU is counted too (they
    share the machine's cores with the server)."""
    start_at = time.time() + 1.0  # time for every process to connect (TLS handshakes)
    share = [connections // processes + (n < connections % processes) for n in range(processes)]
    pending = pool.starmap_async(
        client_process,
        [
            (host, port, files, requests, share[n], start_at, seconds, n * 7919)
            for n in range(processes)
            if share[n]
        ],
    )
    pids = [pid for pid in (server_pid, database_pid) if pid is not None]
    time.sleep(max(0.0, start_at - time.time()))
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(max(0.0, start_at + seconds - time.time()))
    used = {pid: cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)}
    parts = pending.get()
    latencies = [x for part, _ in parts for x in part]
    return Round(
        len(latencies),
        sum(e for _, e in parts),
        seconds,
        latencies,
        used.get(server_pid) if server_pid is not None else None,
        used.get(database_pid) if database_pid is not None else None,
    )


@dataclass(frozen=True)
class Summary:
    name: str
    requests: int
    errors: int
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    database_cpu_ms_per_request: float | None = None

    @classmethod
    def of(cls, name: str, rounds: list[Round]) -> Summary:
        latencies = sorted(x for r in rounds for x in r.latencies)
        requests = len(latencies)

        def ms_per_request(cpu: list[float | None]) -> float | None:
            if any(c is None for c in cpu):
                return None
            return sum(c or 0.0 for c in cpu) * 1000 / max(1, requests)

        return cls(
            name,
            requests,
            sum(r.errors for r in rounds),
            requests / sum(r.seconds for r in rounds),
            statistics.median(latencies) * 1000 if latencies else 0.0,
            latencies[min(requests - 1, int(requests * 0.99))] * 1000 if latencies else 0.0,
            ms_per_request([r.server_cpu_seconds for r in rounds]),
            ms_per_request([r.database_cpu_seconds for r in rounds]),
        )


def table(rows: list[Summary]) -> str:
    lines = [
        "| endpoint | requests | errors | req/s | p50 ms | p99 ms | server CPU ms/req "
        "| database CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = "—" if r.cpu_ms_per_request is None else f"{r.cpu_ms_per_request:.2f}"
        db = (
            "—" if r.database_cpu_ms_per_request is None else f"{r.database_cpu_ms_per_request:.2f}"
        )
        lines.append(
            f"| {r.name} | {r.requests} | {r.errors} | {r.per_second:.0f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {cpu} | {db} |"
        )
    return "\n".join(lines)
