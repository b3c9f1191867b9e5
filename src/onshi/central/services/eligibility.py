"""資格確認 judgements every flow shares: a card key's matches judged on a date, shaped as results.

Single questions (:mod:`~onshi.central.services.central`), bulk receptions
(:mod:`~onshi.central.services.bulk`) and history questions use these; they live here, not
on the ``Central`` facade, so those modules need nothing from the facade (no import circle).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import (
    CardKey,
    Confirmation,
    Qualification,
    confirm_by_card_number,
)
from onshi.central.services import answers
from onshi.central.services.questions import CardNumberQuestion
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.repository import Reader
from onshi.oqs.codes import QualificationValidity

Json = dict[str, Any]
Judged = tuple[Confirmation, list[Json]]
HeldConsents = Mapping[int, Mapping[ConsentKind, dt.datetime]]


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
    return _results(reported, on, now, limit_consent, limits, specific, reader_consents)


def _results(
    reported: Iterable[Qualification],
    on: dt.date,
    now: dt.datetime,
    limit_consent: bool,
    limits: Mapping[int, t.LimitApplicationCertificate],
    specific: Mapping[int, list[t.SpecificDiseasesCertificate]],
    reader_consents: Iterable[ConsentKind] | Mapping[ConsentKind, dt.datetime] | None,
) -> list[Json]:
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


Certificates = tuple[
    dict[int, t.LimitApplicationCertificate], dict[int, list[t.SpecificDiseasesCertificate]]
]


def judge_card_numbers(
    source: Reader,
    questions: Sequence[CardNumberQuestion],
    *,
    now: dt.datetime,
    consents: Callable[[set[int]], HeldConsents] | None = None,
) -> list[Judged | Exception]:
    """Many questions by card number judged at once, with one query of each kind for all of
    them: the matches of each card key judged on the question's day — an invalid card looks at
    what else its holder holds (a newer qualification makes it 資格喪失, not 無効) — and shaped
    as results (limit certificates only with that consent).

    Single inquiries arriving together and the records of a bulk chunk are answered by this
    one function; its two halves, :func:`confirm_card_numbers` and :func:`shape_results`, let
    the central service's event loop read in between itself. ``consents`` (flows that report
    them) gives the consents each person answered about gave this facility. A question that
    cannot be judged gets its exception in its place; the others are answered.
    """
    holdings = repository.holdings_of_card_keys(source, card_keys(questions))
    confirmed = confirm_card_numbers(questions, holdings)
    certificates = read_certificates(source, confirmed.certificates_wanted())
    return shape_results(confirmed, now=now, certificates=certificates, consents=consents)


@dataclass(frozen=True)
class Confirmed:
    """Questions confirmed, their results not shaped yet: in order, each question, its
    confirmation (or the exception that stands for it) and the qualifications it reports."""

    questions: Sequence[CardNumberQuestion]
    confirmations: list[Confirmation | Exception]
    reported: list[list[Qualification]]

    def certificates_wanted(self) -> dict[dt.date, set[int]]:
        """The reported qualifications of the questions asked with the limit consent, by day."""
        wanted: dict[dt.date, set[int]] = {}
        for q, rs in zip(self.questions, self.reported, strict=True):
            if q.limit_consent:
                wanted.setdefault(q.on, set()).update(r.qualification_id for r in rs)
        return wanted


def confirm_card_numbers(
    questions: Sequence[CardNumberQuestion], holdings: Sequence[Qualification]
) -> Confirmed:
    """The first half of :func:`judge_card_numbers`, reading nothing: ``holdings`` is what
    :func:`~onshi.central.storage.repository.holdings_of_card_keys` returns for these
    questions' :func:`card_keys`."""
    found, held = _candidates(holdings)
    confirmations: list[Confirmation | Exception] = []
    for q in questions:
        try:
            confirmations.append(
                confirm_by_card_number(_matches(q, found), birthdate=q.birthdate, on=q.on)
            )
        except Exception as exc:  # noqa: BLE001 — this question's answer is its failure
            confirmations.append(exc)
    # 無効 so far becomes 無効（新しい資格あり） when the holder holds a newer one.
    for i, (q, c) in enumerate(zip(questions, confirmations, strict=True)):
        if (
            isinstance(c, Confirmation)
            and c.validity is QualificationValidity.INVALID
            and c.qualification
            and c.qualification.individual_id in held
        ):
            try:
                confirmations[i] = confirm_by_card_number(
                    _matches(q, found),
                    birthdate=q.birthdate,
                    on=q.on,
                    held_by_same_individuals=held[c.qualification.individual_id],
                )
            except Exception as exc:  # noqa: BLE001 — this question's answer is its failure
                confirmations[i] = exc
    reported = [answers.reported(c) if isinstance(c, Confirmation) else [] for c in confirmations]
    return Confirmed(questions, confirmations, reported)


def read_certificates(
    source: Reader, wanted: Mapping[dt.date, set[int]]
) -> dict[dt.date, Certificates]:
    """The certificates :meth:`Confirmed.certificates_wanted` names, in force on each day."""
    return {on: repository.certificates_on(source, ids, on) for on, ids in wanted.items()}


def shape_results(
    confirmed: Confirmed,
    *,
    now: dt.datetime,
    certificates: Mapping[dt.date, Certificates],
    consents: Callable[[set[int]], HeldConsents] | None = None,
) -> list[Judged | Exception]:
    """The second half of :func:`judge_card_numbers`: results shaped with the certificates read
    for :meth:`Confirmed.certificates_wanted`."""
    # Only the one person answered about has consents to report (nobody, or several candidates:
    # none); certificates only for those asked with the limit consent, in force on their day.
    alone = [{r.individual_id for r in rs} for rs in confirmed.reported]
    held_consents = consents({i for one in alone if len(one) == 1 for i in one}) if consents else {}
    judged: list[Judged | Exception] = []
    for q, c, rs, one in zip(
        confirmed.questions, confirmed.confirmations, confirmed.reported, alone, strict=True
    ):
        if isinstance(c, Exception):
            judged.append(c)
            continue
        limits, specific = certificates.get(q.on, ({}, {})) if q.limit_consent else ({}, {})
        reader_consents = None
        if consents is not None:
            reader_consents = held_consents.get(next(iter(one)), {}) if len(one) == 1 else {}
        try:
            results = _results(rs, q.on, now, q.limit_consent, limits, specific, reader_consents)
        except Exception as exc:  # noqa: BLE001 — this question's answer is its failure
            judged.append(exc)
            continue
        judged.append((c, results))
    return judged


_Found = dict[tuple[str, str, str], list[Qualification]]
_Held = dict[int, list[Qualification]]


def card_keys(questions: Sequence[CardNumberQuestion]) -> set[tuple[str, str, str, str | None]]:
    """The card keys asked about (the branch None where none was given)."""
    return {
        (
            q.key.insurer_number,
            q.key.insured_card_symbol,
            q.key.insured_identification_number,
            q.key.insured_branch_number,
        )
        for q in questions
    }


def _candidates(holdings: Sequence[Qualification]) -> tuple[_Found, _Held]:
    """Every qualification any question may match, by card key, and everything their holders
    hold, by individual."""
    found: _Found = {}
    held: _Held = {}
    for row in holdings:
        found.setdefault(_card(row.key), []).append(row)
        held.setdefault(row.individual_id, []).append(row)
    return found, held


def _card(key: CardKey) -> tuple[str, str, str]:
    return key.insurer_number, key.insured_card_symbol, key.insured_identification_number


def _matches(q: CardNumberQuestion, found: _Found) -> list[Qualification]:
    branch = q.key.insured_branch_number
    return [
        m
        for m in found.get(_card(q.key), [])
        if branch is None or m.key.insured_branch_number == branch
    ]
