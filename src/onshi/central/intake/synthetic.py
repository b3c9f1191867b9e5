"""The pieces a synthetic population is made of, shared by the population and history writers."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Insurer:
    number: str
    name: str
    kind: str  # kyokai, union, kokuho, koki, mutual


@dataclass
class GeneratedCounts:
    persons: int = 0
    qualifications: int = 0
    households: int = 0
    families: int = 0  # households of two or more under one card number
    twins: int = 0
    lost: int = 0
    moved: int = 0
    drug: int = 0
    checkup: int = 0
    diagnosis: int = 0
    operation: int = 0
    limit: int = 0
    specific_disease: int = 0


def check_digit(body: str) -> str:
    """検証番号 of an insurer number: weights 2, 1, 2, 1… from the right, digits of products summed."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return str((10 - total % 10) % 10)


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, month=3, day=1)


_YYYYMMDD: dict[dt.date, str] = {}


def yyyymmdd(day: dt.date | None) -> str:
    if day is None:
        return ""
    found = _YYYYMMDD.get(day)
    if found is None:
        found = _YYYYMMDD[day] = f"{day.year:04d}{day.month:02d}{day.day:02d}"
    return found


def fragment(values: dict[str, str]) -> str:
    """JSON members without braces, to splice constant parts into lines written at speed."""
    return json.dumps(values, ensure_ascii=False)[1:-1]


@dataclass
class Person:
    individual_id: str
    name: str
    kana: str
    sex: str
    birth: dt.date
    age: int


@dataclass
class Row:
    """One qualification as written to insured.csv, with what the history writers need."""

    insurer: Insurer
    symbol: str
    number: str
    branch: str
    person: Person
    values: dict[str, str] = field(default_factory=dict)
    lost: bool = False
