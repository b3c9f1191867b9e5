"""Dates as Japanese documents write them: 2026年1月5日, 昭和35年, 65歳."""

from __future__ import annotations

import datetime as dt

# (first day, era name): 和暦 for birth dates, which staff compare with insurance cards
ERAS = (
    (dt.date(2019, 5, 1), "令和"),
    (dt.date(1989, 1, 8), "平成"),
    (dt.date(1926, 12, 25), "昭和"),
    (dt.date(1912, 7, 30), "大正"),
    (dt.date(1868, 1, 25), "明治"),
)


def era(day: dt.date) -> str:
    for start, name in ERAS:
        if day >= start:
            year = day.year - start.year + 1
            return f"{name}{'元' if year == 1 else year}年"
    return ""


def long_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def short_date(day: dt.date | None, raw: str = "") -> str:
    """2026/01/05, or the text as received when it is not a date."""
    return f"{day:%Y/%m/%d}" if day else raw


def month(yyyymm: str) -> str:
    """202601 → 2026年1月 (anything else as received)."""
    if len(yyyymm) >= 6 and yyyymm[:6].isdigit() and 1 <= int(yyyymm[4:6]) <= 12:
        return f"{yyyymm[:4]}年{int(yyyymm[4:6])}月"
    return yyyymm or "日付不明"


def age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
