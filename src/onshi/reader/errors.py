"""The card reader's exceptions, one tree, each with a stable code and a Japanese message.

The message is what the patient or the reception staff read, so it is Japanese and plain;
the code is what programs (the reception screen, tests) compare. ::

    ReaderError                    READER_ERROR
    ├── CardError                  (the virtual card itself)
    │   ├── CardFileInvalid        CARD_FILE_INVALID       .p12 or chip state missing or damaged
    │   ├── CardLocked             CARD_LOCKED             3 wrong PINs; reset at the municipal office
    │   ├── PinIncorrect           PIN_INCORRECT           .remaining tries before the lock
    │   └── PinFormatInvalid       PIN_FORMAT_INVALID      not 4 digits (never counts as a try)
    ├── IdentityNotConfirmed       (本人確認)
    │   ├── FaceNotRecognised      FACE_NOT_RECOGNISED     fall back to visual check or PIN
    │   └── PinRequired            PIN_REQUIRED
    └── TerminalError              (the terminal's local API)
        ├── TerminalRefused        .code from the terminal (CARD_NOT_LINKED, NONCE_INVALID…)
        └── TerminalUnavailable    TERMINAL_UNAVAILABLE
"""

from __future__ import annotations

from typing import ClassVar


class ReaderError(Exception):
    code: ClassVar[str] = "READER_ERROR"
    default_message: ClassVar[str] = "カードリーダーでエラーが発生しました。"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class CardError(ReaderError):
    code = "CARD_ERROR"


class CardFileInvalid(CardError):
    code = "CARD_FILE_INVALID"
    default_message = "カードを読み取れませんでした。カードをかざし直してください。"


class CardLocked(CardError):
    code = "CARD_LOCKED"
    default_message = (
        "暗証番号を3回続けて間違えたため、カードがロックされています。"
        "市区町村の窓口でロックを解除してください。"
    )


class PinIncorrect(CardError):
    code = "PIN_INCORRECT"

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        super().__init__(f"暗証番号が違います。あと{remaining}回間違えるとカードがロックされます。")


class PinFormatInvalid(CardError):
    code = "PIN_FORMAT_INVALID"
    default_message = "暗証番号は4桁の数字で入力してください。"


class IdentityNotConfirmed(ReaderError):
    code = "IDENTITY_NOT_CONFIRMED"
    default_message = "本人確認ができませんでした。"


class FaceNotRecognised(IdentityNotConfirmed):
    code = "FACE_NOT_RECOGNISED"
    default_message = "顔認証できませんでした。目視確認または暗証番号に切り替えてください"


class PinRequired(IdentityNotConfirmed):
    code = "PIN_REQUIRED"
    default_message = "暗証番号（4桁）を入力してください。"


class TerminalError(ReaderError):
    code = "TERMINAL_ERROR"


class TerminalRefused(TerminalError):
    """The terminal (or the central service behind it) refused; ``code`` is its own."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # instance code: the terminal's, not a class one
        self.status = status


class TerminalUnavailable(TerminalError):
    code = "TERMINAL_UNAVAILABLE"
    default_message = "資格確認端末に接続できません。端末が起動しているか確認してください。"
