"""The reception app's routes around a fake central client: words, codes, files, events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from onshi.reader import VirtualCard
from onshi.terminal.agent import Agent
from tests.terminal.reception.conftest import DOWN, PIN, REFUSED, FakeClient

CHECK = {
    "insurer": "06139999",
    "symbol": "12-34",
    "number": "4260",
    "branch": "00",
    "birthdate": "1980-04-01",
    "date": "20261123",
    "limit_consent": False,
}


def kinds(agent: Agent) -> list[str]:
    return [e["kind"] for e in agent.events.recent()]


def test_screen_is_japanese_and_locked_down(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text
    for words in (
        "受付画面",
        "保険証・資格確認書の番号で確認",
        "カードをかざす (virtual card)",
        "一括照会の状況",
    ):
        assert words in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert client.get("/static/reception.js").status_code == 200


def test_screen_escapes_card_names(
    client: TestClient, fake_agent: Agent, issue_card: Callable[..., VirtualCard]
) -> None:
    issue_card(fake_agent.settings.state_dir / "cards", "<b>x.p12")
    page = client.get("/").text
    assert "&lt;b&gt;x.p12" in page and "<b>x.p12" not in page


def test_only_this_machine(client: TestClient) -> None:
    assert client.get("/", headers={"host": "evil.example"}).status_code == 403
    refused = client.post("/api/check", json=CHECK, headers={"origin": "http://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN_ORIGIN"
    assert (
        client.post("/api/check", json=CHECK, headers={"origin": "http://127.0.0.1:1"}).status_code
        == 200
    )


def test_status(client: TestClient) -> None:
    status = client.get("/api/status").json()
    assert status["facility"] == "1311111111"
    assert set(status["central"]) == {"reachable", "since", "detail"}


def test_manual_check_answers_in_words(
    client: TestClient, fake_client: FakeClient, fake_agent: Agent
) -> None:
    answer = client.post("/api/check", json=CHECK)
    assert answer.status_code == 200
    body = answer.json()
    assert body["QualificationValidity"] == "1"
    assert body["validity_label"] == "有効"
    assert body["Name"] == "診療　太郎"
    assert body["ratio_label"] == "3割"
    [asked] = fake_client.asked
    assert asked == {
        "QualificationConfirmationDate": "20261123",
        "QualificationConfirmSearchInfo": {
            "InsurerNumber": "06139999",
            "InsuredCardSymbol": "12-34",
            "InsuredIdentificationNumber": "4260",
            "InsuredBranchNumber": "00",
            "Birthdate": "19800401",
            "LimitApplicationCertificateRelatedConsFlg": "0",
        },
    }
    assert kinds(fake_agent)[-1] == "check"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"insurer": "12"}, "INSURER_NUMBER_INVALID", "insurer"),
        ({"number": " "}, "NUMBER_INVALID", "number"),
        ({"branch": "abc"}, "BRANCH_INVALID", "branch"),
        ({"birthdate": "19800231"}, "BIRTHDATE_INVALID", "birthdate"),
        ({"birthdate": "そのうち"}, "BIRTHDATE_INVALID", "birthdate"),
        ({"birthdate": "20300101"}, "BIRTHDATE_INVALID", "birthdate"),
        ({"date": "2026-13-01"}, "DATE_INVALID", "date"),
    ],
)
def test_manual_check_refusals_name_the_field(
    client: TestClient, fake_client: FakeClient, change: dict[str, str], code: str, field: str
) -> None:
    refused = client.post("/api/check", json={**CHECK, **change})
    assert refused.status_code == 422
    body = refused.json()
    assert (body["code"], body["field"]) == (code, field)
    assert body["message"].endswith("。")  # a Japanese sentence, not a traceback
    assert fake_client.asked == []


def test_manual_check_accepts_how_people_type(client: TestClient, fake_client: FakeClient) -> None:
    typed = {
        **CHECK,
        "insurer": "０６１３９９９９",
        "birthdate": "1980/4/1",
        "date": "",
        "branch": "0",
    }
    assert client.post("/api/check", json=typed).status_code == 200
    info = fake_client.asked[0]["QualificationConfirmSearchInfo"]
    assert (info["InsurerNumber"], info["Birthdate"], info["InsuredBranchNumber"]) == (
        "06139999",
        "19800401",
        "00",
    )


def test_manual_check_not_json(client: TestClient) -> None:
    refused = client.post(
        "/api/check", content=b"insurer=1", headers={"content-type": "text/plain"}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "REQUEST_INVALID"


def test_central_refusal_in_plain_words(
    client: TestClient, fake_client: FakeClient, fake_agent: Agent
) -> None:
    fake_client.fail = REFUSED
    refused = client.post("/api/check", json=CHECK)
    assert refused.status_code == 404
    assert refused.json()["code"] == "CARD_NOT_LINKED"
    assert "利用登録" in refused.json()["message"]
    assert fake_agent.events.recent()[-1]["code"] == "CARD_NOT_LINKED"


def test_central_down(client: TestClient, fake_client: FakeClient, fake_agent: Agent) -> None:
    fake_client.fail = DOWN
    refused = client.post("/api/check", json=CHECK)
    assert refused.status_code == 503
    assert refused.json() == {
        "code": "CENTRAL_UNAVAILABLE",
        "message": "資格確認サービスに接続できません。回線を確認し、しばらくしてからもう一度お試しください。",
    }
    assert fake_agent.central.reachable is False
    assert "central" in kinds(fake_agent)
    assert client.post("/api/reader/nonce").status_code == 503


def test_reader_nonce_names_the_facility(client: TestClient) -> None:
    issued = client.post("/api/reader/nonce").json()
    assert issued["nonce"] == "ab" * 32
    assert issued["facility"] == "1311111111"


def _confirm_body(card: VirtualCard) -> dict[str, object]:
    return {
        "certificate": card.certificate_pem(),
        "nonce": "ab" * 32,
        "signature": "AAAA",
        "method": "visual",
        "consents": ["drug"],
    }


def test_reader_confirm_writes_the_face_file(
    client: TestClient,
    fake_agent: Agent,
    fake_client: FakeClient,
    issue_card: Callable[..., VirtualCard],
    tmp_path: Path,
) -> None:
    card = issue_card(tmp_path / "elsewhere")
    answer = client.post("/api/reader/confirm", json=_confirm_body(card))
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["validity_label"] == "有効"
    assert summary["face_file"].startswith("OQSsiquc01res_face_")
    [written] = list(fake_agent.folders.face.iterdir())
    assert written.name == summary["face_file"]
    assert b"<ReferenceClassification>1</ReferenceClassification>" in written.read_bytes()
    assert fake_client.asked[0]["IdentityMethod"] == "visual"
    assert fake_client.asked[0]["Consents"] == ["drug"]
    card_event, reports_event = fake_agent.events.recent()[-2:]
    assert (card_event["kind"], card_event["face_file"]) == ("card", written.name)
    # consent to drug information: the screen gets a PDF link for this patient
    assert reports_event["kind"] == "reports"
    assert [r["kind"] for r in reports_event["reports"]] == ["drug"]
    assert summary["reports"] == reports_event["reports"]


def test_reader_confirm_refused(
    client: TestClient,
    fake_agent: Agent,
    fake_client: FakeClient,
    issue_card: Callable[..., VirtualCard],
    tmp_path: Path,
) -> None:
    fake_client.fail = REFUSED
    refused = client.post("/api/reader/confirm", json=_confirm_body(issue_card(tmp_path / "c")))
    assert refused.status_code == 404
    assert refused.json()["code"] == "CARD_NOT_LINKED"
    assert list(fake_agent.folders.face.iterdir()) == []
    assert fake_agent.events.recent()[-1]["kind"] == "error"


@pytest.mark.parametrize(
    "change",
    [{"method": "telepathy"}, {"nonce": "XYZ"}, {"consents": ["genome"]}, {"extra": 1}],
)
def test_reader_confirm_validates(
    client: TestClient,
    issue_card: Callable[..., VirtualCard],
    tmp_path: Path,
    change: dict[str, object],
) -> None:
    body = {**_confirm_body(issue_card(tmp_path / "c")), **change}
    refused = client.post("/api/reader/confirm", json=body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "REQUEST_INVALID"


def test_screen_presents_a_listed_card_only(
    client: TestClient, fake_agent: Agent, issue_card: Callable[..., VirtualCard], tmp_path: Path
) -> None:
    issue_card(tmp_path / "outside", "other.p12")
    for name in ("nothing.p12", "../outside/other.p12", str(tmp_path / "outside" / "other.p12")):
        refused = client.post("/api/reader/present", json={"card": name, "method": "visual"})
        assert refused.status_code == 404
        assert refused.json()["code"] == "CARD_NOT_FOUND"


def test_screen_presents_with_fallbacks(
    client: TestClient, fake_agent: Agent, issue_card: Callable[..., VirtualCard]
) -> None:
    issue_card(fake_agent.settings.state_dir / "cards")
    present = {"card": "taro.p12", "method": "face", "face_result": "mismatch"}
    refused = client.post("/api/reader/present", json=present)
    assert refused.status_code == 400
    assert (
        refused.json()["message"]
        == "顔認証できませんでした。目視確認または暗証番号に切り替えてください"
    )
    assert fake_agent.events.recent()[-1]["code"] == "FACE_NOT_RECOGNISED"
    ok = client.post("/api/reader/present", json={"card": "taro.p12", "method": "pin", "pin": PIN})
    assert ok.status_code == 200
    assert ok.json()["Name"] == "診療　太郎"


def test_screen_pin_tries_and_lock(
    client: TestClient, fake_agent: Agent, issue_card: Callable[..., VirtualCard]
) -> None:
    issue_card(fake_agent.settings.state_dir / "cards")
    wrong = {"card": "taro.p12", "method": "pin", "pin": "0000"}
    first = client.post("/api/reader/present", json=wrong).json()
    assert (first["code"], "あと2回" in first["message"]) == ("PIN_INCORRECT", True)
    client.post("/api/reader/present", json=wrong)
    locked = client.post("/api/reader/present", json=wrong)
    assert (locked.status_code, locked.json()["code"]) == (409, "CARD_LOCKED")
    assert client.get("/api/cards").json()["cards"] == [
        {"name": "taro.p12", "locked": True, "remaining": 0}
    ]
    visual = client.post("/api/reader/present", json={"card": "taro.p12", "method": "visual"})
    assert visual.json()["code"] == "CARD_LOCKED"
    assert PIN not in str(fake_agent.events.recent())


def test_bulk_status(client: TestClient, fake_agent: Agent) -> None:
    fake_agent.state.add("OQSmuquc01req_tomorrow.xml", "0" * 64, "OQSmuquc01")
    fake_agent.state.add("OQSsiquc01req_single.xml", "1" * 64, "OQSsiquc01")
    fake_agent.events.publish(
        "answer", request="OQSmuquc01req_tomorrow.xml", outcome="ok", ReceptionNumber="R0001"
    )
    [row] = client.get("/api/bulk").json()["requests"]
    assert row["name"] == "OQSmuquc01req_tomorrow.xml"
    assert (row["stage"], row["ReceptionNumber"]) == ("pending", "R0001")


def test_face_file_in_the_configured_encoding(
    fake_client: FakeClient, issue_card: Callable[..., VirtualCard], tmp_path: Path
) -> None:
    from onshi.oqs.messages import Encoding
    from onshi.terminal import face
    from onshi.terminal.settings import TerminalSettings

    settings = TerminalSettings(
        oqs_dir=tmp_path / "OQS", state_dir=tmp_path / "terminal", face_encoding=Encoding.SHIFT_JIS
    )
    agent = Agent(settings, fake_client)  # type: ignore[arg-type]
    try:
        card = issue_card(tmp_path / "c")
        summary = face.confirm_card(
            agent,
            certificate_pem=card.certificate_pem(),
            nonce="ab" * 32,
            signature="AAAA",
            method="face",
            consents=[],
        )
        data = (agent.folders.face / summary["face_file"]).read_bytes()
    finally:
        agent.stop()
    assert b'encoding="Shift_JIS"' in data[:100]
    assert "診療".encode("cp932") in data
    assert b"<CharacterCodeIdentifier>1</CharacterCodeIdentifier>" in data
