"""Layout of the specific health checkup report (minimal first version)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reportlab.lib.units import mm

from onshi.reports import document as doc
from onshi.reports.document import JST


def render_checkup_report(
    answer: Mapping[str, Any], *, issued_at: dt.datetime | None, font_path: Path | None
) -> bytes:
    st = doc.styles(font_path)
    header = answer.get("MessageHeader") or {}
    body = answer.get("MessageBody") or {}
    person = body.get("QualificationsInfo") or header.get("QualificationsInfo") or {}
    rows = []
    for visit in body.get("SpecificHealthCheckupInfo") or []:
        items = (visit.get("HealthCheckupResultAndQuestionInfos") or {}).get(
            "HealthCheckupResultAndQuestionInfo"
        ) or []
        for item in items:
            rows.append(
                [
                    visit.get("EffectiveTime", ""),
                    item.get("ItemName", ""),
                    f"{item.get('DataValue', item.get('DataValueName', ''))} {item.get('Unit', '')}",
                ]
            )
    story = [
        doc.text("特定健診情報", st.title),
        doc.text(f"{person.get('Name', '')}（{person.get('KanaName', '')}）", st.body),
        doc.table(["実施日", "項目", "結果"], rows, [30 * mm, 90 * mm, 60 * mm], st),
    ]
    page = doc.Page(
        title="特定健診情報",
        issued_at=issued_at or dt.datetime.now(JST),
        facility_code=str(header.get("MedicalInstitutionCode", "")),
    )
    return doc.render(page, story, font_path=font_path)
