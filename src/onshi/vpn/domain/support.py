"""The support desk (サポートデスク) and the terminals the service supports (seed 1-6, 2-1).

受付時間: every day 9:00–21:00, on the 10th of each month 9:00–24:00, Saturdays, Sundays and
national holidays included. The seed names no closing days, so the year-end break that stops
business days (12/29–1/3) does not close the desk.
"""

from __future__ import annotations

import datetime as dt

from onshi.vpn.domain.calendar import JST

OPENS = dt.time(9, 0)
CLOSES = dt.time(21, 0)
LONG_DAY = 10  # on the 10th (the claims deadline) the desk stays until midnight

SUPPORT_HOURS_JA = (
    "毎月10日を除く毎日 9:00～21:00（土曜・日曜・祝日含む）",
    "毎月10日のみ 9:00～24:00（土曜・日曜・祝日含む）",
)

#: サポート端末 (seed 2-1): 64-bit Windows only; versions whose OS support has ended are not supported.
SUPPORTED_TERMINALS = (
    "Windows 10 IoT Enterprise 2019 LTSC (64bit版)",
    "Windows 10 Enterprise 2019 LTSC (64bit版)",
    "Windows 10 (64bit版)",
    "Windows 11 (64bit版)",
)


def support_hours(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The desk's opening and closing instants on ``day`` (JST, closing exclusive)."""
    opens = dt.datetime.combine(day, OPENS, tzinfo=JST)
    if day.day == LONG_DAY:
        closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=JST)
    else:
        closes = dt.datetime.combine(day, CLOSES, tzinfo=JST)
    return opens, closes


def is_support_open(at: dt.datetime) -> bool:
    """True if the desk takes calls at ``at`` (a naive time is read as JST)."""
    local = at.replace(tzinfo=JST) if at.tzinfo is None else at.astimezone(JST)
    opens, closes = support_hours(local.date())
    return opens <= local < closes
