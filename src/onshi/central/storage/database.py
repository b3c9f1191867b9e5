"""Opening the central database and bringing its schema up to date with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic.config import Config
from sqlalchemy.orm import Session, sessionmaker

from onshi import db

MIGRATIONS = files("onshi.central.storage") / "migrations"


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

    @contextmanager
    def reads(self) -> Iterator[Session]:
        """A session for reads only: each statement sees what is committed when it runs (no
        snapshot shared between statements), and nothing it does is ever committed."""
        with self._reads() as session:
            yield session
