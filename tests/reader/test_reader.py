"""One presentation at the reader: identity by face, visual check or PIN, then card presence."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from onshi.reader import (
    CardLocked,
    FaceNotRecognised,
    HttpTerminal,
    PinIncorrect,
    PinRequired,
    ReaderError,
    TerminalRefused,
    TerminalUnavailable,
    VirtualCard,
    present_card,
)
from onshi.reader.reader import FACE_RESULT_ENV, parse_consents
from tests.reader.conftest import PIN, FakeTerminal


def test_face_presentation_signs_the_terminals_nonce(
    card: VirtualCard, terminal: FakeTerminal
) -> None:
    summary = present_card(card.path, terminal, method="face", consents="checkup,drug")
    assert summary["QualificationValidity"] == "1"
    [sent] = terminal.confirmed
    assert sent["nonce"] == terminal.nonces[0]
    assert sent["method"] == "face"
    assert sent["consents"] == ["drug", "checkup"]  # canonical order, once each
    assert set(sent) == {"certificate", "nonce", "signature", "method", "consents"}


def test_signature_is_bound_to_the_facility(card: VirtualCard) -> None:
    class Liar(FakeTerminal):
        def nonce(self) -> dict[str, object]:
            return {**super().nonce(), "facility": "1399999999"}

    from onshi.pki import SignatureInvalid

    with pytest.raises(SignatureInvalid):
        present_card(card.path, Liar(), method="visual")


def test_face_mismatch_asks_for_a_fallback(card: VirtualCard, terminal: FakeTerminal) -> None:
    with pytest.raises(FaceNotRecognised) as caught:
        present_card(card.path, terminal, method="face", face_result="mismatch")
    assert caught.value.code == "FACE_NOT_RECOGNISED"
    assert (
        caught.value.message == "顔認証できませんでした。目視確認または暗証番号に切り替えてください"
    )
    assert terminal.nonces == []  # nothing reached the terminal
    # Staff fall back to a visual check: the same card goes through.
    assert present_card(card.path, terminal, method="visual")["QualificationValidity"] == "1"


def test_face_result_from_the_environment(
    card: VirtualCard, terminal: FakeTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FACE_RESULT_ENV, "mismatch")
    with pytest.raises(FaceNotRecognised):
        present_card(card.path, terminal, method="face")
    assert present_card(card.path, terminal, method="face", face_result="match")


def test_pin_method_checks_the_chip(card: VirtualCard, terminal: FakeTerminal) -> None:
    with pytest.raises(PinRequired):
        present_card(card.path, terminal, method="pin")
    with pytest.raises(PinIncorrect):
        present_card(card.path, terminal, method="pin", pin="0000")
    assert present_card(card.path, terminal, method="pin", pin=PIN)["QualificationValidity"] == "1"
    assert card.state().failures == 0


def test_locked_card_is_refused_by_every_method(card: VirtualCard, terminal: FakeTerminal) -> None:
    for wrong in ("0000", "0001", "0002"):
        with pytest.raises((PinIncorrect, CardLocked)):
            present_card(card.path, terminal, method="pin", pin=wrong)
    for method in ("face", "visual", "pin"):
        with pytest.raises(CardLocked):
            present_card(card.path, terminal, method=method, pin=PIN)
    assert terminal.nonces == []
    card.reset("4321")
    assert present_card(card.path, terminal, method="pin", pin="4321")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"method": "iris"}, "本人確認の方法"),
        ({"method": "face", "consents": "drug,genome"}, "genome"),
        ({"method": "face", "face_result": "maybe"}, "match"),
    ],
)
def test_bad_options_are_refused_in_words(
    card: VirtualCard, terminal: FakeTerminal, kwargs: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ReaderError) as caught:
        present_card(card.path, terminal, **kwargs)  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_parse_consents() -> None:
    assert parse_consents(None) == []
    assert parse_consents(" limit , drug,,drug") == ["drug", "limit"]
    assert parse_consents(["operation", "diagnosis"]) == ["diagnosis", "operation"]


def test_http_terminal_maps_answers(card: VirtualCard, tmp_path: Path) -> None:
    fake = FakeTerminal()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/reader/nonce":
            return httpx.Response(200, json=fake.nonce())
        body = json.loads(request.content)
        if body["method"] == "visual":
            return httpx.Response(
                404, json={"code": "CARD_NOT_LINKED", "message": "登録がありません"}
            )
        return httpx.Response(200, json=fake.confirm(body))

    with HttpTerminal("http://127.0.0.1:9", transport=httpx.MockTransport(handler)) as port:
        assert present_card(card.path, port, method="face")["Name"] == "診療　太郎"
        with pytest.raises(TerminalRefused) as refused:
            present_card(card.path, port, method="visual")
    assert (refused.value.code, refused.value.status) == ("CARD_NOT_LINKED", 404)


def test_http_terminal_unreachable(card: VirtualCard) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        HttpTerminal(transport=httpx.MockTransport(handler)) as port,
        pytest.raises(TerminalUnavailable),
    ):
        present_card(card.path, port, method="visual")


def test_http_terminal_unexpected_answer(card: VirtualCard) -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(502, text="bad gateway"))
    with HttpTerminal(transport=transport) as port, pytest.raises(TerminalRefused) as refused:
        present_card(card.path, port, method="visual")
    assert refused.value.code == "TERMINAL_ERROR"
