"""The face-authentication card reader (顔認証付きカードリーダー) and virtual My Number cards.

errors.py    one exception tree; codes for programs, Japanese messages for people
card.py      the virtual card: .p12 (key + JPKI user certificate) and a simulated chip
             (PIN hash, failure counter, lock) in CARD.p12.chip.json
terminal.py  how the reader reaches the terminal: its local HTTP API, or in-process
reader.py    one presentation: identity (face/visual/pin), nonce signed, answer
cli.py       ``onshi card reset|status`` and ``onshi reader present``
"""

from __future__ import annotations

from onshi.reader.card import VirtualCard
from onshi.reader.errors import (
    CardFileInvalid,
    CardLocked,
    FaceNotRecognised,
    PinFormatInvalid,
    PinIncorrect,
    PinRequired,
    ReaderError,
    TerminalRefused,
    TerminalUnavailable,
)
from onshi.reader.reader import FaceResult, IdentityMethod, Presentation, present, present_card
from onshi.reader.terminal import HttpTerminal, LocalTerminal, Terminal

__all__ = [
    "CardFileInvalid",
    "CardLocked",
    "FaceNotRecognised",
    "FaceResult",
    "HttpTerminal",
    "IdentityMethod",
    "LocalTerminal",
    "PinFormatInvalid",
    "PinIncorrect",
    "PinRequired",
    "Presentation",
    "ReaderError",
    "Terminal",
    "TerminalRefused",
    "TerminalUnavailable",
    "VirtualCard",
    "present",
    "present_card",
]
