"""The shared web stack: a foreground server freezes its startup objects before it serves."""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from onshi.central.api import server as central_server
from onshi.terminal.reception import server as reception_server
from onshi.vpn.portal import server as portal_server


@pytest.fixture
def frozen_when_serving(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """uvicorn's ``run`` replaced by one that notes how many objects were frozen by then."""
    seen: list[int] = []

    def run(_self: uvicorn.Server, sockets: Any = None) -> None:
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(uvicorn.Server, "run", run)
    gc.unfreeze()
    yield seen
    gc.unfreeze()  # this process (the test run) goes on collecting everything


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _central(monkeypatch: pytest.MonkeyPatch, sock: socket.socket) -> None:
    monkeypatch.setattr(central_server, "uvicorn_config", lambda *_a, **_k: uvicorn.Config(None))
    central_server.serve_forever(None, None, sock)  # type: ignore[arg-type]


def _portal(_monkeypatch: pytest.MonkeyPatch, sock: socket.socket) -> None:
    portal_server.serve_forever(None, sock)


def _reception(monkeypatch: pytest.MonkeyPatch, _sock: socket.socket) -> None:
    monkeypatch.setattr("onshi.terminal.reception.app.create_reception_app", lambda _agent: None)
    reception_server.serve_reception(None, "127.0.0.1", 0, announce=lambda _url: None)


SERVERS: dict[str, Callable[[pytest.MonkeyPatch, socket.socket], None]] = {
    "central": _central,
    "portal": _portal,
    "reception": _reception,
}


@pytest.mark.parametrize("name", SERVERS)
def test_a_foreground_server_serves_with_its_startup_objects_frozen(
    name: str, monkeypatch: pytest.MonkeyPatch, frozen_when_serving: list[int]
) -> None:
    # A full collection would otherwise walk every module and the app each time (≈ 100 ms of
    # a stopped server under load, see onshi.web.freeze_startup_objects).
    assert gc.get_freeze_count() == 0
    with _socket() as sock:
        SERVERS[name](monkeypatch, sock)
    assert len(frozen_when_serving) == 1
    assert frozen_when_serving[0] > 10_000  # the modules at least
