"""The operator side (運用者): applications, certificates, sessions, invoices, the audit log.

Two roles: ``operator`` reads and acts, ``auditor`` (監査者) reads only. Every action checks the
CSRF token first, then the role (an auditor gets 403 and an audit entry), then acts.
"""

from __future__ import annotations

import datetime as dt
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from onshi.vpn.errors import VpnError
from onshi.vpn.portal.app import Portal
from onshi.vpn.portal.clinic import log_in, login_page
from onshi.vpn.portal.errors import ConfirmationMissing, NotFound
from onshi.vpn.portal.sessions import PortalSession

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
TOKEN = re.compile(r"^[0-9A-Za-z._:-]{1,64}$")
AUDIT_ROWS = 200


def _this_month() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).strftime("%Y-%m")


def router(portal: Portal) -> APIRouter:
    r = APIRouter(prefix="/operator")

    def me(request: Request) -> PortalSession:
        return portal.session(request, "operator")

    async def act(request: Request) -> PortalSession:
        """The session of an operator allowed to act (CSRF first, then the role)."""
        session = me(request)
        await portal.form(request, session)
        portal.require_operator(session)
        return session

    def back(to: str, done: str = "") -> RedirectResponse:
        return RedirectResponse(f"/operator{to}" + (f"?done={done}" if done else ""), 303)

    @r.get("/login", response_class=HTMLResponse)
    def login(request: Request) -> HTMLResponse:
        return login_page(portal, request, "operator")

    @r.post("/login")
    async def login_post(request: Request) -> Response:
        return await log_in(
            portal,
            request,
            "operator",
            field="name",
            authenticate=portal.backend.login_operator,
            role_of=lambda principal: str(principal.role),
            home="/operator/",
        )

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        session = me(request)
        await portal.form(request, session)
        await portal.audit(session.principal, "logout", "operator", "ok")
        return portal.end_session(request, "operator")

    # -- applications -----------------------------------------------------------------------

    @r.get("/", response_class=HTMLResponse)
    async def applications(request: Request) -> HTMLResponse:
        session = me(request)
        rows = await run_in_threadpool(portal.backend.applications)
        return portal.render(
            "operator/applications.html",
            session,
            applications=rows,
            done=request.query_params.get("done", ""),
        )

    @r.post("/applications/{application}/advance")
    async def advance(request: Request, application: str) -> Response:
        session = await act(request)
        form = await request.form()
        to = str(form.get("to", ""))
        if not TOKEN.match(application) or not TOKEN.match(to):
            raise NotFound("no such application")
        if to == "cancelled" and form.get("confirm") != "yes":
            raise ConfirmationMissing("cancellation not confirmed")
        try:
            await run_in_threadpool(portal.backend.advance, application, to, session.principal)
        except VpnError as exc:
            await portal.audit(
                session.principal,
                "application.advance",
                f"{application}->{to}",
                f"refused:{exc.code}",
            )
            raise
        return back("/", "advanced")

    # -- certificates -----------------------------------------------------------------------

    @r.get("/devices", response_class=HTMLResponse)
    async def devices(request: Request) -> HTMLResponse:
        session = me(request)
        rows = await run_in_threadpool(portal.backend.all_devices)
        return portal.render(
            "operator/devices.html",
            session,
            devices=rows,
            done=request.query_params.get("done", ""),
        )

    @r.post("/devices/{serial}/revoke")
    async def revoke(request: Request, serial: str) -> Response:
        session = await act(request)
        if not TOKEN.match(serial):
            raise NotFound("no such device")
        if (await request.form()).get("confirm") != "yes":
            raise ConfirmationMissing("revocation not confirmed")
        try:
            await run_in_threadpool(portal.backend.revoke, serial, session.principal)
        except VpnError as exc:
            await portal.audit(session.principal, "device.revoke", serial, f"refused:{exc.code}")
            raise
        return back("/devices", "revoked")

    # -- sessions ---------------------------------------------------------------------------

    @r.get("/sessions", response_class=HTMLResponse)
    async def sessions(request: Request) -> HTMLResponse:
        session = me(request)
        rows = await run_in_threadpool(portal.backend.sessions, None)
        return portal.render(
            "operator/sessions.html",
            session,
            active=[s for s in rows if s.active],
            done=request.query_params.get("done", ""),
        )

    @r.post("/sessions/{session_id}/cut")
    async def cut(request: Request, session_id: str) -> Response:
        session = await act(request)
        if not TOKEN.match(session_id):
            raise NotFound("no such session")
        try:
            await run_in_threadpool(portal.backend.cut_session, session_id, session.principal)
        except VpnError as exc:
            await portal.audit(session.principal, "session.cut", session_id, f"refused:{exc.code}")
            raise
        return back("/sessions", "cut")

    # -- invoices ---------------------------------------------------------------------------

    @r.get("/invoices", response_class=HTMLResponse)
    async def invoices(request: Request) -> HTMLResponse:
        session = me(request)
        month = request.query_params.get("month") or _this_month()
        if not MONTH.match(month):
            return portal.render(
                "operator/invoices.html",
                session,
                status=422,
                month=month,
                invoices=[],
                error="月は YYYY-MM の形で指定してください（例: 2026-04）。",
            )
        rows = await run_in_threadpool(portal.backend.invoices, month)
        return portal.render(
            "operator/invoices.html", session, month=month, invoices=rows, error=""
        )

    @r.get("/invoices/{month}/{contract}.pdf")
    async def invoice_pdf(request: Request, month: str, contract: str) -> Response:
        session = me(request)
        if not MONTH.match(month) or not TOKEN.match(contract):
            raise NotFound("no such invoice")
        pdf = await run_in_threadpool(portal.backend.invoice_pdf, month, contract)
        await portal.audit(session.principal, "invoice.pdf", f"{month}/{contract}", "ok")
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="invoice-{month}-{contract}.pdf"'},
        )

    # -- audit log --------------------------------------------------------------------------

    @r.get("/audit", response_class=HTMLResponse)
    async def audit(request: Request) -> HTMLResponse:
        session = me(request)
        rows = await run_in_threadpool(portal.backend.audit_log, AUDIT_ROWS)
        return portal.render("operator/audit.html", session, entries=rows)

    return r
