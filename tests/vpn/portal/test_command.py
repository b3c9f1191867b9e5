"""``onshi vpn portal serve`` as an operator runs it: a real process, its URL, a busy port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "onshi",
            "vpn",
            "portal",
            "serve",
            "--db",
            f"sqlite:///{tmp_path / 'vpn.sqlite3'}",
            "--data-dir",
            str(tmp_path / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ONSHI_VPN_ARGON2_MEMORY_KIB": "8192"},
        start_new_session=True,
    )


def test_serve_prints_its_url_and_serves_the_login_page(tmp_path: Path) -> None:
    process = _serve(tmp_path, 0)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("onshi VPN portal on http://127.0.0.1:"), line
        url = line.split()[4].rstrip("/")
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{url}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the portal did not answer"
                time.sleep(0.1)
        assert answer.status_code == 200 and "ログイン" in answer.text
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0


def test_a_busy_port_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        process = _serve(tmp_path, busy.getsockname()[1])
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "cannot listen on 127.0.0.1:" in err and "Address already in use" in err
