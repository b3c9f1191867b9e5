"""Opening the central database and bringing its schema up to date with Alembic."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic.config import Config
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

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
        # Reads of the hot path on PostgreSQL in autocommit: one round trip per SELECT, no
        # BEGIN before and ROLLBACK after. (SQLite's driver begins only before writes anyway.)
        self._reads = (
            self.sessions
            if self.engine.dialect.name == "sqlite"
            else sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                expire_on_commit=False,
            )
        )
        self._kept: list[Connection] = []
        self._kept_pid = os.getpid()

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reads only: each statement sees what is committed when it runs (no
        snapshot shared between statements), and nothing it does is ever committed."""
        with self._reads() as session:
            yield session

    @contextmanager
    def lookups(self) -> Iterator[Connection]:
        """A connection for the single inquiry's reads, kept between requests, in autocommit.

        What ``reads()`` gives, minus its cost: no Session to build and close, no pool checkout
        and reset-on-return per request (together half the service's CPU on an inquiry,
        profiled). A connection that saw an error is closed, not kept: after a failover the
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
        except BaseException:
            connection.close()
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
