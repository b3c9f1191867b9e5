"""A real central service for end-to-end tests: migrated database, HTTPS with mutual TLS on an
ephemeral 127.0.0.1 port, one registered facility and its client certificate on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from onshi.central.api import create_app
from onshi.central.api.server import BackgroundServer, ensure_server_tls
from onshi.central.client import CentralClient
from onshi.central.services.central import Central
from onshi.central.settings import CentralSettings
from onshi.oqs.identifiers import MedicalInstitutionCode
from onshi.pki import CertificateAuthority
from onshi.terminal.agent import Agent
from onshi.terminal.settings import TerminalSettings

CLINIC = "1311111111"


@dataclass
class CentralStack:
    central: Central
    settings: CentralSettings
    server: BackgroundServer | None
    cert_path: Path
    key_path: Path
    ca_path: Path
    facility: str

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def start(self) -> CentralStack:
        """(Re)start the HTTPS server; a restart keeps the port when it is still free."""
        port = self.server.port if self.server else 0
        tls = ensure_server_tls(self.settings.data_dir, self.settings.ca_dir, "127.0.0.1")
        self.server = BackgroundServer(
            create_app(self.central, self.settings), tls, port=port
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def close(self) -> None:
        self.stop()
        self.central.db.dispose()


def central_stack(db_url: str, root: Path, facility: str = CLINIC) -> CentralStack:
    settings = CentralSettings(database_url=db_url, data_dir=root, identifier_key="k" * 64)
    central = Central.from_settings(settings)
    central.register_facility(MedicalInstitutionCode(facility), "テスト診療所")
    ca = CertificateAuthority.load(settings.ca_dir)
    cert_path, key_path = root / "facility.cert.pem", root / "facility.key.pem"
    ca.issue_facility_certificate(facility, "テスト診療所").write(cert_path, key_path)
    stack = CentralStack(central, settings, None, cert_path, key_path, ca.cert_path, facility)
    return stack.start()


def terminal_settings(stack: CentralStack, root: Path) -> TerminalSettings:
    """A terminal of the stack's facility on folders under ``root``, retrying quickly."""
    return TerminalSettings(
        oqs_dir=root / "OQS",
        state_dir=root / "terminal",
        central_url=stack.url,
        facility_code=stack.facility,
        cert_path=stack.cert_path,
        key_path=stack.key_path,
        ca_path=stack.ca_path,
        port=0,
        retry_first_seconds=0.05,
        retry_max_seconds=0.5,
    )


@contextmanager
def running_agent(settings: TerminalSettings) -> Iterator[Agent]:
    client = CentralClient(
        settings.central_url, settings.cert_path, settings.key_path, settings.ca_path
    )
    agent = Agent(settings, client)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()
        client.close()


@contextmanager
def demo_process(cwd: Path, *args: str) -> Iterator[list[str]]:
    """Run ``onshi <args>`` (a demo) until it has printed its guide; yield the lines printed.

    Leaves with SIGINT and expects a clean exit (status 0) within 30 s.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "onshi", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while not any(line.startswith("Ctrl-C") for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
            lines.append(process.stdout.readline())
        yield lines
    finally:
        process.send_signal(signal.SIGINT)
        try:
            status = process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert status == 0
