"""VPN control plane fixtures: a migrated database per test (SQLite and PostgreSQL), a clock the
test moves, and a :class:`VpnControlPlane` over them.

Like tests/conftest.py, each database is migrated once per session as a template and copied
for every test (tests/databases.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.services import ApplicationView, VpnControlPlane
from onshi.vpn.settings import VpnSettings
from onshi.vpn.storage.database import Database
from tests.databases import (
    clone_postgres,
    make_postgres_template,
    make_sqlite_template,
    sqlite_copy,
)

VPN_TEMPLATE = "onshi_vpn_template"
PASSWORD = "Clinic-pass-2026"


@pytest.fixture(scope="session")
def vpn_postgres_template(postgres_admin_url: str) -> str:
    return make_postgres_template(postgres_admin_url, VPN_TEMPLATE, Database)


@pytest.fixture(scope="session")
def vpn_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sqlite_template(tmp_path_factory.mktemp("vpn-template") / "vpn.sqlite3", Database)


@pytest.fixture
def vpn_sqlite_url(vpn_sqlite_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(vpn_sqlite_template, tmp_path)


@pytest.fixture
def vpn_postgres_url(vpn_postgres_template: str) -> Iterator[str]:
    with clone_postgres(vpn_postgres_template, VPN_TEMPLATE, "v_") as url:
        yield url


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
