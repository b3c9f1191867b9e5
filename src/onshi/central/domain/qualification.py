"""Insurance qualifications (資格) and their validity on a confirmation date (資格有効性).

A qualification is valid from ``qualification_date`` through the day before
``disqualification_date``. The rules here decide ``QualificationValidity``; storage finds the
candidates, this module judges them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from onshi.oqs.codes import QualificationValidity


@dataclass(frozen=True, slots=True)
class CardKey:
    """A person's key on the insurance card: 保険者番号 + 記号 + 番号 + 枝番.

    ``insured_branch_number`` is ``None`` when the asker did not give one (older clients).
    """

    insurer_number: str
    insured_card_symbol: str
    insured_identification_number: str
    insured_branch_number: str | None = None


@dataclass(frozen=True, slots=True)
class ElderlyRecipientCertificate:
    """高齢受給者証."""

    certificate_date: dt.date | None
    valid_start_date: dt.date | None
    valid_end_date: dt.date | None
    contribution_ratio: str | None


@dataclass(frozen=True, slots=True)
class Qualification:
    """One qualification of one individual under one insurer, as the insurer reported it."""

    qualification_id: int
    individual_id: int
    key: CardKey
    insurer_name: str
    birthdate: dt.date
    name: str
    name_kana: str
    sex1: str
    qualification_date: dt.date
    disqualification_date: dt.date | None = None
    reason_of_loss: str | None = None
    insured_name: str | None = None
    personal_family_classification: str | None = None
    address: str | None = None
    post_number: str | None = None
    insured_card_classification: str = "01"
    insured_certificate_issuance_date: dt.date | None = None
    insured_card_valid_date: dt.date | None = None
    insured_card_expiration_date: dt.date | None = None
    insured_partial_contribution_ratio: str | None = None
    elderly: ElderlyRecipientCertificate | None = None

    def started_by(self, on: dt.date) -> bool:
        return self.qualification_date <= on

    def is_valid_on(self, on: dt.date) -> bool:
        return self.started_by(on) and (
            self.disqualification_date is None or on < self.disqualification_date
        )


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The answer to one eligibility question.

    ``qualification`` is the one the answer is about (validity 1, 2 or 3); ``candidates`` lists
    every match when the answer is 5 複数該当.
    """

    validity: QualificationValidity
    qualification: Qualification | None = None
    candidates: tuple[Qualification, ...] = ()


NOT_FOUND = Confirmation(QualificationValidity.NOT_FOUND)


def confirm_by_card_number(
    matches: Iterable[Qualification],
    *,
    birthdate: dt.date,
    on: dt.date,
    held_by_same_individuals: Iterable[Qualification] = (),
) -> Confirmation:
    """Judge a check by insurance-card number (被保険者証情報による照会).

    ``matches``: qualifications whose card key matches (every branch when none was given).
    ``held_by_same_individuals``: the other qualifications of those individuals, to tell
    2 無効 from 3 無効（新しい資格あり）.

    A card whose qualification starts after ``on`` did not exist on that date: 4, as for an
    unknown card. A wrong birth date is also 4, so that the answer does not confirm that a
    card number exists to someone who does not know its holder.
    """
    existing = [q for q in matches if q.birthdate == birthdate and q.started_by(on)]
    if not existing:
        return NOT_FOUND
    if len(existing) > 1:
        return Confirmation(QualificationValidity.MULTIPLE, candidates=tuple(existing))
    found = existing[0]
    if found.is_valid_on(on):
        return Confirmation(QualificationValidity.VALID, found)
    newer = [
        q
        for q in held_by_same_individuals
        if q.individual_id == found.individual_id
        and q.qualification_id != found.qualification_id
        and q.is_valid_on(on)
    ]
    if newer:
        return Confirmation(QualificationValidity.INVALID_NEWER_EXISTS, found)
    return Confirmation(QualificationValidity.INVALID, found)


def confirm_by_individual(held: Sequence[Qualification], *, on: dt.date) -> Confirmation:
    """Judge a check by My Number card: every qualification the card holder has ever held.

    One valid qualification: 1. Several at once: 5 with all of them. None valid: the most
    recent one that had started, as 2. Nothing started yet: 4.
    """
    valid = [q for q in held if q.is_valid_on(on)]
    if len(valid) == 1:
        return Confirmation(QualificationValidity.VALID, valid[0])
    if len(valid) > 1:
        return Confirmation(QualificationValidity.MULTIPLE, candidates=tuple(valid))
    started = [q for q in held if q.started_by(on)]
    if not started:
        return NOT_FOUND
    latest = max(started, key=lambda q: (q.qualification_date, q.qualification_id))
    return Confirmation(QualificationValidity.INVALID, latest)
