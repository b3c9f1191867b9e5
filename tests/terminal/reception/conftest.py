"""The reception app around a fake central client, and around the real stack (tests/terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from onshi.central.client import CentralRefused, CentralUnavailable
from onshi.central.domain.qualification import CardKey
from onshi.pki import CertificateAuthority
from onshi.reader import VirtualCard
from onshi.terminal.agent import Agent
from onshi.terminal.reception import ReceptionServer, create_reception_app
from onshi.terminal.settings import TerminalSettings
from tests.stack import CentralStack

PIN = "1234"
TARO = CardKey("06139999", "12-34", "4260", "00")  # tests.central.factories' default person


def card_answer(validity: str = "1") -> dict[str, Any]:
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20261123100000",
            "QualificationConfirmationDate": "20261123",
            "MedicalInstitutionCode": "1311111111",
            "ReferenceClassification": "1",
            "SegmentOfResult": "1",
        },
        "MessageBody": {
            "ProcessingResultStatus": "1",
            "QualificationValidity": validity,
            "ResultList": {
                "ResultOfQualificationConfirmation": [
                    {
                        "InsuredCardClassification": "01",
                        "InsurerNumber": "06139999",
                        "InsuredIdentificationNumber": "4260",
                        "PersonalFamilyClassification": "1",
                        "Name": "診療　太郎",
                        "NameKana": "ｼﾝﾘｮｳ ﾀﾛｳ",
                        "Sex1": "1",
                        "Birthdate": "19800401",
                        "InsuredPartialContributionRatio": "030",
                        "InsurerName": "オンシ健康保険組合",
                    }
                ]
            },
        },
    }


@dataclass
class FakeClient:
    """Stands in for CentralClient; ``fail`` makes the next calls raise."""

    facility_code: str = "1311111111"
    fail: Exception | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail

    def health(self) -> dict[str, Any]:
        self._maybe_fail()
        return {"status": "ok"}

    def card_nonce(self) -> dict[str, Any]:
        self._maybe_fail()
        return {"nonce": "ab" * 32, "expires_at": "2026-11-23T10:02:00+09:00"}

    def confirm_by_card(self, request: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail()
        self.asked.append(request)
        return card_answer()

    def drug_information(self, request: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail()
        self.asked.append(request)
        from tests.reports.answers import AMLODIPINE, PHARMACY, drug_answer

        answer = drug_answer([{"DiDate": "20261105", **AMLODIPINE, **PHARMACY}])
        answer["MessageBody"]["QualificationsInfo"]["Name"] = "診療　太郎"
        return answer

    def checkups(self, request: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail()
        self.asked.append(request)
        from tests.reports.answers import typical_checkups

        return typical_checkups()

    def confirm_by_card_number(self, request: dict[str, Any]) -> dict[str, Any]:
        self._maybe_fail()
        self.asked.append(request)
        answer = card_answer()
        answer["MessageHeader"]["ReferenceClassification"] = "2"
        return answer


REFUSED = CentralRefused(404, "CARD_NOT_LINKED", "this card is genuine but not registered")
DOWN = CentralUnavailable("cannot reach the central service")


@pytest.fixture
def fake_client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def fake_agent(fake_client: FakeClient, tmp_path: Path) -> Iterator[Agent]:
    settings = TerminalSettings(oqs_dir=tmp_path / "OQS", state_dir=tmp_path / "terminal")
    agent = Agent(settings, fake_client)  # type: ignore[arg-type]
    yield agent
    agent.stop()


@pytest.fixture
def client(fake_agent: Agent) -> Iterator[TestClient]:
    with TestClient(create_reception_app(fake_agent), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def issue_card(tmp_path: Path) -> Callable[..., VirtualCard]:
    """A card from a throwaway JPKI CA, in ``folder`` (not linked anywhere)."""
    ca = CertificateAuthority.create(tmp_path / "jpki-fake", "onshi test JPKI CA")

    def issue(folder: Path, name: str = "taro.p12") -> VirtualCard:
        folder.mkdir(parents=True, exist_ok=True)
        return VirtualCard.create(folder / name, ca.issue_card_certificate(), PIN)

    return issue


@pytest.fixture
def linked_card(stack: CentralStack, agent: Agent) -> VirtualCard:
    """A card from the stack's JPKI CA, linked to 診療 太郎, in the terminal's cards folder."""
    jpki = CertificateAuthority.load(stack.settings.jpki_ca_dir)
    issued = jpki.issue_card_certificate()
    stack.central.link_card(TARO, issued.certificate)
    folder = agent.settings.state_dir / "cards"
    folder.mkdir(parents=True, exist_ok=True)
    return VirtualCard.create(folder / "taro.p12", issued, PIN, ca_certificate=jpki.certificate)


@pytest.fixture
def screen(agent: Agent) -> Iterator[ReceptionServer]:
    with ReceptionServer(agent) as server:
        yield server
