"""The simulated chip: PIN tries, the lock, the reset, and state that survives crashes."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from onshi import pki
from onshi.reader import CardFileInvalid, CardLocked, PinFormatInvalid, PinIncorrect, VirtualCard
from onshi.reader.card import MAX_PIN_TRIES, P12_PASSWORD, chip_path_of
from tests.reader.conftest import PIN


def test_card_files_round_trip(card: VirtualCard, jpki: pki.CertificateAuthority) -> None:
    assert card.chip_path == chip_path_of(card.path)
    assert card.chip_path.name == "card.p12.chip.json"
    issued = pki.load_card_p12(card.path, P12_PASSWORD)
    pki.verify_certificate(issued.certificate, jpki.certificate, at=dt.datetime.now(dt.UTC))
    assert card.certificate_pem().startswith("-----BEGIN CERTIFICATE-----")
    # What the card signs verifies against its certificate.
    pki.verify_challenge(issued.certificate, b"challenge", card.sign(b"challenge"))
    assert card.path.stat().st_mode & 0o777 == 0o600
    assert card.chip_path.stat().st_mode & 0o777 == 0o600


def test_chip_keeps_a_hash_never_the_pin(card: VirtualCard) -> None:
    raw = card.chip_path.read_text()
    assert PIN not in raw
    state = json.loads(raw)
    assert state["pin_hash"].startswith("$argon2")
    assert state == {"version": 1, "pin_hash": state["pin_hash"], "failures": 0, "locked": False}


def test_right_pin_passes(card: VirtualCard) -> None:
    card.verify_pin(PIN)
    assert card.state().remaining == MAX_PIN_TRIES


def test_three_wrong_pins_lock_the_card(card: VirtualCard) -> None:
    with pytest.raises(PinIncorrect) as first:
        card.verify_pin("0000")
    assert first.value.remaining == 2
    assert first.value.code == "PIN_INCORRECT"
    assert "あと2回" in first.value.message
    with pytest.raises(PinIncorrect) as second:
        card.verify_pin("0001")
    assert second.value.remaining == 1
    with pytest.raises(CardLocked):
        card.verify_pin("0002")
    assert card.state().locked
    # Locked: even the right PIN is refused, and the key signs nothing.
    with pytest.raises(CardLocked):
        card.verify_pin(PIN)
    with pytest.raises(CardLocked):
        card.sign(b"challenge")


def test_right_pin_resets_the_counter(card: VirtualCard) -> None:
    for wrong in ("0000", "0001"):
        with pytest.raises(PinIncorrect):
            card.verify_pin(wrong)
    card.verify_pin(PIN)
    assert card.state().failures == 0
    # Consecutive means consecutive: two more wrong PINs do not lock it.
    for wrong in ("0000", "0001"):
        with pytest.raises(PinIncorrect):
            card.verify_pin(wrong)
    assert not card.state().locked


def test_malformed_pin_does_not_use_a_try(card: VirtualCard) -> None:
    for bad in ("123", "12345", "abcd", "１２３４", ""):
        with pytest.raises(PinFormatInvalid):
            card.verify_pin(bad)
    assert card.state().failures == 0


def test_reset_unlocks_with_a_new_pin(card: VirtualCard) -> None:
    for wrong in ("0000", "0001", "0002"):
        with pytest.raises((PinIncorrect, CardLocked)):
            card.verify_pin(wrong)
    assert card.state().locked
    card.reset("9876")
    assert not card.state().locked
    with pytest.raises(PinIncorrect):
        card.verify_pin(PIN)  # the old PIN is gone
    card.verify_pin("9876")
    assert card.state().failures == 0


def test_state_is_replaced_atomically(card: VirtualCard) -> None:
    with pytest.raises(PinIncorrect):
        card.verify_pin("0000")
    leftovers = [p.name for p in card.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert json.loads(card.chip_path.read_text())["failures"] == 1


def test_concurrent_wrong_pins_all_count(card: VirtualCard) -> None:
    errors: list[Exception] = []

    def guess(pin: str) -> None:
        try:
            card.verify_pin(pin)
        except (PinIncorrect, CardLocked) as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(f"000{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3
    assert card.state().locked
    assert sum(isinstance(e, CardLocked) for e in errors) == 1


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b'{"pin_hash": "x"}', b'{"pin_hash": "x", "failures": 9, "locked": false}'],
)
def test_damaged_chip_state_is_refused(card: VirtualCard, content: bytes) -> None:
    card.chip_path.write_bytes(content)
    with pytest.raises(CardFileInvalid):
        card.verify_pin(PIN)


def test_missing_files_are_refused(tmp_path: Path) -> None:
    missing = VirtualCard(tmp_path / "nothing.p12")
    with pytest.raises(CardFileInvalid):
        missing.state()


def test_damaged_p12_is_refused(make_card: Callable[..., VirtualCard]) -> None:
    card = make_card()
    card.path.write_bytes(b"not a card")
    with pytest.raises(CardFileInvalid):
        card.certificate_pem()


def test_a_new_card_needs_a_four_digit_pin(jpki: pki.CertificateAuthority, tmp_path: Path) -> None:
    with pytest.raises(PinFormatInvalid):
        VirtualCard.create(tmp_path / "c.p12", jpki.issue_card_certificate(), "12")
    assert not (tmp_path / "c.p12").exists()
