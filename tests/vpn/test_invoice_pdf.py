"""The invoice PDF: what an accountant looks for is in the text, the font is embedded."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text

from onshi.vpn.domain.billing import ContractFacts, Invoice, Issuer, invoice_for
from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.errors import InvalidInput
from onshi.vpn.invoice_pdf import render_invoice_pdf

ISSUER = Issuer(
    name="onshi メディカルVPN運用事業者",
    registration_number="T1234567890123",
    address="東京都千代田区霞が関1-2-2",
    payment_terms="○○銀行 △△支店 普通 1234567",
)


def first_invoice(**changes: object) -> Invoice:
    values: dict[str, object] = {
        "application_id": "A0001",
        "organisation": "医療法人社団 さくら会 さくら内科クリニック",
        "ids": 3,
        "extra_certificates_per_id": 1,
        "opening_date": dt.date(2026, 4, 15),
    }
    values.update(changes)
    invoice = invoice_for(ContractFacts(**values), YearMonth(2026, 5))  # type: ignore[arg-type]
    assert invoice is not None
    return invoice


def squeeze(pdf: bytes) -> str:
    return "".join(extract_text(io.BytesIO(pdf)).split())


def layout_rows(pdf: bytes, tmp_path: Path) -> list[str]:
    """Poppler's layout text, one printed row per line, spaces squeezed."""
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return [" ".join(row.split()) for row in out.splitlines() if row.strip()]


def test_a_qualified_invoice_shows_what_the_rules_ask_for(tmp_path: Path) -> None:
    pdf = render_invoice_pdf(first_invoice(), ISSUER)
    assert pdf.startswith(b"%PDF-")
    words = squeeze(pdf)
    for expected in (
        "請求書",
        "請求書番号:VPN-202605-A0001",
        "発行日:2026年6月1日",
        "医療法人社団さくら会さくら内科クリニック御中",
        "onshiメディカルVPN運用事業者",
        "登録番号:T1234567890123",
        "ご請求金額（税込）",
        "¥25,905",
        "お支払期限",
        "2026年6月30日",
        "2026年5月1日～2026年5月31日",
        "○○銀行",
    ):
        assert expected in words, expected
    assert "適格請求書ではありません" not in words
    # rows as printed: label and figure side by side
    rows = layout_rows(pdf, tmp_path)
    for expected in (
        "お支払期限 2026年6月30日",
        "NS2E050S 初期費 3 ID 5,000 15,000",
        "NS2E050G ID利用料 3 ID 2,500 7,500",
        "NS2E051G 追加証明書 利用料 3 枚 350 1,050",
        "小計（税抜） 23,550",
        "10%対象（税抜） 23,550",
        "消費税（10%） 2,355",
        "合計（税込） 25,905",
    ):
        assert any(row.endswith(expected) or row == expected for row in rows), expected
    # the Japanese font is embedded (as a subset), so the page reads the same everywhere
    assert b"/FontFile2" in pdf


def test_without_a_registration_number_it_says_it_is_not_a_qualified_invoice() -> None:
    words = squeeze(render_invoice_pdf(first_invoice()))
    assert "登録番号:未設定" in words
    assert "この請求書は適格請求書ではありません" in words


def test_a_later_month_without_extra_certificates_has_one_line(tmp_path: Path) -> None:
    invoice = invoice_for(
        ContractFacts("A0002", "みどり薬局", 1, 0, dt.date(2026, 4, 15)), YearMonth(2026, 6)
    )
    assert invoice is not None
    words = squeeze(render_invoice_pdf(invoice, ISSUER))
    assert "NS2E050G" in words
    assert "NS2E050S" not in words and "NS2E051G" not in words
    assert "合計（税込） 2,750" in layout_rows(render_invoice_pdf(invoice, ISSUER), tmp_path)


def test_same_invoice_same_bytes() -> None:
    assert render_invoice_pdf(first_invoice(), ISSUER) == render_invoice_pdf(
        first_invoice(), ISSUER
    )


def test_markup_in_a_name_is_printed_not_interpreted() -> None:
    words = squeeze(render_invoice_pdf(first_invoice(organisation="<b>歯科</b> & Co"), ISSUER))
    assert "<b>歯科</b>&Co御中" in words


@pytest.mark.parametrize("number", ["1234567890123", "T123", "T12345678901234", "t1234567890123"])
def test_a_malformed_registration_number_is_refused(number: str) -> None:
    with pytest.raises(InvalidInput, match="registration number"):
        Issuer(name="x", registration_number=number)
