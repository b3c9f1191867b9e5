"""Database engines shared by onshi's services: SQLite embedded by default, PostgreSQL by URL.

Each component owns its tables and its Alembic migrations; this module only knows how to open a
database well (SQLite in WAL mode with foreign keys on, PostgreSQL through psycopg 3) and how to
bring a component's schema up to date (``MigratedDatabase``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.abc import Traversable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# libpq's multi-host form: scheme://[userinfo@]host:port,host:port/… (several hosts, one URL).
_MULTI_HOST = re.compile(
    r"^(?P<scheme>[^:/]+)://(?P<userinfo>[^@/]*@)?(?P<hosts>[^/?]*,[^/?]*)(?P<rest>.*)$"
)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as PostgreSQL through psycopg 3.

    A libpq multi-host URL (``postgresql://u@192.0.2.1:5432,192.0.2.2:5432/db?
    target_session_attrs=read-write``) is rewritten into the form SQLAlchemy parses, one
    ``host=host:port`` query parameter per node; psycopg hands libpq the list, and libpq
    connects to the first node that accepts writes (after a failover, the new primary).
    """
    url = _multi_host_as_query(url)
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _multi_host_as_query(url: str) -> str:
    match = _MULTI_HOST.match(url)
    if match is None:
        return url
    path, _, query = match["rest"].partition("?")
    hosts = "&".join(f"host={quote(h.strip(), safe=':')}" for h in match["hosts"].split(","))
    query = f"{hosts}&{query}" if query else hosts
    return f"{match['scheme']}://{match['userinfo'] or ''}{path or '/'}?{query}"


def is_sqlite(url: str) -> bool:
    return make_url(_multi_host_as_query(url)).get_backend_name() == "sqlite"


# libpq parameters for every PostgreSQL engine onshi opens, each unless the URL names it; the
# central service's event-loop connection (asyncpg, no TCP settings) takes its two timeouts
# from here (central.storage.loop_connection.asyncpg_arguments). ``connect_timeout`` is per
# host of a multi-host URL. A server that vanishes without a reset (power loss, a partition)
# would hold a connection for the kernel's TCP retry time, ≈ 15 minutes: ``tcp_user_timeout``
# (ms) ends one whose sent data is not acknowledged for 10 s, keepalives one left waiting for
# an answer (silent for 5 s, then 3 probes 2 s apart). Both apply to TCP only, not to Unix
# sockets.
POSTGRES_CONNECT_ARGS: dict[str, int] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Web workers run in a thread pool of 40: keep that many connections open rather than
        # reconnecting (and re-running the pragmas) on every request beyond the default five.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # As many connections as the web worker's thread pool runs requests (anyio's 40), so that
    # none is opened and closed per request under load; the pool opens them only when needed.
    kwargs.setdefault("pool_size", 40)
    kwargs.setdefault("max_overflow", 10)
    # No ping at checkout (a round trip per request, measured). After a failover the first
    # statement on a pooled connection fails as a disconnect: SQLAlchemy then invalidates the
    # whole pool at once and the request answers 503 with Retry-After; the next ones reconnect
    # (to the new primary). Recycling bounds how long an idle connection is trusted.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    named = make_url(url).query
    kwargs["connect_args"] = {
        **{key: value for key, value in POSTGRES_CONNECT_ARGS.items() if key not in named},
        **kwargs.get("connect_args", {}),
    }
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(script_location: Traversable) -> Config:
    """Alembic's configuration for one component's migrations (its env.py names its version
    table, so components sharing a database never see each other's revisions)."""
    config = Config()
    config.set_main_option("script_location", str(script_location))
    return config


class MigratedDatabase:
    """An engine and session factories for one database URL, with the component's migrations.

    ``write_options`` are execution options for the sessions of ``transaction()`` only (reads
    through ``sessions`` keep the engine's defaults).
    """

    def __init__(
        self,
        url: str,
        migrations: Traversable,
        *,
        write_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        self._migrations = migrations
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writers = (
            sessionmaker(self.engine.execution_options(**write_options), expire_on_commit=False)
            if write_options
            else self.sessions
        )

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision (idempotent)."""
        config = alembic_config(self._migrations)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits at the end of the block, or rolls back whole on error."""
        with self._writers.begin() as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()
