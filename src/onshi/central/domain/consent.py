"""Consents given at the card reader, and what they unlock (同意).

A consent given by card at a facility unlocks that facility's queries for a window (24 h in the
public sample: …AvailableTime = …ConsTime + 24 h). Drug information reaches 3 years back,
specific health checkups 5 years back and only for medical institutions, not pharmacies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from onshi.central.errors import ConsentRequired, FacilityKindRefused
from onshi.oqs.identifiers import FacilityKind, MedicalInstitutionCode

CONSENT_WINDOW = dt.timedelta(hours=24)


class ConsentKind(StrEnum):
    """What a patient agreed to share at the reader, named as the reader's options."""

    DRUG = "drug"  # 薬剤情報 (PharmacistsInfoConsFlg)
    CHECKUP = "checkup"  # 特定健診情報 (SpecificHealthCheckupsInfoConsFlg)
    LIMIT = "limit"  # 限度額適用認定 (LimitApplicationCertificateRelatedConsFlg)
    DIAGNOSIS = "diagnosis"  # 診療情報 (DiagnosisInfoConsFlg)
    OPERATION = "operation"  # 手術情報 (OperationInfoConsFlg)


LOOKBACK_YEARS = {ConsentKind.DRUG: 3, ConsentKind.CHECKUP: 5}


@dataclass(frozen=True, slots=True)
class Consent:
    individual_id: int
    facility: str
    kind: ConsentKind
    given_at: dt.datetime

    @property
    def available_until(self) -> dt.datetime:
        return self.given_at + CONSENT_WINDOW

    def covers(self, at: dt.datetime) -> bool:
        return self.given_at <= at < self.available_until


def require_consent(
    consents: Iterable[Consent], *, kind: ConsentKind, facility: str, at: dt.datetime
) -> Consent:
    """The newest consent of ``kind`` given at ``facility`` and still open at ``at``; else raise."""
    open_ = [c for c in consents if c.kind == kind and c.facility == facility and c.covers(at)]
    if not open_:
        raise ConsentRequired(
            f"no {kind.value} consent given by My Number card at this facility in the last "
            f"{int(CONSENT_WINDOW.total_seconds() // 3600)} hours; ask the patient to consent at "
            "the card reader"
        )
    return max(open_, key=lambda c: c.given_at)


def require_facility_may_see(kind: ConsentKind, facility: MedicalInstitutionCode) -> None:
    """Specific health checkups are for medical institutions only (医療機関のみ)."""
    if kind is ConsentKind.CHECKUP and facility.kind is FacilityKind.PHARMACY:
        raise FacilityKindRefused(
            "specific health checkup information is available to medical institutions only, "
            "not to pharmacies (point table 4)"
        )


def years_after(on: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (negative: earlier); 29 February becomes 28 February."""
    try:
        return on.replace(year=on.year + years)
    except ValueError:  # 29 February in a common year
        return on.replace(year=on.year + years, day=28)


def years_before(on: dt.date, years: int) -> dt.date:
    return years_after(on, -years)


def lookback_period(
    kind: ConsentKind, *, on: dt.date, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The period actually served: what was asked, clipped to the kind's lookback from ``on``."""
    earliest = years_before(on, LOOKBACK_YEARS[kind])
    first = max(start, earliest) if start else earliest
    last = min(end, on) if end else on
    return first, last
