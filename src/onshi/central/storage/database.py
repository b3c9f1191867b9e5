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
