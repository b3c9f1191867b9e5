"""Opening the central database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib.resources import files

from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from onshi import db

MIGRATIONS = files("onshi.central.storage") / "migrations"
# Kept lookup connections beyond this many are closed when handed back: enough for the web
# worker's thread pool (40), so that a burst does not leave the pool short for long.
_KEPT_LOOKUPS = 40


def alembic_config() -> Config:
    return db.alembic_config(MIGRATIONS)


class Database(db.MigratedDatabase):
    """An engine and a session factory for one central database URL."""

    def __init__(self, url: str) -> None:
        super().__init__(url, MIGRATIONS)
        self._kept: list[Connection] = []
        self._kept_pid = os.getpid()

    @contextmanager
    def lookups(self) -> Iterator[Connection]:
        """A connection for the single inquiry's reads, kept between requests, in autocommit.

        Each statement sees what is committed when it runs (no snapshot shared between
        statements) and nothing done on it is ever committed: on PostgreSQL one round trip per
        SELECT, no BEGIN before and ROLLBACK after. No Session to build and close, no pool
        checkout and reset-on-return per request (together half the service's CPU on an
        inquiry, profiled). A connection that saw an error is closed for good, not kept: after a
        failover the next request opens a fresh one.
        """
        if self._kept_pid != os.getpid():
            # A forked worker: the parent's sockets are not ours to use (nor to close).
            self._kept, self._kept_pid = [], os.getpid()
        try:
            connection = self._kept.pop()  # list.pop/append are atomic: no lock needed
        except IndexError:
            connection = self.own_connection()
        try:
            yield connection
        except BaseException as exc:
            discard(connection)
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The server went away (a failover): the kept ones are as dead as this one.
                # Drop them all, as SQLAlchemy's pool does, so one request answers 503, not 40.
                dead, self._kept = self._kept, []
                for other in dead:
                    discard(other)
            raise
        if len(self._kept) < _KEPT_LOOKUPS:
            self._kept.append(connection)
        else:
            discard(connection)

    def own_connection(self) -> Connection:
        """A connection kept out of the pool for one kind of statement run again and again (the
        inquiry's reads, the audit's appends), in autocommit. Give it back with
        :func:`discard`, not ``close``: its session settings must not reach the pool.

        On PostgreSQL its prepared statements use the generic plan. Under the default plan
        choice PostgreSQL planned the inquiry's read anew at every execution (a generic plan
        estimates more rows for an unnested array than a custom plan for the actual seven
        keys, so it never won): 0.5–4 ms of planning against 0.2 ms of execution (EXPLAIN
        ANALYZE EXECUTE, docs/central/performance.md). Their statements look rows up through
        indexes (card key, individual, id) or append them, so one plan suits every value.
        """
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if self.dialect == "postgresql":
            try:
                connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            except BaseException:
                discard(connection)
                raise
        return connection

    def dispose(self) -> None:
        kept, self._kept = self._kept, []
        if self._kept_pid == os.getpid():
            for connection in kept:
                discard(connection)
        super().dispose()


def discard(connection: Connection) -> None:
    """Close a connection of :meth:`Database.own_connection` for good (broken, perhaps)."""
    with suppress(Exception):
        connection.invalidate()
        connection.close()
