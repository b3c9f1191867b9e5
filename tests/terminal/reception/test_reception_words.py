"""Every code staff can meet has a Japanese sentence; dates are read the way people type them."""

from __future__ import annotations

import datetime as dt

import pytest

from onshi.central import errors as central_errors
from onshi.oqs.messages import errors as oqs_errors
from onshi.reader import errors as reader_errors
from onshi.terminal.reception.forms import parse_date
from onshi.terminal.reception.messages_ja import (
    MESSAGES,
    contribution_label,
    message_for,
    validity_label,
)
from onshi.terminal.reception.server import _loopback


def _codes(module: object, base: type) -> set[str]:
    found = set()
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, base)
            and isinstance(value.__dict__.get("code"), str)
        ):
            found.add(value.__dict__["code"])
    return found


def test_every_central_and_reader_code_reads_as_a_sentence() -> None:
    codes = (
        _codes(central_errors, central_errors.CentralError)
        | _codes(reader_errors, reader_errors.ReaderError)
        | _codes(oqs_errors, oqs_errors.OqsMessageError)
    )
    codes -= {"INTAKE_REJECTED", "IMPORT_FAILED", "AUDIT_CHAIN_BROKEN", "CARD_ERROR"}
    codes -= {"IDENTITY_NOT_CONFIRMED"}
    missing = sorted(c for c in codes if c not in MESSAGES)
    assert missing == []
    for code in ("CENTRAL_UNAVAILABLE", "CONSENT_REQUIRED", "CARD_LOCKED", "NONCE_INVALID"):
        assert message_for(code).endswith("。")


def test_unknown_code_still_says_something() -> None:
    assert "SOMETHING_NEW" in message_for("SOMETHING_NEW")


def test_labels() -> None:
    assert [validity_label(v) for v in ("1", "2", "3", "4", "5", "9")] == [
        "有効",
        "無効",
        "無効（新しい資格あり）",
        "該当資格なし",
        "複数該当",
        "不明",
    ]
    assert (contribution_label("030"), contribution_label("010"), contribution_label("025")) == (
        "3割",
        "1割",
        "25%",
    )
    assert contribution_label(None) == ""


@pytest.mark.parametrize(
    "typed", ["19800401", "1980-04-01", "1980/4/1", "１９８０年４月１日", " 1980.04.01 "]
)
def test_dates_as_typed(typed: str) -> None:
    assert parse_date(typed) == dt.date(1980, 4, 1)


@pytest.mark.parametrize("typed", ["", "1980", "S55.4.1", "19800431", "1980-4", "1980041"])
def test_not_dates(typed: str) -> None:
    with pytest.raises(ValueError):
        parse_date(typed)


def test_screen_listens_on_loopback_only() -> None:
    assert _loopback("127.0.0.1") == "127.0.0.1"
    assert _loopback("::1") == "::1"
    assert _loopback("localhost") == "127.0.0.1"
    for host in ("0.0.0.0", "192.168.1.10", "example.org"):
        with pytest.raises(ValueError):
            _loopback(host)
