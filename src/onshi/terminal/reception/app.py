"""The reception screen's routes and the card reader's local API.

The screen (``GET /``) is server-rendered once and then kept live by ``GET /events``
(server-sent events from the agent's event bus); its forms call the JSON routes below.
Blocking work (calls to the central service, argon2 PIN checks) runs in plain ``def`` routes,
which FastAPI runs in its thread pool, so the event stream never stalls.

Only this machine may use it: the server binds loopback, requests must name a loopback Host
(no DNS rebinding), and a POST carrying a foreign Origin is refused (no cross-site forms).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from onshi.central.client import CentralClientError, CentralRefused, CentralUnavailable
from onshi.reader import LocalTerminal, ReaderError, TerminalRefused, present_card
from onshi.reader.card import VirtualCard
from onshi.reports import ReportError
from onshi.terminal import face
from onshi.terminal.reception.forms import FormInvalid, ManualCheck
from onshi.terminal.reception.messages_ja import (
    contribution_label,
    message_for,
    validity_label,
)
from onshi.terminal.reception.reports import (
    ConfirmedPatients,
    RecordingAgent,
    ReportKind,
    report_pdf,
)
from onshi.web import NO_TELEMETRY

HERE = Path(__file__).parent
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
BULK_KINDS = ("OQSmuquc01", "OQSmuquc02")
CONSENT_LABELS = {
    "drug": "薬剤情報",
    "checkup": "特定健診情報",
    "limit": "限度額適用認定",
    "diagnosis": "診療情報",
    "operation": "手術情報",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

Consent = Literal["drug", "checkup", "limit", "diagnosis", "operation"]
Method = Literal["face", "visual", "pin"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReaderConfirm(_Body):
    """What the reader posts after the card signed the nonce."""

    certificate: str = Field(max_length=8192)
    nonce: str = Field(min_length=1, max_length=128, pattern="^[0-9a-f]+$")
    signature: str = Field(min_length=1, max_length=1024)
    method: Method
    consents: list[Consent] = Field(default_factory=list, max_length=5)


class ScreenPresent(_Body):
    """The screen's "カードをかざす (virtual card)" form."""

    card: str = Field(min_length=1, max_length=255)
    method: Method
    pin: str | None = Field(default=None, max_length=16)
    face_result: Literal["match", "mismatch"] = "match"
    consents: list[Consent] = Field(default_factory=list, max_length=5)


def error(status: int, code: str, message: str | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message or message_for(code), **extra}, status_code=status
    )


def central_error(exc: CentralClientError) -> JSONResponse:
    if isinstance(exc, CentralRefused) and 400 <= exc.status < 500:
        return error(exc.status, exc.code)
    if isinstance(exc, CentralUnavailable):
        return error(503, exc.code)
    return error(502, exc.code)


def labelled(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with the words staff read (有効, 3割) added beside the codes."""
    out = dict(summary)
    if "QualificationValidity" in out:
        out["validity_label"] = validity_label(out["QualificationValidity"])
    if out.get("outcome") not in (None, "ok"):
        out["outcome_label"] = message_for(str(out["outcome"]))
        out.pop("message", None)  # the technical (English) reason stays in the .err file
    if out.get("InsuredPartialContributionRatio"):
        out["ratio_label"] = contribution_label(out["InsuredPartialContributionRatio"])
    return out


def cards_dir(agent: Any) -> Path:
    """Where the demo puts virtual cards the screen may present (state_dir/cards)."""
    return Path(agent.settings.state_dir) / "cards"


def list_cards(agent: Any) -> list[dict[str, Any]]:
    folder = cards_dir(agent)
    if not folder.is_dir():
        return []
    cards = []
    for path in sorted(folder.glob("*.p12")):
        try:
            state = VirtualCard(path).state()
        except ReaderError:
            continue
        cards.append({"name": path.name, "locked": state.locked, "remaining": state.remaining})
    return cards


def bulk_rows(agent: Any) -> list[dict[str, Any]]:
    """Recent bulk requests, with the ReceptionNumber / SegmentOfResult their answers carried."""
    answers: dict[str, dict[str, Any]] = {}
    for event in agent.events.recent():
        if event.get("kind") == "answer" and event.get("request"):
            answers[str(event["request"])] = event
    rows = []
    for row in agent.state.recent():
        if row.kind not in BULK_KINDS:
            continue
        seen = answers.get(row.name, {})
        rows.append(
            {
                "name": row.name,
                "kind": row.kind,
                "stage": str(row.stage),
                "outcome": row.outcome,
                "outcome_label": "" if row.outcome in (None, "ok") else message_for(row.outcome),
                "received_at": row.received_at.isoformat(timespec="seconds"),
                "updated_at": row.updated_at.isoformat(timespec="seconds"),
                "ReceptionNumber": seen.get("ReceptionNumber"),
                "SegmentOfResult": seen.get("SegmentOfResult"),
            }
        )
    return rows


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value on the page is escaped; names come from outside
        undefined=jinja2.StrictUndefined,
    )


def _host_of(value: str) -> str:
    return (urlsplit(f"//{value}").hostname or "").lower()


def create_reception_app(agent: Any) -> FastAPI:
    app = FastAPI(
        title="onshi reception",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_TELEMETRY,
    )
    templates = _templates()
    patients = ConfirmedPatients()
    app.state.patients = patients
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def local_only(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = _host_of(request.headers.get("host", ""))
        if host not in LOOPBACK_HOSTS:
            return error(403, "FORBIDDEN_ORIGIN")
        origin = request.headers.get("origin")
        if (
            request.method == "POST"
            and origin
            and _host_of(urlsplit(origin).netloc) not in LOOPBACK_HOSTS
        ):
            return error(403, "FORBIDDEN_ORIGIN")
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.url.path.startswith("/api/") or request.url.path == "/":
            response.headers["Cache-Control"] = "no-store"  # names must not linger in caches
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return error(422, "REQUEST_INVALID")

    @app.get("/", response_class=HTMLResponse)
    def screen() -> HTMLResponse:
        page = templates.get_template("index.html").render(
            facility=agent.settings.facility_code,
            consents=CONSENT_LABELS,
            cards=list_cards(agent),
            today=dt.date.today().strftime("%Y%m%d"),
        )
        return HTMLResponse(page)

    @app.get("/events")
    async def events(request: Request) -> EventSourceResponse:
        async def stream() -> AsyncIterator[dict[str, str]]:
            async for event in agent.events.listen():
                if await request.is_disconnected():
                    break
                yield {
                    "event": str(event["kind"]),
                    "id": str(event["id"]),
                    "data": json.dumps(labelled(event), ensure_ascii=False, default=str),
                }

        return EventSourceResponse(stream(), ping=10, headers={"Cache-Control": "no-store"})

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return dict(agent.status())

    @app.post("/api/check")
    async def check(request: Request) -> JSONResponse:
        try:
            data = await request.json()
        except ValueError:
            data = None
        try:
            form = ManualCheck.from_json(data, today=dt.date.today())
        except FormInvalid as exc:
            return JSONResponse(exc.as_json(), status_code=422)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_ask_manual, agent, form)

    @app.get("/api/bulk")
    def bulk() -> dict[str, Any]:
        return {"requests": bulk_rows(agent)}

    @app.get("/api/cards")
    def cards() -> dict[str, Any]:
        return {"cards": list_cards(agent)}

    # -- the card reader's local API --------------------------------------------------------

    @app.post("/api/reader/nonce")
    def reader_nonce() -> JSONResponse:
        try:
            return JSONResponse(face.card_nonce(agent))
        except CentralClientError as exc:
            return central_error(exc)

    def with_reports(recorder: RecordingAgent, summary: dict[str, Any]) -> JSONResponse:
        """The summary plus PDF links the consent allows; the screen's list gets them too."""
        out = labelled(summary)
        if recorder.client.answer is not None:
            links = patients.remember(recorder.client.answer, summary.get("consents", ()))
            if links:
                out["reports"] = links
                agent.events.publish("reports", Name=summary.get("Name"), reports=links)
        return JSONResponse(out)

    @app.get("/reports/{token}/{kind}.pdf")
    def patient_report(token: str, kind: ReportKind) -> Response:
        patient = patients.get(token, kind)
        if patient is None:
            return error(404, "REPORT_NOT_FOUND")
        try:
            pdf = report_pdf(agent.client, patient, kind)
        except CentralClientError as exc:
            return central_error(exc)
        except ReportError as exc:
            return error(500, exc.code)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                # no name in the file name: it shows in download lists and logs
                "Content-Disposition": f'inline; filename="{kind}-{dt.date.today():%Y%m%d}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    @app.post("/api/reader/confirm")
    def reader_confirm(body: ReaderConfirm) -> JSONResponse:
        recorder = RecordingAgent(agent)
        try:
            summary = face.confirm_card(
                recorder,
                certificate_pem=body.certificate,
                nonce=body.nonce,
                signature=body.signature,
                method=body.method,
                consents=body.consents,
            )
        except CentralClientError as exc:
            return central_error(exc)
        except face.FaceFileFailed as exc:
            return error(500, exc.code)
        return with_reports(recorder, summary)

    @app.post("/api/reader/present")
    def screen_present(body: ScreenPresent) -> JSONResponse:
        known = {c["name"] for c in list_cards(agent)}
        if body.card not in known:  # only a listed file name: never a path from the browser
            return error(404, "CARD_NOT_FOUND")
        recorder = RecordingAgent(agent)
        try:
            summary = present_card(
                cards_dir(agent) / body.card,
                LocalTerminal(recorder),
                method=body.method,
                pin=body.pin,
                consents=body.consents,
                face_result=body.face_result,
            )
        except TerminalRefused as exc:  # already announced by the terminal side
            return error(exc.status if 400 <= exc.status < 600 else 502, exc.code, exc.message)
        except ReaderError as exc:
            agent.events.publish("error", source="reader", code=exc.code, message=exc.message)
            return error(409 if exc.code == "CARD_LOCKED" else 400, exc.code, exc.message)
        except face.FaceFileFailed as exc:
            return error(500, exc.code)
        return with_reports(recorder, summary)

    return app


def _ask_manual(agent: Any, form: ManualCheck) -> JSONResponse:
    """One check by number, announced on the screen; refusals in plain words."""
    try:
        answer = agent.client.confirm_by_card_number(form.request())
    except CentralUnavailable as exc:
        if agent.central.set(False, exc.message):
            agent.events.publish("central", **agent.central.as_dict())
        agent.events.publish("error", source="manual", code=exc.code, message=message_for(exc.code))
        return central_error(exc)
    except CentralRefused as exc:
        agent.events.publish("error", source="manual", code=exc.code, message=message_for(exc.code))
        return central_error(exc)
    if agent.central.set(True):
        agent.events.publish("central", **agent.central.as_dict())
    summary = face.summarise(answer, ())
    summary.pop("consents", None)
    summary["LimitApplicationCertificateRelatedConsFlg"] = "1" if form.limit_consent else "0"
    agent.events.publish("check", **summary)
    return JSONResponse(labelled(summary))
