"""資格確認 judgements every flow shares: a card key's matches judged on a date, shaped as results.

Single questions (:mod:`~onshi.central.services.central`), bulk receptions
(:mod:`~onshi.central.services.bulk`) and history questions use these; they live here, not
on the ``Central`` facade, so those modules need nothing from the facade (no import circle).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import (
    Confirmation,
    Qualification,
    confirm_by_card_number,
)
from onshi.central.services import answers
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.repository import Reader
from onshi.oqs.codes import QualificationValidity

Json = dict[str, Any]


def judge_matches(
    source: Reader, matches: list[Qualification], birthdate: dt.date, on: dt.date
) -> Confirmation:
    """The validity of a card key's matches on ``on``; an invalid one looks at what else the
    same person holds (a newer qualification makes the old card 資格喪失, not 無効)."""
    confirmation = confirm_by_card_number(matches, birthdate=birthdate, on=on)
    if confirmation.validity is QualificationValidity.INVALID and confirmation.qualification:
        held = repository.held_by(source, [confirmation.qualification.individual_id])
        confirmation = confirm_by_card_number(
            matches, birthdate=birthdate, on=on, held_by_same_individuals=held
        )
    return confirmation


def results_for(
    source: Reader,
    confirmation: Confirmation,
    *,
    on: dt.date,
    now: dt.datetime,
    limit_consent: bool,
    reader_consents: Iterable[ConsentKind] | Mapping[ConsentKind, dt.datetime] | None = None,
) -> list[Json]:
    """ResultOfQualificationConfirmation entries; limit certificates only with that consent."""
    reported = answers.reported(confirmation)
    limits: dict[int, t.LimitApplicationCertificate] = {}
    specific: dict[int, list[t.SpecificDiseasesCertificate]] = {}
    if limit_consent:
        limits, specific = repository.certificates_on(
            source, (q.qualification_id for q in reported), on
        )
    return [
        answers.qualification_result(
            q,
            on=on,
            answered_at=now,
            limit_consent=limit_consent,
            limit=limits.get(q.qualification_id),
            specific_diseases=specific.get(q.qualification_id, ()),
            reader_consents=reader_consents,
        )
        for q in reported
    ]
