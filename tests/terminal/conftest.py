"""A real central service and a real agent on temporary folders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.terminal.agent import Agent
from tests.central import factories
from tests.stack import CentralStack, central_stack, running_agent, terminal_settings


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path) -> Iterator[CentralStack]:
    s = central_stack(sqlite_url, tmp_path / "central")
    with s.central.db.transaction() as session:
        factories.qualification(session)
        factories.qualification(
            session,
            InsuredIdentificationNumber="5000",
            Name="喪失　花子",
            DisqualificationDate=dt.date(2026, 4, 1),
            ReasonOfLoss="03",
        )
    yield s
    s.close()


@pytest.fixture
def agent(stack: CentralStack, tmp_path: Path) -> Iterator[Agent]:
    with running_agent(terminal_settings(stack, tmp_path)) as a:
        yield a
