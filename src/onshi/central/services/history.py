"""Drug information (薬剤情報), 診療情報 and specific health checkups (特定健診情報), behind consent.

診療情報 (FileCategory 3/4) comes with drug information, each line behind its own consent
given at the reader: treatments behind the diagnosis consent (DiagnosisInfoConsFlg), operations
behind the operation consent (OperationInfoConsFlg). Lines without their consent are left out,
and the answer says so in MessageContents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onshi.central.domain import consent as consent_rules
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import Qualification
from onshi.central.errors import CentralError, PersonNotFound, RequestInvalid
from onshi.central.services import answers
from onshi.central.services.clock import naive_jst
from onshi.central.services.questions import HistoryQuestion
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.oqs.codes import SegmentOfResult
from onshi.oqs.identifiers import MedicalInstitutionCode, format_oqs_date

if TYPE_CHECKING:
    from onshi.central.services.context import ServiceContext

Json = dict[str, Any]


def _date(value: dt.date | None) -> str | None:
    return format_oqs_date(value) if value else None


def qualification_info(q: Qualification) -> dict[str, str]:
    return {
        "Name": q.name,
        "KanaName": q.name_kana,
        "Birth": format_oqs_date(q.birthdate),
        "AdmGendCode": q.sex1,
    }


# PrIsOrg (onshi's codes): 1 = the asking facility prescribed or dispensed it, 2 = another one.
OWN_FACILITY, OTHER_FACILITY = "1", "2"
MESSAGE_TREATMENTS_WITHOUT_CONSENT = {
    frozenset({ConsentKind.DIAGNOSIS, ConsentKind.OPERATION}): (
        "診療情報・手術情報の提供に患者の同意がないため、薬剤情報のみを返しています。"
    ),
    frozenset({ConsentKind.DIAGNOSIS}): (
        "診療情報の提供に患者の同意がないため、診療情報（手術以外）は含まれていません。"
    ),
    frozenset({ConsentKind.OPERATION}): (
        "手術情報の提供に患者の同意がないため、手術情報は含まれていません。"
    ),
}


def _compact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _own_or_other(facility: str, *codes: str | None) -> str | None:
    known = [c for c in codes if c]
    if not known:
        return None
    return OWN_FACILITY if facility in known else OTHER_FACILITY


def drug_lines(
    session: Session, individual_id: int, start: dt.date, end: dt.date, *, facility: str = ""
) -> list[dict[str, Any]]:
    """Drug lines with their institutions, ordered by month, institution, then date, so that
    each month's lines of one institution are consecutive (one MeTrMonthInf each)."""
    rows = session.scalars(
        select(t.DrugDispensing)
        .where(
            t.DrugDispensing.individual_id == individual_id,
            t.DrugDispensing.DiDate >= start,
            t.DrugDispensing.DiDate <= end,
        )
        .order_by(t.DrugDispensing.DiDate, t.DrugDispensing.id)
    ).all()
    ordered = sorted(
        rows,
        key=lambda r: (
            (r.DiDate.year, r.DiDate.month),
            r.MeTrDiHCd or "",
            r.PrlsHCd or "",
            r.DiDate,
            r.id,
        ),
    )
    return [
        _compact(
            {
                "DiDate": _date(r.DiDate),
                "PrDate": _date(r.PrDate),
                "DrugC": r.DrugC,
                "DrugN": r.DrugN,
                "IngreN": r.IngreN,
                "Qua1": r.Qua1,
                "Unit": r.Unit,
                "UsageN": r.UsageN,
                "Times": r.Times,
                "DiOrg": r.DiOrg,
                "MeTrDiHCd": r.MeTrDiHCd,
                "PrlsHCd": r.PrlsHCd,
                "MeTrDiHNm": r.MeTrDiHNm,
                "PrlsHNm": r.PrlsHNm,
                "PrIsOrg": _own_or_other(facility, r.PrlsHCd, r.MeTrDiHCd),
                "InOut": r.InOut,
            }
        )
        for r in ordered
    ]


def treatment_lines(
    session: Session,
    individual_id: int,
    start: dt.date,
    end: dt.date,
    categories: Iterable[ConsentKind],
    *,
    facility: str = "",
) -> list[dict[str, Any]]:
    """診療情報 lines of the consented ``categories`` (diagnosis, operation), oldest first."""
    wanted = [c.value for c in categories]
    if not wanted:
        return []
    rows = session.scalars(
        select(t.MedicalTreatment)
        .where(
            t.MedicalTreatment.individual_id == individual_id,
            t.MedicalTreatment.category.in_(wanted),
            t.MedicalTreatment.DiDate >= start,
            t.MedicalTreatment.DiDate <= end,
        )
        .order_by(t.MedicalTreatment.DiDate, t.MedicalTreatment.id)
    ).all()
    return [
        _compact(
            {
                "DiDate": _date(r.DiDate),
                "MeTrDiHCd": r.MeTrDiHCd,
                "MeTrDiHNm": r.MeTrDiHNm,
                "PrIsOrg": _own_or_other(facility, r.MeTrDiHCd),
                "SinInfN": r.SinInfN,
                "SinInfCd": r.SinInfCd,
                "MeTrIdCl": r.MeTrIdCl,
                "Qua1": r.Qua1,
                "Times": r.Times,
                "Unit": r.Unit,
            }
        )
        for r in rows
    ]


def checkup_items(
    session: Session, individual_id: int, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """Checkup results grouped by EffectiveTime, newest first."""
    rows = session.scalars(
        select(t.CheckupResult)
        .where(
            t.CheckupResult.individual_id == individual_id,
            t.CheckupResult.EffectiveTime >= start,
            t.CheckupResult.EffectiveTime <= end,
        )
        .order_by(t.CheckupResult.EffectiveTime.desc(), t.CheckupResult.id)
    ).all()
    grouped: dict[dt.date, list[dict[str, Any]]] = {}
    for r in rows:
        grouped.setdefault(r.EffectiveTime, []).append(
            {
                k: v
                for k, v in {
                    "ItemCode": r.ItemCode,
                    "ItemName": r.ItemName,
                    "DataType": r.DataType,
                    "DataValue": r.DataValue,
                    "Unit": r.Unit,
                    "Oid": r.Oid,
                    "DataValueName": r.DataValueName,
                }.items()
                if v is not None
            }
        )
    return [
        {
            "EffectiveTime": format_oqs_date(day),
            "HealthCheckupResultAndQuestionInfos": {"HealthCheckupResultAndQuestionInfo": items},
        }
        for day, items in grouped.items()
    ]


def _history_holder(
    central: ServiceContext,
    session: Session,
    facility: MedicalInstitutionCode,
    q: HistoryQuestion,
    kind: ConsentKind,
    now: dt.datetime,
) -> Qualification:
    consent_rules.require_facility_may_see(kind, facility)
    matches = repository.find_by_card_key(session, q.key)
    individuals = {m.individual_id for m in matches}
    if not individuals:
        raise PersonNotFound("no insured person has this card key")
    if len(individuals) > 1:
        raise RequestInvalid("the card key matches several persons: give the branch number")
    holder = max(matches, key=lambda m: m.qualification_date)
    consent_rules.require_consent(
        _consents(session, holder.individual_id, facility.value),
        kind=kind,
        facility=facility.value,
        at=naive_jst(now),
    )
    return holder


def _consents(session: Session, individual_id: int, facility: str) -> list[consent_rules.Consent]:
    rows = session.scalars(
        select(t.Consent).where(
            t.Consent.individual_id == individual_id,
            t.Consent.MedicalInstitutionCode == facility,
        )
    ).all()
    return [
        consent_rules.Consent(
            r.individual_id, r.MedicalInstitutionCode, ConsentKind(r.kind), r.given_at
        )
        for r in rows
        if r.kind in ConsentKind.__members__.values()
    ]


def _open_treatment_consents(
    session: Session, individual_id: int, facility: str, now: dt.datetime
) -> set[ConsentKind]:
    at = naive_jst(now)
    return {
        c.kind
        for c in _consents(session, individual_id, facility)
        if c.kind in (ConsentKind.DIAGNOSIS, ConsentKind.OPERATION) and c.covers(at)
    }


def answer_history(
    central: ServiceContext, facility: MedicalInstitutionCode, q: HistoryQuestion, kind: ConsentKind
) -> Json:
    now = central.clock()
    on = now.date()
    try:
        with central.db.sessions() as session:
            holder = _history_holder(central, session, facility, q, kind, now)
            start, end = consent_rules.lookback_period(kind, on=on, start=q.start, end=q.end)
            if kind is ConsentKind.DRUG:
                body: Json = {
                    "DrugInformation": drug_lines(
                        session, holder.individual_id, start, end, facility=facility.value
                    )
                }
                if q.with_treatments:
                    given = _open_treatment_consents(
                        session, holder.individual_id, facility.value, now
                    )
                    body["MedicalTreatmentInformation"] = treatment_lines(
                        session, holder.individual_id, start, end, given, facility=facility.value
                    )
                    missing = frozenset({ConsentKind.DIAGNOSIS, ConsentKind.OPERATION} - given)
                    if missing:
                        body["MessageContents"] = MESSAGE_TREATMENTS_WITHOUT_CONSENT[missing]
            else:
                body = {
                    "SpecificHealthCheckupInfo": checkup_items(
                        session, holder.individual_id, start, end
                    )
                }
    except CentralError as exc:
        central.audit.record(
            facility=facility.value,
            action=f"history.{kind.value}",
            subject=central.card_key_subject(q.key),
            outcome=exc.code,
        )
        raise
    central.audit.record(
        facility=facility.value,
        action=f"history.{kind.value}",
        subject=central.card_key_subject(q.key),
        outcome="provided",
    )
    return {
        "MessageHeader": answers.header(
            facility.value,
            now,
            q.arbitrary_file_identifier,
            SegmentOfResult=SegmentOfResult.COMPLETED.value,
        ),
        "MessageBody": {
            "ResultCode": "1",
            "StartDate": format_oqs_date(start),
            "EndDate": format_oqs_date(end),
            "QualificationsInfo": qualification_info(holder),
            **body,
        },
    }
