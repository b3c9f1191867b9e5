"""Fixtures of the intake tests."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from onshi.central.intake import insured_store, parse_ahead
from onshi.central.intake.counts import ImportCounts


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Halves for any file of 1000 bytes or more, on any machine; lists whether each reading
    of the file was in halves (``[True, False]``: read again from the start)."""
    monkeypatch.setattr(parse_ahead, "PARSE_AHEAD_BYTES", 500)
    monkeypatch.setattr(parse_ahead, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # pytest's own threads aside
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    readings: list[bool] = []
    original = insured_store._import

    def spy(*args: Any, **kwargs: Any) -> ImportCounts:
        readings.append(kwargs["split"])
        return original(*args, **kwargs)

    monkeypatch.setattr(insured_store, "_import", spy)
    return readings
