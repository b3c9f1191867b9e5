"""Time as the national system keeps it: Japan Standard Time, no daylight saving."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

JST = dt.timezone(dt.timedelta(hours=9), "JST")

Clock = Callable[[], dt.datetime]


def jst_now() -> dt.datetime:
    return dt.datetime.now(JST)


def naive_jst(moment: dt.datetime) -> dt.datetime:
    """Stored form: naive JST wall-clock time (both databases keep it unchanged)."""
    return moment.astimezone(JST).replace(tzinfo=None) if moment.tzinfo else moment
