"""An invoice (請求書) as an A4 Japanese PDF, laid out as a qualified invoice (適格請求書).

It shows what the qualified-invoice rules ask for: the issuer's name and registration number
(登録番号), the recipient, the period of the service, each item with quantity, unit price and
amount before tax, the total per tax rate with the rate, and the consumption tax computed once
for the invoice — plus the invoice number, issue date and payment due date. Layout, font and
page frame come from :mod:`onshi.reports.document`, the PDF layer every onshi report shares.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Table, TableStyle

from onshi.reports.document import (
    CONTENT_WIDTH,
    GRID,
    JST,
    SHADE,
    Page,
    Styles,
    render,
    spacer,
    styles,
    table,
    text,
)
from onshi.vpn.domain.billing import Invoice, Issuer

SERVICE_NAME = "メディカルVPN接続サービス デバイス証明書タイプ"


def _date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _yen(amount: int) -> str:
    return f"{amount:,}"


def _heading_block(invoice: Invoice, issuer: Issuer, st: Styles) -> Table:
    """Recipient on the left; number, dates and issuer on the right."""
    left: list[Flowable] = [
        text(f"{invoice.organisation} 御中", st.name),
        spacer(2),
        text(f"ご契約（申請書）番号: {invoice.application_id}", st.body),
        text(f"サービス: {SERVICE_NAME}", st.body),
    ]
    right: list[Flowable] = [
        text(f"請求書番号: {invoice.number}", st.body),
        text(f"発行日: {_date(invoice.issue_date)}", st.body),
        spacer(2),
        text(issuer.name or "発行者未設定", st.name),
    ]
    if issuer.address:
        right.append(text(issuer.address, st.body))
    if issuer.contact:
        right.append(text(issuer.contact, st.body))
    right.append(text(f"登録番号: {issuer.registration_number or '未設定'}", st.body))
    block = Table([[left, right]], colWidths=[CONTENT_WIDTH * 0.55, CONTENT_WIDTH * 0.45])
    block.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return block


def _amount_due(invoice: Invoice, st: Styles) -> Table:
    rows = [
        ["ご請求金額（税込）", f"¥{_yen(invoice.total_yen)}"],
        ["お支払期限", _date(invoice.due_date)],
        ["ご利用期間", f"{_date(invoice.period_start)} ～ {_date(invoice.period_end)}"],
    ]
    box = Table(rows, colWidths=[40 * mm, 70 * mm])
    box.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), st.font, 10, 14),
                ("FONT", (1, 0), (1, 0), st.font, 14, 18),
                ("GRID", (0, 0), (-1, -1), 0.5, GRID),
                ("BACKGROUND", (0, 0), (0, -1), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ]
        )
    )
    box.hAlign = "LEFT"
    return box


def _lines(invoice: Invoice, st: Styles) -> Table:
    widths = [22 * mm, CONTENT_WIDTH - 22 * mm - 18 * mm - 12 * mm - 22 * mm - 26 * mm]
    widths += [18 * mm, 12 * mm, 22 * mm, 26 * mm]
    rows = [
        [
            line.code,
            # the service's name heads the invoice; the lines name the item within it
            line.description.removeprefix(SERVICE_NAME).strip() or line.description,
            _yen(line.quantity),
            line.unit,
            _yen(line.unit_yen),
            _yen(line.amount_yen),
        ]
        for line in invoice.lines
    ]
    return table(
        ["型名", "品名", "数量", "単位", "単価（円・税抜）", "金額（円・税抜）"],
        rows,
        widths,
        st,
        right=(2, 4, 5),
    )


def _totals(invoice: Invoice, st: Styles) -> Table:
    rate = invoice.tax_percent
    rows = [
        ["小計（税抜）", _yen(invoice.subtotal_yen)],
        [f"{rate}%対象（税抜）", _yen(invoice.subtotal_yen)],
        [f"消費税（{rate}%）", _yen(invoice.tax_yen)],
        ["合計（税込）", _yen(invoice.total_yen)],
    ]
    box = Table(rows, colWidths=[40 * mm, 30 * mm])
    box.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), st.font, 9, 12),
                ("FONT", (0, -1), (-1, -1), st.font, 10, 13),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (0, -1), SHADE),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
            ]
        )
    )
    box.hAlign = "RIGHT"
    return box


def _notes(invoice: Invoice, issuer: Issuer, st: Styles) -> list[Flowable]:
    notes = [
        "単価・金額は税抜です。消費税は本請求書の税率ごとの合計額に対して一度だけ計算し、"
        "1円未満を切り捨てています。",
        "月額費用は課金開始月から毎月、初期費は初回のご請求時に一度だけご請求します。",
    ]
    if issuer.payment_terms:
        notes.append(f"お支払方法: {issuer.payment_terms}")
    if not issuer.qualified:
        notes.append(
            "発行者の氏名または登録番号が設定されていないため、この請求書は適格請求書ではありません。"
        )
    return [text(f"※ {note}", st.note) for note in notes]


def render_invoice_pdf(
    invoice: Invoice, issuer: Issuer | None = None, *, font_path: Path | None = None
) -> bytes:
    """The invoice as a PDF (A4, Japanese font embedded as a subset, same input → same bytes)."""
    who = issuer or Issuer(name="")
    st = styles(font_path)
    page = Page(
        title=f"請求書 {invoice.number}",
        issued_at=dt.datetime.combine(invoice.issue_date, dt.time(0, 0), tzinfo=JST),
        subject=f"{SERVICE_NAME} {invoice.month} ご利用分",
    )
    story: list[Flowable] = [
        text("請求書", st.title),
        _heading_block(invoice, who, st),
        spacer(5),
        text("下記のとおりご請求申し上げます。", st.body),
        spacer(2),
        _amount_due(invoice, st),
        spacer(5),
        _lines(invoice, st),
        spacer(3),
        _totals(invoice, st),
        spacer(6),
        *_notes(invoice, who, st),
    ]
    return render(page, story, font_path=font_path)
