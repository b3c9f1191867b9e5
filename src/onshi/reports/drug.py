"""Layout of the drug information report (薬剤情報): months → institutions → dispensed drugs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from onshi.reports import calendar_ja
from onshi.reports import document as doc
from onshi.reports.answers import ClinicalEntry, DrugHistory, DrugLine, drug_history
from onshi.reports.document import JST
from onshi.reports.patient import patient_block

TITLE = "薬剤情報"
# 調剤日 | 薬剤名 (成分名) | 数量 | 用法 | 日数 (内服) or 回数 (頓服): Times as received
DRUG_WIDTHS = (20 * mm, 78 * mm, 20 * mm, 48 * mm, 14 * mm)
CLINICAL_WIDTHS = (20 * mm, 50 * mm, 74 * mm, 22 * mm, 14 * mm)
CLINICAL_TITLES = {"diagnosis": "傷病名", "operation": "手術", "treatment": "診療行為"}


def render_drug_report(
    answer: Mapping[str, Any],
    *,
    clinical: bool | None,
    issued_at: dt.datetime | None,
    font_path: Path | None,
) -> bytes:
    history = drug_history(answer)
    issued = issued_at or dt.datetime.now(JST)
    st = doc.styles(font_path)
    page = doc.Page(title=TITLE, issued_at=issued, facility_code=history.facility_code)
    show_clinical = bool(history.clinical) if clinical is None else clinical
    return doc.render(
        page, story(history, issued.astimezone(JST).date(), st, show_clinical), font_path=font_path
    )


def _period(history: DrugHistory) -> str:
    if not history.start and not history.end:
        return "—"

    def one(text: str) -> str:
        return (
            calendar_ja.month(text) if len(text) == 6 else calendar_ja.short_date(_date(text), text)
        )

    return f"{one(history.start)} 〜 {one(history.end)}"


def _date(text: str) -> dt.date | None:
    from onshi.reports.answers import parse_date

    return parse_date(text)


def story(history: DrugHistory, on: dt.date, st: doc.Styles, show_clinical: bool) -> list[Flowable]:
    flow: list[Flowable] = [
        doc.text(TITLE, st.title),
        patient_block(
            history.patient,
            on,
            st,
            [("対象期間", _period(history)), ("件数", f"{history.drug_count} 件")],
        ),
    ]
    if history.notice:
        flow += [doc.spacer(2), doc.notice(history.notice, st)]
    if show_clinical:
        flow += _clinical_section(history.clinical, st)
    flow.append(doc.text("薬剤情報（調剤月・医療機関別）", st.heading))
    if not history.months:
        flow.append(doc.text("対象期間に薬剤情報はありません。", st.body))
    for block in history.months:
        flow.append(doc.text(calendar_ja.month(block.month), st.month))
        for inst in block.institutions:
            flow.append(doc.text(inst.institution.label, st.subheading))
            flow.append(
                doc.table(
                    ["調剤日", "薬剤名（成分名）", "数量", "用法", "日数"],
                    [_drug_row(line, st) for line in inst.lines],
                    DRUG_WIDTHS,
                    st,
                    right=(2, 4),
                )
            )
    flow.append(doc.spacer(4))
    flow.append(
        doc.text(
            "オンライン資格確認等システムから取得した情報です。"
            "記録のない調剤（自費、未請求分など）は含まれません。",
            st.note,
        )
    )
    return flow


def _drug_row(line: DrugLine, st: doc.Styles) -> list[object]:
    name: object = line.name
    if line.ingredient and line.ingredient != line.name:
        name = doc.lines([(line.name, st.cell), (line.ingredient, st.cell_note)], DRUG_WIDTHS[1])
    return [
        calendar_ja.short_date(line.dispensed, line.dispensed_text),
        name,
        f"{line.quantity}{line.unit}",
        line.usage,
        line.days,
    ]


def _clinical_section(entries: tuple[ClinicalEntry, ...], st: doc.Styles) -> list[Flowable]:
    flow: list[Flowable] = [doc.text("診療情報（傷病名・手術・診療行為）", st.heading)]
    if not entries:
        return [*flow, doc.text("対象期間に診療情報はありません。", st.body)]
    for kind, title in CLINICAL_TITLES.items():
        rows = [
            [
                calendar_ja.short_date(e.on, e.on_text),
                e.institution.label if e.institution.label != "医療機関の記載なし" else "",
                e.name,
                f"{e.quantity}{e.unit}",
                e.times,
            ]
            for e in entries
            if e.kind == kind
        ]
        if rows:
            flow.append(doc.text(title, st.subheading))
            flow.append(
                doc.table(
                    ["日付", "医療機関", "名称", "数量", "回数"],
                    rows,
                    CLINICAL_WIDTHS,
                    st,
                    right=(3, 4),
                )
            )
    return flow
