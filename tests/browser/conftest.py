"""The whole stack for the browser: central (TLS) → agent → reception screen → headless Chromium.

Chromium is Debian's (/usr/bin/chromium), driven by Python Playwright; ``playwright install``
is never used. Without it the tests skip — except under CI, where they must run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.central.domain.qualification import CardKey
from onshi.pki import CertificateAuthority
from onshi.reader import VirtualCard
from onshi.terminal import agent as agent_module
from onshi.terminal.agent import Agent
from onshi.terminal.reception import ReceptionServer
from tests.central import factories
from tests.stack import CentralStack, central_stack, running_agent, terminal_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
PIN = "1234"

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Iterator[object]:
    # Per test, not per session: Playwright's sync API keeps an asyncio loop running in this
    # thread while it is open, which would break any later test of the same worker that
    # starts an event loop of its own.
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing: the browser tests must run under CI (apt-get install chromium)"
            )
        pytest.skip(
            f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="ja-JP")  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path) -> Iterator[CentralStack]:
    s = central_stack(sqlite_url, tmp_path / "central")
    with s.central.db.transaction() as session:
        factories.qualification(session)
    yield s
    s.close()


@pytest.fixture
def agent(stack: CentralStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    # Probe the central often, so a stopped service shows on the banner within a second.
    monkeypatch.setattr(agent_module, "HEALTH_INTERVAL", 0.5)
    with running_agent(terminal_settings(stack, tmp_path)) as a:
        yield a


@pytest.fixture
def screen(agent: Agent) -> Iterator[ReceptionServer]:
    with ReceptionServer(agent) as server:
        yield server


@pytest.fixture
def linked_card(stack: CentralStack, agent: Agent) -> VirtualCard:
    """診療 太郎's card, registered at the central, in the terminal's cards folder."""
    jpki = CertificateAuthority.load(stack.settings.jpki_ca_dir)
    issued = jpki.issue_card_certificate()
    stack.central.link_card(CardKey("06139999", "12-34", "4260", "00"), issued.certificate)
    folder = agent.settings.state_dir / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    return VirtualCard.create(folder / "taro.p12", issued, PIN, ca_certificate=jpki.certificate)


def today() -> str:
    return dt.date.today().strftime("%Y%m%d")
