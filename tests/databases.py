"""Migrated databases for tests: each migrated once per session as a template, copied per test.

SQLite: the template file is copied; PostgreSQL: ``CREATE DATABASE … TEMPLATE`` clones it (fast).
Used by the central (tests/conftest.py) and VPN (tests/vpn/conftest.py) fixtures.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy

from onshi.db import MigratedDatabase


def with_database(url: str, name: str) -> str:
    return str(sqlalchemy.make_url(url).set(database=name).render_as_string(hide_password=False))


def _migrate(url: str, database: Callable[[str], MigratedDatabase]) -> None:
    db = database(url)
    db.migrate()
    db.dispose()


def make_postgres_template(
    admin_url: str, name: str, database: Callable[[str], MigratedDatabase]
) -> str:
    """(Re)create the database ``name`` and migrate it; returns ``admin_url``."""
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    _migrate(with_database(admin_url, name), database)
    return admin_url


def make_sqlite_template(path: Path, database: Callable[[str], MigratedDatabase]) -> Path:
    _migrate(f"sqlite:///{path}", database)
    # Fold the WAL into the file so that copying the file copies everything.
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def sqlite_copy(template: Path, tmp_path: Path) -> str:
    """The URL of a fresh copy of ``template`` (same file name) under ``tmp_path``."""
    path = tmp_path / template.name
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def clone_postgres(template_admin_url: str, template_name: str, prefix: str) -> Iterator[str]:
    """The URL of a clone of ``template_name``, dropped (even if still in use) afterwards."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(template_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield with_database(template_admin_url, name)
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
