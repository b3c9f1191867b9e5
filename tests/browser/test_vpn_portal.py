"""The medical VPN portal in headless Chromium: clinic staff and operators, end to end.

The real control plane (SQLite) behind the portal served by uvicorn on loopback; Chromium is
Debian's, driven by Playwright (tests/browser/conftest.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12
from playwright.sync_api import Browser, Page, expect

from onshi.vpn.portal import create_portal_app
from onshi.vpn.portal.server import PortalServer
from onshi.vpn.portal.settings import PortalSettings
from tests.vpn.portal.world import (
    AUDITOR_PASSWORD,
    CLINIC_PASSWORD,
    OPERATOR_PASSWORD,
    World,
    build_world,
)

pytestmark = pytest.mark.browser

WRONG = "IDまたはパスワードが正しくありません。"
LOCKED = "ログインの失敗が続いたため、しばらくログインできません。"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ONSHI_SCREENSHOTS to keep and look at them, else the test's tmp."""
    folder = Path(os.environ.get("ONSHI_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(f"sqlite:///{tmp_path / 'vpn.sqlite3'}", tmp_path / "data")
    yield w
    w.close()


@pytest.fixture
def serve(world: World) -> Iterator[Callable[..., str]]:
    """Start a portal on a free port (settings as given); its URL."""
    servers: list[PortalServer] = []

    def start(**settings: object) -> str:
        portal = PortalSettings(**settings)  # type: ignore[arg-type]
        server = PortalServer(create_portal_app(world.backend, portal)).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def url(serve: Callable[..., str]) -> str:
    return serve()


def clinic_login(page: Page, url: str, account: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("ID", exact=True).fill(account)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def operator_login(page: Page, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/operator/login")
    page.get_by_label("運用者ID").fill(name)
    page.get_by_label("パスワード").fill(password)
    page.get_by_role("button", name="ログイン").click()


def issue_device(page: Page, name: str) -> tuple[str, str]:
    """From the home page: issue ``name``; (serial, passphrase) as the page shows them."""
    page.get_by_label("端末名").fill(name)
    page.get_by_role("button", name="証明書を発行する").click()
    expect(page.locator("h1")).to_have_text("証明書を発行しました")
    passphrase = page.locator("#passphrase").inner_text()
    serial = re.search(r"/devices/([0-9A-F]+)/issued", page.url)
    assert serial, page.url
    return serial.group(1), passphrase


def test_clinic_issues_a_device_and_downloads_everything(
    page: Page, url: str, world: World, tmp_path: Path, shots: Path
) -> None:
    clinic_login(page, url, world.account, CLINIC_PASSWORD)
    expect(page.locator("#no-devices")).to_be_visible()
    serial, passphrase = issue_device(page, "reception-pc")
    assert re.fullmatch(r"[a-z2-9]{4}(-[a-z2-9]{4}){4}", passphrase)
    page.screenshot(path=str(shots / "vpn-portal-clinic-issued.png"), full_page=True)

    with page.expect_download() as info:
        page.get_by_role("button", name="証明書ファイル（.p12）をダウンロード").click()
    p12 = tmp_path / "device.p12"
    info.value.save_as(p12)
    assert info.value.suggested_filename == f"device-{serial}.p12"
    key, cert, _ = pkcs12.load_key_and_certificates(p12.read_bytes(), passphrase.encode())
    assert key is not None and cert is not None and f"{cert.serial_number:X}" == serial

    # Shown once: back on the page, no passphrase and no second download.
    page.reload()
    expect(page.locator("#downloaded")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(passphrase)

    page.get_by_role("link", name="接続設定（VPNクライアントの設定ファイル）へ").click()
    expect(page.locator("body")).to_contain_text("Windows 標準の VPN クライアント（IKEv2）")
    with page.expect_download() as script:
        page.locator("#profile-windows").click()
    assert script.value.suggested_filename.endswith(".ps1")
    text = Path(script.value.path()).read_text(encoding="utf-8-sig")
    assert "strongSwan for Windows" in text and world.account in text
    with page.expect_download() as conf:
        page.locator("#profile-swanctl").click()
    assert f"eap_id = {world.account}" in Path(conf.value.path()).read_text()

    page.get_by_role("link", name="端末と証明書").click()
    row = page.locator(f"tr[data-serial='{serial}']")
    expect(row).to_contain_text("reception-pc")
    expect(row.locator(".status")).to_have_text("有効")
    page.screenshot(path=str(shots / "vpn-portal-clinic-devices.png"), full_page=True)


def test_wrong_password_is_explained(page: Page, url: str, world: World) -> None:
    clinic_login(page, url, world.account, "Not-the-password-1")
    expect(page.locator("#message")).to_have_text(WRONG)
    expect(page.get_by_label("ID", exact=True)).to_be_visible()


def test_lockout_after_repeated_failures(page: Page, url: str, world: World) -> None:
    for _ in range(4):
        clinic_login(page, url, world.account, "Not-the-password-1")
        expect(page.locator("#message")).to_have_text(WRONG)
    clinic_login(page, url, world.account, "Not-the-password-1")
    expect(page.locator("#message")).to_contain_text(LOCKED)
    clinic_login(page, url, world.account, CLINIC_PASSWORD)  # the right one, too late
    expect(page.locator("#message")).to_contain_text(LOCKED)


def test_change_password(page: Page, url: str, world: World) -> None:
    clinic_login(page, url, world.account, CLINIC_PASSWORD)
    page.get_by_role("link", name="パスワード変更").click()
    page.get_by_label("現在のパスワード").fill(CLINIC_PASSWORD)
    page.get_by_label("新しいパスワード", exact=True).fill("Fresh-pass-4567")
    page.get_by_label("新しいパスワード（確認）").fill("Fresh-pass-4567")
    page.get_by_role("button", name="変更する").click()
    expect(page.locator("#message")).to_have_text("パスワードを変更しました。")
    page.get_by_role("button", name="ログアウト").click()
    expect(page.locator("#message")).to_have_text("ログアウトしました。")
    clinic_login(page, url, world.account, CLINIC_PASSWORD)
    expect(page.locator("#message")).to_have_text(WRONG)
    clinic_login(page, url, world.account, "Fresh-pass-4567")
    expect(page.locator("h1")).to_have_text("端末と証明書")


def test_operator_advances_and_revokes_and_the_clinic_sees_it(
    page: Page, url: str, world: World, browser: Browser, shots: Path
) -> None:
    clinic = browser.new_context(locale="ja-JP").new_page()
    clinic_login(clinic, url, world.account, CLINIC_PASSWORD)
    serial, _ = issue_device(clinic, "reception-pc")

    operator_login(page, url, "ops1", OPERATOR_PASSWORD)
    row = page.locator(f"tr[data-application='{world.pending_application}']")
    expect(row.locator(".state")).to_have_text("申請受付")
    row.get_by_role("button", name="内容確認（承認）").click()
    expect(page.locator("#done")).to_be_visible()
    row = page.locator(f"tr[data-application='{world.pending_application}']")
    expect(row.locator(".state")).to_have_text("内容確認済み")
    page.screenshot(path=str(shots / "vpn-portal-operator-applications.png"), full_page=True)

    page.get_by_role("link", name="証明書").click()
    device = page.locator(f"tr[data-serial='{serial}']")
    device.get_by_label("失効を確定").check()
    device.get_by_role("button", name="失効").click()
    expect(page.locator("#done")).to_be_visible()

    clinic.goto(f"{url}/")
    expect(clinic.locator(f"tr[data-serial='{serial}'] .status")).to_contain_text("失効")
    clinic.context.close()

    page.get_by_role("link", name="監査ログ").click()
    expect(page.locator("#audit")).to_contain_text("device.revoke")
    page.screenshot(path=str(shots / "vpn-portal-operator-audit.png"), full_page=True)


def test_auditor_reads_but_cannot_act(page: Page, url: str, world: World) -> None:
    operator_login(page, url, "audit1", AUDITOR_PASSWORD)
    expect(page.locator("#who")).to_contain_text("監査者")
    row = page.locator(f"tr[data-application='{world.pending_application}']")
    expect(row.get_by_role("button")).to_have_count(0)
    # Posting anyway (a hand-made request with a valid token) is refused.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(
        f"{url}/operator/applications/{world.pending_application}/advance",
        form={"csrf": str(token), "to": "reviewed"},
    )
    assert answer.status == 403
    assert "閲覧専用の権限（監査者）" in answer.text()
    page.reload()
    expect(row.locator(".state")).to_have_text("申請受付")


def test_forged_csrf_token_is_refused_and_nothing_changes(
    page: Page, url: str, world: World
) -> None:
    clinic_login(page, url, world.account, CLINIC_PASSWORD)
    page.get_by_label("端末名").fill("reception-pc")
    page.locator("form[action='/devices'] input[name=csrf]").evaluate(
        "el => { el.value = 'forged-by-another-site' }"
    )
    page.get_by_role("button", name="証明書を発行する").click()
    expect(page.locator("#error")).to_contain_text("この操作は受け付けられませんでした")
    expect(page.locator("#code")).to_have_text("VPN_PORTAL_CSRF")
    assert world.backend.devices(world.account) == []
    page.goto(f"{url}/")
    expect(page.locator("#no-devices")).to_be_visible()


def test_expired_session_goes_back_to_login(
    page: Page, serve: Callable[..., str], world: World
) -> None:
    url = serve(idle_timeout_seconds=1)
    clinic_login(page, url, world.account, CLINIC_PASSWORD)
    expect(page.locator("h1")).to_have_text("端末と証明書")
    time.sleep(1.3)
    page.get_by_role("link", name="接続状況").click()
    expect(page).to_have_url(re.compile(r"/login\?expired=1$"))
    expect(page.locator("#message")).to_contain_text("一定時間操作がなかったため")
