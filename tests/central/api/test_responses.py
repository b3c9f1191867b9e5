"""Answers are written as json.dumps would write them: compact, UTF-8, dates in OQS form."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshi.central.api.responses import OqsJSONResponse

_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text()
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _reference(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@given(_json)
def test_same_bytes_as_json_dumps(value: Any) -> None:
    assert OqsJSONResponse(value).body == _reference(value)


def test_dates_in_oqs_form_and_keys_as_text() -> None:
    value = {"on": dt.date(2026, 11, 23), "at": dt.datetime(2026, 11, 23, 9, 5, 7), 1: "x"}
    assert OqsJSONResponse(value).body == _reference(
        {"on": "20261123", "at": "20261123090507", "1": "x"}
    )


def test_what_json_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError):
        OqsJSONResponse({"x": object()})
