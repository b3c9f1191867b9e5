"""The reader, the terminal's local API and the screen against a real central service."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from onshi.central.client import CentralRefused
from onshi.pki import CertificateAuthority
from onshi.reader import HttpTerminal, TerminalRefused, VirtualCard, present_card
from onshi.reader.cli import reader_app
from onshi.terminal.agent import Agent
from onshi.terminal.reception import ReceptionServer
from tests.stack import CentralStack
from tests.terminal.oqs_files import read, text
from tests.terminal.reception.conftest import PIN

RESULT = "MessageBody/ResultList/ResultOfQualificationConfirmation"
HISTORY = {
    "InsurerNumber": "06139999",
    "InsuranceCardSymbol": "12-34",
    "InsuredPersonIdentificationNumber": "4260",
    "BranchNumber": "00",
}


def test_card_presentation_writes_the_face_file_and_unlocks_consented_queries(
    agent: Agent, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    with pytest.raises(CentralRefused) as before:
        agent.client.drug_information(HISTORY)
    assert before.value.code == "CONSENT_REQUIRED"
    with HttpTerminal(screen.url) as port:
        summary = present_card(linked_card.path, port, method="pin", pin=PIN, consents="drug,limit")
    assert (summary["QualificationValidity"], summary["Name"]) == ("1", "診療　太郎")
    assert summary["consents"] == ["drug", "limit"]
    [face] = list(agent.folders.face.iterdir())
    assert face.name == summary["face_file"]
    result = read(face)
    assert text(result, "MessageHeader/ReferenceClassification") == "1"
    assert text(result, "MessageBody/QualificationValidity") == "1"
    assert text(result, f"{RESULT}/PharmacistsInfoConsFlg") == "1"
    assert text(result, f"{RESULT}/PharmacistsInfoConsTime")
    assert text(result, f"{RESULT}/PharmacistsInfoAvailableTime")
    assert text(result, f"{RESULT}/SpecificHealthCheckupsInfoConsFlg") == "0"
    assert text(result, f"{RESULT}/LimitApplicationCertificateRelatedConsFlg") == "1"
    # The consent given at the reader now opens drug information at this facility.
    agent.client.drug_information(HISTORY)


def test_unlinked_card_is_refused_in_words(
    stack: CentralStack, agent: Agent, screen: ReceptionServer
) -> None:
    jpki = CertificateAuthority.load(stack.settings.jpki_ca_dir)
    folder = agent.settings.state_dir / "cards"
    folder.mkdir(parents=True)
    card = VirtualCard.create(folder / "unlinked.p12", jpki.issue_card_certificate(), PIN)
    with HttpTerminal(screen.url) as port, pytest.raises(TerminalRefused) as refused:
        present_card(card.path, port, method="visual")
    assert refused.value.code == "CARD_NOT_LINKED"
    assert "利用登録" in refused.value.message
    assert list(agent.folders.face.iterdir()) == []
    assert agent.events.recent()[-1]["code"] == "CARD_NOT_LINKED"


def test_reader_command_line(
    agent: Agent, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    runner = CliRunner()
    args = ["present", str(linked_card.path), "--terminal", screen.url]
    result = runner.invoke(reader_app, [*args, "--method", "face", "--consent", "checkup"])
    assert result.exit_code == 0, result.output
    assert "QualificationValidity: 1 (有効)" in result.output
    assert "氏名: 診療　太郎" in result.output
    mismatch = runner.invoke(reader_app, [*args, "--method", "face", "--face-result", "mismatch"])
    assert mismatch.exit_code == 1
    assert "顔認証できませんでした" in mismatch.output and "FACE_NOT_RECOGNISED" in mismatch.output
    prompted = runner.invoke(reader_app, [*args, "--method", "pin"], input="0000\n")
    assert prompted.exit_code == 1 and "あと2回" in prompted.output
    down = runner.invoke(
        reader_app, [*args, "--method", "visual", "--terminal", "http://127.0.0.1:9"]
    )
    assert down.exit_code == 1 and "TERMINAL_UNAVAILABLE" in down.output


def test_events_stream_shows_a_presentation_live(
    agent: Agent, screen: ReceptionServer, linked_card: VirtualCard
) -> None:
    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{screen.url}/events", timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            ready.set()
            event = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "card":
                    seen.append(json.loads(line.split(":", 1)[1]))
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    with HttpTerminal(screen.url) as port:
        present_card(linked_card.path, port, method="visual")
    listener.join(10)
    assert seen and seen[0]["validity_label"] == "有効"
    assert seen[0]["method"] == "visual"


def test_manual_check_against_the_real_service(agent: Agent, screen: ReceptionServer) -> None:
    body = {
        "insurer": "06139999",
        "symbol": "12-34",
        "number": "4260",
        "branch": "00",
        "birthdate": "19800401",
        "date": "20261123",
    }
    answer = httpx.post(f"{screen.url}/api/check", json=body, timeout=10)
    assert answer.status_code == 200
    assert (answer.json()["validity_label"], answer.json()["Name"]) == ("有効", "診療　太郎")
    lost = httpx.post(f"{screen.url}/api/check", json={**body, "number": "5000"}, timeout=10).json()
    assert lost["validity_label"] == "無効"


def test_answered_request_files_reach_the_screen(agent: Agent, screen: ReceptionServer) -> None:
    from tests.terminal.oqs_files import drop, eligibility_request

    seen: list[dict[str, Any]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", f"{screen.url}/events", timeout=10) as response:
            ready.set()
            event = ""
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "answer":
                    seen.append(json.loads(line.split(":", 1)[1]))
                    if len(seen) == 2:
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert ready.wait(10)
    drop(agent.folders.req, "OQSsiquc01req_screen.xml", eligibility_request())
    drop(agent.folders.req, "OQSsiquc01req_other.xml", eligibility_request(facility="1311112222"))
    listener.join(15)
    by_name = {e["request"]: e for e in seen}
    ok, refused = by_name["OQSsiquc01req_screen.xml"], by_name["OQSsiquc01req_other.xml"]
    assert (ok["file_kind"], ok["validity_label"], ok["Name"]) == (
        "OQSsiquc01",
        "有効",
        "診療　太郎",
    )
    assert refused["outcome"] == "OQS_WRONG_FACILITY"
    assert refused["outcome_label"].startswith("依頼ファイルの医療機関コード")
    assert "message" not in refused
