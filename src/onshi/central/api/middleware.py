"""The API's outer edge, as one plain ASGI middleware: request id, size limit, last-resort 500, log.

* Every request gets an id (the client's ``X-Request-Id`` if it is a short token, else a new
  one), echoed in the response and written in the one log line per request.
* The body is read here, before anything parses it, and refused with ``413
  REQUEST_TOO_LARGE`` past ``max_request_bytes`` — by its Content-Length when it declares
  one, by counting otherwise. Nothing downstream ever sees a partial or oversized body.
* An exception nobody translated is answered ``500 CENTRAL_ERROR`` with the request id; the
  log gets the exception's class and the stack frames, never its message (database errors
  quote the parameters, and the parameters are insurance numbers).
* The log line holds the facility code, method, path, status, duration and request id: no
  names, numbers or bodies.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import traceback
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onshi.central.api.errors import error_response

log = logging.getLogger("onshi.central.api")

CONTEXT_KEY = "onshi.request"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# An oversized body is read and thrown away up to this many times the limit, so that the
# client (which is still sending) gets to read the 413; beyond that the connection is cut.
_DRAIN_FACTOR = 4


@dataclass
class RequestContext:
    """What the edge knows about one request; the identity dependency fills in the facility."""

    request_id: str
    facility: str | None = None


def request_context(scope: Scope) -> RequestContext:
    context = scope.get(CONTEXT_KEY)
    if not isinstance(context, RequestContext):  # called outside the middleware (unit tests)
        context = RequestContext(secrets.token_hex(8))
        scope[CONTEXT_KEY] = context
    return context


class _TooLarge(Exception):
    pass


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, *, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(_request_id(scope))
        scope[CONTEXT_KEY] = context
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    *message.get("headers", []),
                    (b"x-request-id", context.request_id.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            try:
                replay = await self._read_body(scope, receive)
            except _TooLarge:
                response = error_response(
                    413,
                    "REQUEST_TOO_LARGE",
                    f"the request body is larger than {self.max_request_bytes} bytes",
                    headers={"connection": "close"},
                )
                await response(scope, receive, send_with_id)
                return
            await self.app(scope, replay, send_with_id)
        except Exception as exc:  # noqa: BLE001 — the last line of defence: answer, log, keep serving
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error(
                "unhandled %s request_id=%s\n%s", type(exc).__name__, context.request_id, frames
            )
            if status == 0:
                await error_response(
                    500,
                    "CENTRAL_ERROR",
                    f"internal error; quote request id {context.request_id} to the operator",
                )(scope, receive, send_with_id)
        finally:
            # Health probes (the terminal sends one every 15 s) would drown the access log.
            quiet = status == 200 and scope.get("path") == "/v1/health"
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "request_id=%s facility=%s method=%s path=%s status=%s duration_ms=%.1f",
                context.request_id,
                context.facility or "-",
                scope.get("method"),
                scope.get("path"),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )

    async def _read_body(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body (within the limit) and return a ``receive`` that replays it."""
        limit = self.max_request_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._drain(receive, limit * _DRAIN_FACTOR)
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # disconnect: let the app see it
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                if message.get("more_body", False):  # the last chunk needs no draining
                    await self._drain(receive, limit * _DRAIN_FACTOR - size)
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    @staticmethod
    async def _drain(receive: Receive, budget: int) -> None:
        while budget > 0:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            budget -= len(message.get("body", b""))


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _request_id(scope: Scope) -> str:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return secrets.token_hex(8)
