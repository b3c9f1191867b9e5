"""Opening the central database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
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
        inquiry, profiled). A connection that saw an error is closed, not kept: after a failover the
        next request gets a fresh one from the pool.
        """
        if self._kept_pid != os.getpid():
            # A forked worker: the parent's sockets are not ours to use (nor to close).
            self._kept, self._kept_pid = [], os.getpid()
        try:
            connection = self._kept.pop()  # list.pop/append are atomic: no lock needed
        except IndexError:
            connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield connection
        except BaseException as exc:
            connection.close()
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                # The server went away (a failover): the kept ones are as dead as this one.
                # Drop them all, as SQLAlchemy's pool does, so one request answers 503, not 40.
                dead, self._kept = self._kept, []
                for other in dead:
                    other.invalidate()
                    other.close()
            raise
        if len(self._kept) < _KEPT_LOOKUPS:
            self._kept.append(connection)
        else:
            connection.close()

    def dispose(self) -> None:
        kept, self._kept = self._kept, []
        if self._kept_pid == os.getpid():
            for connection in kept:
                connection.close()
        super().dispose()
