"""Virtual My Number cards as PKCS#12 files."""

from __future__ import annotations

from pathlib import Path

import pytest

from onshi.pki import (
    CardPasswordIncorrect,
    CertificateAuthority,
    IssuedCertificate,
    PkiError,
    load_card_p12,
    sign_challenge,
    verify_challenge,
    write_card_p12,
)

from .conftest import mode_of


@pytest.fixture(scope="module")
def card(jpki_ca: CertificateAuthority) -> IssuedCertificate:
    return jpki_ca.issue_card_certificate()


def test_round_trip(tmp_path: Path, card: IssuedCertificate, jpki_ca: CertificateAuthority) -> None:
    path = tmp_path / "card.p12"
    write_card_p12(path, card, b"1234", ca_certificate=jpki_ca.certificate)
    assert mode_of(path) == 0o600
    loaded = load_card_p12(path, b"1234")
    assert loaded.certificate == card.certificate
    assert loaded.key_pem == card.key_pem
    # The reopened card still proves possession of the certified key.
    verify_challenge(card.certificate, b"nonce", sign_challenge(loaded.signing_key, b"nonce"))


def test_wrong_password(tmp_path: Path, card: IssuedCertificate) -> None:
    path = tmp_path / "card.p12"
    write_card_p12(path, card, b"1234")
    with pytest.raises(CardPasswordIncorrect, match="wrong password") as excinfo:
        load_card_p12(path, b"9999")
    assert excinfo.value.code == "PKI_BAD_PASSWORD"
    assert isinstance(excinfo.value, PkiError)


def test_empty_password_is_refused(tmp_path: Path, card: IssuedCertificate) -> None:
    with pytest.raises(PkiError, match="non-empty password"):
        write_card_p12(tmp_path / "card.p12", card, b"")
    assert not (tmp_path / "card.p12").exists()


@pytest.mark.parametrize("content", [b"", b"garbage", b"0\x03\x02\x01\x02"])
def test_corrupt_file_is_not_a_password_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "card.p12"
    path.write_bytes(content)
    with pytest.raises(PkiError, match="not a PKCS#12 file") as excinfo:
        load_card_p12(path, b"1234")
    assert not isinstance(excinfo.value, CardPasswordIncorrect)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="virtual card not found"):
        load_card_p12(tmp_path / "absent.p12", b"1234")


def test_card_without_private_key_cannot_be_written(
    tmp_path: Path, jpki_ca: CertificateAuthority, card: IssuedCertificate
) -> None:
    external = jpki_ca.issue_card_certificate(card.certificate.public_key())  # type: ignore[arg-type]
    with pytest.raises(PkiError, match="externally held key"):
        write_card_p12(tmp_path / "card.p12", external, b"1234")
