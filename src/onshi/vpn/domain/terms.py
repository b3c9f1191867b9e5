"""The contract term (契約期間): when fees start, the minimum term, and when a cancellation ends it.

How the 12 months are counted: monthly fees start on the 1st of the month after the opening
date (or, for a migration from Medical Group Net, on the 1st of the go-live month — see
:func:`billing_start`), and the minimum term (最低契約期間, 12 months) is the first 12 *billed*
months. It therefore ends on the last day of the 12th billed month, which is also never earlier
than 12 months after the opening date. After that the contract renews itself (自動継続) month by
month: there is no second minimum term, and a cancellation ends it at the end of any later month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.errors import CancellationBeforeMinimumTerm, InvalidInput

MINIMUM_TERM_MONTHS = 12


def billing_start(opening_date: dt.date, migration_go_live: YearMonth | None = None) -> dt.date:
    """The day monthly fees start (課金開始日).

    New contract: the 1st of the month after the opening date. Migration from Medical Group Net
    with go-live month n: the 1st of month n — the old service is billed up to the end of month
    n-1 and the new one from month n, so no month is paid twice even when the new service opened
    earlier for verification. If the new service opened only in month n or later (the application
    came too late), the rule for new contracts applies: no one pays for a month they could not use.
    """
    standard = YearMonth.of(opening_date).plus(1).first_day
    if migration_go_live is None:
        return standard
    return max(migration_go_live.first_day, standard)


def minimum_term_end(billing_start_day: dt.date) -> dt.date:
    """The last day of the minimum term: the end of the 12th billed month."""
    first_billed = YearMonth.of(billing_start_day)
    return first_billed.plus(MINIMUM_TERM_MONTHS - 1).last_day


def cancellation_effective_date(
    requested_on: dt.date,
    billing_start_day: dt.date,
    at_end_of: YearMonth | None = None,
) -> dt.date:
    """The day a cancellation (解約) requested on ``requested_on`` takes effect: a month end.

    Without ``at_end_of``: the end of the month of the request, or the end of the minimum term if
    that is later (a request never ends the contract early; it is kept and takes effect then).
    With ``at_end_of`` (the customer names the month): the end of that month; a month that has
    already ended raises :class:`InvalidInput`, one inside the minimum term raises
    :class:`CancellationBeforeMinimumTerm` naming the earliest possible date. No notice period:
    a request up to a month's last day ends the contract that day (as in the seed's migration
    schedule, where a request from the 2nd of month n-1 ends the old service at the end of n-1).
    """
    earliest = max(YearMonth.of(requested_on).last_day, minimum_term_end(billing_start_day))
    if at_end_of is None:
        return earliest
    wanted = at_end_of.last_day
    if wanted < requested_on:
        raise InvalidInput(
            f"a cancellation requested on {requested_on.isoformat()} cannot take effect at the "
            f"end of {at_end_of}, which has already passed"
        )
    if wanted < earliest:
        raise CancellationBeforeMinimumTerm(
            f"the minimum term of {MINIMUM_TERM_MONTHS} months ends on {earliest.isoformat()}; "
            f"the contract cannot end at the end of {at_end_of} (earliest: {earliest.isoformat()})"
        )
    return wanted


@dataclass(frozen=True)
class ContractTerm:
    """The dates of one contract's term, derived from its opening date (and migration)."""

    opening_date: dt.date
    billing_start: dt.date
    minimum_term_end: dt.date

    @property
    def first_billed_month(self) -> YearMonth:
        return YearMonth.of(self.billing_start)

    def in_minimum_term(self, day: dt.date) -> bool:
        return day <= self.minimum_term_end


def contract_term(
    opening_date: dt.date, migration_go_live: YearMonth | None = None
) -> ContractTerm:
    start = billing_start(opening_date, migration_go_live)
    return ContractTerm(
        opening_date=opening_date, billing_start=start, minimum_term_end=minimum_term_end(start)
    )
