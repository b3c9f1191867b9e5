"""Answers shaped like the central service's drug and checkup answers, for report tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

PATIENT = {
    "Name": "山田 太郎",
    "KanaName": "ヤマダ タロウ",
    "Birth": "19600101",
    "AdmGendCode": "1",
}
PHARMACY = {
    "DiOrg": "3",
    "MeTrDiHCd": "1341234567",
    "MeTrDiHNm": "さくら薬局 本町店",
    "PrlsHCd": "1311234567",
    "PrlsHNm": "山田内科クリニック",
    "PrIsOrg": "2",
    "InOut": "2",
}
HOSPITAL = {
    "MeTrDiHCd": "1319876543",
    "MeTrDiHNm": "中央総合病院",
    "PrlsHCd": "1319876543",
    "PrlsHNm": "中央総合病院",
    "PrIsOrg": "1",
    "InOut": "1",
}
AMLODIPINE = {
    "DrugC": "2171022F1093",
    "DrugN": "アムロジピン錠5mg「サワイ」",
    "IngreN": "アムロジピンベシル酸塩",
    "Qua1": "1",
    "Unit": "錠",
    "UsageN": "1日1回朝食後",
    "Times": "28",
}
LOXOPROFEN = {
    "DrugC": "2649843S2024",
    "DrugN": "ロキソプロフェンNaテープ100mg「ユートク」",
    "IngreN": "ロキソプロフェンナトリウム水和物",
    "Qua1": "14",
    "Unit": "枚",
    "UsageN": "1日1回貼付",
    "Times": "1",
}


def drug_answer(lines: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20261202100000",
            "MedicalInstitutionCode": "1311111111",
            "SegmentOfResult": "1",
        },
        "MessageBody": {
            "ResultCode": "1",
            "StartDate": "20231201",
            "EndDate": "20261202",
            "QualificationsInfo": PATIENT,
            "DrugInformation": lines,
            **body,
        },
    }


def three_years(per_month: int = 2) -> list[dict[str, Any]]:
    """A typical 3-year history: two institutions a month, ``per_month`` drugs each."""
    lines = []
    day = dt.date(2023, 12, 1)
    drugs = [AMLODIPINE, LOXOPROFEN]
    while day <= dt.date(2026, 11, 30):
        for offset, inst in ((4, PHARMACY), (18, HOSPITAL)):
            date = f"{day.year}{day.month:02d}{offset:02d}"
            for i in range(per_month):
                lines.append({"DiDate": date, "PrDate": date, **drugs[i % 2], **inst})
        day = (day.replace(day=28) + dt.timedelta(days=5)).replace(day=1)
    return lines


# (ItemCode, ItemName, Unit)
HBA1C = ("3D046000001906202", "HbA1c(NGSP値)", "%")
SYSTOLIC = ("9A751000000000001", "収縮期血圧(その他)", "mmHg")
DIASTOLIC = ("9A761000000000001", "拡張期血圧(その他)", "mmHg")
BMI = ("9N011000000000001", "BMI", "kg/m2")
LDL = ("3F077000002327101", "LDLコレステロール", "mg/dL")
HDL = ("3F070000002327101", "HDLコレステロール", "mg/dL")
WAIST = ("9N016160100000001", "腹囲（実測）", "cm")


def visit(day: str, values: dict[tuple[str, str, str], str]) -> dict[str, Any]:
    return {
        "EffectiveTime": day,
        "HealthCheckupResultAndQuestionInfos": {
            "HealthCheckupResultAndQuestionInfo": [
                {"ItemCode": c, "ItemName": n, "DataType": "PQ", "DataValue": v, "Unit": u}
                for (c, n, u), v in values.items()
            ]
        },
    }


def checkup_answer(
    visits: list[dict[str, Any]], patient: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "MessageHeader": {"MedicalInstitutionCode": "1311111111", "SegmentOfResult": "1"},
        "MessageBody": {
            "ResultCode": "1",
            "QualificationsInfo": patient or PATIENT,
            "SpecificHealthCheckupInfo": visits,
        },
    }


def typical_checkups() -> dict[str, Any]:
    """Three yearly visits, newest first as the central sends them; HbA1c rising out of range."""
    return checkup_answer(
        [
            visit(
                "20260610",
                {
                    HBA1C: "6.8",
                    SYSTOLIC: "142",
                    DIASTOLIC: "88",
                    BMI: "26.1",
                    LDL: "151",
                    HDL: "38",
                },
            ),
            visit(
                "20250612",
                {
                    HBA1C: "6.0",
                    SYSTOLIC: "128",
                    DIASTOLIC: "80",
                    BMI: "25.2",
                    LDL: "131",
                    HDL: "45",
                },
            ),
            visit(
                "20240605",
                {
                    HBA1C: "5.4",
                    SYSTOLIC: "118",
                    DIASTOLIC: "76",
                    BMI: "24.0",
                    LDL: "112",
                    HDL: "52",
                },
            ),
        ]
    )
