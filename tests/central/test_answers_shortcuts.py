"""The shortcuts answers take are the rules they stand for."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from onshi.central.services import answers

DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))


@given(DATES, DATES)
def test_preschool_on_is_the_rule(birth: dt.date, on: dt.date) -> None:
    assert answers._preschool_on(birth, on) == (on <= answers.preschool_until(birth))


@given(DATES, st.integers(min_value=0, max_value=8))
def test_preschool_near_the_seventh_year(birth: dt.date, years: int) -> None:
    # The days the shortcut's bound is decided on: the years right after the birth year.
    for on in (dt.date(birth.year + years, 3, 31), dt.date(birth.year + years, 4, 1)):
        assert answers._preschool_on(birth, on) == (on <= answers.preschool_until(birth))


EMPTY_OR_NOT = st.one_of(
    st.none(),
    st.just(""),
    st.just([]),
    st.just({}),
    st.just(0),
    st.just(False),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=1), st.integers(), max_size=2),
)


@given(st.dictionaries(st.text(max_size=5), EMPTY_OR_NOT))
def test_compact_leaves_out_none_and_empty_values_only(fields: dict[str, object]) -> None:
    kept = answers._compact(fields)
    assert kept == {k: v for k, v in fields.items() if v not in (None, "", [], {})}
    assert list(kept) == [k for k in fields if k in kept]  # in their order
