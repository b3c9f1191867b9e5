"""The VPN portal under 100 concurrent users on PostgreSQL: a real page vs a trivial route.

One portal (uvicorn, one process, as ``onshi vpn portal serve`` runs it) on the control plane
with PostgreSQL; 100 clinic users, each logged in with their own session and connection, in a
separate load process. Two load shapes, each on the page ``GET /`` (session lookup, the ID's
certificates from the database, the Jinja2 page) and on ``GET /healthz`` (no session, no
database) in the same run:

* users — every user asks for a page, reads it for 0.5–1.5 s (uniform), asks again: what 100
  people at their desks do. Target: p99 ≤ 200 ms on the page.
* flood — the same 100 users with no pause at all: the saturation throughput and the latency
  when every request queues.

Prints req/s, p50/p99 and the ratios page/trivial. Talks to 127.0.0.1 only; stops by itself.

    .venv/bin/python bench/bench_vpn_portal.py [--users 100] [--seconds 15] [--db URL]

Without ``--db`` a throwaway PostgreSQL cluster is started (tests/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.postgres

PASSWORD = "Bench-pass-2026"
TARGET_P99_MS = 200.0
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


@dataclass(frozen=True)
class Measured:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def prepare(db_url: str, data_dir: Path, users: int) -> list[str]:
    """An opened application with ``users`` IDs, each with a password and one device."""
    import datetime as dt

    from onshi.vpn.domain.lifecycle import ApplicationState
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings

    control = VpnControlPlane.open(VpnSettings(database_url=db_url, data_dir=data_dir))
    application = control.submit_application(
        organisation="ベンチ診療所", ids=users, extra_certificates=0, submitted=dt.date(2026, 4, 1)
    )
    for state in (
        ApplicationState.REVIEWED,
        ApplicationState.NETWORK_CONFIGURED,
        ApplicationState.OPENED,
    ):
        control.advance_application(application.code, state, on=dt.date(2026, 4, 15))
    for account in application.accounts:
        control.set_password(account, PASSWORD)
        control.issue_device(account, "reception-pc", by=account)
    control.close()
    return list(application.accounts)


async def _login(client: object, account: str) -> None:
    page = await client.get("/login")  # type: ignore[attr-defined]
    token = _CSRF.search(page.text)
    assert token
    answer = await client.post(  # type: ignore[attr-defined]
        "/login", data={"csrf": token.group(1), "account": account, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.status_code


class _Connection:
    """One user's keep-alive HTTP/1.1 connection, written by hand.

    The load runs on the same two cores as the portal; httpx costs about a millisecond of CPU
    per request, which would be taken from the server being measured. This does the least
    HTTP/1.1 a GET needs (the portal always answers with a Content-Length).
    """

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port, self.cookie = host, port, cookie
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> int:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Cookie: {self.cookie}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def _user(
    connection: _Connection, path: str, think: bool, end: float, seed: int
) -> tuple[list[float], int]:
    """One user until ``end``: ask, (read for 0.5–1.5 s,) ask again; latencies and errors."""
    latencies: list[float] = []
    errors = 0
    rng = random.Random(seed)
    if think:
        await asyncio.sleep(rng.uniform(0, 1.0))  # users do not all start together
    while time.perf_counter() < end:
        began = time.perf_counter()
        status = await connection.get(path)
        latencies.append(time.perf_counter() - began)
        if status != 200:
            errors += 1
        if think:
            await asyncio.sleep(rng.uniform(0.5, 1.5))
    return latencies, errors


async def _load(
    url: str, accounts: list[str], phases: list[tuple[str, str, bool]], seconds: float
) -> dict[str, tuple[list[float], int]]:
    import httpx

    # Log in with httpx (forms, cookies), a few at a time: argon2id at its production cost is
    # the slow part, and it is not what is measured.
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for _ in accounts]
    for i in range(0, len(accounts), 8):
        await asyncio.gather(
            *(_login(c, a) for c, a in zip(clients[i : i + 8], accounts[i : i + 8], strict=True))
        )
    address = httpx.URL(url)
    connections = [
        _Connection(
            str(address.host),
            int(address.port or 80),
            f"onshi_vpn_session={c.cookies['onshi_vpn_session']}",
        )
        for c in clients
    ]
    for c in clients:
        await c.aclose()
    for connection in connections:
        await connection.open()
    results: dict[str, tuple[list[float], int]] = {}
    for name, path, think in phases:
        end = time.perf_counter() + seconds
        parts = await asyncio.gather(
            *(_user(c, path, think, end, n) for n, c in enumerate(connections))
        )
        results[name] = ([x for p, _ in parts for x in p], sum(e for _, e in parts))
    for connection in connections:
        await connection.close()
    return results


def _load_process(
    url: str, accounts: list[str], phases: list[tuple[str, str, bool]], seconds: float
) -> dict[str, tuple[list[float], int]]:
    return asyncio.run(_load(url, accounts, phases, seconds))


def summarise(name: str, latencies: list[float], errors: int, seconds: float) -> Measured:
    ordered = sorted(latencies)
    return Measured(
        name,
        len(ordered),
        errors,
        seconds,
        statistics.median(ordered) * 1000,
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    )


def run(db_url: str, users: int, seconds: float) -> list[Measured]:
    from onshi.vpn.portal import create_portal_app
    from onshi.vpn.portal.server import PortalServer
    from onshi.vpn.portal.services_backend import ServicesBackend
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings
    from onshi.web import freeze_startup_objects

    with tempfile.TemporaryDirectory(prefix="onshi-bench-portal-") as work:
        data_dir = Path(work) / "data"
        accounts = prepare(db_url, data_dir, users)
        control = VpnControlPlane.open(VpnSettings(database_url=db_url, data_dir=data_dir))
        server = PortalServer(create_portal_app(ServicesBackend(control))).start()
        freeze_startup_objects()  # as `onshi vpn portal serve` does (this process is the portal)
        phases = [
            ("users: GET / (devices page)", "/", True),
            ("users: GET /healthz (trivial)", "/healthz", True),
            ("flood: GET / (devices page)", "/", False),
            ("flood: GET /healthz (trivial)", "/healthz", False),
        ]
        try:
            with mp.get_context("spawn").Pool(1) as pool:
                results = pool.apply(_load_process, (server.url, accounts, phases, seconds))
        finally:
            server.stop()
            control.close()
    return [summarise(name, *results[name], seconds) for name, _, _ in phases]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--db", help="PostgreSQL URL of an empty database (default: a private one)")
    args = parser.parse_args(argv)

    cluster = None
    url = args.db
    if not url:
        from tests.postgres import PrivateCluster, wait_ready

        cluster = PrivateCluster()
        url = cluster.start()
        wait_ready(url)
    try:
        rows = run(url, args.users, args.seconds)
    finally:
        if cluster is not None:
            cluster.stop()

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"VPN portal, {args.users} concurrent users, PostgreSQL, {args.seconds:.0f} s per phase; "
        f"{os.cpu_count()} cores, load average {load} (other work on this machine skews both)"
    )
    print("| phase | requests | errors | req/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.name} | {r.requests} | {r.errors} | {r.per_second:.0f} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} |"
        )
    users_page, users_trivial, flood_page, flood_trivial = rows
    print(
        f"users: page p99 {users_page.p99_ms:.1f} ms = "
        f"{users_page.p99_ms / TARGET_P99_MS:.2f}× the 200 ms target; "
        f"page/trivial p99 {users_page.p99_ms / users_trivial.p99_ms:.2f}×"
    )
    print(
        f"flood: page/trivial throughput {flood_page.per_second / flood_trivial.per_second:.2f}×; "
        f"page/trivial p99 {flood_page.p99_ms / flood_trivial.p99_ms:.2f}×"
    )
    failed = users_page.p99_ms > TARGET_P99_MS or any(r.errors for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
