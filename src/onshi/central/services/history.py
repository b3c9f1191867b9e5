"""Drug information (薬剤情報) and specific health checkups (特定健診情報), behind consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from onshi.central.domain.qualification import Qualification
from onshi.central.storage import tables as t
from onshi.oqs.identifiers import format_oqs_date


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
