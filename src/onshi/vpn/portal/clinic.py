"""The clinic side (医療機関・薬局の担当者): login, devices, certificates, profiles, sessions.

A device certificate's PKCS#12 is issued by a POST, kept only in the issuing session's memory,
and handed out by one download (a POST too, with the CSRF token); the page after issuance shows
the one-time passphrase once. Reloading that page no longer shows it, and a second download is
refused: the private key exists nowhere after the first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from onshi.vpn.domain.devices import check_device_name
from onshi.vpn.errors import InvalidInput, VpnError
from onshi.vpn.portal import content, messages_ja, profiles
from onshi.vpn.portal.app import COOKIE, LOGIN_NONCE, LOGIN_PATH, Portal
from onshi.vpn.portal.backend import IssuedDevice
from onshi.vpn.portal.errors import DownloadGone, LoginFailed, LoginLocked, NotFound
from onshi.vpn.portal.sessions import PendingDownload, PortalSession, Side

SERIAL = re.compile(r"^[0-9A-Fa-f]{1,64}$")


def login_page(
    portal: Portal, request: Request, side: Side, *, message: str = "", status: int = 200
) -> HTMLResponse:
    """The login form of ``side`` with a fresh nonce cookie and its CSRF field."""
    nonce = portal.login_tokens.new_nonce()
    if not message:
        if request.query_params.get("expired"):
            message = messages_ja.SESSION_EXPIRED
        elif request.query_params.get("bye"):
            message = messages_ja.LOGGED_OUT
    response = portal.render(
        f"{side}/login.html",
        None,
        status=status,
        login_csrf=portal.login_tokens.token_for(nonce),
        message=message,
    )
    portal.set_cookie(response, request, LOGIN_NONCE, nonce, LOGIN_PATH[side])
    return response


async def login_form(portal: Portal, request: Request, side: Side) -> dict[str, str] | None:
    """The login form's fields, or None when its CSRF token does not match the nonce cookie."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not portal.login_tokens.valid(request.cookies.get(LOGIN_NONCE), values.get("csrf")):
        return None
    return values


async def log_in(
    portal: Portal,
    request: Request,
    side: Side,
    *,
    field: str,
    authenticate: Callable[[str, str], Any],
    role_of: Callable[[Any], str],
    home: str,
) -> Response:
    """One login for both sides: CSRF, throttling that does not reveal whether the name exists,
    the service's own lockout, then a session (the service audits successes and failures)."""
    values = await login_form(portal, request, side)
    if values is None:
        await portal.audit("anonymous", "login.csrf_rejected", side, "refused")
        return portal.error_page(request, "VPN_PORTAL_CSRF", 403)
    name = values.get(field, "").strip()[:128]
    password = values.get("password", "")[:1024]
    if portal.throttle.locked(side, name):
        await portal.audit("anonymous", "login", side, "throttled")
        return login_page(portal, request, side, message=messages_ja.LOGIN_LOCKED, status=429)
    try:
        principal = await run_in_threadpool(authenticate, name, password)
    except LoginLocked:
        portal.throttle.failed(side, name)
        return login_page(portal, request, side, message=messages_ja.LOGIN_LOCKED, status=429)
    except (LoginFailed, InvalidInput):
        now_locked = portal.throttle.failed(side, name)
        text = messages_ja.LOGIN_LOCKED if now_locked else messages_ja.LOGIN_FAILED
        return login_page(portal, request, side, message=text, status=401)
    portal.throttle.succeeded(side, name)
    return portal.start_session(request, side, principal.name, role_of(principal), home)


def router(portal: Portal) -> APIRouter:
    r = APIRouter()

    def me(request: Request) -> PortalSession:
        return portal.session(request, "clinic")

    @r.get("/login", response_class=HTMLResponse)
    def login(request: Request) -> HTMLResponse:
        return login_page(portal, request, "clinic")

    @r.post("/login")
    async def login_post(request: Request) -> Response:
        return await log_in(
            portal,
            request,
            "clinic",
            field="account",
            authenticate=portal.backend.login_account,
            role_of=lambda _principal: "clinic",
            home="/",
        )

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        session = me(request)
        await portal.form(request, session)
        await portal.audit(session.principal, "logout", "clinic", "ok")
        return portal.end_session(request, "clinic")

    @r.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        session = me(request)
        devices = await run_in_threadpool(portal.backend.devices, session.principal)
        return portal.render(
            "clinic/home.html",
            session,
            devices=devices,
            message=request.query_params.get("done", ""),
            error="",
        )

    @r.post("/devices")
    async def issue(request: Request) -> Response:
        session = me(request)
        values = await portal.form(request, session)
        name = values.get("name", "").strip()
        try:
            check_device_name(name)
        except InvalidInput:
            return await _home_with_error(portal, session, messages_ja.DEVICE_NAME_RULE)
        try:
            issued = await run_in_threadpool(portal.backend.issue_device, session.principal, name)
        except VpnError as exc:
            await portal.audit(session.principal, "device.issue", name, f"refused:{exc.code}")
            return await _home_with_error(
                portal, session, messages_ja.message_for(exc.code, exc.message)
            )
        return _hand_out(portal, session, issued)

    @r.post("/devices/{serial}/renew")
    async def renew(request: Request, serial: str) -> Response:
        """A new certificate for the same device (lost file or passphrase, or near expiry)."""
        session = me(request)
        await portal.form(request, session)
        if not SERIAL.match(serial):
            raise NotFound("no such device")
        try:
            issued = await run_in_threadpool(portal.backend.renew_device, session.principal, serial)
        except VpnError as exc:
            await portal.audit(session.principal, "device.renew", serial, f"refused:{exc.code}")
            return await _home_with_error(
                portal, session, messages_ja.message_for(exc.code, exc.message)
            )
        return _hand_out(portal, session, issued)

    @r.get("/devices/{serial}/issued", response_class=HTMLResponse)
    def issued(request: Request, serial: str) -> HTMLResponse:
        session = me(request)
        if not SERIAL.match(serial):
            raise NotFound("no such device")
        pending = session.pending.get(serial)
        passphrase = None
        if pending is not None:
            passphrase, pending.passphrase = pending.passphrase, None  # shown once
        return portal.render(
            "clinic/issued.html",
            session,
            serial=serial,
            pending=pending,
            passphrase=passphrase,
        )

    @r.post("/devices/{serial}/p12")
    async def download_p12(request: Request, serial: str) -> Response:
        session = me(request)
        await portal.form(request, session)
        _forget_stale(portal, session)
        pending = session.pending.pop(serial, None)
        if pending is None:
            await portal.audit(session.principal, "device.p12_download", serial, "gone")
            raise DownloadGone("already downloaded or expired")
        await portal.audit(session.principal, "device.p12_download", serial, "ok")
        return Response(
            pending.p12,
            media_type="application/x-pkcs12",
            headers={"Content-Disposition": f'attachment; filename="device-{serial}.p12"'},
        )

    @r.get("/devices/{serial}/profile/{kind}")
    async def profile(request: Request, serial: str, kind: str) -> Response:
        session = me(request)
        if not SERIAL.match(serial) or kind not in profiles.KINDS:
            raise NotFound("no such profile")
        material = await run_in_threadpool(
            portal.backend.profile_material, session.principal, serial
        )
        rendered = profiles.render(kind, material)
        await portal.audit(session.principal, f"device.profile.{kind}", serial, "ok")
        return Response(
            rendered.content,
            media_type=rendered.media_type,
            headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
        )

    @r.get("/devices/{serial}/setup", response_class=HTMLResponse)
    async def setup(request: Request, serial: str) -> HTMLResponse:
        session = me(request)
        if not SERIAL.match(serial):
            raise NotFound("no such device")
        devices = await run_in_threadpool(portal.backend.devices, session.principal)
        device = next((d for d in devices if d.serial.lower() == serial.lower()), None)
        if device is None:
            raise NotFound("no such device")
        return portal.render(
            "clinic/setup.html", session, device=device, windows=profiles.WINDOWS_GUIDE
        )

    @r.get("/sessions", response_class=HTMLResponse)
    async def sessions(request: Request) -> HTMLResponse:
        session = me(request)
        rows = await run_in_threadpool(portal.backend.sessions, session.principal)
        return portal.render(
            "clinic/sessions.html",
            session,
            active=[s for s in rows if s.active],
            recent=[s for s in rows if not s.active][:20],
        )

    def password_page(
        session: PortalSession, *, status: int = 200, message: str = "", error: str = ""
    ) -> HTMLResponse:
        return portal.render(
            "clinic/password.html",
            session,
            status=status,
            lengths=portal.backend.password_lengths(),
            message=message,
            error=error,
        )

    @r.get("/password", response_class=HTMLResponse)
    def password(request: Request) -> HTMLResponse:
        return password_page(me(request))

    @r.post("/password")
    async def password_post(request: Request) -> Response:
        session = me(request)
        values = await portal.form(request, session)
        current, new = values.get("current", ""), values.get("new", "")
        if new != values.get("confirm", ""):
            return password_page(
                session, status=422, error=messages_ja.MESSAGES["VPN_PASSWORD_MISMATCH"]
            )
        try:
            await run_in_threadpool(portal.backend.change_password, session.principal, current, new)
        except VpnError as exc:
            await portal.audit(session.principal, "password.change", "", f"refused:{exc.code}")
            code = "VPN_PASSWORD_WRONG" if isinstance(exc, LoginFailed) else exc.code
            return password_page(
                session, status=422, error=messages_ja.message_for(code, exc.message)
            )
        # Sessions elsewhere (another browser) end with the old password.
        portal.store.drop_principal(
            "clinic", session.principal, keep=request.cookies.get(COOKIE["clinic"])
        )
        return password_page(session, message="パスワードを変更しました。")

    @r.get("/support", response_class=HTMLResponse)
    def support(request: Request) -> HTMLResponse:
        token = request.cookies.get(COOKIE["clinic"])
        session = portal.store.get(token, "clinic")  # readable before login too
        return portal.render(
            "clinic/support.html",
            session,
            os_list=content.SUPPORTED_OS,
            os_notes=content.SUPPORTED_OS_NOTES,
            ports=content.REQUIRED_PORTS,
            open_now=content.support_open_now(),
            windows=profiles.WINDOWS_GUIDE,
        )

    return r


async def _home_with_error(portal: Portal, session: PortalSession, error: str) -> HTMLResponse:
    devices = await run_in_threadpool(portal.backend.devices, session.principal)
    return portal.render(
        "clinic/home.html", session, status=422, devices=devices, message="", error=error
    )


def _hand_out(portal: Portal, session: PortalSession, issued: IssuedDevice) -> Response:
    """Keep the PKCS#12 for its one download and show the passphrase page once."""
    _forget_stale(portal, session)
    session.pending[issued.serial] = PendingDownload(
        issued.serial, issued.name, issued.p12, issued.passphrase, time.monotonic()
    )
    return RedirectResponse(f"/devices/{issued.serial}/issued", status_code=303)


def _forget_stale(portal: Portal, session: PortalSession) -> None:
    limit = portal.settings.pending_download_seconds
    now = time.monotonic()
    for serial in [s for s, p in session.pending.items() if now - p.created > limit]:
        del session.pending[serial]
