"""Clinic staff's pages over HTTP on the real services (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi.testclient import TestClient

from onshi.vpn.services import SessionEventKind
from tests.vpn.portal.helpers import csrf_of, issue, login, post_form
from tests.vpn.portal.world import CLINIC_PASSWORD, World


def test_issue_shows_the_passphrase_once_and_the_p12_downloads_once(
    client: TestClient, world: World
) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    serial, passphrase = issue(client, "reception-pc")
    again = client.get(f"/devices/{serial}/issued")
    assert passphrase not in again.text and 'id="passphrase-gone"' in again.text
    download = client.post(f"/devices/{serial}/p12", data={"csrf": csrf_of(again.text)})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/x-pkcs12"
    assert f'filename="device-{serial}.p12"' in download.headers["content-disposition"]
    key, cert, _ca = pkcs12.load_key_and_certificates(download.content, passphrase.encode())
    assert key is not None and cert is not None
    assert f"{cert.serial_number:X}" == serial
    assert f"{world.account}.reception-pc" in cert.subject.rfc4514_string()
    second = client.post(f"/devices/{serial}/p12", data={"csrf": csrf_of(again.text)})
    assert second.status_code == 410 and "再ダウンロードはできません" in second.text
    home = client.get("/")
    assert serial in home.text and "reception-pc" in home.text and "有効" in home.text


def test_bad_device_name_is_explained_and_nothing_issued(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    answer = post_form(client, "/", "/devices", name="受付パソコン")
    assert answer.status_code == 422
    assert "端末名は半角の英数字" in answer.text
    assert world.backend.devices(world.account) == []


def test_a_device_beyond_two_plus_x_is_refused(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    for n in range(3):  # x = 1: three devices
        issue(client, f"pc{n}")
    answer = post_form(client, "/", "/devices", name="pc3")
    assert answer.status_code == 422
    assert "上限に達しています" in answer.text
    assert len(world.backend.devices(world.account)) == 3


def test_profiles_download_for_own_devices_only(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    serial, _ = issue(client, "reception-pc")
    setup = client.get(f"/devices/{serial}/setup")
    assert (
        "Windows 標準の VPN クライアント" in setup.text and "strongSwan for Windows" in setup.text
    )
    swanctl = client.get(f"/devices/{serial}/profile/swanctl")
    assert swanctl.status_code == 200
    assert f"eap_id = {world.account}" in swanctl.text
    assert "remote_ts = 198.51.100.0/24" in swanctl.text
    sswan = client.get(f"/devices/{serial}/profile/sswan")
    document = json.loads(sswan.content)
    assert document["type"] == "ikev2-cert-eap" and document["local"]["eap_id"] == world.account
    windows = client.get(f"/devices/{serial}/profile/windows")
    assert windows.headers["content-disposition"].endswith('.ps1"')
    assert "Import-PfxCertificate" in windows.text
    for body in (swanctl.text, sswan.text, windows.text):
        assert CLINIC_PASSWORD not in body
    assert client.get(f"/devices/{serial}/profile/exe").status_code == 404
    # Another ID's device reads like a missing one.
    other = TestClient(client.app, follow_redirects=False)
    login(other, world.second_account, CLINIC_PASSWORD)
    assert other.get(f"/devices/{serial}/profile/swanctl").status_code == 404
    assert other.get(f"/devices/{serial}/setup").status_code == 404


def test_change_password(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    elsewhere = TestClient(client.app, follow_redirects=False)
    login(elsewhere, world.account, CLINIC_PASSWORD)
    new = "Fresh-pass-4567"
    wrong = post_form(
        client, "/password", "/password", current="nope-1234567", new=new, confirm=new
    )
    assert wrong.status_code == 422 and "現在のパスワードが正しくありません" in wrong.text
    mismatch = post_form(
        client, "/password", "/password", current=CLINIC_PASSWORD, new=new, confirm=new + "x"
    )
    assert "一致しません" in mismatch.text
    weak = post_form(
        client, "/password", "/password", current=CLINIC_PASSWORD, new="short1", confirm="short1"
    )
    assert weak.status_code == 422 and "条件を満たしていません" in weak.text
    done = post_form(
        client, "/password", "/password", current=CLINIC_PASSWORD, new=new, confirm=new
    )
    assert done.status_code == 200 and "パスワードを変更しました" in done.text
    assert client.get("/").status_code == 200  # this session goes on
    assert elsewhere.get("/").status_code == 303  # the other one ended
    fresh = TestClient(client.app, follow_redirects=False)
    assert login(fresh, world.account, CLINIC_PASSWORD).status_code == 401
    assert login(fresh, world.account, new).status_code == 303


def test_sessions_page_shows_active_and_last_connections(client: TestClient, world: World) -> None:
    sessions = world.control
    sessions.record_session_event(
        SessionEventKind.UP,
        "ike-1",
        account=world.account,
        device="reception-pc",
        virtual_address="10.99.0.2",
    )
    sessions.record_session_event(
        SessionEventKind.UP, "ike-0", account=world.account, device="old-pc"
    )
    sessions.record_session_event(
        SessionEventKind.DOWN, "ike-0", account=world.account, device="old-pc", reason="idle"
    )
    sessions.record_session_event(
        SessionEventKind.UP, "ike-9", account=world.second_account, device="another-ids-pc"
    )
    login(client, world.account, CLINIC_PASSWORD)
    page = client.get("/sessions").text
    active = page.split('id="active-sessions"')[1].split("</table>")[0]
    recent = page.split('id="recent-sessions"')[1].split("</table>")[0]
    assert "reception-pc" in active and "10.99.0.2" in active
    assert "old-pc" in recent and "idle" in recent
    # Another ID's session (a name long enough never to turn up inside a random CSRF token,
    # as "x9" once did).
    assert "another-ids-pc" not in page


def test_support_page_is_readable_before_login(client: TestClient) -> None:
    page = client.get("/support")
    assert page.status_code == 200
    for text in (
        "Windows 10 IoT Enterprise 2019 LTSC",
        "Windows 10 Enterprise 2019 LTSC",
        "Windows 11 (64bit版)",
        "毎月10日のみ 9:00～24:00",
        "毎月10日を除く毎日 9:00～21:00",
        "500",
        "4500",
        "ESP",
    ):
        assert text in page.text, text


def test_renewal_replaces_a_lost_certificate(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    old, _ = issue(client, "reception-pc")
    answer = post_form(client, "/", f"/devices/{old}/renew")
    assert answer.status_code == 303
    new = answer.headers["location"].split("/")[2]
    page = client.get(answer.headers["location"]).text
    passphrase = page.split('id="passphrase">')[1].split("<")[0]
    download = client.post(f"/devices/{new}/p12", data={"csrf": csrf_of(page)})
    key, cert, _ = pkcs12.load_key_and_certificates(download.content, passphrase.encode())
    assert key is not None and cert is not None and f"{cert.serial_number:X}" == new
    status = {d.serial: d.status for d in world.backend.devices(world.account)}
    assert status == {old: "superseded", new: "valid"}
    # Another ID cannot renew this one.
    other = TestClient(client.app, follow_redirects=False)
    login(other, world.second_account, CLINIC_PASSWORD)
    refused = post_form(other, "/", f"/devices/{new}/renew")
    assert refused.status_code == 422 and "見つかりません" in refused.text
    assert {d.serial: d.status for d in world.backend.devices(world.account)}[new] == "valid"
