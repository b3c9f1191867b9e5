"""PDF reports people read: drug information (薬剤情報) and specific health checkups (特定健診情報).

Public API::

    drug_report_pdf(answer, ...)     -> bytes   an A4 Japanese PDF from a drug (YZKsiquc01) answer
    checkup_report_pdf(answer, ...)  -> bytes   the same for a checkup (TKKsiquc01) answer

``answer`` is the mapping the central service returns (the one ``onshi.oqs.messages.render_result``
takes). Errors are :class:`ReportError` subclasses with stable codes (``REPORT_FONT_MISSING``,
``REPORT_ANSWER_INVALID``).

answers.py      the answer mapping → typed models (pure)
ranges.py       reference ranges of the standard checkup items (特定健診の判定値)
drug.py, checkup.py, charts.py, patient.py, calendar_ja.py   layout
document.py     the generic A4 page layer (header, footer x / y, tables that split) other PDFs reuse
fonts.py, settings.py   the embedded Japanese font (ONSHI_REPORT_FONT)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from onshi.reports.errors import AnswerInvalid, FontMissing, ReportError


def drug_report_pdf(
    answer: Mapping[str, Any],
    *,
    clinical: bool | None = None,
    issued_at: dt.datetime | None = None,
    font_path: Path | None = None,
) -> bytes:
    """The drug information PDF (FileCategory 1, or 3 with 診療情報).

    ``clinical``: True shows the diagnoses/operations section (FileCategory 3) even when empty,
    False leaves it out, None shows it when the answer carries any.
    """
    from onshi.reports.drug import render_drug_report

    return render_drug_report(answer, clinical=clinical, issued_at=issued_at, font_path=font_path)


def checkup_report_pdf(
    answer: Mapping[str, Any],
    *,
    issued_at: dt.datetime | None = None,
    font_path: Path | None = None,
) -> bytes:
    """The specific health checkup PDF: values, reference ranges, trend charts."""
    from onshi.reports.checkup import render_checkup_report

    return render_checkup_report(answer, issued_at=issued_at, font_path=font_path)


__all__ = [
    "AnswerInvalid",
    "FontMissing",
    "ReportError",
    "checkup_report_pdf",
    "drug_report_pdf",
]
