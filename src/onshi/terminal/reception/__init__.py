"""The reception screen (受付画面) and the card reader's local API, served by the terminal.

app.py          routes: the screen, its event stream, status, manual entry, bulk, cards,
                and the reader's /api/reader/nonce + /api/reader/confirm
forms.py        the manual-entry form's checks, in plain words
messages_ja.py  every error code as a Japanese sentence for staff
reports.py      PDF links (薬剤情報・特定健診情報) for a patient just confirmed by card
server.py       uvicorn on loopback: foreground (serve_reception) or a thread (ReceptionServer)
templates/, static/   the page (Japanese), its CSS and script
"""

from __future__ import annotations

from typing import Any

from onshi.terminal.reception.server import ReceptionServer, serve_reception


def create_reception_app(agent: Any) -> Any:
    """The FastAPI app of the screen for ``agent`` (imported lazily: FastAPI is heavy)."""
    from onshi.terminal.reception.app import create_reception_app as create

    return create(agent)


__all__ = ["ReceptionServer", "create_reception_app", "serve_reception"]
