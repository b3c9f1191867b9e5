"""The central service's drug and checkup answers as small typed models (pure, no layout).

The answer is the mapping ``onshi.oqs.messages.render_result`` takes::

    {"MessageHeader": {"MedicalInstitutionCode", "ProcessExecutionTime", ...},
     "MessageBody": {"StartDate", "EndDate", "QualificationsInfo": {Name, KanaName, Birth, AdmGendCode},
                     "DrugInformation": [flat lines] | "SpecificHealthCheckupInfo": [visits]}}

Drug lines are flat (``DiDate, PrDate, DrugC, DrugN, IngreN, Qua1, Unit, UsageN, Times``) and may
carry the dispensing institution (``DiOrg, MeTrDiHCd, PrlsHCd, MeTrDiHNm, PrlsHNm, PrIsOrg, InOut``)
and 診療情報 (``SinInfN, SinInfCd, MeTrIdCl, Qua1, Times, Unit``, as one public client reads
``MeTrInfs/MeTrInf``). The nested result-file form (``MeTrMonthInf/DiDateInfs/DiDateInf/DrugInfs``,
institution fields on the month, ``MeTrInfs/MeTrInf`` on the date) is read too. Every optional
field may be missing; odd values are shown as they are rather than refused.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from onshi.reports.errors import AnswerInvalid

INSTITUTION_FIELDS = ("DiOrg", "MeTrDiHCd", "PrlsHCd", "MeTrDiHNm", "PrlsHNm", "PrIsOrg", "InOut")
# containers of 診療情報 entries, in the answer's body or on a dispensing date
CLINICAL_CONTAINERS = (
    "MedicalTreatmentInformation",
    "MeTrInformation",
    "DiagnosisInformation",
    "OperationInformation",
    "MeTrInfs",
    "MeTrInf",
)
DIAGNOSIS_NAME_KEYS = ("DiseaseName", "DisN", "SbN", "ByoN")


@dataclass(frozen=True)
class Patient:
    """The person the document is about (QuaInf / QualificationsInfo)."""

    name: str = ""
    kana: str = ""
    birth: dt.date | None = None
    birth_text: str = ""  # as received, when it is not a date
    sex: str = ""  # 男 / 女 / as received


@dataclass(frozen=True)
class Institution:
    """Who prescribed and who dispensed (処方医療機関 / 調剤医療機関等)."""

    dispenser_code: str = ""
    dispenser_name: str = ""
    prescriber_code: str = ""
    prescriber_name: str = ""
    own: bool = False  # PrIsOrg 1: this facility
    in_out: str = ""  # InOut as received

    @property
    def label(self) -> str:
        names = [n for n in (self.prescriber_name, self.dispenser_name) if n]
        if len(names) == 2 and names[0] == names[1]:
            names = names[:1]
        text = " ／ 調剤 ".join(names) if len(names) == 2 else (names[0] if names else "")
        code = self.prescriber_code or self.dispenser_code
        if not text:
            text = f"医療機関コード {code}" if code else "医療機関の記載なし"
        if self.own:
            text += "（自院）"
        return text


@dataclass(frozen=True)
class DrugLine:
    """One drug dispensed on one day."""

    dispensed: dt.date | None
    dispensed_text: str
    prescribed: dt.date | None
    name: str
    ingredient: str = ""
    code: str = ""
    quantity: str = ""
    unit: str = ""
    usage: str = ""
    days: str = ""


@dataclass(frozen=True)
class ClinicalEntry:
    """One line of 診療情報: a diagnosis, an operation or another treatment."""

    kind: str  # "diagnosis" | "operation" | "treatment"
    on: dt.date | None
    on_text: str
    name: str
    code: str = ""
    class_code: str = ""  # MeTrIdCl: 診療識別 (50 手術 …)
    quantity: str = ""
    unit: str = ""
    times: str = ""
    institution: Institution = field(default_factory=Institution)


@dataclass(frozen=True)
class InstitutionBlock:
    institution: Institution
    lines: tuple[DrugLine, ...]


@dataclass(frozen=True)
class MonthBlock:
    month: str  # YYYYMM as received
    institutions: tuple[InstitutionBlock, ...]


@dataclass(frozen=True)
class DrugHistory:
    """薬剤情報: months newest first, institutions in order of first appearance."""

    facility_code: str
    patient: Patient
    start: str
    end: str
    months: tuple[MonthBlock, ...]
    clinical: tuple[ClinicalEntry, ...]
    notice: str = ""  # MessageContents: what the central left out, and why

    @property
    def drug_count(self) -> int:
        return sum(len(b.lines) for m in self.months for b in m.institutions)


@dataclass(frozen=True)
class CheckupValue:
    code: str
    name: str
    value: str
    unit: str = ""
    number: Decimal | None = None  # when the value is numeric


@dataclass(frozen=True)
class CheckupVisit:
    on: dt.date | None
    on_text: str
    values: tuple[CheckupValue, ...]


@dataclass(frozen=True)
class CheckupHistory:
    """特定健診情報: visits oldest first."""

    facility_code: str
    patient: Patient
    visits: tuple[CheckupVisit, ...]
    notice: str = ""


# ---------------------------------------------------------------------------- reading


def _text(value: object) -> str:
    if value is None or isinstance(value, (Mapping, list, tuple)):
        return ""
    return " ".join(str(value).split())


def parse_date(value: object) -> dt.date | None:
    """YYYYMMDD (or YYYY-MM-DD, YYYY/MM/DD) → date; anything else → None."""
    digits = re.sub(r"[-/]", "", _text(value))
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def number(value: object) -> Decimal | None:
    text = _text(value).replace(",", "")
    if not text or not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _list(value: object) -> list[Mapping[str, Any]]:
    """A repeated element: a list, or one group (a client's naive XML→JSON gives that)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, Mapping)]
    return []


def _parts(answer: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(answer, Mapping):
        raise AnswerInvalid("an answer is a mapping {'MessageHeader': …, 'MessageBody': …}")
    header = answer.get("MessageHeader")
    body = answer.get("MessageBody")
    header = {} if header is None else header
    body = {} if body is None else body
    if not isinstance(header, Mapping) or not isinstance(body, Mapping):
        raise AnswerInvalid("MessageHeader and MessageBody must be groups of elements")
    return header, body


SEX = {"1": "男", "2": "女"}


def patient(info: object) -> Patient:
    p = info if isinstance(info, Mapping) else {}
    birth_raw = p.get("Birth", p.get("Birthday"))
    sex = _text(p.get("AdmGendCode", p.get("AdministrativeGenderCode")))
    return Patient(
        name=_text(p.get("Name")),
        kana=_text(p.get("KanaName", p.get("KanasName"))),
        birth=parse_date(birth_raw),
        birth_text=_text(birth_raw),
        sex=SEX.get(sex, sex),
    )


def _institution(source: Mapping[str, Any], inherited: Institution | None = None) -> Institution:
    base = inherited or Institution()
    if not any(k in source for k in INSTITUTION_FIELDS):
        return base
    return Institution(
        dispenser_code=_text(source.get("MeTrDiHCd")) or base.dispenser_code,
        dispenser_name=_text(source.get("MeTrDiHNm")) or base.dispenser_name,
        prescriber_code=_text(source.get("PrlsHCd")) or base.prescriber_code,
        prescriber_name=_text(source.get("PrlsHNm")) or base.prescriber_name,
        own=_text(source.get("PrIsOrg")) == "1" if "PrIsOrg" in source else base.own,
        in_out=_text(source.get("InOut")) or base.in_out,
    )


def _drug_line(source: Mapping[str, Any], di_date: object, pr_date: object) -> DrugLine | None:
    name = _text(source.get("DrugN")) or _text(source.get("IngreN"))
    code = _text(source.get("DrugC"))
    if not name and not code:
        return None
    return DrugLine(
        dispensed=parse_date(di_date),
        dispensed_text=_text(di_date),
        prescribed=parse_date(pr_date),
        name=name or f"（コード {code}）",
        ingredient=_text(source.get("IngreN")),
        code=code,
        quantity=_text(source.get("Qua1")),
        unit=_text(source.get("Unit")),
        usage=" ／ ".join(
            t for t in (_text(source.get("UsageN")), _text(source.get("SpInst"))) if t
        ),
        days=_text(source.get("Times")),
    )


def _clinical_kind(container: str, source: Mapping[str, Any]) -> str:
    if "Diagnosis" in container or any(k in source for k in DIAGNOSIS_NAME_KEYS):
        return "diagnosis"
    class_code = _text(source.get("MeTrIdCl"))
    # 診療識別 50 手術 (54 麻酔 belongs to the operation too)
    if "Operation" in container or class_code.startswith("5"):
        return "operation"
    return "treatment"


def _clinical(
    container: str, source: Mapping[str, Any], on: object, inherited: Institution
) -> ClinicalEntry | None:
    name = _text(source.get("SinInfN")) or next(
        (_text(source.get(k)) for k in DIAGNOSIS_NAME_KEYS if _text(source.get(k))), ""
    )
    code = _text(source.get("SinInfCd")) or _text(source.get("DiseaseCode"))
    if not name and not code:
        return None
    when = source.get("DiDate", on)
    return ClinicalEntry(
        kind=_clinical_kind(container, source),
        on=parse_date(when),
        on_text=_text(when),
        name=name or f"（コード {code}）",
        code=code,
        class_code=_text(source.get("MeTrIdCl")),
        quantity=_text(source.get("Qua1")),
        unit=_text(source.get("Unit")),
        times=_text(source.get("Times")),
        institution=_institution(source, inherited),
    )


def _clinical_in(
    source: Mapping[str, Any], on: object, inherited: Institution
) -> Iterator[ClinicalEntry]:
    for container in CLINICAL_CONTAINERS:
        value = source.get(container)
        if isinstance(value, Mapping) and "MeTrInf" in value:
            value = value["MeTrInf"]
        for item in _list(value):
            entry = _clinical(container, item, on, inherited)
            if entry is not None:
                yield entry


Row = tuple[str, Institution, DrugLine]


def _flat_rows(lines: object) -> tuple[list[Row], list[ClinicalEntry]]:
    rows: list[Row] = []
    clinical: list[ClinicalEntry] = []
    for line in _list(lines):
        di_date = line.get("DiDate")
        inst = _institution(line)
        clinical.extend(_clinical_in(line, di_date, inst))
        if "SinInfN" in line or "SinInfCd" in line:
            entry = _clinical("DrugInformation", line, di_date, inst)
            if entry is not None:
                clinical.append(entry)
            continue
        drug = _drug_line(line, di_date, line.get("PrDate"))
        if drug is not None:
            rows.append((_text(di_date)[:6], inst, drug))
    return rows, clinical


def _nested_rows(months: object) -> tuple[list[Row], list[ClinicalEntry]]:
    rows: list[Row] = []
    clinical: list[ClinicalEntry] = []
    for month in _list(months):
        inst = _institution(month)
        month_text = _text(month.get("MeTrMonth"))
        dates = month.get("DiDateInfs")
        for date in _list(dates.get("DiDateInf") if isinstance(dates, Mapping) else dates):
            di_date = date.get("DiDate")
            clinical.extend(_clinical_in(date, di_date, inst))
            drugs = date.get("DrugInfs")
            for item in _list(drugs.get("DrugInf") if isinstance(drugs, Mapping) else drugs):
                drug = _drug_line(item, di_date, date.get("PrDate"))
                if drug is not None:
                    rows.append((month_text or _text(di_date)[:6], inst, drug))
    return rows, clinical


def _sort_key(line: DrugLine) -> tuple[dt.date, str]:
    return (line.dispensed or dt.date.min, line.dispensed_text)


def drug_history(answer: Mapping[str, Any]) -> DrugHistory:
    """The drug answer as months (newest first) → institutions → lines (by date)."""
    header, body = _parts(answer)
    rows, clinical = _flat_rows(body.get("DrugInformation"))
    nested_rows, nested_clinical = _nested_rows(body.get("MeTrMonthInf"))
    rows += nested_rows
    clinical += nested_clinical
    inherited = Institution()
    for container in CLINICAL_CONTAINERS[:4]:
        clinical.extend(
            e
            for item in _list(body.get(container))
            if (e := _clinical(container, item, item.get("DiDate"), inherited)) is not None
        )
    by_month: dict[str, dict[Institution, list[DrugLine]]] = {}
    for month, inst, drug in rows:
        by_month.setdefault(month, {}).setdefault(inst, []).append(drug)
    months = tuple(
        MonthBlock(
            month,
            tuple(
                InstitutionBlock(inst, tuple(sorted(lines, key=_sort_key)))
                for inst, lines in insts.items()
            ),
        )
        for month, insts in sorted(by_month.items(), reverse=True)
    )
    clinical.sort(key=lambda e: (e.on or dt.date.min, e.on_text), reverse=True)
    return DrugHistory(
        facility_code=_text(header.get("MedicalInstitutionCode")),
        patient=patient(body.get("QualificationsInfo") or header.get("QuaInf")),
        start=_text(body.get("StartDate")),
        end=_text(body.get("EndDate")),
        months=months,
        clinical=tuple(clinical),
        notice=_text(body.get("MessageContents")),
    )


def checkup_history(answer: Mapping[str, Any]) -> CheckupHistory:
    """The checkup answer as visits, oldest first (the central sends newest first)."""
    header, body = _parts(answer)
    visits: list[CheckupVisit] = []
    for visit in _list(body.get("SpecificHealthCheckupInfo")):
        group = visit.get("HealthCheckupResultAndQuestionInfos")
        items = _list(
            group.get("HealthCheckupResultAndQuestionInfo") if isinstance(group, Mapping) else group
        )
        values = []
        for item in items:
            raw = _text(item.get("DataValue"))
            label = _text(item.get("DataValueName"))
            # a coded value (DataType CD: 尿糖 1 → "－") reads as its name
            shown = label if label and (_text(item.get("DataType")) == "CD" or not raw) else raw
            name = _text(item.get("ItemName")) or _text(item.get("ItemCode"))
            if not name and not shown:
                continue
            values.append(
                CheckupValue(
                    code=_text(item.get("ItemCode")),
                    name=name,
                    value=shown,
                    unit=_text(item.get("Unit")),
                    number=number(raw) if shown == raw else None,
                )
            )
        when = visit.get("EffectiveTime")
        visits.append(CheckupVisit(parse_date(when), _text(when), tuple(values)))
    visits.sort(key=lambda v: (v.on or dt.date.min, v.on_text))
    info = body.get("QualificationsInfo") or header.get("QualificationsInfo")
    return CheckupHistory(
        facility_code=_text(header.get("MedicalInstitutionCode")),
        patient=patient(info),
        visits=tuple(visits),
        notice=_text(body.get("MessageContents")),
    )
