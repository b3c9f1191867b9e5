"""A PostgreSQL server that vanishes without a reset (power loss, a partition): the service's
connections fail within seconds, not after the kernel's ≈ 15 minutes of TCP retries.

Topology, in two network namespaces this module creates and removes::

    app 192.0.2.1 ── 192.0.2.2 db (a private PostgreSQL cluster, over TCP)

The client runs in ``app`` as its own process, with the engine ``onshi.db.make_engine`` makes,
or with the event loop's connection (asyncpg, ``LoopConnection``), which has timeouts where
libpq has TCP settings.
Then ``db`` drops every packet (an nftables rule), so no answer and no reset ever comes back.
A failover test kills processes instead, and the kernel answers for them with a reset.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from onshi.central.storage.loop_connection import LoopConnection, UnsupportedDatabaseUrl
from onshi.db import POSTGRES_CONNECT_ARGS, make_engine
from tests.netns import Host, Lab, skip_reason
from tests.postgres import PostgresUnavailable, PrivateCluster

APP, DB = "192.0.2.1", "192.0.2.2"

CLIENT = r"""
import sys, time
from onshi.db import make_engine

engine = make_engine(sys.argv[1])
with engine.connect() as c:  # a connection kept in the pool
    c.exec_driver_sql("SELECT 1")
print("ready", flush=True)
asking = sys.stdin.readline().strip()
start = time.monotonic()
try:
    with engine.connect() as c:
        c.exec_driver_sql(asking)
    print("answered", flush=True)
except Exception as exc:
    print(f"failed after {time.monotonic() - start:.1f} s: {type(exc).__name__}", flush=True)
"""

LOOP_CLIENT = r"""
import asyncio, sys, time
from onshi.central.storage.loop_connection import LoopConnection, UnsupportedDatabaseUrl
from onshi.db import make_engine

async def main():
    connection = LoopConnection(make_engine(sys.argv[1]))
    async with connection.using() as c:  # the connection kept
        await c.fetchval("SELECT 1")
    print("ready", flush=True)
    asking = sys.stdin.readline().strip()
    start = time.monotonic()
    try:
        async with connection.using() as c:
            await c.fetchval(asking)
        print("answered", flush=True)
    except Exception as exc:
        print(f"failed after {time.monotonic() - start:.1f} s: {type(exc).__name__}", flush=True)

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def network() -> Iterator[tuple[Host, Host, str]]:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    try:
        cluster = PrivateCluster()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with Lab() as lab:
        app, db = lab.host("app"), lab.host("db")
        lab.link(app, f"{APP}/24", db, f"{DB}/24")
        cluster.as_user = [*db.wrap, *cluster.as_user]
        try:
            cluster.start(listen_addresses=DB)
            url = f"postgresql+psycopg://{cluster.user}@{DB}:{cluster.port}/postgres"
            yield app, db, url
        finally:
            cluster.stop()


def _silence(db: Host) -> None:
    db.run("nft", "add", "table", "inet", "silence")
    for hook in ("input", "output"):
        db.run(
            *("nft", "add", "chain", "inet", "silence", hook),
            f"{{ type filter hook {hook} priority 0; policy drop; }}",
        )


def _speak_again(db: Host) -> None:
    db.run("nft", "delete", "table", "inet", "silence", check=False)


@pytest.mark.netns
@pytest.mark.postgres
@pytest.mark.parametrize(
    "asking",
    [
        pytest.param("SELECT 1", id="asked-after-the-silence"),  # unacknowledged data
        pytest.param("SELECT pg_sleep(120)", id="waiting-for-an-answer"),  # keepalives
    ],
)
@pytest.mark.parametrize(
    ("script", "error"),
    [
        pytest.param(CLIENT, "OperationalError", id="engine"),
        pytest.param(LOOP_CLIENT, "DatabaseUnavailable", id="event-loop"),
    ],
)
def test_a_silent_server_fails_the_connection_in_seconds(
    network: tuple[Host, Host, str], asking: str, script: str, error: str
) -> None:
    app, db, url = network
    client = subprocess.Popen(
        [*app.wrap, sys.executable, "-c", script, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None and client.stdin is not None
        assert client.stdout.readline().strip() == "ready"
        if asking == "SELECT 1":
            _silence(db)
            client.stdin.write(asking + "\n")
            client.stdin.flush()
        else:
            client.stdin.write(asking + "\n")
            client.stdin.flush()
            db.run("sleep", "1")  # the query is on the server, the client waits
            _silence(db)
        # 10 s of tcp_user_timeout, or 5 + 3 × 2 s of keepalives (the event loop's connection:
        # 10 s of command_timeout, either way); the kernel alone: minutes.
        out, _ = client.communicate(timeout=40)
        said = out.strip()
        assert said.startswith("failed after "), said
        assert said.endswith(error), said
        assert float(said.split()[2]) < 25, said
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        _speak_again(db)


def test_the_event_loop_connection_gets_them_too() -> None:
    """The central service's own async connection: the same bounds as its timeouts, the URL's
    own first; libpq's keepalive settings are not passed on (asyncpg would send them to the
    server as settings, and be refused)."""
    default = "postgresql+psycopg://u@192.0.2.2:5432/central?keepalives_idle=30"
    named = (
        "postgresql+psycopg://u@/central?host=192.0.2.2:5432&host=192.0.2.3:5432"
        "&connect_timeout=2&tcp_user_timeout=30000&target_session_attrs=read-write"
    )
    given = {}
    for url in (default, named):
        engine = make_engine(url)
        try:
            given[url] = LoopConnection(engine).arguments
        finally:
            engine.dispose()
    assert given[default]["timeout"] == POSTGRES_CONNECT_ARGS["connect_timeout"]
    assert given[default]["command_timeout"] == POSTGRES_CONNECT_ARGS["tcp_user_timeout"] / 1000
    assert "keepalives" not in given[default]["dsn"]
    assert given[named]["timeout"] == 2 * 2  # libpq's is per host, asyncpg's for them all
    assert given[named]["command_timeout"] == 30
    assert "target_session_attrs=read-write" in given[named]["dsn"]


def test_a_url_the_event_loop_connection_cannot_honour_is_refused_at_once() -> None:
    """Keywords asyncpg would send to the server as settings (and be refused at every
    connection) are dropped when they change nothing, refused by name when the service starts
    when their meaning would be lost."""
    harmless = "postgresql+psycopg://u@192.0.2.2:5432/central?fallback_application_name=x&sslsni=1"
    lost = "postgresql+psycopg://u@db.example/central?hostaddr=192.0.2.2"
    engine = make_engine(harmless)
    try:
        dsn = LoopConnection(engine).arguments["dsn"]
    finally:
        engine.dispose()
    assert "fallback_application_name" not in dsn and "sslsni" not in dsn
    engine = make_engine(lost)
    try:
        with pytest.raises(UnsupportedDatabaseUrl, match="hostaddr"):
            LoopConnection(engine)
    finally:
        engine.dispose()
