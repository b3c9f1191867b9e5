"""The portal's FastAPI app: shared machinery (sessions, CSRF, rendering, headers, logging).

Two sides share one app and one session store but never a session: clinic staff (``/``) and
operators (``/operator/``) each have their own login page and cookie, and a session made on one
side is not accepted on the other. Routes are in :mod:`.clinic` and :mod:`.operator`.

Every POST carries the session's CSRF token in a hidden field (``csrf``), compared in constant
time before anything else happens; a missing or wrong token gets a 403 page and changes nothing.
Cookies are ``HttpOnly`` and ``SameSite=Strict``, ``Secure`` over HTTPS. uvicorn's access log is
off: :mod:`.middleware` writes one line per request with the method, the path (never the
query string, a cookie or a form field), the status and the time taken.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from onshi.vpn.domain.calendar import JST
from onshi.vpn.errors import VpnError
from onshi.vpn.portal import content, messages_ja
from onshi.vpn.portal.backend import PortalBackend
from onshi.vpn.portal.errors import ActionForbidden, CsrfRejected
from onshi.vpn.portal.middleware import HeadersAndLog
from onshi.vpn.portal.sessions import LoginFormTokens, PortalSession, SessionStore, Side, same_token
from onshi.vpn.portal.settings import PortalSettings
from onshi.vpn.portal.throttle import LoginThrottle
from onshi.web import NO_TELEMETRY

HERE = Path(__file__).parent


COOKIE = {"clinic": "onshi_vpn_session", "operator": "onshi_vpn_operator"}
COOKIE_PATH = {"clinic": "/", "operator": "/operator"}
LOGIN_PATH = {"clinic": "/login", "operator": "/operator/login"}
LOGIN_NONCE = "onshi_vpn_login"


class LoginRequired(Exception):
    """No live session: the route answers with a redirect to the side's login page."""

    def __init__(self, side: Side, expired: bool) -> None:
        self.side = side
        self.expired = expired


@dataclass
class Portal:
    """What every route needs: the backend, settings, sessions, templates."""

    backend: PortalBackend
    settings: PortalSettings
    store: SessionStore
    templates: jinja2.Environment
    login_tokens: LoginFormTokens = field(default_factory=LoginFormTokens)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    # -- sessions ---------------------------------------------------------------------------

    def session(self, request: Request, side: Side) -> PortalSession:
        """This request's live session on ``side``; otherwise :class:`LoginRequired`."""
        token = request.cookies.get(COOKIE[side])
        session = self.store.get(token, side)
        if session is None:
            raise LoginRequired(side, expired=bool(token))
        return session

    def secure(self, request: Request) -> bool:
        mode = self.settings.secure_cookies
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")

    def set_cookie(
        self, response: Response, request: Request, name: str, value: str, path: str
    ) -> None:
        response.set_cookie(
            name,
            value,
            path=path,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
        )

    def start_session(
        self, request: Request, side: Side, principal: str, role: str, to: str
    ) -> Response:
        # A new token at login: a token planted before login never becomes a logged-in one.
        self.store.drop(request.cookies.get(COOKIE[side]))
        token, _ = self.store.create(side, principal, role)
        response = RedirectResponse(to, status_code=303)
        self.set_cookie(response, request, COOKIE[side], token, COOKIE_PATH[side])
        response.delete_cookie(LOGIN_NONCE, path=LOGIN_PATH[side])
        return response

    def end_session(self, request: Request, side: Side) -> Response:
        self.store.drop(request.cookies.get(COOKIE[side]))
        response = RedirectResponse(f"{LOGIN_PATH[side]}?bye=1", status_code=303)
        response.delete_cookie(COOKIE[side], path=COOKIE_PATH[side])
        return response

    # -- forms ------------------------------------------------------------------------------

    async def form(self, request: Request, session: PortalSession) -> dict[str, str]:
        """The POSTed form, after its CSRF token was checked against ``session``."""
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not same_token(values.get("csrf"), session.csrf):
            await self.audit(session.principal, "csrf.rejected", request.url.path, "refused")
            raise CsrfRejected("csrf token missing or wrong")
        return values

    def require_operator(self, session: PortalSession) -> None:
        if session.role != "operator":
            raise ActionForbidden("read-only role")

    async def audit(self, actor: str, action: str, target: str, outcome: str) -> None:
        await run_in_threadpool(self.backend.audit, actor, action, target, outcome)

    # -- rendering --------------------------------------------------------------------------

    def render(
        self,
        template: str,
        session: PortalSession | None = None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        page = self.templates.get_template(template).render(
            session=session,
            csrf=session.csrf if session else "",
            support_hours=content.SUPPORT_HOURS,
            m=messages_ja,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def error_page(
        self, request: Request, code: str, status: int, detail: str | None = None
    ) -> HTMLResponse:
        side: Side = "operator" if request.url.path.startswith("/operator") else "clinic"
        token = request.cookies.get(COOKIE[side])
        session = self.store.get(token, side) if token else None
        return self.render(
            "error.html",
            session,
            status=status,
            code=code,
            message=messages_ja.message_for(code, detail),
            side=side,
        )


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # device names, organisations and IDs come from outside
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # packaged templates: no stat() of three files on every page
    )
    env.filters["jst"] = _jst
    env.filters["yen"] = lambda n: f"{int(n):,}"
    env.globals["state_label"] = messages_ja.state_label
    env.globals["action_label"] = messages_ja.action_label
    env.globals["device_status_label"] = messages_ja.device_status_label
    return env


def _jst(value: Any) -> str:
    """A timestamp as staff read it: Japan time, to the minute (dates as they are)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        at: dt.datetime = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return at.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    return str(value)


def create_portal_app(
    backend: PortalBackend,
    settings: PortalSettings | None = None,
    *,
    store: SessionStore | None = None,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    from onshi.vpn.portal import clinic, operator

    settings = settings or PortalSettings()
    portal = Portal(
        backend=backend,
        settings=settings,
        store=store
        if store is not None
        else SessionStore(
            idle_seconds=settings.idle_timeout_seconds,
            absolute_seconds=settings.absolute_timeout_seconds,
        ),
        templates=_templates(),
        throttle=throttle if throttle is not None else LoginThrottle(*backend.lockout()),
    )
    app = FastAPI(
        title="onshi VPN portal",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_TELEMETRY,
    )
    app.state.portal = portal
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.add_middleware(HeadersAndLog)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        to = LOGIN_PATH[exc.side] + ("?expired=1" if exc.expired else "")
        response = RedirectResponse(to, status_code=303)
        if exc.expired:
            response.delete_cookie(COOKIE[exc.side], path=COOKIE_PATH[exc.side])
        return response

    @app.exception_handler(VpnError)
    async def refused(request: Request, exc: VpnError) -> Response:
        if isinstance(exc, ActionForbidden):
            side: Side = "operator" if request.url.path.startswith("/operator") else "clinic"
            session = portal.store.get(request.cookies.get(COOKIE[side]), side)
            await portal.audit(
                session.principal if session else "anonymous",
                "forbidden",
                request.url.path,
                "refused",
            )
        status = exc.http_status if 400 <= exc.http_status < 600 else 400
        return portal.error_page(request, exc.code, status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = "VPN_PORTAL_NOT_FOUND" if exc.status_code == 404 else "VPN_INVALID_INPUT"
        return portal.error_page(request, code, exc.status_code)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        return Response("ok", media_type="text/plain")

    app.include_router(clinic.router(portal))
    app.include_router(operator.router(portal))
    return app
