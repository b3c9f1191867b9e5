"""Security headers and the one log line per request, as plain ASGI (no per-request task group).

The log line carries a request id, the method, the path (never the query string, a cookie or a
form field), the status and the time taken.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("onshi.vpn.portal")

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_NO_STORE = (b"cache-control", b"no-store")  # pages name devices and accounts
# The largest form the portal has is a password change: a few hundred bytes. Anything much
# bigger is refused before it is read, so no one can make the server buffer megabytes.
MAX_BODY = 64 * 1024


class BodyTooLarge(Exception):
    pass


class HeadersAndLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope.get("path", "")
        declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            await _too_large(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise BodyTooLarge
            return message

        static = path.startswith("/static/")
        status: dict[str, Any] = {"code": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = [
                    h
                    for h in message.get("headers", [])
                    if static or h[0].lower() != b"cache-control"
                ]
                headers.extend(_HEADERS)
                if not static:
                    headers.append(_NO_STORE)
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log.info(
                    "%s %s %s %d %.1fms",
                    uuid.uuid4().hex[:12],
                    scope.get("method", "-"),
                    path,
                    status["code"],
                    (time.perf_counter() - started) * 1000,
                )
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _too_large(send)


async def _too_large(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *_HEADERS, _NO_STORE],
        }
    )
    await send({"type": "http.response.body", "body": "送信内容が大きすぎます。".encode()})
