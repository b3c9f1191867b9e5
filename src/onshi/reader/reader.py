"""The face-authentication card reader (顔認証付きカードリーダー): one card presentation.

1. 本人確認 — identity by ``face`` (simulated: the camera either matches the card's photo or
   not; a mismatch asks staff to fall back), ``visual`` (staff looked at the card's photo and
   confirmed), or ``pin`` (the 4-digit PIN, checked by the card's chip);
2. card presence — ask the terminal for the central service's nonce and have the card sign
   :func:`onshi.pki.presence.challenge` (facility + nonce);
3. post certificate, nonce, signature, method and the patient's consents to the terminal,
   which asks the central service and writes ``OQS/face/OQSsiquc01res_face_….xml``.

Nothing here logs: the outcome goes back to the caller, who shows it to the person at the desk.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from onshi.pki import presence
from onshi.reader.card import VirtualCard, check_pin_format
from onshi.reader.errors import FaceNotRecognised, PinRequired, ReaderError, TerminalRefused
from onshi.reader.terminal import Terminal

FACE_RESULT_ENV = "ONSHI_READER_FACE_RESULT"


class IdentityMethod(StrEnum):
    FACE = "face"  # 顔認証
    VISUAL = "visual"  # 目視確認 (staff)
    PIN = "pin"  # 暗証番号


class FaceResult(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"


CONSENTS = ("drug", "checkup", "limit", "diagnosis", "operation")


def parse_consents(raw: str | Iterable[str] | None) -> list[str]:
    """``"drug,checkup"`` or a list → known consent names, in the canonical order, once each."""
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    wanted = {item.strip() for item in items if item.strip()}
    unknown = wanted - set(CONSENTS)
    if unknown:
        raise ReaderError(
            f"同意の種類が不明です: {', '.join(sorted(unknown))}（指定できるもの: {', '.join(CONSENTS)}）"
        )
    return [c for c in CONSENTS if c in wanted]


def face_result_from_env() -> FaceResult:
    value = os.environ.get(FACE_RESULT_ENV, FaceResult.MATCH.value).strip().lower()
    return FaceResult.MISMATCH if value == FaceResult.MISMATCH.value else FaceResult.MATCH


@dataclass(frozen=True, slots=True)
class Presentation:
    """What the reader asks for: the card, how identity is confirmed, what the patient agrees to."""

    card: VirtualCard
    method: IdentityMethod
    pin: str | None = None
    consents: list[str] = field(default_factory=list)
    face_result: FaceResult | None = None  # None: from ONSHI_READER_FACE_RESULT (default match)


def confirm_identity(p: Presentation) -> None:
    """本人確認; raise the reason it failed. A locked card is refused whatever the method."""
    p.card.require_unlocked()
    if p.method is IdentityMethod.FACE:
        if (p.face_result or face_result_from_env()) is FaceResult.MISMATCH:
            raise FaceNotRecognised()
    elif p.method is IdentityMethod.PIN:
        if not p.pin:
            raise PinRequired()
        p.card.verify_pin(check_pin_format(p.pin))
    # VISUAL: staff compared the card's photo with the patient; nothing for the card to check.


def present(p: Presentation, terminal: Terminal) -> dict[str, Any]:
    """The whole presentation; the terminal's summary (QualificationValidity, Name, …)."""
    confirm_identity(p)
    certificate_pem = p.card.certificate_pem()
    issued = terminal.nonce()
    nonce, facility = str(issued["nonce"]), str(issued["facility"])
    try:
        challenge = presence.challenge(facility, nonce)
    except presence.NonceMalformed:
        raise TerminalRefused(
            "NONCE_INVALID",
            "端末から受け取ったチャレンジが不正です。もう一度カードをかざしてください。",
        ) from None
    signature = p.card.sign(challenge)
    return terminal.confirm(
        {
            "certificate": certificate_pem,
            "nonce": nonce,
            "signature": base64.b64encode(signature).decode("ascii"),
            "method": p.method.value,
            "consents": list(p.consents),
        }
    )


def present_card(
    card_path: Path,
    terminal: Terminal,
    *,
    method: str,
    pin: str | None = None,
    consents: str | Iterable[str] | None = None,
    face_result: str | None = None,
) -> dict[str, Any]:
    """:func:`present` from plain values (command line, screen form)."""
    try:
        identity = IdentityMethod(method)
    except ValueError:
        raise ReaderError(
            "本人確認の方法は face（顔認証）・visual（目視確認）・pin（暗証番号）のいずれかです。"
        ) from None
    try:
        simulated = FaceResult(face_result) if face_result else None
    except ValueError:
        raise ReaderError("顔認証の模擬結果は match または mismatch です。") from None
    return present(
        Presentation(
            card=VirtualCard(card_path),
            method=identity,
            pin=pin,
            consents=parse_consents(consents),
            face_result=simulated,
        ),
        terminal,
    )
