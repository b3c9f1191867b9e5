"""Opening the central database and bringing its schema up to date with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from onshi.db import make_engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("onshi.central.storage") / "migrations"))
    return config


class Database:
    """An engine and a session factory for one central database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
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

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reads only: each statement sees what is committed when it runs (no
        snapshot shared between statements), and nothing it does is ever committed."""
        with self._reads() as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
