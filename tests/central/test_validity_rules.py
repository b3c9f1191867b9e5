"""The validity rules (資格有効性) as properties over arbitrary qualification histories."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from onshi.central.domain.qualification import (
    CardKey,
    Qualification,
    confirm_by_card_number,
    confirm_by_individual,
)
from onshi.oqs.codes import QualificationValidity as V

KEY = CardKey("06139999", "1", "2", "00")
BIRTH = dt.date(1990, 1, 1)
days = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 12, 31))


def make(
    qid: int, start: dt.date, end: dt.date | None, *, individual: int = 1, birth: dt.date = BIRTH
) -> Qualification:
    return Qualification(
        qualification_id=qid,
        individual_id=individual,
        key=KEY,
        insurer_name="x",
        birthdate=birth,
        name="n",
        name_kana="k",
        sex1="1",
        qualification_date=start,
        disqualification_date=end,
        reason_of_loss="99" if end else None,
    )


@st.composite
def periods(draw: st.DrawFn) -> tuple[dt.date, dt.date | None]:
    start = draw(days)
    end = draw(st.none() | days.filter(lambda d: d > start))
    return start, end


@given(periods(), days)
def test_valid_exactly_from_start_through_day_before_loss(
    period: tuple[dt.date, dt.date | None], on: dt.date
) -> None:
    start, end = period
    answer = confirm_by_card_number([make(1, start, end)], birthdate=BIRTH, on=on)
    if on < start:
        assert answer.validity is V.NOT_FOUND
    elif end is None or on < end:
        assert answer.validity is V.VALID
    else:
        assert answer.validity is V.INVALID
        assert answer.qualification is not None and answer.qualification.reason_of_loss == "99"


@given(periods(), days, days)
def test_wrong_birthdate_is_never_found(
    period: tuple[dt.date, dt.date | None], on: dt.date, birth: dt.date
) -> None:
    start, end = period
    answer = confirm_by_card_number([make(1, start, end, birth=birth)], birthdate=BIRTH, on=on)
    if birth != BIRTH:
        assert answer.validity is V.NOT_FOUND


@given(periods(), periods(), days)
def test_lost_with_a_newer_valid_qualification_is_3(
    old: tuple[dt.date, dt.date | None], new: tuple[dt.date, dt.date | None], on: dt.date
) -> None:
    lost = make(1, *old)
    newer = make(2, *new)
    answer = confirm_by_card_number(
        [lost], birthdate=BIRTH, on=on, held_by_same_individuals=[lost, newer]
    )
    if lost.started_by(on) and not lost.is_valid_on(on):
        expected = V.INVALID_NEWER_EXISTS if newer.is_valid_on(on) else V.INVALID
        assert answer.validity is expected
    # A newer qualification of somebody else never turns 2 into 3.
    stranger = make(3, *new, individual=2)
    other = confirm_by_card_number(
        [lost], birthdate=BIRTH, on=on, held_by_same_individuals=[stranger]
    )
    assert other.validity is not V.INVALID_NEWER_EXISTS


@given(st.lists(periods(), min_size=2, max_size=4), days)
def test_twins_without_branch_are_multiple(
    ps: list[tuple[dt.date, dt.date | None]], on: dt.date
) -> None:
    quals = [make(i, s, e, individual=i) for i, (s, e) in enumerate(ps)]
    answer = confirm_by_card_number(quals, birthdate=BIRTH, on=on)
    started = [q for q in quals if q.started_by(on)]
    if len(started) > 1:
        assert answer.validity is V.MULTIPLE
        assert set(answer.candidates) == set(started)


@given(st.lists(periods(), min_size=0, max_size=4), days)
def test_card_holder_answer_follows_valid_count(
    ps: list[tuple[dt.date, dt.date | None]], on: dt.date
) -> None:
    quals = [make(i, s, e) for i, (s, e) in enumerate(ps)]
    answer = confirm_by_individual(quals, on=on)
    valid = [q for q in quals if q.is_valid_on(on)]
    if len(valid) == 1:
        assert answer.validity is V.VALID and answer.qualification == valid[0]
    elif len(valid) > 1:
        assert answer.validity is V.MULTIPLE
    elif any(q.started_by(on) for q in quals):
        assert answer.validity is V.INVALID
    else:
        assert answer.validity is V.NOT_FOUND


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2090, 12, 31)))
def test_preschool_ends_on_the_first_31_march_after_turning_six(birth: dt.date) -> None:
    from onshi.central.services.answers import preschool_until

    end = preschool_until(birth)
    assert (end.month, end.day) == (3, 31)
    # Six years minus a day after birth, one has turned six; the school year starts 1 April.
    assert 6 <= (end.year - birth.year) <= 7
    born_early = (birth.month, birth.day) <= (4, 1)
    assert end.year == birth.year + (6 if born_early else 7)
