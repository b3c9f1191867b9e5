"""PostgreSQL from the event loop: psycopg's async connection for the single inquiry's two
statements, the holdings read and the audit append.

A thread answering inquiries beside the event loop took turns with it on the interpreter lock
around every round trip; the kernel counted those hand-offs as the server's CPU (0.74–0.88 ms an
inquiry against 0.52–0.60 ms on the loop, measured: docs/central/performance.md). Here the
loop sends the statement and goes on serving other requests until the answer arrives (psycopg
waits with the loop's own readers), so one thread does all the work.

One connection, kept, in autocommit, generic plans (as :meth:`~onshi.central.storage.database.
Database.own_connection`), reached through the same libpq parameters as the engine's (a
multi-host URL with ``target_session_attrs=read-write`` included). A connection that saw an
error is closed; the next use opens one, to the new primary after a failover.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from typing import Any

import psycopg
from sqlalchemy import Engine

from onshi.central.domain.qualification import Qualification
from onshi.central.storage import repository
from onshi.db import POSTGRES_CONNECT_ARGS


class LoopConnection:
    """The event loop's connection to PostgreSQL; one user at a time (the caller sees to it)."""

    def __init__(self, engine: Engine) -> None:
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        kwargs.pop("context", None)  # SQLAlchemy's adapters for its own connections
        for key, value in POSTGRES_CONNECT_ARGS.items():  # the URL's own come first
            kwargs.setdefault(key, value)
        self._args, self._kwargs = args, kwargs
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._pid = os.getpid()
        self._holdings_sql = repository.holdings_sql_postgresql()

    @contextlib.asynccontextmanager
    async def using(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """The kept connection, opened on first use; closed for good if anything fails on it."""
        if self._pid != os.getpid():  # a forked worker: the socket is the parent's
            self._connection, self._pid = None, os.getpid()
        if self._connection is None or self._connection.closed:
            self._connection = await psycopg.AsyncConnection.connect(
                *self._args, autocommit=True, **self._kwargs
            )
            await self._connection.execute("SET plan_cache_mode = force_generic_plan")
        try:
            yield self._connection
        except BaseException:
            await self.close()
            raise

    async def holdings(
        self, keys: Iterable[tuple[str, str, str, str | None]]
    ) -> list[Qualification]:
        """:func:`~onshi.central.storage.repository.holdings_of_card_keys`, from the loop."""
        wanted = repository.wanted_card_keys(keys)
        if not wanted:
            return []
        async with self.using() as connection:
            cursor = await connection.execute(
                self._holdings_sql, repository.holdings_parameters(wanted)
            )
            return [repository.to_domain(row) for row in await cursor.fetchall()]

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                await connection.close()
