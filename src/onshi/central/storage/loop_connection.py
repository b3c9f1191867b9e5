"""PostgreSQL from the event loop: asyncpg for the single inquiry's two statements, the holdings
read and the audit append.

A thread answering inquiries beside the event loop took turns with it on the interpreter lock
around every round trip; the kernel counted those hand-offs as the server's CPU (0.74–0.88 ms an
inquiry against 0.52–0.60 ms on the loop, measured: docs/central/performance.md). Here the
loop sends the statement and goes on serving other requests until the answer arrives, so one
thread does all the work. asyncpg rather than psycopg's async connection, which the engine
uses: its protocol is compiled, and the two statements of a group cost half the client CPU
(0.2–0.37 ms against 0.6–0.79 ms, measured; the inquiry's server CPU went 0.51–0.57 → 0.46–0.49
ms).

One connection, kept, in autocommit, statements prepared once and generic plans (as
:meth:`~onshi.central.storage.database.Database.own_connection`), reached through the engine's
URL — a multi-host URL with ``target_session_attrs=read-write`` included, see
:func:`asyncpg_arguments`. A connection that saw an error is dropped; the next use opens one,
to the new primary after a failover. Whatever says the database cannot be reached becomes
:class:`~onshi.central.errors.DatabaseUnavailable` (503 at the API), the driver's own error as
its cause.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import asyncpg
from sqlalchemy import Engine

from onshi.central.domain.qualification import Qualification
from onshi.central.errors import DatabaseUnavailable
from onshi.central.storage import repository
from onshi.db import POSTGRES_CONNECT_ARGS

# libpq keywords asyncpg does not know: it would send them to the server as settings, and be
# refused at every connection. Dropped: the TCP settings (their job, giving up on a silent
# server, is done by asyncpg's timeouts; see asyncpg_arguments) and those that change nothing
# here. Refused when the service starts: those whose meaning would be lost.
_DROPPED = frozenset(
    (
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "fallback_application_name",
        "sslcompression",  # obsolete
        "sslsni",  # asyncpg sends the name, as libpq does by default
    )
)
_REFUSED = frozenset(
    (
        "hostaddr",
        "load_balance_hosts",
        "require_auth",
        "channel_binding",
        "requirepeer",
        "requiressl",
        "sslcertmode",
        "sslcrldir",
        "gssencmode",
        "gssdelegation",
        "replication",
    )
)
# SQLSTATE classes of "no server to work with": 08 connection exception, 53 insufficient
# resources (too many connections), 57 operator intervention (shut down, terminated), 58
# system error; and 25006, a write sent to a standby (a primary demoted under the connection).
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_READ_ONLY = "25006"


class UnsupportedDatabaseUrl(ValueError):
    """The database URL names a libpq keyword the event loop's connection cannot honour."""


def asyncpg_arguments(libpq: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`asyncpg.connect`'s arguments for the libpq keywords of the engine's URL (what
    SQLAlchemy gives psycopg); the timeouts are the URL's, else those of
    :data:`~onshi.db.POSTGRES_CONNECT_ARGS`.

    asyncpg reads the rest as libpq does from a DSN (hosts and ports, several of each,
    ``target_session_attrs``, ``sslmode`` and its files, ``passfile``; anything else is a
    server setting, ``application_name`` and ``options`` included). Translated here:

    - ``connect_timeout`` (s, per host in libpq) → ``timeout``, which asyncpg spends over all the
      hosts: multiplied by their number.
    - ``tcp_user_timeout`` (ms) → ``command_timeout``: a statement unanswered that long fails.
      That covers both of libpq's TCP settings: data the server never acknowledges (tcp_user_
      timeout) and an answer that never comes (keepalives). The loop's statements are
      answered in milliseconds, so only a silent server or a stuck commit reaches it.
    - keepalives and a few others: dropped (above).

    Raises :class:`UnsupportedDatabaseUrl` for a keyword whose meaning asyncpg would lose
    (``hostaddr``…).
    """
    refused = sorted(_REFUSED & libpq.keys())
    if refused:
        raise UnsupportedDatabaseUrl(
            f"the database URL's {', '.join(refused)}: not supported by the connection that "
            "answers inquiries on the event loop (asyncpg); give the node by host name instead "
            "(docs/central/operations.md)"
        )
    given = dict(libpq)
    hosts = str(given.get("host") or "").count(",") + 1
    connect_timeout = float(given.pop("connect_timeout", POSTGRES_CONNECT_ARGS["connect_timeout"]))
    user_timeout = float(given.pop("tcp_user_timeout", POSTGRES_CONNECT_ARGS["tcp_user_timeout"]))
    for key in _DROPPED:
        given.pop(key, None)
    query = urllib.parse.urlencode({k: str(v) for k, v in given.items() if v is not None})
    return {
        "dsn": f"postgresql://?{query}",
        "timeout": connect_timeout * hosts,
        "command_timeout": user_timeout / 1000 if user_timeout > 0 else None,
        "server_settings": {"plan_cache_mode": "force_generic_plan"},
    }


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc``, raised by asyncpg or the network under it, says the database cannot be
    reached (as opposed to a statement it refused)."""
    if isinstance(exc, (OSError, TimeoutError, asyncpg.InternalClientError)):
        # Refused, reset, timed out; no server reached is a primary (TargetServerAttribute-
        # NotMatched); or the connection's protocol in a state it cannot go on from — seen
        # in a failover, when the server's FATAL reached an idle connection between two
        # statements: the next one finds an error still being read ("another operation is
        # in progress").
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state.startswith(_UNAVAILABLE_CLASSES) or state == _READ_ONLY
    return False


class LoopConnection:
    """The event loop's connection to PostgreSQL; one user at a time (the caller sees to it)."""

    def __init__(self, engine: Engine) -> None:
        _, libpq = engine.dialect.create_connect_args(engine.url)
        libpq.pop("context", None)  # SQLAlchemy's adapters for its own connections
        self.arguments = asyncpg_arguments(libpq)
        self._connection: asyncpg.Connection | None = None
        self._pid = os.getpid()
        self._holdings_sql = repository.holdings_sql_asyncpg()

    @contextlib.asynccontextmanager
    async def using(self) -> AsyncIterator[asyncpg.Connection]:
        """The kept connection, opened on first use; dropped for good if anything fails on it.
        Raises :class:`DatabaseUnavailable` for what :func:`is_unavailable` says."""
        if self._pid != os.getpid():  # a forked worker: the socket is the parent's
            self._connection, self._pid = None, os.getpid()
        try:
            if self._connection is None or self._connection.is_closed():
                self._connection = await asyncpg.connect(**self.arguments)
            yield self._connection
        except BaseException as exc:
            self.drop()
            if is_unavailable(exc):
                raise DatabaseUnavailable() from exc
            raise

    async def holdings(
        self, keys: Iterable[tuple[str, str, str, str | None]]
    ) -> list[Qualification]:
        """:func:`~onshi.central.storage.repository.holdings_of_card_keys`, from the loop."""
        wanted = repository.wanted_card_keys(keys)
        if not wanted:
            return []
        async with self.using() as connection:
            p = repository.holdings_parameters(wanted)
            rows = await connection.fetch(self._holdings_sql, p["i"], p["s"], p["n"], p["b"])
        return [repository.to_domain(row) for row in rows]

    @property
    def server_pid(self) -> int | None:
        """The server process of the kept connection, if one is open."""
        connection = self._connection
        return None if connection is None or connection.is_closed() else connection.get_server_pid()

    def drop(self) -> None:
        """Forget the connection at once, without a goodbye to a server that may not answer."""
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            connection.terminate()

    async def close(self) -> None:
        """Close the connection, politely (at shutdown)."""
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            try:
                await connection.close(timeout=2)
            except (OSError, TimeoutError, asyncpg.PostgresError):
                connection.terminate()
