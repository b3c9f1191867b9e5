"""VPN control plane fixtures: a migrated database per test (SQLite and PostgreSQL), a clock the
test moves, and a :class:`VpnControlPlane` over them.

Like tests/conftest.py, each database is migrated once per session as a template and copied
(SQLite: the file; PostgreSQL: ``CREATE DATABASE … TEMPLATE``) for every test.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.services import ApplicationView, VpnControlPlane
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage.database import Database

VPN_TEMPLATE = "onshi_vpn_template"
PASSWORD = "Clinic-pass-2026"


def _with_database(url: str, name: str) -> str:
    return str(sqlalchemy.make_url(url).set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def vpn_postgres_template(postgres_admin_url: str) -> str:
    admin = sqlalchemy.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{VPN_TEMPLATE}"'))
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{VPN_TEMPLATE}"'))
    admin.dispose()
    db = Database(_with_database(postgres_admin_url, VPN_TEMPLATE))
    db.migrate()
    db.dispose()
    return postgres_admin_url


@pytest.fixture(scope="session")
def vpn_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vpn-template") / "vpn.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    # Fold the WAL into the file so that copying the file copies everything.
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def vpn_sqlite_url(vpn_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "vpn.sqlite3"
    shutil.copy(vpn_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def vpn_postgres_url(vpn_postgres_template: str) -> Iterator[str]:
    name = f"v_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(vpn_postgres_template, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}" TEMPLATE "{VPN_TEMPLATE}"'))
    try:
        yield _with_database(vpn_postgres_template, name)
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def vpn_db_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated, empty VPN database: once on SQLite, once on PostgreSQL."""
    fixture = "vpn_sqlite_url" if request.param == "sqlite" else "vpn_postgres_url"
    return str(request.getfixturevalue(fixture))


class FakeClock:
    """A clock the test sets and moves (aware UTC)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    # 2026-04-01 10:00 JST: a Wednesday, a business day.
    return FakeClock(dt.datetime(2026, 4, 1, 1, 0, tzinfo=dt.UTC))


@pytest.fixture
def vpn_settings(vpn_db_url: str, tmp_path: Path) -> VpnSettings:
    # The cheapest argon2id the settings allow: the tests check behaviour, the bench checks cost.
    return VpnSettings(
        database_url=vpn_db_url,
        data_dir=tmp_path / "vpn-data",
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        lockout_threshold=3,
        lockout_minutes=10,
    )


@pytest.fixture
def control(vpn_settings: VpnSettings, clock: FakeClock) -> Iterator[VpnControlPlane]:
    """The control plane over a fresh database (already migrated: the template was)."""
    plane = VpnControlPlane(vpn_settings, Database(vpn_settings.database_url), clock)
    yield plane
    plane.close()


def open_application(
    control: VpnControlPlane,
    *,
    ids: int = 1,
    extra_certificates: int = 0,
    organisation: str = "さくら薬局",
    password: str | None = PASSWORD,
    opened_on: dt.date = dt.date(2026, 4, 15),
) -> ApplicationView:
    """Submit an application and take it to ``opened``; give every ID ``password``."""
    view = control.submit_application(
        organisation=organisation,
        ids=ids,
        extra_certificates=extra_certificates,
        submitted=dt.date(2026, 4, 1),
    )
    for state in ("reviewed", "network_configured", "opened"):
        view = control.advance_application(view.code, ApplicationState(state), on=opened_on)
    if password is not None:
        for account in view.accounts:
            control.set_password(account, password)
    return view
