"""The contract term: billing start, the 12-month minimum, cancellation at a month end."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.vpn.domain.calendar import YearMonth, is_month_end
from onshi.vpn.domain.support import is_support_open, support_hours
from onshi.vpn.domain.terms import (
    billing_start,
    cancellation_effective_date,
    contract_term,
    minimum_term_end,
)
from onshi.vpn.errors import CancellationBeforeMinimumTerm, InvalidInput

DATES = st.dates(min_value=dt.date(2022, 1, 1), max_value=dt.date(2035, 12, 31))
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize(
    ("opening", "start", "minimum_end"),
    [
        (dt.date(2026, 4, 15), dt.date(2026, 5, 1), dt.date(2027, 4, 30)),
        # opened on the 1st: that month is still free, 12 billed months follow
        (dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2027, 4, 30)),
        (dt.date(2026, 4, 30), dt.date(2026, 5, 1), dt.date(2027, 4, 30)),
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1), dt.date(2027, 12, 31)),
        (dt.date(2027, 1, 29), dt.date(2027, 2, 1), dt.date(2028, 1, 31)),
        # February in a leap year
        (dt.date(2027, 2, 10), dt.date(2027, 3, 1), dt.date(2028, 2, 29)),
    ],
)
def test_billing_start_and_minimum_term(
    opening: dt.date, start: dt.date, minimum_end: dt.date
) -> None:
    assert billing_start(opening) == start
    assert minimum_term_end(start) == minimum_end
    term = contract_term(opening)
    assert (term.billing_start, term.minimum_term_end) == (start, minimum_end)
    assert term.in_minimum_term(minimum_end)
    assert not term.in_minimum_term(minimum_end + dt.timedelta(days=1))


def test_a_migrating_contract_is_billed_from_go_live_not_from_the_month_after_opening() -> None:
    may = YearMonth(2027, 5)
    # opened on schedule (first business day of April): same month either way
    assert billing_start(dt.date(2027, 4, 1), may) == dt.date(2027, 5, 1)
    # opened early for a longer verification: a new contract would pay April, a migration not
    assert billing_start(dt.date(2027, 3, 10)) == dt.date(2027, 4, 1)
    assert billing_start(dt.date(2027, 3, 10), may) == dt.date(2027, 5, 1)
    # opened late, in the go-live month itself: not billed for a month it could not fully use
    assert billing_start(dt.date(2027, 5, 12), may) == dt.date(2027, 6, 1)
    # the minimum term counts 12 billed months from go-live
    assert contract_term(dt.date(2027, 3, 10), may).minimum_term_end == dt.date(2028, 4, 30)


@pytest.mark.parametrize(
    ("requested", "effective"),
    [
        (dt.date(2026, 6, 10), dt.date(2027, 4, 30)),  # inside the minimum term: kept until its end
        (dt.date(2027, 4, 1), dt.date(2027, 4, 30)),
        (dt.date(2027, 4, 30), dt.date(2027, 4, 30)),  # the last day of the term itself
        (dt.date(2027, 5, 1), dt.date(2027, 5, 31)),  # renewed month by month afterwards
        (dt.date(2029, 2, 28), dt.date(2029, 2, 28)),
    ],
)
def test_cancellation_takes_effect_at_a_month_end(requested: dt.date, effective: dt.date) -> None:
    assert cancellation_effective_date(requested, dt.date(2026, 5, 1)) == effective


def test_cancellation_at_a_named_month() -> None:
    start = dt.date(2026, 5, 1)
    assert cancellation_effective_date(dt.date(2027, 5, 1), start, YearMonth(2027, 8)) == dt.date(
        2027, 8, 31
    )
    assert cancellation_effective_date(dt.date(2026, 9, 1), start, YearMonth(2027, 4)) == dt.date(
        2027, 4, 30
    )
    with pytest.raises(CancellationBeforeMinimumTerm, match="earliest: 2027-04-30") as info:
        cancellation_effective_date(dt.date(2026, 9, 1), start, YearMonth(2027, 3))
    assert info.value.code == "VPN_CANCELLATION_BEFORE_MINIMUM_TERM"
    with pytest.raises(InvalidInput, match="already passed"):
        cancellation_effective_date(dt.date(2028, 9, 1), start, YearMonth(2028, 8))


@settings(deadline=None)
@given(DATES, DATES, st.none() | st.integers(0, 3))
def test_cancellation_is_a_month_end_never_inside_the_minimum_term(
    opening: dt.date, requested: dt.date, go_live_offset: int | None
) -> None:
    go_live = None if go_live_offset is None else YearMonth.of(opening).plus(go_live_offset)
    term = contract_term(opening, go_live)
    effective = cancellation_effective_date(requested, term.billing_start)
    assert is_month_end(effective)
    assert effective >= term.minimum_term_end
    assert effective >= requested
    # 12 billed months at least, and never less than 12 months after opening
    first = YearMonth.of(term.billing_start)
    assert YearMonth.of(effective).months_since(first) + 1 >= 12
    assert YearMonth.of(term.minimum_term_end).months_since(first) + 1 == 12
    # it ends on the last day of a month at least 12 months after the opening month
    assert YearMonth.of(term.minimum_term_end) >= YearMonth.of(opening).plus(12)
    if requested > term.minimum_term_end:
        assert effective == YearMonth.of(requested).last_day  # no notice period


@settings(deadline=None)
@given(DATES)
def test_billing_starts_on_the_first_of_the_month_after_opening(opening: dt.date) -> None:
    start = billing_start(opening)
    assert start.day == 1
    assert start > opening
    assert YearMonth.of(start) == YearMonth.of(opening).plus(1)


# -- the support desk (seed 1-6) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (dt.datetime(2026, 12, 2, 8, 59), False),
        (dt.datetime(2026, 12, 2, 9, 0), True),
        (dt.datetime(2026, 12, 2, 20, 59), True),
        (dt.datetime(2026, 12, 2, 21, 0), False),
        (dt.datetime(2026, 12, 10, 21, 0), True),  # the 10th: until midnight
        (dt.datetime(2026, 12, 10, 23, 59), True),
        (dt.datetime(2026, 12, 11, 0, 0), False),
        (dt.datetime(2026, 12, 10, 8, 59), False),
        (dt.datetime(2026, 12, 6, 10, 0), True),  # a Sunday
        (dt.datetime(2026, 11, 23, 10, 0), True),  # a national holiday
        (dt.datetime(2026, 12, 31, 20, 0), True),  # year-end: no break for the desk
        (dt.datetime(2027, 1, 1, 9, 0), True),
        (dt.datetime(2027, 1, 10, 23, 30), True),  # the 10th on a Sunday
    ],
)
def test_support_desk_hours(at: dt.datetime, is_open: bool) -> None:
    assert is_support_open(at) is is_open
    assert is_support_open(at.replace(tzinfo=JST)) is is_open


def test_support_desk_reads_other_time_zones_in_jst() -> None:
    # 14:30 UTC on the 10th is 23:30 JST: open; on the 11th it is 23:30 JST too: closed
    assert is_support_open(dt.datetime(2026, 12, 10, 14, 30, tzinfo=dt.UTC))
    assert not is_support_open(dt.datetime(2026, 12, 11, 14, 30, tzinfo=dt.UTC))
    opens, closes = support_hours(dt.date(2026, 12, 10))
    assert closes - opens == dt.timedelta(hours=15)
