"""The reception screen tells staff when the req folder is no longer watched, and when it is again.

The fault is injected as in tests/terminal/test_hostile_req.py: every read of the inotify
watcher raises, so each restart dies at once and the agent reports the watcher stopped.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from onshi.terminal.agent import Agent
from onshi.terminal.reception import ReceptionServer
from onshi.terminal.watcher import InotifyWatcher
from tests.terminal.oqs_files import drop, eligibility_request, wait_for

pytestmark = pytest.mark.browser

STOPPED = "要求フォルダ（req）の監視が停止しています"


def test_a_dead_watcher_shows_on_the_banner(
    page: Page, screen: ReceptionServer, agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    page.goto(f"{screen.url}/")
    banner = page.locator("#banner")
    expect(banner).to_contain_text("接続中")
    expect(banner).not_to_contain_text(STOPPED)

    def broken(_self: InotifyWatcher) -> list[tuple[str, bool]]:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(InotifyWatcher, "_next_events", broken)
    drop(agent.folders.req, "OQSsiquc01req_wake.xml", eligibility_request())  # wakes the loop
    wait_for(agent.folders.res / "OQSsiquc01res_wake.xml")
    expect(banner).to_contain_text(STOPPED, timeout=15_000)
    expect(banner).to_have_class("banner down")
    expect(page.locator("#events li[data-kind=watcher]").first).to_be_visible()

    # Healed: the next restart holds and the banner goes back to the connection state.
    monkeypatch.undo()
    expect(banner).to_contain_text("接続中", timeout=15_000)
    expect(banner).not_to_contain_text(STOPPED)


def test_refused_request_files_are_explained_in_japanese(
    page: Page, screen: ReceptionServer, agent: Agent
) -> None:
    """Arrivals the agent cannot read as requests show a sentence for staff, not the code."""
    page.goto(f"{screen.url}/")
    expect(page.locator("#banner")).to_contain_text("接続中")
    (agent.folders.req / "OQSsiquc01req_dir.xml").mkdir()
    (agent.folders.req / "OQSsiquc01req_link.xml").symlink_to("/etc/hostname")
    answers = page.locator("#events li[data-kind=answer]")
    expect(answers.filter(has_text="フォルダなど")).to_contain_text("エラー応答")
    expect(answers.filter(has_text="シンボリックリンク")).to_contain_text("エラー応答")
    expect(page.locator("#events")).not_to_contain_text("TERMINAL_")
