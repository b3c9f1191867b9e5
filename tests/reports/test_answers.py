"""The answer mapping → typed models (pure): grouping, ordering, tolerance of odd input."""

from __future__ import annotations

import datetime as dt

import pytest

from onshi.reports.answers import checkup_history, drug_history
from onshi.reports.errors import AnswerInvalid
from tests.reports.answers import (
    AMLODIPINE,
    HOSPITAL,
    LOXOPROFEN,
    PHARMACY,
    drug_answer,
    typical_checkups,
)


def test_drugs_group_by_month_newest_first_then_institution() -> None:
    history = drug_history(
        drug_answer(
            [
                {"DiDate": "20260105", **AMLODIPINE, **PHARMACY},
                {"DiDate": "20260120", **LOXOPROFEN, **HOSPITAL},
                {"DiDate": "20260110", **LOXOPROFEN, **PHARMACY},
                {"DiDate": "20260212", **AMLODIPINE, **PHARMACY},
            ]
        )
    )
    assert [m.month for m in history.months] == ["202602", "202601"]
    january = history.months[1]
    assert [b.institution.dispenser_name for b in january.institutions] == [
        "さくら薬局 本町店",
        "中央総合病院",
    ]
    pharmacy = january.institutions[0]
    assert [line.dispensed for line in pharmacy.lines] == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 10),
    ]
    assert pharmacy.institution.label == "山田内科クリニック ／ 調剤 さくら薬局 本町店"
    assert january.institutions[1].institution.label == "中央総合病院（自院）"
    assert history.drug_count == 4
    assert history.patient.name == "山田 太郎" and history.patient.sex == "男"
    assert history.patient.birth == dt.date(1960, 1, 1)


def test_the_nested_result_file_form_reads_the_same() -> None:
    nested = drug_answer(
        [],
        MeTrMonthInf=[
            {
                "MeTrMonth": "202601",
                **PHARMACY,
                "DiDateInfs": {
                    "DiDateInf": {  # one child: a naive XML→JSON reader gives an object
                        "DiDate": "20260105",
                        "DrugInfs": {"DrugInf": [AMLODIPINE, LOXOPROFEN]},
                        "MeTrInfs": {
                            "MeTrInf": {"SinInfN": "腹腔鏡下胆嚢摘出術", "MeTrIdCl": "50"}
                        },
                    }
                },
            }
        ],
    )
    history = drug_history(nested)
    (month,) = history.months
    (block,) = month.institutions
    assert [line.name for line in block.lines] == [AMLODIPINE["DrugN"], LOXOPROFEN["DrugN"]]
    assert block.institution.prescriber_name == "山田内科クリニック"
    (entry,) = history.clinical
    assert (entry.kind, entry.name, entry.on) == (
        "operation",
        "腹腔鏡下胆嚢摘出術",
        dt.date(2026, 1, 5),
    )


def test_clinical_lines_are_told_apart() -> None:
    history = drug_history(
        drug_answer(
            [
                {"DiDate": "20260105", "SinInfN": "再診料", "MeTrIdCl": "12", **HOSPITAL},
                {"DiDate": "20260106", "SinInfN": "虫垂切除術", "MeTrIdCl": "50", **HOSPITAL},
            ],
            DiagnosisInformation=[{"DiDate": "20251201", "DiseaseName": "高血圧症"}],
        )
    )
    assert history.months == ()
    assert {(e.kind, e.name) for e in history.clinical} == {
        ("treatment", "再診料"),
        ("operation", "虫垂切除術"),
        ("diagnosis", "高血圧症"),
    }
    assert history.clinical[0].name == "虫垂切除術"  # newest first


@pytest.mark.parametrize(
    "line",
    [
        {"DiDate": "20260105"},  # no drug at all: left out
        {"DiDate": None, "DrugN": "謎の薬"},
        {"DiDate": "2026-13-45", "DrugN": "日付が変"},
        {"DrugC": "1234567F1234"},
        {"DiDate": "20260105", "DrugN": ["a", "list"], "Qua1": {"odd": 1}},
    ],
)
def test_odd_lines_do_not_raise(line: dict[str, object]) -> None:
    history = drug_history(drug_answer([line]))
    assert history.drug_count <= 1


def test_missing_everything_is_an_empty_history() -> None:
    history = drug_history({"MessageHeader": {}, "MessageBody": {}})
    assert history.months == () and history.patient.name == ""


@pytest.mark.parametrize("answer", [[], "text", {"MessageHeader": [], "MessageBody": {}}])
def test_a_non_answer_is_refused_with_a_code(answer: object) -> None:
    with pytest.raises(AnswerInvalid) as caught:
        drug_history(answer)  # type: ignore[arg-type]
    assert caught.value.code == "REPORT_ANSWER_INVALID"


def test_checkup_visits_oldest_first_with_numbers() -> None:
    history = checkup_history(typical_checkups())
    assert [v.on for v in history.visits] == [
        dt.date(2024, 6, 5),
        dt.date(2025, 6, 12),
        dt.date(2026, 6, 10),
    ]
    hba1c = history.visits[-1].values[0]
    assert (hba1c.name, str(hba1c.number), hba1c.unit) == ("HbA1c(NGSP値)", "6.8", "%")


def test_coded_checkup_values_read_as_their_names() -> None:
    answer = typical_checkups()
    items = answer["MessageBody"]["SpecificHealthCheckupInfo"][0][
        "HealthCheckupResultAndQuestionInfos"
    ]["HealthCheckupResultAndQuestionInfo"]
    items.append(
        {
            "ItemCode": "1A020000000191111",
            "ItemName": "尿糖",
            "DataType": "CD",
            "DataValue": "1",
            "DataValueName": "－",
        }
    )
    value = checkup_history(answer).visits[-1].values[-1]
    assert (value.value, value.number) == ("－", None)
