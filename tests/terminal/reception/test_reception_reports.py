"""PDF links on the reception screen: who gets one, what it returns, what it refuses."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from onshi.central.client import CentralRefused
from onshi.central.intake.records_store import import_linked
from onshi.reader import HttpTerminal, VirtualCard, present_card
from onshi.terminal.agent import Agent
from onshi.terminal.reception import ReceptionServer
from onshi.terminal.reception.reports import LINK_LIFETIME, MAX_PATIENTS, ConfirmedPatients
from tests.reports.pdftext import flat
from tests.stack import CentralStack
from tests.terminal.reception.conftest import DOWN, PIN, FakeClient, card_answer


def confirm(client: TestClient, card: VirtualCard, consents: list[str]) -> dict[str, object]:
    answer = client.post(
        "/api/reader/confirm",
        json={
            "certificate": card.certificate_pem(),
            "nonce": "ab" * 32,
            "signature": "AAAA",
            "method": "visual",
            "consents": consents,
        },
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def pdftotext(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode("utf-8")


@pytest.fixture
def card(issue_card: Callable[..., VirtualCard], tmp_path: Path) -> VirtualCard:
    return issue_card(tmp_path / "elsewhere")


def test_a_drug_consent_links_the_drug_pdf(
    client: TestClient, card: VirtualCard, fake_client: FakeClient
) -> None:
    summary = confirm(client, card, ["drug", "limit"])
    [link] = summary["reports"]  # type: ignore[misc]
    assert (link["kind"], link["label"]) == ("drug", "薬剤情報（PDF）")
    assert "06139999" not in link["url"] and "4260" not in link["url"]  # a token, not the card
    fake_client.asked.clear()
    pdf = client.get(link["url"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert pdf.headers["content-disposition"].startswith('inline; filename="drug-')
    text = pdftotext(pdf.content)
    assert "診療　太郎" in text or "診療 太郎" in text
    assert "アムロジピン錠5mg「サワイ」" in text
    assert "2026年11月" in text
    # the central was asked with the card key the confirmation named
    assert fake_client.asked == [
        {
            "InsurerNumber": "06139999",
            "InsuranceCardSymbol": "",
            "InsuredPersonIdentificationNumber": "4260",
        }
    ]


def test_a_checkup_consent_links_the_checkup_pdf(client: TestClient, card: VirtualCard) -> None:
    summary = confirm(client, card, ["checkup"])
    [link] = summary["reports"]  # type: ignore[misc]
    pdf = client.get(link["url"])
    assert pdf.headers["content-type"] == "application/pdf"
    words = flat(pdf.content)
    assert "特定健診情報" in words and "5.6未満" in words and "6.8▲▲" in words


def test_no_consent_no_link(client: TestClient, card: VirtualCard) -> None:
    summary = confirm(client, card, ["limit"])
    assert "reports" not in summary


def test_a_link_opens_only_the_kind_consented(client: TestClient, card: VirtualCard) -> None:
    summary = confirm(client, card, ["drug"])
    url = summary["reports"][0]["url"]  # type: ignore[index]
    other = client.get(url.replace("drug.pdf", "checkup.pdf"))
    assert (other.status_code, other.json()["code"]) == (404, "REPORT_NOT_FOUND")
    assert client.get(url.replace("drug.pdf", "other.pdf")).status_code == 422


def test_unknown_tokens_are_refused_in_words(client: TestClient) -> None:
    refused = client.get("/reports/not-a-token/drug.pdf")
    assert refused.status_code == 404
    assert refused.json()["message"].startswith("この帳票のリンクは有効期限が切れています")


def test_central_refusals_reach_the_screen_in_words(
    client: TestClient, card: VirtualCard, fake_client: FakeClient
) -> None:
    url = confirm(client, card, ["drug"])["reports"][0]["url"]  # type: ignore[index]
    fake_client.fail = CentralRefused(403, "CONSENT_REQUIRED", "no consent")
    refused = client.get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "CONSENT_REQUIRED"
    fake_client.fail = DOWN
    assert client.get(url).status_code == 503


def test_a_missing_font_is_a_500_with_its_code(
    client: TestClient, card: VirtualCard, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = confirm(client, card, ["drug"])["reports"][0]["url"]  # type: ignore[index]
    monkeypatch.setenv("ONSHI_REPORT_FONT", str(tmp_path / "gone.ttf"))
    refused = client.get(url)
    assert (refused.status_code, refused.json()["code"]) == (500, "REPORT_FONT_MISSING")


def test_only_loopback_hosts_get_a_report(client: TestClient, card: VirtualCard) -> None:
    url = confirm(client, card, ["drug"])["reports"][0]["url"]  # type: ignore[index]
    assert client.get(url, headers={"host": "evil.example"}).status_code == 403


def test_the_screen_present_route_links_too(
    client: TestClient,
    fake_agent: Agent,
    issue_card: Callable[..., VirtualCard],
    fake_client: FakeClient,
) -> None:
    issue_card(fake_agent.settings.state_dir / "cards")
    answer = client.post(
        "/api/reader/present",
        json={"card": "taro.p12", "method": "pin", "pin": "1234", "consents": ["drug", "checkup"]},
    )
    assert answer.status_code == 200, answer.text
    kinds = [r["kind"] for r in answer.json()["reports"]]
    assert kinds == ["drug", "checkup"]


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_links_expire_and_are_bounded() -> None:
    clock = Clock()
    patients = ConfirmedPatients(clock)
    [link] = patients.remember(card_answer(), ["drug"])
    token = link["url"].split("/")[2]
    assert patients.get(token, "drug") is not None
    clock.now += LINK_LIFETIME
    assert patients.get(token, "drug") is None
    first = patients.remember(card_answer(), ["drug"])[0]["url"].split("/")[2]
    for _ in range(MAX_PATIENTS):
        patients.remember(card_answer(), ["drug"])
    assert patients.get(first, "drug") is None  # the oldest made room


def test_invalid_qualifications_get_no_link() -> None:
    assert ConfirmedPatients().remember(card_answer(validity="2"), ["drug"]) == []
    assert ConfirmedPatients().remember({"MessageBody": {}}, ["drug"]) == []


def test_a_link_asks_with_the_branch_number_when_there_is_one() -> None:
    answer = card_answer()
    first = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    first.update(InsuredCardSymbol="12-34", InsuredBranchNumber="00")
    patients = ConfirmedPatients()
    token = patients.remember(answer, ["checkup"])[0]["url"].split("/")[2]
    patient = patients.get(token, "checkup")
    assert patient is not None
    assert patient.history_request() == {
        "InsurerNumber": "06139999",
        "InsuranceCardSymbol": "12-34",
        "InsuredPersonIdentificationNumber": "4260",
        "BranchNumber": "00",
    }


def import_drugs(stack: CentralStack, *lines: dict[str, str]) -> None:
    key = {
        "InsurerNumber": "06139999",
        "InsuredCardSymbol": "12-34",
        "InsuredIdentificationNumber": "4260",
        "InsuredBranchNumber": "00",
    }
    data = "".join(json.dumps({**key, **line}, ensure_ascii=False) + "\n" for line in lines)
    import_linked(stack.central.db, "drug", io.BytesIO(data.encode("utf-8")))


def test_the_link_against_the_real_central_service(
    stack: CentralStack, agent: Agent, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    import_drugs(
        stack,
        {
            "DiDate": "20261105",
            "DrugC": "2171022F1093",
            "DrugN": "アムロジピン錠5mg「サワイ」",
            "Qua1": "1",
            "Unit": "錠",
            "UsageN": "1日1回朝食後",
            "Times": "28",
        },
        {
            "DiDate": "20261012",
            "DrugC": "3399007H1021",
            "DrugN": "バイアスピリン錠100mg",
            "Qua1": "1",
            "Unit": "錠",
            "Times": "28",
        },
    )
    with HttpTerminal(screen.url) as port:
        summary = present_card(linked_card.path, port, method="pin", pin=PIN, consents="drug")
    [link] = summary["reports"]
    with httpx.Client(base_url=screen.url) as http:
        pdf = http.get(link["url"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdftotext(pdf.content)
    for expected in (
        "薬剤情報",
        "アムロジピン錠5mg「サワイ」",
        "バイアスピリン錠100mg",
        "2026年11月",
        "2026年10月",
        "1311111111",
    ):
        assert expected in text, expected
    # the screen's live list got the same link
    assert any(e["kind"] == "reports" and e["reports"] == [link] for e in agent.events.recent())
