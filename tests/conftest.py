"""Shared fixtures: databases (SQLite and a private PostgreSQL), each test on a fresh copy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.central.storage.database import Database
from tests.databases import (
    clone_postgres,
    make_postgres_template,
    make_sqlite_template,
    sqlite_copy,
)
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


@pytest.fixture(scope="session")
def postgres_template(postgres_admin_url: str) -> str:
    """A database migrated once; each test clones it (CREATE DATABASE … TEMPLATE is fast)."""
    return make_postgres_template(postgres_admin_url, TEMPLATE, Database)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sqlite_template(
        tmp_path_factory.mktemp("sqlite-template") / "central.sqlite3", Database
    )


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    with clone_postgres(postgres_template, TEMPLATE, "t_") as url:
        yield url


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
