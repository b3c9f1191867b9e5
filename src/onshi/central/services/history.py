"""Drug information (薬剤情報) and specific health checkups (特定健診情報), behind consent."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onshi.central.domain import consent as consent_rules
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import Qualification
from onshi.central.errors import CentralError, RequestInvalid
from onshi.central.services import answers
from onshi.central.services.clock import naive_jst
from onshi.central.services.questions import HistoryQuestion
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.oqs.codes import SegmentOfResult
from onshi.oqs.identifiers import MedicalInstitutionCode, format_oqs_date

if TYPE_CHECKING:
    from onshi.central.services.central import Central

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


def drug_lines(
    session: Session, individual_id: int, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(t.DrugDispensing)
        .where(
            t.DrugDispensing.individual_id == individual_id,
            t.DrugDispensing.DiDate >= start,
            t.DrugDispensing.DiDate <= end,
        )
        .order_by(t.DrugDispensing.DiDate, t.DrugDispensing.id)
    ).all()
    return [
        {
            k: v
            for k, v in {
                "DiDate": _date(r.DiDate),
                "PrDate": _date(r.PrDate),
                "DrugC": r.DrugC,
                "DrugN": r.DrugN,
                "IngreN": r.IngreN,
                "Qua1": r.Qua1,
                "Unit": r.Unit,
                "UsageN": r.UsageN,
                "Times": r.Times,
            }.items()
            if v is not None
        }
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
    central: Central,
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
        raise RequestInvalid("no insured person has this card key")
    if len(individuals) > 1:
        raise RequestInvalid("the card key matches several persons: give the branch number")
    holder = max(matches, key=lambda m: m.qualification_date)
    rows = session.scalars(
        select(t.Consent).where(
            t.Consent.individual_id == holder.individual_id,
            t.Consent.MedicalInstitutionCode == facility.value,
            t.Consent.kind == kind.value,
        )
    ).all()
    consent_rules.require_consent(
        (
            consent_rules.Consent(
                r.individual_id, r.MedicalInstitutionCode, ConsentKind(r.kind), r.given_at
            )
            for r in rows
        ),
        kind=kind,
        facility=facility.value,
        at=naive_jst(now),
    )
    return holder


def answer_history(
    central: Central, facility: MedicalInstitutionCode, q: HistoryQuestion, kind: ConsentKind
) -> Json:
    now = central.clock()
    on = now.date()
    try:
        with central.db.sessions() as session:
            holder = _history_holder(central, session, facility, q, kind, now)
            start, end = consent_rules.lookback_period(kind, on=on, start=q.start, end=q.end)
            if kind is ConsentKind.DRUG:
                body: Json = {
                    "DrugInformation": drug_lines(session, holder.individual_id, start, end)
                }
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
