"""Business days, the standard opening date and the migration plan (seed 1-5)."""

from __future__ import annotations

import datetime as dt

import jpholiday
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.vpn.domain.calendar import (
    YearMonth,
    add_business_days,
    business_days_between,
    is_business_day,
    latest_submission_for,
    parse_date,
    standard_opening_date,
    subtract_business_days,
)
from onshi.vpn.domain.migration import (
    MEDICAL_GROUP_NET_LIMITS,
    MEDICAL_VPN_LIMITS,
    migration_plan,
)
from onshi.vpn.errors import InvalidInput

DATES = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2035, 12, 31))
MONTHS = st.builds(YearMonth, st.integers(2021, 2035), st.integers(1, 12))


def business(day: dt.date) -> bool:
    """The rule written out again, independently of the module under test."""
    year_end = (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)
    return day.weekday() < 5 and not year_end and not jpholiday.is_holiday(day)


def count_business(after: dt.date, up_to: dt.date) -> int:
    days = (up_to - after).days
    return sum(business(after + dt.timedelta(days=n)) for n in range(1, days + 1))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 12, 2), True),  # Wednesday
        (dt.date(2026, 12, 5), False),  # Saturday
        (dt.date(2026, 12, 6), False),  # Sunday
        (dt.date(2026, 11, 23), False),  # 勤労感謝の日, a Monday
        (dt.date(2026, 5, 6), False),  # substitute holiday for 5/3 (Sunday)
        (dt.date(2026, 9, 22), False),  # 国民の休日 between 敬老の日 and 秋分の日
        (dt.date(2026, 12, 28), True),  # last business day of the year
        (dt.date(2026, 12, 29), False),  # year-end break, a Tuesday
        (dt.date(2026, 12, 30), False),
        (dt.date(2026, 12, 31), False),
        (dt.date(2027, 1, 1), False),  # 元日
        (dt.date(2026, 1, 2), False),  # year-end break, a Friday
        (dt.date(2025, 1, 3), False),  # year-end break, a Friday
        (dt.date(2026, 1, 5), True),  # first business day of 2026
    ],
)
def test_business_days(day: dt.date, expected: bool) -> None:
    assert is_business_day(day) is expected


@pytest.mark.parametrize(
    ("submitted", "opening"),
    [
        # Tue; 9/21–23 are 敬老の日, 国民の休日, 秋分の日
        (dt.date(2026, 9, 15), dt.date(2026, 10, 2)),
        # across the year-end break and 成人の日 (2027-01-11)
        (dt.date(2026, 12, 25), dt.date(2027, 1, 15)),
        # a Saturday and a Sunday submission open with the Friday before
        (dt.date(2026, 12, 4), dt.date(2026, 12, 18)),
        (dt.date(2026, 12, 5), dt.date(2026, 12, 18)),
        (dt.date(2026, 12, 6), dt.date(2026, 12, 18)),
        # submitted on a holiday (元日): the day does not count either way
        (dt.date(2027, 1, 1), dt.date(2027, 1, 18)),
        # Golden Week 2026: 4/29, 5/3–5/6
        (dt.date(2026, 4, 24), dt.date(2026, 5, 14)),
    ],
)
def test_standard_opening_date(submitted: dt.date, opening: dt.date) -> None:
    assert standard_opening_date(submitted) == opening


@settings(deadline=None)
@given(DATES)
def test_opening_date_is_the_tenth_business_day_after(submitted: dt.date) -> None:
    opening = standard_opening_date(submitted)
    assert opening > submitted
    assert business(opening)
    assert count_business(submitted, opening) == 10
    assert business_days_between(submitted, opening) == 10


@settings(deadline=None)
@given(DATES, st.integers(1, 40))
def test_add_and_subtract_business_days_are_inverse(day: dt.date, count: int) -> None:
    later = add_business_days(day, count)
    assert count_business(day, later) == count
    back = subtract_business_days(later, count)
    assert business(back)
    assert back <= day
    assert count_business(back, later) == count


def test_counts_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_business_days(dt.date(2026, 1, 5), 0)
    with pytest.raises(ValueError, match="at least 1"):
        subtract_business_days(dt.date(2026, 1, 5), -1)


@settings(deadline=None)
@given(DATES)
def test_latest_submission_is_the_last_day_that_still_opens_in_time(target: dt.date) -> None:
    latest = latest_submission_for(target)
    assert business(latest)
    assert standard_opening_date(latest) <= target
    following = latest + dt.timedelta(days=1)
    while not business(following):
        following += dt.timedelta(days=1)
    assert standard_opening_date(following) > target


def test_migration_plan_for_may_2027() -> None:
    plan = migration_plan(YearMonth(2027, 5))
    assert plan.as_dict() == {
        "opening_target": "2027-04-01",
        # 10 business days back from Thu 4/1; 3/22 is the substitute for 春分の日 (Sun 3/21)
        "apply_by": "2027-03-17",
        "verification_until": "2027-04-30",
        "old_service_end": "2027-04-30",
        "old_cancel_request_from": "2027-04-02",
        "billing_start": "2027-05-01",
    }
    assert standard_opening_date(plan.apply_by) == plan.opening_target


def test_migration_plan_across_the_year_end() -> None:
    # go-live in February: the month before starts with 元日, the break and a weekend
    plan = migration_plan(YearMonth(2027, 2))
    assert plan.opening_target == dt.date(2027, 1, 4)
    assert plan.apply_by == dt.date(2026, 12, 15)  # 12/29–1/3 and the weekends do not count
    assert plan.old_service_end == dt.date(2027, 1, 31)
    assert plan.old_cancel_request_from == dt.date(2027, 1, 2)
    assert plan.billing_start == dt.date(2027, 2, 1)


def test_migration_plan_in_january_looks_back_to_december() -> None:
    plan = migration_plan(YearMonth(2027, 1))
    assert plan.opening_target == dt.date(2026, 12, 1)
    assert plan.verification_until == dt.date(2026, 12, 31)
    assert plan.billing_start == dt.date(2027, 1, 1)


@settings(deadline=None)
@given(MONTHS)
def test_migration_plan_invariants(go_live: YearMonth) -> None:
    plan = migration_plan(go_live)
    before = go_live.plus(-1)
    assert business(plan.opening_target)
    assert YearMonth.of(plan.opening_target) == before
    assert not any(
        business(before.first_day + dt.timedelta(days=n))
        for n in range((plan.opening_target - before.first_day).days)
    )
    assert standard_opening_date(plan.apply_by) <= plan.opening_target
    # the old service ends the day before the new one is billed: no month is paid twice
    assert plan.old_service_end + dt.timedelta(days=1) == plan.billing_start
    assert plan.old_cancel_request_from == before.day(2)
    assert plan.verification_until == plan.old_service_end == before.last_day


def test_session_limits_from_the_comparison_table() -> None:
    assert MEDICAL_GROUP_NET_LIMITS.idle_disconnect == dt.timedelta(minutes=30)
    assert MEDICAL_VPN_LIMITS.idle_disconnect == dt.timedelta(hours=24)
    assert MEDICAL_GROUP_NET_LIMITS.max_connection == MEDICAL_VPN_LIMITS.max_connection
    assert MEDICAL_VPN_LIMITS.max_connection == dt.timedelta(hours=24)


@pytest.mark.parametrize("text", ["2026-02-30", "2026/04/01", "tomorrow", "", "2026-4-1", "１２"])
def test_parse_date_refuses_what_is_not_a_date(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a date"):
        parse_date(text)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "202604", "0000-01", "2026-4", "May"])
def test_parse_month_refuses_what_is_not_a_month(text: str) -> None:
    with pytest.raises(InvalidInput, match="is not a month"):
        YearMonth.parse(text)


def test_year_month_arithmetic() -> None:
    month = YearMonth.parse("2026-12")
    assert month.plus(1) == YearMonth(2027, 1)
    assert month.plus(-12) == YearMonth(2025, 12)
    assert YearMonth(2028, 2).last_day == dt.date(2028, 2, 29)
    assert YearMonth(2027, 3).months_since(YearMonth(2026, 4)) == 11
    assert str(YearMonth(2026, 4)) == "2026-04"
