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

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, sessionmaker

from onshi.db import make_engine

VERSION_TABLE = "alembic_version_vpn"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("onshi.vpn.storage") / "migrations"))
    return config


class Database:
    """An engine and a session factory for one VPN database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        if self.engine.dialect.name == "sqlite":
            _immediate_transactions(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent)."""
        config = alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back whole on error."""
        with self.sessions.begin() as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def _immediate_transactions(engine: Engine) -> None:
    """SQLite: take the write lock when a transaction begins, not at its first write.

    Every use case reads then writes (count the valid certificates, then add one; read the
    audit chain's head, then append). With SQLite's default deferred transactions two writers
    could both read, and the second would fail on its write; BEGIN IMMEDIATE makes it wait
    (busy_timeout) instead, so the read-then-write is serialised.
    """

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
