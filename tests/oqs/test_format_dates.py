"""format_oqs_date / format_oqs_time: the text strftime gave, and four-digit years always."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from onshi.oqs.identifiers import format_oqs_date, format_oqs_time, oqs_date

JST = dt.timezone(dt.timedelta(hours=9))


@given(st.dates(min_value=dt.date(1000, 1, 1)))
def test_date_as_strftime_gave(value: dt.date) -> None:
    assert format_oqs_date(value) == value.strftime("%Y%m%d")


@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), timezones=st.sampled_from([None, JST])))
def test_time_as_strftime_gave(value: dt.datetime) -> None:
    # Microseconds and the time zone are left out, as %Y%m%d%H%M%S left them out.
    assert format_oqs_time(value) == value.strftime("%Y%m%d%H%M%S")


@given(st.dates())
def test_date_is_eight_digits_and_reads_back(value: dt.date) -> None:
    text = format_oqs_date(value)
    assert len(text) == 8 and text.isdigit()
    assert oqs_date(text) == value


@given(st.datetimes())
def test_time_is_fourteen_digits(value: dt.datetime) -> None:
    text = format_oqs_time(value)
    assert len(text) == 14 and text.isdigit()
    assert text[:8] == format_oqs_date(value)
    assert text[8:] == f"{value.hour:02d}{value.minute:02d}{value.second:02d}"


def test_years_before_1000_have_four_digits() -> None:
    assert format_oqs_date(dt.date(5, 1, 2)) == "00050102"
    assert format_oqs_date(dt.date(987, 12, 31)) == "09871231"
    assert format_oqs_time(dt.datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=JST)) == "00050102030405"


def test_a_datetime_as_a_date_gives_its_day() -> None:
    assert format_oqs_date(dt.datetime(2024, 5, 6, 23, 59, 59)) == "20240506"
