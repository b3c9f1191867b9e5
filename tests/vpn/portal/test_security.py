"""The portal's security machinery over HTTP: CSRF, cookies, expiry, lockout, logs, headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from onshi.vpn.portal import create_portal_app
from onshi.vpn.portal.sessions import SessionStore
from onshi.vpn.portal.settings import PortalSettings
from onshi.vpn.portal.throttle import LoginThrottle
from tests.vpn.portal.helpers import issue, login, operator_login, post_form
from tests.vpn.portal.world import CLINIC_PASSWORD, OPERATOR_PASSWORD, World

CSRF_MESSAGE = "この操作は受け付けられませんでした"
WRONG = "IDまたはパスワードが正しくありません。"
LOCKED = "ログインの失敗が続いたため、しばらくログインできません。"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _audit_actions(world: World) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.outcome) for e in world.backend.audit_log(500)]


def test_login_sets_a_strict_httponly_session_cookie(client: TestClient, world: World) -> None:
    page = client.get("/login")
    nonce_cookie = page.headers["set-cookie"]
    assert "HttpOnly" in nonce_cookie and "SameSite=strict" in nonce_cookie
    answer = login(client, world.account, CLINIC_PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("onshi_vpn_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback in this test
    assert client.get("/").status_code == 200


def test_cookie_is_secure_over_https(world: World, portal_settings: PortalSettings) -> None:
    app = create_portal_app(world.backend, portal_settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        answer = login(c, world.account, CLINIC_PASSWORD)
        assert answer.status_code == 303
        assert "Secure" in answer.headers["set-cookie"]


def test_a_page_needs_a_session(client: TestClient) -> None:
    for path in ("/", "/sessions", "/password", "/devices/AB/setup"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/login", path
    answer = client.get("/operator/audit")
    assert answer.status_code == 303 and answer.headers["location"] == "/operator/login"


@pytest.mark.parametrize("token", ["", "forged-token-0000000000000000000000000"])
def test_forged_or_missing_csrf_token_changes_nothing(
    client: TestClient, world: World, token: str
) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    fields = {"name": "reception-pc"} | ({"csrf": token} if token else {})
    answer = client.post("/devices", data=fields)
    assert answer.status_code == 403
    assert CSRF_MESSAGE in answer.text and "VPN_PORTAL_CSRF" in answer.text
    assert world.backend.devices(world.account) == []
    assert (world.account, "portal.csrf.rejected", "refused") in _audit_actions(world)


def test_forged_csrf_on_operator_action_changes_nothing(client: TestClient, world: World) -> None:
    operator_login(client, "ops1", OPERATOR_PASSWORD)
    answer = client.post(
        f"/operator/applications/{world.pending_application}/advance",
        data={"csrf": "x" * 43, "to": "reviewed"},
    )
    assert answer.status_code == 403 and CSRF_MESSAGE in answer.text
    states = {a.id: a.state for a in world.backend.applications()}
    assert states[world.pending_application] == "submitted"


def test_login_form_without_its_token_is_refused(client: TestClient, world: World) -> None:
    client.get("/login")
    answer = client.post(
        "/login", data={"csrf": "0" * 64, "account": world.account, "password": CLINIC_PASSWORD}
    )
    assert answer.status_code == 403 and CSRF_MESSAGE in answer.text
    assert "set-cookie" not in answer.headers or "onshi_vpn_session" not in answer.headers.get(
        "set-cookie", ""
    )
    assert client.get("/").status_code == 303


def test_wrong_password_and_unknown_id_read_the_same(client: TestClient, world: World) -> None:
    wrong = login(client, world.account, "Not-the-password-1")
    unknown = login(client, "A000999-001", "Not-the-password-1")
    assert wrong.status_code == unknown.status_code == 401
    assert WRONG in wrong.text and WRONG in unknown.text
    assert client.get("/").status_code == 303


def test_lockout_reads_the_same_for_real_and_unknown_ids(client: TestClient, world: World) -> None:
    for name in (world.account, "A000999-001"):
        texts = [login(client, name, "Not-the-password-1").text for _ in range(5)]
        assert all(WRONG in t for t in texts[:4]), name
        assert LOCKED in texts[4], name
    # Locked: even the right password does not log in, and says so in the same words.
    answer = login(client, world.account, CLINIC_PASSWORD)
    assert answer.status_code == 429 and LOCKED in answer.text
    assert client.get("/").status_code == 303


def test_service_lockout_is_shown_when_the_portal_forgot(
    world: World, portal_settings: PortalSettings
) -> None:
    """A restarted portal (empty throttle) still shows the service's own lockout."""
    app = create_portal_app(world.backend, portal_settings, throttle=LoginThrottle(threshold=100))
    with TestClient(app, follow_redirects=False) as c:
        for _ in range(5):
            login(c, world.account, "Not-the-password-1")
        answer = login(c, world.account, CLINIC_PASSWORD)
    assert answer.status_code == 429 and LOCKED in answer.text


@pytest.fixture
def clocked(world: World, portal_settings: PortalSettings) -> Iterator[tuple[TestClient, Clock]]:
    clock = Clock()
    store = SessionStore(idle_seconds=60, absolute_seconds=300, clock=clock)
    app = create_portal_app(world.backend, portal_settings, store=store)
    with TestClient(app, follow_redirects=False) as c:
        yield c, clock


def test_idle_session_expires(clocked: tuple[TestClient, Clock], world: World) -> None:
    client, clock = clocked
    login(client, world.account, CLINIC_PASSWORD)
    clock.now += 59
    assert client.get("/").status_code == 200  # each request resets the idle clock
    clock.now += 59
    assert client.get("/").status_code == 200
    clock.now += 61
    answer = client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?expired=1"
    assert "一定時間操作がなかったため" in client.get("/login?expired=1").text


def test_session_ends_at_the_absolute_limit(
    clocked: tuple[TestClient, Clock], world: World
) -> None:
    client, clock = clocked
    login(client, world.account, CLINIC_PASSWORD)
    for _ in range(6):
        clock.now += 50
        last = client.get("/")
    assert last.status_code == 303  # 300 s after login, however busy


def test_logout_ends_the_session_for_a_replayed_cookie(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    token = client.cookies.get("onshi_vpn_session")
    assert token
    answer = post_form(client, "/", "/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?bye=1"
    client.cookies.set("onshi_vpn_session", token)
    assert client.get("/").status_code == 303


def test_a_clinic_session_is_not_an_operator_session(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    token = client.cookies.get("onshi_vpn_session")
    client.cookies.set("onshi_vpn_operator", str(token), path="/operator")
    assert client.get("/operator/").status_code == 303


def test_pages_are_not_cached_or_framed(client: TestClient, world: World) -> None:
    login(client, world.account, CLINIC_PASSWORD)
    answer = client.get("/")
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"


def test_no_secret_reaches_the_log(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        login(client, world.account, CLINIC_PASSWORD)
        serial, passphrase = issue(client, "reception-pc")
        post_form(client, f"/devices/{serial}/issued", f"/devices/{serial}/p12")
        client.get("/login?next=secret-query")
    # Everything the server side logged (httpx here is the test's own client, not the server).
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    token = str(client.cookies.get("onshi_vpn_session"))
    for secret in (CLINIC_PASSWORD, passphrase, token, "secret-query"):
        assert secret not in text
    assert "POST /devices 303" in text  # the request itself is logged


def test_failed_logins_are_audited_without_the_password(client: TestClient, world: World) -> None:
    login(client, world.account, "Not-the-password-1")
    entries = world.backend.audit_log(50)
    assert any(e.action == "account.login" and e.outcome == "wrong_password" for e in entries)
    assert all("Not-the-password-1" not in f"{e.target} {e.actor}" for e in entries)


def test_secure_always_behind_a_silent_proxy(world: World) -> None:
    """``always``: a TLS proxy that does not say so still gets Secure cookies."""
    app = create_portal_app(world.backend, PortalSettings(secure_cookies="always"))
    with TestClient(app, follow_redirects=False) as c:
        assert "Secure" in c.get("/login").headers["set-cookie"]
