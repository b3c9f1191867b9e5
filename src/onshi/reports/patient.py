"""The patient header every personal report starts with (氏名, カナ, 生年月日, 性別)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from reportlab.lib.units import mm
from reportlab.platypus import Table

from onshi.reports import calendar_ja
from onshi.reports import document as doc
from onshi.reports.answers import Patient


def birth_text(p: Patient, on: dt.date) -> str:
    if p.birth is None:
        return p.birth_text or "—"
    return (
        f"{calendar_ja.long_date(p.birth)}（{calendar_ja.era(p.birth)}）"
        f"　{calendar_ja.age(p.birth, on)}歳"
    )


def patient_block(
    p: Patient, on: dt.date, st: doc.Styles, extra: Sequence[tuple[str, str]] = ()
) -> Table:
    """A boxed two-column grid: label/value pairs, the name larger."""
    pairs = [
        ("氏名", p.name or "—"),
        ("カナ", p.kana or "—"),
        ("生年月日", birth_text(p, on)),
        ("性別", p.sex or "—"),
        *extra,
    ]
    if len(pairs) % 2:
        pairs.append(("", ""))
    rows = []
    for i in range(0, len(pairs), 2):
        (k1, v1), (k2, v2) = pairs[i], pairs[i + 1]
        style1 = st.name if k1 == "氏名" else st.body
        rows.append(
            [
                doc.text(k1, st.cell_small),
                doc.text(v1, style1),
                doc.text(k2, st.cell_small),
                doc.text(v2, st.body),
            ]
        )
    width = doc.CONTENT_WIDTH
    t = Table(rows, colWidths=[18 * mm, width / 2 - 18 * mm, 18 * mm, width / 2 - 18 * mm])
    t.setStyle(
        [
            ("BOX", (0, 0), (-1, -1), 0.8, doc.HEADER_RULE),
            ("INNERGRID", (0, 0), (-1, -1), 0.3, doc.GRID),
            ("BACKGROUND", (0, 0), (0, -1), doc.SHADE),
            ("BACKGROUND", (2, 0), (2, -1), doc.SHADE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
    )
    return t
