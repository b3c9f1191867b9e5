"""The API under real mutual TLS on 127.0.0.1, each server on a port of its own.

``fake_api`` serves the app around :class:`FakeCentral` (edge behaviour: TLS, identity, error
mapping, limits); ``real_api`` (in test_routes.py) serves it around the real service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from onshi.central.api import create_app
from onshi.central.api.server import BackgroundServer, ServerTls
from onshi.central.errors import FacilityNotAuthorised
from onshi.central.services.questions import (
    BulkQuestion,
    CardNumberQuestion,
    CardQuestion,
    HistoryQuestion,
)
from onshi.central.settings import CentralSettings
from onshi.oqs.identifiers import MedicalInstitutionCode
from onshi.pki import CertificateAuthority, client_ssl_context

CLINIC = "1311111111"
PHARMACY = "1341111111"
UNREGISTERED = "1311112222"
IDENTIFIER_KEY = "k" * 64


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path


@dataclass
class Pki:
    """The facility CA, the server's TLS files, and client certificates for each case."""

    ca: CertificateAuthority
    tls: ServerTls
    clinic: CertFiles
    pharmacy: CertFiles
    unregistered: CertFiles
    foreign: CertFiles  # the clinic's code, but issued by another CA
    not_a_facility: CertFiles  # from the right CA, with clientAuth, but a VPN device certificate

    @property
    def ca_path(self) -> Path:
        return self.ca.cert_path


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("api-pki")
    ca = CertificateAuthority.create(root / "ca", "onshi facility CA")
    other = CertificateAuthority.create(root / "other-ca", "someone else's CA")

    def write(name: str, issued: Any) -> CertFiles:
        files = CertFiles(root / f"{name}.cert.pem", root / f"{name}.key.pem")
        issued.write(files.cert, files.key)
        return files

    server = write("server", ca.issue_server_certificate(["localhost"], ["127.0.0.1"]))
    return Pki(
        ca=ca,
        tls=ServerTls(server.cert, server.key, ca.cert_path),
        clinic=write("clinic", ca.issue_facility_certificate(CLINIC, "Test Clinic")),
        pharmacy=write("pharmacy", ca.issue_facility_certificate(PHARMACY, "Test Pharmacy")),
        unregistered=write("unreg", ca.issue_facility_certificate(UNREGISTERED, "Nobody")),
        foreign=write("foreign", other.issue_facility_certificate(CLINIC, "Impostor")),
        not_a_facility=write("device", ca.issue_device_certificate("router-1")),
    )


def make_settings(tmp_path: Path, **overrides: Any) -> CentralSettings:
    values: dict[str, Any] = {
        "identifier_key": IDENTIFIER_KEY,
        "data_dir": tmp_path / "data",
        "max_request_bytes": 64 * 1024,
        **overrides,
    }
    return CentralSettings(**values)


class FakeWorker:
    def __init__(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


@dataclass
class FakeCentral:
    """Records questions and answers with canned dicts; ``fail_with`` makes every call raise."""

    registered: set[str] = field(default_factory=lambda: {CLINIC, PHARMACY})
    fail_with: Exception | None = None
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    bulk_worker: FakeWorker = field(default_factory=FakeWorker)

    def require_facility(self, code: str) -> MedicalInstitutionCode:
        if code not in self.registered:
            raise FacilityNotAuthorised(f"facility {code} is not registered")
        return MedicalInstitutionCode(code)

    def audit_claim_refused(self, code: str, claimed: str) -> None:
        self.calls.append(("audit_claim_refused", code, claimed))

    def _answer(self, name: str, facility: MedicalInstitutionCode, q: Any) -> dict[str, Any]:
        self.calls.append((name, facility.value, q))
        if self.fail_with is not None:
            raise self.fail_with
        return {
            "MessageHeader": {"MedicalInstitutionCode": facility.value},
            "MessageBody": {"ok": name},
        }

    def confirm_by_card_number(
        self, f: MedicalInstitutionCode, q: CardNumberQuestion
    ) -> dict[str, Any]:
        return self._answer("confirm_by_card_number", f, q)

    def confirm_by_card_numbers(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[dict[str, Any] | Exception]:
        out: list[dict[str, Any] | Exception] = []
        for f, q in asked:
            try:
                out.append(self.confirm_by_card_number(f, q))
            except Exception as exc:  # as the service: each its own answer
                out.append(exc)
        return out

    async def confirm_by_card_numbers_on_loop(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[dict[str, Any] | Exception]:
        return self.confirm_by_card_numbers(asked)

    async def close_loop_connection(self) -> None:
        pass

    def issue_nonce(self, f: MedicalInstitutionCode) -> dict[str, str]:
        self._answer("issue_nonce", f, None)
        return {"nonce": "ab" * 32, "expires_at": "2026-11-23T10:00:00+09:00"}

    def confirm_by_card(self, f: MedicalInstitutionCode, q: CardQuestion) -> dict[str, Any]:
        return self._answer("confirm_by_card", f, q)

    def submit_bulk(
        self, f: MedicalInstitutionCode, q: BulkQuestion, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        return self._answer("submit_bulk", f, q)

    def fetch_bulk(self, f: MedicalInstitutionCode, reception_number: str) -> dict[str, Any]:
        return self._answer("fetch_bulk", f, reception_number)

    def drug_information(self, f: MedicalInstitutionCode, q: HistoryQuestion) -> dict[str, Any]:
        return self._answer("drug_information", f, q)

    def checkups(self, f: MedicalInstitutionCode, q: HistoryQuestion) -> dict[str, Any]:
        return self._answer("checkups", f, q)


ClientFactory = Callable[..., httpx.Client]


@dataclass
class Running:
    url: str
    central: Any
    client: ClientFactory  # client(files_or_None) -> httpx.Client over mTLS


def https_client(url: str, pki: Pki, files: CertFiles | None) -> httpx.Client:
    context = client_ssl_context(
        files.cert if files else None, files.key if files else None, pki.ca_path
    )
    return httpx.Client(base_url=url, verify=context, timeout=20)


def serve(
    central: Any, settings: CentralSettings, pki: Pki, *, run_bulk_worker: bool = True
) -> Iterator[Running]:
    """Serve ``central`` under mTLS; clients made through ``Running.client`` are closed after."""
    clients: list[httpx.Client] = []
    app = create_app(central, settings, run_bulk_worker=run_bulk_worker)
    with BackgroundServer(app, pki.tls) as server:

        def client(files: CertFiles | None = pki.clinic) -> httpx.Client:
            made = https_client(server.url, pki, files)
            clients.append(made)
            return made

        try:
            yield Running(server.url, central, client)
        finally:
            for made in clients:
                made.close()


@pytest.fixture
def fake_api(pki: Pki, tmp_path: Path) -> Iterator[Running]:
    yield from serve(FakeCentral(), make_settings(tmp_path), pki)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == code, body
    assert body["message"]
    return dict(body)
