"""How the reader reaches the eligibility terminal: one small port, two implementations.

:class:`HttpTerminal` is the real wire — the terminal's local API on 127.0.0.1
(``POST /api/reader/nonce``, ``POST /api/reader/confirm``). :class:`LocalTerminal` calls the
terminal's code in-process; the reception screen's "カードをかざす" form uses it, so the
screen and the command line present a card through the same :func:`onshi.reader.present`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from onshi.reader.errors import TerminalRefused, TerminalUnavailable

Json = dict[str, Any]
DEFAULT_TERMINAL_URL = "http://127.0.0.1:8780"


class Terminal(Protocol):
    def nonce(self) -> Json:
        """``{"nonce": hex, "facility": MedicalInstitutionCode, "expires_at": …}``."""

    def confirm(self, body: Mapping[str, Any]) -> Json:
        """Post ``{certificate, nonce, signature, method, consents}``; the screen's summary."""


class HttpTerminal:
    def __init__(
        self,
        url: str = DEFAULT_TERMINAL_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 40.0,
    ) -> None:
        self._http = httpx.Client(base_url=url, transport=transport, timeout=timeout)
        self.url = url

    def __enter__(self) -> HttpTerminal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def nonce(self) -> Json:
        return self._post("/api/reader/nonce", {})

    def confirm(self, body: Mapping[str, Any]) -> Json:
        return self._post("/api/reader/confirm", body)

    def _post(self, path: str, body: Mapping[str, Any]) -> Json:
        try:
            response = self._http.post(path, json=dict(body))
        except httpx.TransportError as exc:
            raise TerminalUnavailable() from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success and isinstance(payload, dict):
            return payload
        if isinstance(payload, dict) and "code" in payload:
            raise TerminalRefused(
                str(payload["code"]), str(payload.get("message", "")), response.status_code
            )
        raise TerminalRefused(
            "TERMINAL_ERROR",
            f"資格確認端末から予期しない応答がありました（HTTP {response.status_code}）。",
            response.status_code,
        )


class LocalTerminal:
    """The terminal in this process (the reception screen's own reader)."""

    def __init__(self, agent: Any) -> None:
        self._agent = agent

    def nonce(self) -> Json:
        from onshi.terminal.face import card_nonce

        return self._translate(lambda: card_nonce(self._agent))

    def confirm(self, body: Mapping[str, Any]) -> Json:
        from onshi.terminal.face import confirm_card

        return self._translate(
            lambda: confirm_card(
                self._agent,
                certificate_pem=str(body["certificate"]),
                nonce=str(body["nonce"]),
                signature=str(body["signature"]),
                method=str(body["method"]),
                consents=list(body.get("consents", [])),
            )
        )

    @staticmethod
    def _translate(call: Any) -> Json:
        from onshi.central.client import CentralClientError
        from onshi.terminal.reception.messages_ja import message_for

        try:
            result: Json = call()
        except CentralClientError as exc:
            raise TerminalRefused(
                exc.code, message_for(exc.code), getattr(exc, "status", 503)
            ) from exc
        return result
