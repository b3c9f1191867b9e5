"""Monthly invoices: billed months, lines, tax, migration without double billing."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.vpn.domain.billing import ContractFacts, ExtraCertificateChange, Invoice, invoice_for
from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.domain.pricing import parse_price_lists, price_list_on
from onshi.vpn.domain.terms import cancellation_effective_date, contract_term
from onshi.vpn.errors import (
    CancellationBeforeMinimumTerm,
    ExtraCertificatesOutOfRange,
    IdCountOutOfRange,
    InvalidInput,
)
from tests.vpn.test_pricing import version


def facts(**changes: object) -> ContractFacts:
    values: dict[str, object] = {
        "application_id": "A0001",
        "organisation": "さくら内科クリニック",
        "ids": 3,
        "extra_certificates_per_id": 1,
        "opening_date": dt.date(2026, 4, 15),
    }
    values.update(changes)
    return ContractFacts(**values)  # type: ignore[arg-type]


def lines(invoice: Invoice | None) -> list[tuple[str, int, int, int]]:
    assert invoice is not None
    return [(x.code, x.quantity, x.unit_yen, x.amount_yen) for x in invoice.lines]


def test_nothing_is_billed_before_the_month_after_opening() -> None:
    contract = facts()
    assert invoice_for(contract, YearMonth(2026, 3)) is None
    assert invoice_for(contract, YearMonth(2026, 4)) is None


def test_the_first_invoice_carries_the_initial_fee_once() -> None:
    contract = facts()
    first = invoice_for(contract, YearMonth(2026, 5))
    assert lines(first) == [
        ("NS2E050S", 3, 5000, 15_000),
        ("NS2E050G", 3, 2500, 7_500),
        ("NS2E051G", 3, 350, 1_050),
    ]
    assert first is not None
    assert (first.subtotal_yen, first.tax_percent, first.tax_yen, first.total_yen) == (
        23_550,
        10,
        2_355,
        25_905,
    )
    assert first.number == "VPN-202605-A0001"
    assert (first.period_start, first.period_end) == (dt.date(2026, 5, 1), dt.date(2026, 5, 31))
    assert (first.issue_date, first.due_date) == (dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    second = invoice_for(contract, YearMonth(2026, 6))
    assert lines(second) == [("NS2E050G", 3, 2500, 7_500), ("NS2E051G", 3, 350, 1_050)]
    assert second is not None
    assert (second.subtotal_yen, second.tax_yen, second.total_yen) == (8_550, 855, 9_405)


def test_no_extra_certificate_line_without_extra_certificates() -> None:
    assert lines(invoice_for(facts(extra_certificates_per_id=0), YearMonth(2026, 7))) == [
        ("NS2E050G", 3, 2500, 7_500)
    ]


def test_a_migration_is_billed_from_go_live_so_no_month_is_paid_twice() -> None:
    # opened early in March for verification; Medical Group Net is billed up to the end of April
    contract = facts(opening_date=dt.date(2027, 3, 10), migration_go_live=YearMonth(2027, 5))
    assert invoice_for(contract, YearMonth(2027, 4)) is None
    may = invoice_for(contract, YearMonth(2027, 5))
    assert lines(may)[0] == ("NS2E050S", 3, 5000, 15_000)
    # a new contract opened on the same day would have paid April
    assert invoice_for(facts(opening_date=dt.date(2027, 3, 10)), YearMonth(2027, 4)) is not None


def test_nothing_is_billed_after_the_cancellation_month() -> None:
    term = contract_term(dt.date(2026, 4, 15))
    end = cancellation_effective_date(dt.date(2026, 12, 1), term.billing_start)
    contract = facts(cancellation_effective=end)
    assert end == dt.date(2027, 4, 30)
    assert invoice_for(contract, YearMonth(2027, 4)) is not None
    assert invoice_for(contract, YearMonth(2027, 5)) is None


def test_extra_certificates_billed_at_the_largest_number_in_the_month() -> None:
    contract = facts(
        extra_certificates_per_id=0,
        extra_certificate_changes=(
            ExtraCertificateChange(dt.date(2026, 7, 15), 2),
            ExtraCertificateChange(dt.date(2026, 9, 10), 1),
        ),
    )
    assert lines(invoice_for(contract, YearMonth(2026, 6))) == [("NS2E050G", 3, 2500, 7_500)]
    # an increase counts from the month it happens in
    assert lines(invoice_for(contract, YearMonth(2026, 7)))[-1] == ("NS2E051G", 6, 350, 2_100)
    assert lines(invoice_for(contract, YearMonth(2026, 8)))[-1] == ("NS2E051G", 6, 350, 2_100)
    # a decrease from the next month
    assert lines(invoice_for(contract, YearMonth(2026, 9)))[-1] == ("NS2E051G", 6, 350, 2_100)
    assert lines(invoice_for(contract, YearMonth(2026, 10)))[-1] == ("NS2E051G", 3, 350, 1_050)
    assert contract.extra_certificates_on(dt.date(2026, 9, 9)) == 2


def test_tax_is_rounded_down_once_per_invoice() -> None:
    (prices,) = parse_price_lists(version(extra=355))
    invoice = invoice_for(facts(ids=1), YearMonth(2026, 6), prices)
    assert invoice is not None
    # 2500 + 355 = 2855; 10 % = 285.5 → 285
    assert (invoice.subtotal_yen, invoice.tax_yen, invoice.total_yen) == (2_855, 285, 3_140)


def test_the_price_list_in_force_on_the_first_of_the_month_applies() -> None:
    versions = parse_price_lists(version() + version("2026-06-02", id_fee=2600))
    june = invoice_for(facts(), YearMonth(2026, 6), price_list_on(dt.date(2026, 6, 1), versions))
    july = invoice_for(facts(), YearMonth(2026, 7), price_list_on(dt.date(2026, 7, 1), versions))
    assert lines(june)[0][2] == 2500
    assert lines(july)[0][2] == 2600


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"ids": 0}, IdCountOutOfRange, "at least 1 ID"),
        ({"extra_certificates_per_id": 4}, ExtraCertificatesOutOfRange, "0–3"),
        (
            {"extra_certificate_changes": (ExtraCertificateChange(dt.date(2026, 8, 1), 4),)},
            ExtraCertificatesOutOfRange,
            "0–3",
        ),
        ({"cancellation_effective": dt.date(2027, 6, 15)}, InvalidInput, "end of a month"),
        (
            {"cancellation_effective": dt.date(2027, 3, 31)},
            CancellationBeforeMinimumTerm,
            "minimum term ends on 2027-04-30",
        ),
    ],
)
def test_inconsistent_facts_are_refused(
    changes: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        facts(**changes)


@settings(deadline=None)
@given(
    opening=st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2032, 12, 31)),
    ids=st.integers(1, 50),
    extra=st.integers(0, 3),
    go_live_offset=st.none() | st.integers(0, 3),
    cancel_after=st.none() | st.integers(0, 30),
)
def test_invoices_over_a_whole_contract(
    opening: dt.date,
    ids: int,
    extra: int,
    go_live_offset: int | None,
    cancel_after: int | None,
) -> None:
    go_live = None if go_live_offset is None else YearMonth.of(opening).plus(go_live_offset)
    term = contract_term(opening, go_live)
    end = None
    if cancel_after is not None:
        requested = YearMonth.of(opening).plus(cancel_after).first_day
        end = cancellation_effective_date(requested, term.billing_start)
    contract = facts(
        ids=ids,
        extra_certificates_per_id=extra,
        opening_date=opening,
        migration_go_live=go_live,
        cancellation_effective=end,
    )
    start = YearMonth.of(opening).plus(-2)
    invoices = [invoice_for(contract, start.plus(n)) for n in range(40)]
    billed = [i for i in invoices if i is not None]
    # nothing before billing start or after the cancellation; the initial fee exactly once
    assert billed
    assert billed[0].month == YearMonth.of(term.billing_start)
    assert billed[0].period_start > opening
    if end is not None:
        assert billed[-1].month <= YearMonth.of(end)
        if YearMonth.of(end) < start.plus(40):
            assert billed[-1].month == YearMonth.of(end)
        assert len(billed) >= 12
    initial = [line for i in billed for line in i.lines if line.code == "NS2E050S"]
    assert [line.quantity for line in initial] == [ids]
    months = [i.month for i in billed]
    assert months == [months[0].plus(n) for n in range(len(months))]
    for invoice in billed:
        assert invoice.subtotal_yen == sum(line.amount_yen for line in invoice.lines)
        assert invoice.total_yen == invoice.subtotal_yen + invoice.subtotal_yen // 10
