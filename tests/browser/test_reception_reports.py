"""The reception screen's PDF links in headless Chromium, against the real stack."""

from __future__ import annotations

import io
import json

import pytest
from playwright.sync_api import Page, expect

from onshi.central.intake.records_store import import_linked
from onshi.reader import VirtualCard
from onshi.terminal.reception import ReceptionServer
from tests.reports.pdftext import flat
from tests.stack import CentralStack

pytestmark = pytest.mark.browser

TARO = {
    "InsurerNumber": "06139999",
    "InsuredCardSymbol": "12-34",
    "InsuredIdentificationNumber": "4260",
    "InsuredBranchNumber": "00",
}
DRUG = {
    "DiDate": "20261105",
    "DrugC": "2171022F1093",
    "DrugN": "アムロジピン錠5mg「サワイ」",
    "IngreN": "アムロジピンベシル酸塩",
    "Qua1": "1",
    "Unit": "錠",
    "UsageN": "1日1回朝食後",
    "Times": "28",
}


def test_a_confirmed_patient_gets_a_drug_pdf_link_that_downloads(
    page: Page,
    screen: ReceptionServer,
    stack: CentralStack,
    linked_card: VirtualCard,
) -> None:
    line = json.dumps({**TARO, **DRUG}, ensure_ascii=False) + "\n"
    import_linked(stack.central.db, "drug", io.BytesIO(line.encode("utf-8")))
    page.goto(f"{screen.url}/")
    page.get_by_label("目視確認（職員）").check()
    page.locator("#card-form input[name=consent][value=drug]").check()
    page.locator("#card-submit").click()
    result = page.locator("#card-result")
    expect(result).to_contain_text("有効")
    link = result.locator("a.report-link[data-kind=drug]")
    expect(link).to_have_text("薬剤情報（PDF）")
    expect(result.locator("a.report-link[data-kind=checkup]")).to_have_count(0)  # no consent
    # the live list shows the same link
    expect(page.locator("#events li[data-kind=reports] a.report-link")).to_have_text(
        "薬剤情報（PDF）"
    )

    href = link.get_attribute("href")
    assert href is not None and href.startswith("/reports/") and href.endswith("/drug.pdf")
    # The link opens a new tab (target=_blank) on the PDF, which staff print from there.
    with (
        page.context.expect_event("response", predicate=lambda r: r.url.endswith(href)) as answered,
        page.expect_popup() as opened,
    ):
        link.click()
    response = answered.value
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert opened.value.url.endswith(href)
    # Chromium shows it in its PDF viewer (the response body is the viewer's page): fetch the
    # bytes again in the same browser context, as "save" would.
    saved = page.request.get(f"{screen.url}{href}")
    assert saved.headers["content-type"] == "application/pdf"
    pdf = saved.body()
    assert pdf.startswith(b"%PDF")
    words = flat(pdf)
    assert "診療太郎" in words and "アムロジピン錠5mg「サワイ」" in words
