"""The report layer's exceptions, one tree, each with a stable code.

::

    ReportError              REPORT_ERROR
    ├── FontMissing          REPORT_FONT_MISSING     the Japanese TrueType font cannot be found or read
    └── AnswerInvalid        REPORT_ANSWER_INVALID   the answer mapping is not a drug/checkup answer
"""

from __future__ import annotations

from typing import ClassVar


class ReportError(Exception):
    code: ClassVar[str] = "REPORT_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FontMissing(ReportError):
    code = "REPORT_FONT_MISSING"


class AnswerInvalid(ReportError):
    code = "REPORT_ANSWER_INVALID"
