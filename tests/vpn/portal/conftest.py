"""Fixtures of the portal's route tests: the real services on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from fastapi.testclient import TestClient

from onshi.vpn.portal import create_portal_app
from onshi.vpn.portal.settings import PortalSettings
from tests.vpn.portal.world import World, build_world


@pytest.fixture
def vpn_postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"vpn_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = sqlalchemy.make_url(postgres_admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def portal_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vpn.sqlite3'}"
    return str(request.getfixturevalue("vpn_postgres_url"))


@pytest.fixture
def portal_settings() -> PortalSettings:
    return PortalSettings(secure_cookies="auto")


@pytest.fixture
def world(portal_db_url: str, tmp_path: Path, portal_settings: PortalSettings) -> Iterator[World]:
    w = build_world(portal_db_url, tmp_path / "data", portal_settings)
    yield w
    w.close()


@pytest.fixture
def client(world: World, portal_settings: PortalSettings) -> Iterator[TestClient]:
    app = create_portal_app(world.backend, portal_settings)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c
