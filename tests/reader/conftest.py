"""Virtual cards from a throwaway JPKI CA, and a fake terminal that checks what the card signed."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from onshi import pki
from onshi.pki.presence import challenge as card_presence_challenge
from onshi.reader import VirtualCard

FACILITY = "1311111111"
PIN = "1234"


@pytest.fixture(scope="session")
def jpki(tmp_path_factory: pytest.TempPathFactory) -> pki.CertificateAuthority:
    return pki.CertificateAuthority.create(
        tmp_path_factory.mktemp("jpki") / "ca", "onshi test JPKI CA"
    )


@pytest.fixture
def make_card(jpki: pki.CertificateAuthority, tmp_path: Path) -> Callable[..., VirtualCard]:
    def make(name: str = "card.p12", pin: str = PIN) -> VirtualCard:
        return VirtualCard.create(
            tmp_path / name, jpki.issue_card_certificate(), pin, ca_certificate=jpki.certificate
        )

    return make


@pytest.fixture
def card(make_card: Callable[..., VirtualCard]) -> VirtualCard:
    return make_card()


@dataclass
class FakeTerminal:
    """Hands out nonces and verifies each confirmation's signature like the central would."""

    facility: str = FACILITY
    nonces: list[str] = field(default_factory=list)
    confirmed: list[dict[str, Any]] = field(default_factory=list)

    def nonce(self) -> dict[str, Any]:
        value = f"{len(self.nonces) + 1:064x}"
        self.nonces.append(value)
        return {"nonce": value, "facility": self.facility, "expires_at": "2026-11-23T10:02:00"}

    def confirm(self, body: Mapping[str, Any]) -> dict[str, Any]:
        certificate = pki.parse_certificate_pem(str(body["certificate"]).encode())
        pki.verify_challenge(
            certificate,
            card_presence_challenge(self.facility, str(body["nonce"])),
            base64.b64decode(str(body["signature"])),
        )
        self.confirmed.append(dict(body))
        return {"QualificationValidity": "1", "Name": "診療　太郎", "method": body["method"]}


@pytest.fixture
def terminal() -> FakeTerminal:
    return FakeTerminal()
