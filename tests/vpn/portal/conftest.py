"""Fixtures of the portal's route tests: the real control plane on SQLite and on PostgreSQL.

The databases are tests/vpn/conftest.py's (``vpn_db_url``: a migrated copy per test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from onshi.vpn.portal import create_portal_app
from onshi.vpn.portal.settings import PortalSettings
from tests.vpn.portal.world import World, build_world


@pytest.fixture
def portal_settings() -> PortalSettings:
    return PortalSettings(secure_cookies="auto")


@pytest.fixture
def world(vpn_db_url: str, tmp_path: Path, portal_settings: PortalSettings) -> Iterator[World]:
    w = build_world(vpn_db_url, tmp_path / "data", portal_settings)
    yield w
    w.close()


@pytest.fixture
def client(world: World, portal_settings: PortalSettings) -> Iterator[TestClient]:
    app = create_portal_app(world.backend, portal_settings)
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c
