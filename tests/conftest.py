"""Shared fixtures: databases (SQLite and a private PostgreSQL), each test on a fresh copy."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from onshi.central.storage.database import Database
from tests.postgres import PostgresUnavailable, PrivateCluster, wait_ready

TEMPLATE = "onshi_central_template"


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """An admin URL of a PostgreSQL server for this test session."""
    given = os.environ.get("ONSHI_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    try:
        cluster = PrivateCluster()
        url = cluster.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    try:
        wait_ready(url)
        yield url
    finally:
        cluster.stop()


def _with_database(url: str, name: str) -> str:
    return str(sqlalchemy.make_url(url).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> str:
    """A database migrated once; each test clones it (CREATE DATABASE … TEMPLATE is fast)."""
    admin = sqlalchemy.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{TEMPLATE}"'))
    admin.dispose()
    db = Database(_with_database(postgres_admin_url, TEMPLATE))
    db.migrate()
    db.dispose()
    return postgres_admin_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "central.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "central.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(postgres_template, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    try:
        yield _with_database(postgres_template, name)
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated, empty central database: once on SQLite, once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()
