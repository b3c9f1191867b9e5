"""Business days (営業日) and calendar months, the units every contract rule counts in.

A business day is a weekday that is neither a national holiday (``jpholiday``, which follows the
Act on National Holidays, substitute holidays included) nor in the year-end break 12/29–1/3.
All dates are ``datetime.date`` in Japan Standard Time; nothing here reads a clock.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

import jpholiday

from onshi.vpn.errors import InvalidInput

JST = dt.timezone(dt.timedelta(hours=9), "JST")

#: 標準納期: the service opens on the 10th business day after the application is submitted.
STANDARD_LEAD_BUSINESS_DAYS = 10

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MONTH = re.compile(r"(\d{4})-(\d{2})")


def parse_date(text: str) -> dt.date:
    """``YYYY-MM-DD`` → date; anything else raises :class:`InvalidInput` naming the text."""
    value = text.strip()
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"{text!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01")


def in_year_end_break(day: dt.date) -> bool:
    """True from 12/29 to 1/3 (年末年始), when no business is done whatever the weekday."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@cache
def national_holidays(year: int) -> frozenset[dt.date]:
    """The national holidays of ``year`` (substitute holidays and 国民の休日 included)."""
    return frozenset(day for day, _name in jpholiday.year_holidays(year))


def is_business_day(day: dt.date) -> bool:
    """True on a weekday that is neither a national holiday nor in the year-end break."""
    return (
        day.weekday() < 5 and not in_year_end_break(day) and day not in national_holidays(day.year)
    )


def add_business_days(day: dt.date, count: int) -> dt.date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts; ``count`` ≥ 1)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    current = day
    remaining = count
    while remaining:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current


def subtract_business_days(day: dt.date, count: int) -> dt.date:
    """The ``count``-th business day before ``day`` (``day`` itself never counts; ``count`` ≥ 1)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    current = day
    remaining = count
    while remaining:
        current -= dt.timedelta(days=1)
        if is_business_day(current):
            remaining -= 1
    return current


def business_days_between(start: dt.date, end: dt.date) -> int:
    """How many business days lie in (start, end]: after ``start``, up to and including ``end``."""
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if is_business_day(current):
            count += 1
    return count


def standard_opening_date(submitted: dt.date) -> dt.date:
    """The standard opening date (開通日): the 10th business day after submission.

    The submission day never counts, whatever day it is: an application handed in on a Saturday
    opens on the same day as one handed in on the Friday before.
    """
    return add_business_days(submitted, STANDARD_LEAD_BUSINESS_DAYS)


def latest_submission_for(opening: dt.date) -> dt.date:
    """The latest business day whose standard opening date is on or before ``opening``.

    :func:`standard_opening_date` never decreases, so this is the 10th business day before the
    last business day on or before ``opening``. (Non-business days right after the returned day
    share its opening date; the rule names a business day because that is when the desk reads it.)
    """
    last = opening
    while not is_business_day(last):
        last -= dt.timedelta(days=1)
    return subtract_business_days(last, STANDARD_LEAD_BUSINESS_DAYS)


@dataclass(frozen=True, order=True)
class YearMonth:
    """A calendar month (``YYYY-MM``): the unit of billing, go-live and cancellation."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not (1 <= self.month <= 12) or not (1 <= self.year <= 9998):
            raise InvalidInput(f"{self.year:04d}-{self.month:02d} is not a month")

    @classmethod
    def parse(cls, text: str) -> YearMonth:
        """``YYYY-MM`` → month; anything else raises :class:`InvalidInput`."""
        match = _ISO_MONTH.fullmatch(text.strip())
        if match is None or not (1 <= int(match.group(2)) <= 12) or int(match.group(1)) < 1:
            raise InvalidInput(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-04")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> YearMonth:
        return cls(day.year, day.month)

    def plus(self, months: int) -> YearMonth:
        index = self.year * 12 + (self.month - 1) + months
        return YearMonth(index // 12, index % 12 + 1)

    def months_since(self, other: YearMonth) -> int:
        """``self - other`` in months (0 for the same month)."""
        return (self.year - other.year) * 12 + (self.month - other.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, _calendar.monthrange(self.year, self.month)[1])

    def day(self, number: int) -> dt.date:
        return dt.date(self.year, self.month, number)

    def first_business_day(self) -> dt.date:
        day = self.first_day
        while not is_business_day(day):
            day += dt.timedelta(days=1)
        return day

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def is_month_end(day: dt.date) -> bool:
    return day == YearMonth.of(day).last_day
