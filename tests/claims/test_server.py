"""The receiver over real mutual TLS on loopback, and ``onshi claims submit``/``serve``."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from onshi.central.api.server import FACILITY_CA_NAME, BackgroundServer
from onshi.claims.client import submit_claims
from onshi.claims.errors import (
    ClaimsFacilityMismatch,
    ClaimsFileInvalid,
    ClaimsFileTooLarge,
    ClaimsSubmitFailed,
)
from onshi.claims.server import background_server
from onshi.claims.settings import ClaimsSettings
from onshi.claims.uke import sample_uke
from onshi.cli import app
from onshi.pki import CertificateAuthority, client_ssl_context

CODE, OTHER = "1311234567", "2741234567"
LIMIT = 4096


@dataclass
class Facility:
    cert: Path
    key: Path
    ca: Path  # trust anchor for the receiver


@dataclass
class Receiver:
    server: BackgroundServer
    settings: ClaimsSettings
    ca: CertificateAuthority

    def facility(
        self, code: str, directory: Path, *, ca: CertificateAuthority | None = None
    ) -> Facility:
        issued = (ca or self.ca).issue_facility_certificate(code, "オンシ診療所")
        directory.mkdir(parents=True, exist_ok=True)
        issued.write(directory / "cert.pem", directory / "key.pem")
        return Facility(directory / "cert.pem", directory / "key.pem", self.ca.cert_path)

    def submit(self, facility: Facility, content: bytes) -> dict[str, object]:
        return submit_claims(
            content,
            self.server.url,
            cert=facility.cert,
            key=facility.key,
            ca=facility.ca,
            timeout=10,
        )


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    settings = ClaimsSettings(data_dir=tmp_path / "claims", max_file_bytes=LIMIT)
    with background_server(settings) as server:
        assert isinstance(server, BackgroundServer)
        yield Receiver(server, settings, CertificateAuthority.load(settings.facility_ca_dir))


def test_accepted_then_resent_gets_the_same_receipt(receiver: Receiver, tmp_path: Path) -> None:
    clinic = receiver.facility(CODE, tmp_path / "clinic")
    data = sample_uke(CODE, "202611", claims=2)
    first = receiver.submit(clinic, data)
    assert first["receipt"] == f"202611-{CODE}-000001" and first["claims"] == 2
    assert first["duplicate"] is False
    again = receiver.submit(clinic, data)
    assert again["receipt"] == first["receipt"] and again["duplicate"] is True
    stored = receiver.settings.store_dir / CODE / "202611" / f"{first['sha256']}.uke"
    assert stored.read_bytes() == data
    # The facility can look its receipt up; another facility cannot.
    context = client_ssl_context(clinic.cert, clinic.key, clinic.ca)
    with httpx.Client(verify=context, timeout=10) as client:
        shown = client.get(f"{receiver.server.url}/v1/claims/{first['receipt']}")
    assert shown.status_code == 200 and shown.json()["sha256"] == first["sha256"]
    other = receiver.facility(OTHER, tmp_path / "other")
    context = client_ssl_context(other.cert, other.key, other.ca)
    with httpx.Client(verify=context, timeout=10) as client:
        refused = client.get(f"{receiver.server.url}/v1/claims/{first['receipt']}")
    assert refused.status_code == 404 and refused.json()["code"] == "CLAIMS_RECEIPT_NOT_FOUND"


def test_another_facilitys_file_is_refused(receiver: Receiver, tmp_path: Path) -> None:
    clinic = receiver.facility(CODE, tmp_path / "clinic")
    with pytest.raises(ClaimsFacilityMismatch):
        receiver.submit(clinic, sample_uke(OTHER, "202611"))
    assert not (receiver.settings.store_dir / OTHER).exists()


def test_not_a_uke_file_is_refused(receiver: Receiver, tmp_path: Path) -> None:
    clinic = receiver.facility(CODE, tmp_path / "clinic")
    with pytest.raises(ClaimsFileInvalid, match="first record"):
        receiver.submit(clinic, b"RE,1,1112\r\n")
    with pytest.raises(ClaimsFileInvalid, match="UTF-8"):
        receiver.submit(clinic, sample_uke(CODE, "202611").decode("cp932").encode("utf-8"))
    assert not receiver.settings.store_dir.exists() or not any(
        receiver.settings.store_dir.rglob("*.uke")
    )


def test_too_large_is_refused_before_parsing(receiver: Receiver, tmp_path: Path) -> None:
    clinic = receiver.facility(CODE, tmp_path / "clinic")
    big = sample_uke(CODE, "202611", claims=60)
    assert len(big) > LIMIT
    with pytest.raises(ClaimsFileTooLarge):
        receiver.submit(clinic, big)
    # Without a Content-Length (chunked): counted while streaming.
    context = client_ssl_context(clinic.cert, clinic.key, clinic.ca)
    with httpx.Client(verify=context, timeout=10) as client:
        response = client.post(
            f"{receiver.server.url}/v1/claims", content=iter([big[:3000], big[3000:]])
        )
    assert response.status_code == 413 and response.json()["code"] == "CLAIMS_FILE_TOO_LARGE"


def test_no_certificate_or_a_foreign_one_gets_no_answer(receiver: Receiver, tmp_path: Path) -> None:
    foreign_ca = CertificateAuthority.create(tmp_path / "foreign", FACILITY_CA_NAME)
    stranger = receiver.facility(CODE, tmp_path / "stranger", ca=foreign_ca)
    with pytest.raises(ClaimsSubmitFailed):
        receiver.submit(stranger, sample_uke(CODE, "202611"))
    context = client_ssl_context(None, None, receiver.ca.cert_path)
    with httpx.Client(verify=context, timeout=10) as client, pytest.raises(httpx.HTTPError):
        client.post(f"{receiver.server.url}/v1/claims", content=sample_uke(CODE, "202611"))


def test_submit_command_prints_the_receipt(receiver: Receiver, tmp_path: Path) -> None:
    clinic = receiver.facility(CODE, tmp_path / "clinic")
    path = tmp_path / "RECEIPTC.UKE"
    path.write_bytes(sample_uke(CODE, "202611"))
    args = ["claims", "submit", str(path), "--url", receiver.server.url]
    args += ["--cert", str(clinic.cert), "--key", str(clinic.key), "--ca", str(clinic.ca)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"202611-{CODE}-000001"
    path.write_bytes(b"not a claims file")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "CLAIMS_FILE_INVALID" in result.stderr


def test_serve_prints_its_url_and_receives(tmp_path: Path) -> None:
    onshi = str(Path(sys.executable).with_name("onshi"))
    process = subprocess.Popen(
        [onshi, "claims", "serve", "--data-dir", str(tmp_path / "d"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("onshi claims receiver on https://127.0.0.1:"), line
        url = line.split()[4]
        ca = CertificateAuthority.load(tmp_path / "d" / "ca")
        issued = ca.issue_facility_certificate(CODE, "オンシ診療所")
        issued.write(tmp_path / "c.pem", tmp_path / "k.pem")
        receipt = submit_claims(
            sample_uke(CODE, "202611"),
            url,
            cert=tmp_path / "c.pem",
            key=tmp_path / "k.pem",
            ca=ca.cert_path,
        )
        assert receipt["receipt"] == f"202611-{CODE}-000001"
    finally:
        process.send_signal(signal.SIGINT)  # an operator's Ctrl-C: a normal stop
        process.wait(15)
    assert process.returncode == 0
