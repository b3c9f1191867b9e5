"""The reception screen in headless Chromium, driven by keyboard, against the real stack."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from onshi.reader import HttpTerminal, VirtualCard, present_card
from onshi.terminal.reception import ReceptionServer
from tests.stack import CentralStack

pytestmark = pytest.mark.browser


def type_fields(page: Page, *values: str) -> None:
    """Type each value and Tab to the next field, as staff do."""
    for i, value in enumerate(values):
        if i:
            page.keyboard.press("Tab")
        page.keyboard.type(value)


def test_card_number_by_keyboard(page: Page, screen: ReceptionServer) -> None:
    page.goto(f"{screen.url}/")
    expect(page.locator("#insurer")).to_be_focused()
    type_fields(page, "06139999", "12-34", "4260", "00", "19800401")
    page.keyboard.press("Enter")
    result = page.locator("#manual-result")
    expect(result).to_contain_text("有効")
    expect(result).to_contain_text("診療　太郎")
    expect(result).to_contain_text("3割")
    expect(result).to_be_focused()  # the answer is where the keyboard is
    # The check also appears in the live list.
    expect(page.locator("#events li[data-kind=check]")).to_contain_text("診療　太郎")


def test_mistake_is_explained_and_the_cursor_goes_back(page: Page, screen: ReceptionServer) -> None:
    page.goto(f"{screen.url}/")
    type_fields(page, "0613", "12-34", "4260", "00", "19800401")
    page.keyboard.press("Enter")
    expect(page.locator("#manual-error")).to_have_text(
        "保険者番号は6桁または8桁の数字で入力してください。"
    )
    expect(page.locator("#insurer")).to_be_focused()
    expect(page.locator("#insurer")).to_have_attribute("aria-invalid", "true")
    page.keyboard.type("06139999")  # the old value is selected: typing replaces it
    page.keyboard.press("Enter")
    expect(page.locator("#manual-result")).to_contain_text("有効")


def test_card_presented_at_the_reader_appears_live(
    page: Page, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    page.goto(f"{screen.url}/")
    expect(page.locator("#banner")).to_contain_text("接続中")
    marker: Any = page.evaluate("() => { window.__notReloaded = true; return true; }")
    assert marker is True
    with HttpTerminal(screen.url) as port:
        present_card(linked_card.path, port, method="face", consents="drug")
    item = page.locator("#events li[data-kind=card]")
    expect(item).to_contain_text("診療　太郎")
    expect(item).to_contain_text("顔認証")
    expect(item).to_contain_text("薬剤情報")
    assert page.evaluate("() => window.__notReloaded") is True  # live, not reloaded


def test_card_presented_from_the_screen_with_fallback(
    page: Page, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    page.goto(f"{screen.url}/")
    page.get_by_label("顔認証に失敗させる（模擬）").check()
    page.locator("#card-submit").click()
    expect(page.locator("#card-error")).to_have_text(
        "顔認証できませんでした。目視確認または暗証番号に切り替えてください"
    )
    page.get_by_label("顔認証に失敗させる（模擬）").uncheck()
    page.get_by_label("暗証番号", exact=True).check()
    page.locator("#pin").fill("1234")
    page.locator("#pin").press("Enter")
    expect(page.locator("#card-result")).to_contain_text("有効")
    expect(page.locator("#card-result")).to_contain_text("診療　太郎")
    expect(page.locator("#pin")).to_have_value("")


def test_banner_when_the_central_service_stops(
    page: Page, screen: ReceptionServer, stack: CentralStack
) -> None:
    page.goto(f"{screen.url}/")
    banner = page.locator("#banner")
    expect(banner).to_contain_text("接続中")
    stack.stop()
    expect(banner).to_contain_text("接続できません")
    expect(banner).to_contain_text("再試行中")
    stack.start()
    expect(banner).to_contain_text("接続中")
