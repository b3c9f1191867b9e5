"""A PostgreSQL server that vanishes without a reset (power loss, a partition): the service's
connections fail within seconds, not after the kernel's ≈ 15 minutes of TCP retries.

Topology, in two network namespaces this module creates and removes::

    app 192.0.2.1 ── 192.0.2.2 db (a private PostgreSQL cluster, over TCP)

The client runs in ``app`` as its own process, with the engine ``onshi.db.make_engine`` makes.
Then ``db`` drops every packet (an nftables rule), so no answer and no reset ever comes back.
A failover test kills processes instead, and the kernel answers for them with a reset.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from onshi.central.storage.loop_connection import LoopConnection
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
def test_a_silent_server_fails_the_connection_in_seconds(
    network: tuple[Host, Host, str], asking: str
) -> None:
    app, db, url = network
    client = subprocess.Popen(
        [*app.wrap, sys.executable, "-c", CLIENT, url],
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
        # 10 s of tcp_user_timeout, or 5 + 3 × 2 s of keepalives; the kernel alone: minutes.
        out, _ = client.communicate(timeout=40)
        said = out.strip()
        assert said.startswith("failed after "), said
        assert said.endswith("OperationalError"), said
        assert float(said.split()[2]) < 25, said
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
        _speak_again(db)


def test_the_event_loop_connection_gets_them_too() -> None:
    """The central service's own async connection: the same, the URL's own first."""
    engine = make_engine("postgresql+psycopg://u@192.0.2.2:5432/central?keepalives_idle=30")
    try:
        given = LoopConnection(engine)._kwargs
    finally:
        engine.dispose()
    assert given["keepalives_idle"] == "30"
    for key in ("tcp_user_timeout", "keepalives", "keepalives_count", "connect_timeout"):
        assert given[key] == POSTGRES_CONNECT_ARGS[key]
