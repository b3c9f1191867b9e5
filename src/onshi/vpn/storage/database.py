"""Opening the VPN control plane's database and bringing its schema up to date with Alembic.

The migrations keep their own version table (``alembic_version_vpn``), so the VPN tables can live
in the same PostgreSQL database as the central service's without either seeing the other's
revisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from onshi.audit.keys import KeySource
from onshi.db import MigratedDatabase

VERSION_TABLE = "alembic_version_vpn"
#: Where a writing session carries the audit key's source (``Session.info``): the audit log
#: appends inside each action's transaction, and use cases hand it only the session.
AUDIT_KEY = "onshi.vpn.audit_key"
MIGRATIONS = files("onshi.vpn.storage") / "migrations"


class Database(MigratedDatabase):
    """An engine and a session factory for one VPN database URL.

    ``sessions`` is for reading: on SQLite a deferred transaction, which never waits for a
    writer (WAL).
    """

    def __init__(self, url: str) -> None:
        super().__init__(url, MIGRATIONS, write_options={"sqlite_begin": "BEGIN IMMEDIATE"})
        if self.engine.dialect.name == "sqlite":
            _sqlite_begin(self.engine)
        #: The audit chain's keys (loaded on first use); set by whoever holds the settings.
        self.audit_key: KeySource | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back whole on error.

        On SQLite it holds the write lock from its first statement (see ``_sqlite_begin``).
        """
        with super().transaction() as session:
            if self.audit_key is not None:
                session.info[AUDIT_KEY] = self.audit_key
            yield session


def _sqlite_begin(engine: Engine) -> None:
    """SQLite: writing transactions take the write lock when they begin, not at their first write.

    Every use case reads then writes (count the valid certificates, then add one; read the
    audit chain's head, then append). With SQLite's default deferred transactions two writers
    could both read, and the second would fail on its write; BEGIN IMMEDIATE makes it wait
    (busy_timeout) instead, so the read-then-write is serialised. Readers keep a plain BEGIN.
    """

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))
