"""A real central service and a real agent on temporary folders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.central.client import CentralClient
from onshi.terminal.agent import Agent
from onshi.terminal.settings import TerminalSettings
from tests.central import factories
from tests.stack import CentralStack, central_stack


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


def terminal_settings(stack: CentralStack, root: Path) -> TerminalSettings:
    return TerminalSettings(
        oqs_dir=root / "OQS",
        state_dir=root / "terminal",
        central_url=stack.url,
        facility_code=stack.facility,
        cert_path=stack.cert_path,
        key_path=stack.key_path,
        ca_path=stack.ca_path,
        port=0,
        retry_first_seconds=0.05,
        retry_max_seconds=0.5,
    )


@pytest.fixture
def agent(stack: CentralStack, tmp_path: Path) -> Iterator[Agent]:
    settings = terminal_settings(stack, tmp_path)
    client = CentralClient(
        settings.central_url, settings.cert_path, settings.key_path, settings.ca_path
    )
    a = Agent(settings, client)
    a.start()
    yield a
    a.stop()
    client.close()
