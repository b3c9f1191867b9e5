"""Reference ranges of the standard checkup items: boundaries, sex, finding items."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onshi.reports.ranges import BY_KEY, Flag, find_item


@pytest.mark.parametrize(
    ("key", "value", "flag"),
    [
        ("hba1c", "5.5", Flag.NORMAL),
        ("hba1c", "5.6", Flag.HIGH),
        ("hba1c", "6.5", Flag.HIGH_REFER),
        ("systolic", "129", Flag.NORMAL),
        ("systolic", "130", Flag.HIGH),
        ("systolic", "140", Flag.HIGH_REFER),
        ("diastolic", "85", Flag.HIGH),
        ("hdl", "40", Flag.NORMAL),
        ("hdl", "39", Flag.LOW),
        ("hdl", "34", Flag.LOW_REFER),
        ("ast", "30", Flag.NORMAL),  # 30 以下 is normal
        ("ast", "31", Flag.HIGH),
        ("ldl", "119", Flag.NORMAL),
        ("ldl", "140", Flag.HIGH_REFER),
        ("bmi", "25.0", Flag.HIGH),
    ],
)
def test_flags_at_the_thresholds(key: str, value: str, flag: Flag) -> None:
    assert BY_KEY[key].range_for("男").flag(Decimal(value)) is flag


def test_waist_depends_on_sex() -> None:
    waist = BY_KEY["waist"]
    assert waist.range_for("男").flag(Decimal("87")) is Flag.HIGH
    assert waist.range_for("女").flag(Decimal("87")) is Flag.NORMAL
    assert waist.range_text("女") == "90未満"
    assert waist.range_text("") == "男 85未満／女 90未満"


@pytest.mark.parametrize(
    ("code", "name", "key"),
    [
        ("3D046000001906202", "", "hba1c"),
        ("3D045000001920402", "HbA1c", "hba1c"),
        ("", "HbA1c(NGSP値)", "hba1c"),
        ("9A755000000000001", "収縮期血圧(1回目)", "systolic"),
        ("", "γ-GT(γ-GTP)", "ggt"),
        ("", "GPT(ALT)", "alt"),
    ],
)
def test_items_are_found_by_code_or_name(code: str, name: str, key: str) -> None:
    item = find_item(code, name)
    assert item is not None and item.key == key


def test_items_without_a_range_are_not_guessed() -> None:
    assert find_item("9N001000000000001", "身長") is None
