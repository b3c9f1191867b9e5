"""Layout of the specific health checkup report (特定健診情報): values by visit, ranges, trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Table

from onshi.reports import calendar_ja
from onshi.reports import document as doc
from onshi.reports.answers import CheckupHistory, CheckupValue, CheckupVisit, checkup_history
from onshi.reports.charts import Series, trend_chart
from onshi.reports.document import JST
from onshi.reports.patient import patient_block
from onshi.reports.ranges import BY_KEY, ITEMS, LEGEND, Flag, Item, find_item

TITLE = "特定健診情報"
VISITS_PER_TABLE = 5  # columns of values before the table continues below
NAME_WIDTH, RANGE_WIDTH, UNIT_WIDTH = 42 * mm, 30 * mm, 16 * mm
OUT_OF_RANGE = colors.HexColor("#fde8c8")
REFER = colors.HexColor("#f8cccc")
# (title, unit, item keys): the trends a doctor looks at first
TRENDS = (
    ("HbA1c", "%", ("hba1c",)),
    ("血圧", "mmHg", ("systolic", "diastolic")),
    ("BMI", "kg/m2", ("bmi",)),
    ("LDLコレステロール", "mg/dL", ("ldl",)),
)


def render_checkup_report(
    answer: Mapping[str, Any], *, issued_at: dt.datetime | None, font_path: Path | None
) -> bytes:
    history = checkup_history(answer)
    issued = issued_at or dt.datetime.now(JST)
    st = doc.styles(font_path)
    page = doc.Page(title=TITLE, issued_at=issued, facility_code=history.facility_code)
    return doc.render(page, story(history, issued.astimezone(JST).date(), st), font_path=font_path)


def _visit_label(v: CheckupVisit) -> str:
    return calendar_ja.short_date(v.on, v.on_text) or "日付不明"


def _rows(history: CheckupHistory) -> list[tuple[str, Item | None, str]]:
    """(label, standard item, unit) in print order: standard items first, then the rest."""
    seen: dict[str, tuple[str, Item | None, str]] = {}
    for visit in history.visits:
        for value in visit.values:
            item = find_item(value.code, value.name)
            key = item.key if item else f"other:{value.name}"
            if key not in seen:
                seen[key] = (
                    item.label if item else value.name,
                    item,
                    value.unit or (item.unit if item else ""),
                )
    order = {item.key: i for i, item in enumerate(ITEMS)}
    return sorted(seen.values(), key=lambda r: (0, order[r[1].key]) if r[1] else (1, 0))


def _lookup(visit: CheckupVisit, label: str, item: Item | None) -> CheckupValue | None:
    for value in visit.values:
        found = find_item(value.code, value.name)
        if (found is not None and found is item) or (
            found is None and item is None and value.name == label
        ):
            return value
    return None


def story(history: CheckupHistory, on: dt.date, st: doc.Styles) -> list[Flowable]:
    visits = history.visits
    period = f"{_visit_label(visits[0])} 〜 {_visit_label(visits[-1])}" if visits else "—"
    flow: list[Flowable] = [
        doc.text(TITLE, st.title),
        patient_block(
            history.patient, on, st, [("受診期間", period), ("受診回数", f"{len(visits)} 回")]
        ),
    ]
    if history.notice:
        flow += [doc.spacer(2), doc.notice(history.notice, st)]
    if not visits:
        return [*flow, doc.spacer(3), doc.text("対象期間に特定健診の結果はありません。", st.body)]
    flow.append(doc.text("経年変化", st.heading))
    flow.append(_charts(history, st))
    flow.append(doc.text("検査結果（新しい受診日が右）", st.heading))
    rows = _rows(history)
    # the latest visits first; older ones continue below, each table oldest → newest
    for end in range(len(visits), 0, -VISITS_PER_TABLE):
        chunk = visits[max(0, end - VISITS_PER_TABLE) : end]
        if end != len(visits):
            flow.append(doc.text("以前の受診", st.subheading))
        flow.append(_value_table(history, chunk, rows, st))
        flow.append(doc.spacer(2))
    flow.append(doc.text(LEGEND, st.note))
    return flow


def _value_table(
    history: CheckupHistory,
    visits: tuple[CheckupVisit, ...],
    rows: list[tuple[str, Item | None, str]],
    st: doc.Styles,
) -> Table:
    sex = history.patient.sex
    value_width = (doc.CONTENT_WIDTH - NAME_WIDTH - RANGE_WIDTH - UNIT_WIDTH) / VISITS_PER_TABLE
    header = ["項目", "基準値", "単位", *(_visit_label(v) for v in visits)]
    data: list[list[object]] = []
    shading: list[tuple[Any, ...]] = []
    for r, (label, item, unit) in enumerate(rows, start=1):
        cells: list[object] = [label, item.range_text(sex) if item else "", unit]
        for c, visit in enumerate(visits, start=3):
            value = _lookup(visit, label, item)
            if value is None:
                cells.append("")
                continue
            flag = (
                item.range_for(sex).flag(value.number)
                if item and value.number is not None
                else Flag.NORMAL
            )
            cells.append(
                Paragraph(f"{doc.escape(value.value)} <b>{flag.mark}</b>".rstrip(), st.cell_right)
            )
            if flag is not Flag.NORMAL:
                shading.append(
                    ("BACKGROUND", (c, r), (c, r), REFER if flag.refer else OUT_OF_RANGE)
                )
        data.append(cells)
    widths = [NAME_WIDTH, RANGE_WIDTH, UNIT_WIDTH, *([value_width] * len(visits))]
    t = doc.table(header, data, widths, st, extra=shading)
    t.hAlign = "LEFT"
    return t


def _charts(history: CheckupHistory, st: doc.Styles) -> Table:
    sex = history.patient.sex
    width, height = doc.CONTENT_WIDTH / 2 - 2 * mm, 48 * mm
    drawings = []
    for title, unit, keys in TRENDS:
        series = []
        for key in keys:
            item = BY_KEY[key]
            points = tuple(
                (visit.on, value.number)
                for visit in history.visits
                if visit.on is not None
                for value in visit.values
                if value.number is not None and find_item(value.code, value.name) is item
            )
            limit = item.range_for(sex).high or item.range_for(sex).low
            series.append(Series(item.label, points, limit))
        drawings.append(trend_chart(title, unit, series, width=width, height=height, font=st.font))
    grid = Table(
        [drawings[:2], drawings[2:]],
        colWidths=[doc.CONTENT_WIDTH / 2] * 2,
    )
    grid.setStyle(
        [("BOX", (0, 0), (-1, -1), 0.4, doc.GRID), ("INNERGRID", (0, 0), (-1, -1), 0.4, doc.GRID)]
    )
    return grid
