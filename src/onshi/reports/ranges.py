"""Reference ranges of the standard specific health checkup items (特定健診の判定値).

Values are the thresholds of the MHLW programme (標準的な健診・保健指導プログラム): the
保健指導判定値 bounds the normal range; the 受診勧奨判定値 marks a value a doctor should see.
Items are found by their JLAC10 analyte code (the first five characters of ItemCode: method and
material digits differ between laboratories) and, failing that, by words in ItemName.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Flag(Enum):
    NORMAL = ""
    HIGH = "H"  # at or beyond the 保健指導判定値
    LOW = "L"
    HIGH_REFER = "HH"  # at or beyond the 受診勧奨判定値
    LOW_REFER = "LL"

    @property
    def mark(self) -> str:
        """What the report prints next to the value (explained in its legend)."""
        return {
            Flag.NORMAL: "",
            Flag.HIGH: "▲",
            Flag.LOW: "▼",
            Flag.HIGH_REFER: "▲▲",
            Flag.LOW_REFER: "▼▼",
        }[self]

    @property
    def refer(self) -> bool:
        return self in (Flag.HIGH_REFER, Flag.LOW_REFER)


LEGEND = (
    "▲ 高値／▼ 低値：保健指導判定値の範囲外。"
    "▲▲／▼▼：受診勧奨判定値の範囲外。"
    "基準値は特定健診の保健指導判定値（標準的な健診・保健指導プログラム）です。"
)


@dataclass(frozen=True)
class Range:
    """Normal when ``low <= value < high`` (either bound may be absent)."""

    low: Decimal | None = None
    high: Decimal | None = None
    refer_low: Decimal | None = None  # below this: 受診勧奨
    refer_high: Decimal | None = None  # at or above this: 受診勧奨
    high_inclusive: bool = False  # "30 以下" rather than "130 未満"

    def flag(self, value: Decimal) -> Flag:
        if self.refer_high is not None and value >= self.refer_high:
            return Flag.HIGH_REFER
        if self.refer_low is not None and value < self.refer_low:
            return Flag.LOW_REFER
        if self.high is not None and (
            value > self.high if self.high_inclusive else value >= self.high
        ):
            return Flag.HIGH
        if self.low is not None and value < self.low:
            return Flag.LOW
        return Flag.NORMAL

    @property
    def text(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{self.low}以上")
        if self.high is not None:
            parts.append(f"{self.high}{'以下' if self.high_inclusive else '未満'}")
        return "・".join(parts)


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    codes: tuple[str, ...]  # JLAC10 analyte codes (5 characters)
    words: str  # regular expression on ItemName
    unit: str
    male: Range
    female: Range | None = None  # when the range depends on sex

    def range_for(self, sex: str) -> Range:
        return self.female if (self.female is not None and sex == "女") else self.male

    def range_text(self, sex: str) -> str:
        if self.female is None:
            return self.male.text
        if sex == "男":
            return self.male.text
        if sex == "女":
            return self.female.text
        return f"男 {self.male.text}／女 {self.female.text}"


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _r(
    low: str | None = None,
    high: str | None = None,
    refer_low: str | None = None,
    refer_high: str | None = None,
    *,
    inclusive: bool = False,
) -> Range:
    return Range(_d(low), _d(high), _d(refer_low), _d(refer_high), inclusive)


ITEMS: tuple[Item, ...] = (
    Item("bmi", "BMI", ("9N011",), r"BMI", "kg/m2", _r(high="25")),
    Item("waist", "腹囲", ("9N016",), r"腹囲", "cm", _r(high="85"), _r(high="90")),
    Item(
        "systolic",
        "収縮期血圧",
        ("9A751", "9A752", "9A755"),
        r"収縮期",
        "mmHg",
        _r(None, "130", None, "140"),
    ),
    Item(
        "diastolic",
        "拡張期血圧",
        ("9A761", "9A762", "9A765"),
        r"拡張期",
        "mmHg",
        _r(None, "85", None, "90"),
    ),
    Item("glucose", "空腹時血糖", ("3D010",), r"血糖", "mg/dL", _r(None, "100", None, "126")),
    Item("hba1c", "HbA1c", ("3D045", "3D046"), r"HbA1c", "%", _r(None, "5.6", None, "6.5")),
    Item(
        "tg",
        "中性脂肪",
        ("3F015",),
        r"中性脂肪|トリグリセリド",
        "mg/dL",
        _r(None, "150", None, "300"),
    ),
    Item("hdl", "HDLコレステロール", ("3F070",), r"HDL", "mg/dL", _r("40", None, "35")),
    Item("ldl", "LDLコレステロール", ("3F077",), r"LDL", "mg/dL", _r(None, "120", None, "140")),
    Item("ast", "AST", ("3B035",), r"AST|GOT", "U/L", _r(None, "30", None, "51", inclusive=True)),
    Item("alt", "ALT", ("3B045",), r"ALT|GPT", "U/L", _r(None, "30", None, "51", inclusive=True)),
    Item(
        "ggt", "γ-GT", ("3B090",), r"γ-?GT|GGT", "U/L", _r(None, "50", None, "101", inclusive=True)
    ),
)
BY_KEY = {item.key: item for item in ITEMS}


def find_item(code: str, name: str) -> Item | None:
    """The standard item a checkup value measures, or None for items without a range here."""
    analyte = code[:5].upper()
    for item in ITEMS:
        if analyte in item.codes:
            return item
    for item in ITEMS:
        if name and re.search(item.words, name, re.IGNORECASE):
            return item
    return None
