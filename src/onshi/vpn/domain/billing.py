"""Monthly invoices (請求書): which months are billed, which lines, tax and totals.

Rules (the seed is silent on all but the prices; ``docs/vpn/contracts.md`` says why):

- A month is billed from the billing start (``terms.billing_start``) up to and including the
  month in which the cancellation takes effect (always a month end), never outside that span.
- The initial fee (NS2E050S, per ID) is billed once, on the first billed month's invoice.
- Every billed month carries the ID fee (NS2E050G) for each ID and, when the application has
  extra certificates, NS2E051G for IDs × extra certificates per ID.
- The number of extra certificates billed for a month is the largest in force on any day of
  that month: an increase is billed from the month it happens in, a decrease from the next.
- Amounts are before tax; the consumption tax (10 %) is computed once per invoice on the
  subtotal and rounded down to the yen (適格請求書: one rounding per invoice and tax rate).
- An invoice covers one calendar month, is issued on the 1st of the next month and is due on
  the last day of that next month. All prices come from the price list in force on the 1st of
  the billed month.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from onshi.vpn.domain.calendar import YearMonth, is_month_end
from onshi.vpn.domain.pricing import PriceList, Product, price_list_on
from onshi.vpn.domain.terms import ContractTerm, contract_term
from onshi.vpn.errors import (
    CancellationBeforeMinimumTerm,
    ExtraCertificatesOutOfRange,
    IdCountOutOfRange,
    InvalidInput,
)

MAX_EXTRA_CERTIFICATES_PER_ID = 3  # 1IDあたり最大3枚まで追加可 (lifecycle checks it on input too)


def _check_extra(per_id: int) -> None:
    if not 0 <= per_id <= MAX_EXTRA_CERTIFICATES_PER_ID:
        raise ExtraCertificatesOutOfRange(
            f"extra certificates per ID must be 0–{MAX_EXTRA_CERTIFICATES_PER_ID}, got {per_id}"
        )


@dataclass(frozen=True)
class ExtraCertificateChange:
    """From ``effective_on`` on, every ID of the application carries ``per_id`` extra certificates."""

    effective_on: dt.date
    per_id: int


@dataclass(frozen=True)
class ContractFacts:
    """What billing needs to know about one opened application (one contract).

    ``extra_certificates_per_id`` is the number from the opening date; later changes go in
    ``extra_certificate_changes``. ``cancellation_effective`` is the last day of the contract
    (a month end, from ``terms.cancellation_effective_date``), or None while it runs.
    """

    application_id: str
    organisation: str
    ids: int
    extra_certificates_per_id: int
    opening_date: dt.date
    migration_go_live: YearMonth | None = None
    cancellation_effective: dt.date | None = None
    extra_certificate_changes: tuple[ExtraCertificateChange, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.ids < 1:
            raise IdCountOutOfRange(f"a contract holds at least 1 ID, not {self.ids}")
        _check_extra(self.extra_certificates_per_id)
        for change in self.extra_certificate_changes:
            _check_extra(change.per_id)
        end = self.cancellation_effective
        if end is not None:
            if not is_month_end(end):
                raise InvalidInput(
                    f"a cancellation takes effect at the end of a month, not on {end.isoformat()}"
                )
            if end < self.term.minimum_term_end:
                raise CancellationBeforeMinimumTerm(
                    f"contract {self.application_id} cannot end on {end.isoformat()}: its "
                    f"minimum term ends on {self.term.minimum_term_end.isoformat()}"
                )

    @property
    def term(self) -> ContractTerm:
        return contract_term(self.opening_date, self.migration_go_live)

    def extra_certificates_on(self, day: dt.date) -> int:
        number = self.extra_certificates_per_id
        for change in sorted(self.extra_certificate_changes, key=lambda c: c.effective_on):
            if change.effective_on <= day:
                number = change.per_id
        return number

    def extra_certificates_billed(self, month: YearMonth) -> int:
        """The largest number in force on any day of ``month``."""
        inside = [
            c.per_id
            for c in self.extra_certificate_changes
            if month.first_day <= c.effective_on <= month.last_day
        ]
        return max([self.extra_certificates_on(month.first_day), *inside])

    def is_billed(self, month: YearMonth) -> bool:
        if month < self.term.first_billed_month:
            return False
        end = self.cancellation_effective
        return end is None or month <= YearMonth.of(end)


@dataclass(frozen=True)
class InvoiceLine:
    code: str  # 型名: NS2E050S, NS2E050G, NS2E051G
    description: str
    quantity: int
    unit: str  # ID, 枚
    unit_yen: int
    amount_yen: int  # before tax


@dataclass(frozen=True)
class Invoice:
    """One month's invoice for one contract; amounts in yen, lines before tax."""

    number: str
    application_id: str
    organisation: str
    month: YearMonth
    issue_date: dt.date
    due_date: dt.date
    lines: tuple[InvoiceLine, ...]
    subtotal_yen: int
    tax_percent: int
    tax_yen: int
    total_yen: int

    @property
    def period_start(self) -> dt.date:
        return self.month.first_day

    @property
    def period_end(self) -> dt.date:
        return self.month.last_day

    def as_dict(self) -> dict[str, object]:
        return {
            "number": self.number,
            "application": self.application_id,
            "organisation": self.organisation,
            "month": str(self.month),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "lines": [
                {
                    "code": line.code,
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "unit_yen": line.unit_yen,
                    "amount_yen": line.amount_yen,
                }
                for line in self.lines
            ],
            "subtotal_yen": self.subtotal_yen,
            "tax_percent": self.tax_percent,
            "tax_yen": self.tax_yen,
            "total_yen": self.total_yen,
        }


def _line(product: Product, quantity: int) -> InvoiceLine:
    return InvoiceLine(
        code=product.code,
        description=product.name,
        quantity=quantity,
        unit=product.unit,
        unit_yen=product.yen,
        amount_yen=product.yen * quantity,
    )


def invoice_number(application_id: str, month: YearMonth) -> str:
    """Stable per contract and month, so issuing twice gives the same number."""
    return f"VPN-{month.year:04d}{month.month:02d}-{application_id}"


def invoice_for(
    facts: ContractFacts, month: YearMonth, prices: PriceList | None = None
) -> Invoice | None:
    """The invoice of ``facts`` for ``month``, or None when that month is not billed."""
    if not facts.is_billed(month):
        return None
    price = prices or price_list_on(month.first_day)
    lines = []
    if month == facts.term.first_billed_month:
        lines.append(_line(price.initial_fee, facts.ids))
    lines.append(_line(price.id_fee, facts.ids))
    extra = facts.extra_certificates_billed(month)
    if extra:
        lines.append(_line(price.extra_certificate, facts.ids * extra))
    subtotal = sum(line.amount_yen for line in lines)
    tax = subtotal * price.consumption_tax_percent // 100  # rounded down, once per invoice
    following = month.plus(1)
    return Invoice(
        number=invoice_number(facts.application_id, month),
        application_id=facts.application_id,
        organisation=facts.organisation,
        month=month,
        issue_date=following.first_day,
        due_date=following.last_day,
        lines=tuple(lines),
        subtotal_yen=subtotal,
        tax_percent=price.consumption_tax_percent,
        tax_yen=tax,
        total_yen=subtotal + tax,
    )


_REGISTRATION_NUMBER = re.compile(r"T\d{13}")


@dataclass(frozen=True)
class Issuer:
    """Who issues the invoices (適格請求書発行事業者): shown on every invoice.

    ``registration_number`` is the qualified-invoice registration number (登録番号, ``T`` and 13
    digits); empty means not configured, and the invoice then says it is not a qualified invoice.
    """

    name: str
    registration_number: str = ""
    address: str = ""
    contact: str = ""
    payment_terms: str = ""  # e.g. the bank account for transfers (お振込先)

    def __post_init__(self) -> None:
        if self.registration_number and not _REGISTRATION_NUMBER.fullmatch(
            self.registration_number
        ):
            raise InvalidInput(
                f"{self.registration_number!r} is not a qualified-invoice registration number "
                "(T followed by 13 digits)"
            )

    @property
    def qualified(self) -> bool:
        return bool(self.name and self.registration_number)
