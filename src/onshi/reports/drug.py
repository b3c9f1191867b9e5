"""Layout of the drug information report (minimal first version)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportlab.lib.units import mm

from onshi.reports import document as doc
from onshi.reports.document import JST


def render_drug_report(
    answer: Mapping[str, Any],
    *,
    clinical: bool | None,
    issued_at: dt.datetime | None,
    font_path: Path | None,
) -> bytes:
    st = doc.styles(font_path)
    header = answer.get("MessageHeader") or {}
    body = answer.get("MessageBody") or {}
    person = body.get("QualificationsInfo") or header.get("QuaInf") or {}
    lines = body.get("DrugInformation") or []
    story = [
        doc.text("薬剤情報", st.title),
        doc.text(f"{person.get('Name', '')}（{person.get('KanaName', '')}）", st.body),
        doc.table(
            ["調剤日", "薬剤名", "数量", "用法", "日数"],
            [
                [
                    line.get("DiDate", ""),
                    line.get("DrugN", ""),
                    f"{line.get('Qua1', '')}{line.get('Unit', '')}",
                    line.get("UsageN", ""),
                    line.get("Times", ""),
                ]
                for line in lines
            ],
            [22 * mm, 80 * mm, 25 * mm, 40 * mm, 13 * mm],
            st,
        ),
    ]
    page = doc.Page(
        title="薬剤情報",
        issued_at=issued_at or dt.datetime.now(JST),
        facility_code=str(header.get("MedicalInstitutionCode", "")),
    )
    return doc.render(page, story, font_path=font_path)
