"""A load generator that saturates the server, not itself: asyncio over raw TLS streams.

Each client process runs one event loop holding a share of the keep-alive mutual-TLS
connections; each connection writes a prebuilt HTTP/1.1 request, reads the response (status
line, headers, ``Content-Length`` body) and writes the next one. No HTTP library sits between
the socket and the clock: on the development machine one such process drives ≈ 4× the requests
of an httpx thread, so the figures are the server's.

With ``rate`` set, a round is open-loop instead: requests are sent at that rate whether or not
earlier ones were answered (as a nation of clinics would send them), each on whichever of the
connections is free, and a request's latency counts from the moment it was due — time spent
waiting for a free connection included, so an overloaded server cannot hide its backlog (no
"coordinated omission"). Requests still waiting to be sent when the round ends count as
unanswered.

The parent samples the server process's CPU time (``utime + stime`` of ``/proc/<pid>/stat``,
every thread) at the start and end of each round, which gives CPU milliseconds per request —
a figure a busy machine moves far less than throughput.

    from loadgen import Request, run_round
    result = run_round(pool, "127.0.0.1", port, files, requests, connections=16,
                       processes=2, seconds=3, server_pid=pid)
    result = run_round(..., connections=64, rate=900.0)  # open loop, 900 requests/s
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import socket
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


async def _open(
    host: str, port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


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
    reader, writer = await _open(host, port, context)
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


async def _open_loop(
    host: str,
    port: int,
    context: ssl.SSLContext,
    requests: list[bytes],
    connections: int,
    rate: float,
    start_at: float,
    seconds: float,
    rng: random.Random,
    out: _Tally,
) -> None:
    """Requests due at ``rate`` per second from ``start_at``, each sent on a free connection."""
    opened = await asyncio.gather(*(_open(host, port, context) for _ in range(connections)))
    due: asyncio.Queue[float | None] = asyncio.Queue()
    count = len(requests)

    async def sender(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        i = rng.randrange(count)
        while (when := await due.get()) is not None:
            writer.write(requests[i % count])
            i += 1
            status = await _read_response(reader)
            out.latencies.append(time.perf_counter() - when)
            if status >= 400:
                out.errors += 1

    senders = [asyncio.create_task(sender(r, w)) for r, w in opened]
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.perf_counter()
        sent = 0
        total = int(rate * seconds)
        while sent < total:
            # Every request due by now, each stamped with the moment it was due.
            now_due = min(total, int((time.perf_counter() - began) * rate) + 1)
            for n in range(sent, now_due):
                due.put_nowait(began + n / rate)
            sent = now_due
            await asyncio.sleep(0.0005)
        out.unanswered = due.qsize()  # never sent: the server fell behind by that many
        while not due.empty():
            due.get_nowait()
        for _ in senders:
            due.put_nowait(None)  # the ones in flight finish and count
        await asyncio.wait_for(asyncio.gather(*senders), timeout=30)
    finally:
        for task in senders:
            task.cancel()
        for _, writer in opened:
            writer.close()


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    unanswered: int = 0


def client_process(
    host: str,
    port: int,
    files: TlsFiles,
    requests: list[bytes],
    connections: int,
    start_at: float,
    seconds: float,
    seed: int,
    rate: float | None = None,
) -> tuple[list[float], int, int]:
    """Run ``connections`` keep-alive connections in one event loop, closed-loop or (with
    ``rate``) open-loop; latencies, errors and requests never sent."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(files.ca))
    context.load_cert_chain(str(files.cert), str(files.key))
    context.check_hostname = False  # the server certificate names 127.0.0.1; the CA is pinned
    tally = _Tally()
    rng = random.Random(seed)

    async def run() -> None:
        if rate is not None:
            await _open_loop(
                host, port, context, requests, connections, rate, start_at, seconds, rng, tally
            )
            return
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
    return tally.latencies, tally.errors, tally.unanswered


@dataclass(frozen=True)
class Round:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    server_cpu_seconds: float | None
    database_cpu_seconds: float | None = None
    offered: float | None = None  # open loop: requests per second sent
    unanswered: int = 0  # open loop: due but never sent (the server fell behind)

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
    rate: float | None = None,
) -> Round:
    """One round: every client process starts at the same instant and runs ``seconds``.

    ``rate``: open loop, this many requests per second in all (shared by the processes).
    ``database_pid``: a local PostgreSQL postmaster, whose backends' CPU is counted too (they
    share the machine's cores with the server)."""
    start_at = time.time() + 1.0  # time for every process to connect (TLS handshakes)
    share = [connections // processes + (n < connections % processes) for n in range(processes)]
    busy = [n for n in range(processes) if share[n]]
    each = None if rate is None else rate / len(busy)
    pending = pool.starmap_async(
        client_process,
        [(host, port, files, requests, share[n], start_at, seconds, n * 7919, each) for n in busy],
    )
    pids = [pid for pid in (server_pid, database_pid) if pid is not None]
    time.sleep(max(0.0, start_at - time.time()))
    before = [cpu_seconds(pid) for pid in pids]
    time.sleep(max(0.0, start_at + seconds - time.time()))
    used = {pid: cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)}
    parts = pending.get()
    latencies = [x for part, _, _ in parts for x in part]
    return Round(
        len(latencies),
        sum(e for _, e, _ in parts),
        seconds,
        latencies,
        used.get(server_pid) if server_pid is not None else None,
        used.get(database_pid) if database_pid is not None else None,
        rate,
        sum(u for _, _, u in parts),
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
