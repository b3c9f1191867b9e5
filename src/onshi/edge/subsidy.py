"""The 2021 subsidy for introducing online eligibility verification (オンライン資格確認の補助金).

The rule table is data (``data/subsidy-<table>.toml``), versioned; this module only applies it:
``subsidy = min(floor(min(cost, base) × rate), cap)``, with face-auth card readers given free
up to the facility's number.
"""

from __future__ import annotations

import enum
import functools
import math
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

from onshi.edge.errors import DataError, SubsidyError


class Facility(enum.StrEnum):
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    PHARMACY = "pharmacy"
    LARGE_CHAIN_PHARMACY = "large-chain-pharmacy"


@dataclass(frozen=True)
class Tier:
    readers: int
    base_yen: int
    cap_yen: int


@dataclass(frozen=True)
class FacilityRule:
    facility: Facility
    label: str
    free_readers: int
    rate: Fraction
    tiers: tuple[Tier, ...]

    def tier(self, readers: int) -> Tier:
        eligible = [t for t in self.tiers if t.readers <= readers]
        return eligible[-1] if eligible else self.tiers[0]


@dataclass(frozen=True)
class SubsidyTable:
    version: str
    source: str
    rules: dict[Facility, FacilityRule]


@dataclass(frozen=True)
class SubsidyEstimate:
    free_readers: int
    subsidy_yen: int
    cap_yen: int
    rate: Fraction

    def as_json(self) -> dict[str, object]:
        return {
            "free_readers": self.free_readers,
            "subsidy_yen": self.subsidy_yen,
            "cap_yen": self.cap_yen,
            "rate": float(self.rate),
        }


_TABLE_NAME = re.compile(r"^[0-9a-z-]{1,32}$")


def parse_table(raw: dict[str, Any]) -> SubsidyTable:
    try:
        rules: dict[Facility, FacilityRule] = {}
        for key, value in raw["facility"].items():
            tiers = tuple(
                Tier(int(t["readers"]), int(t["base_yen"]), int(t["cap_yen"]))
                for t in value["tiers"]
            )
            rate = Fraction(str(value["rate"]))
            if not tiers or [t.readers for t in tiers] != sorted({t.readers for t in tiers}):
                raise ValueError(f"{key}: tiers must be in increasing readers order")
            if not 0 < rate <= 1:
                raise ValueError(f"{key}: rate {rate} out of range")
            rules[Facility(key)] = FacilityRule(
                Facility(key), str(value["label"]), int(value["free_readers"]), rate, tiers
            )
        if set(rules) != set(Facility):
            raise ValueError("every facility kind needs a rule")
        return SubsidyTable(str(raw["version"]), str(raw["source"]), rules)
    except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise DataError(f"subsidy table is malformed: {exc}") from exc


@functools.cache
def load_table(name: str = "2021") -> SubsidyTable:
    if not _TABLE_NAME.match(name):
        raise SubsidyError(f"no subsidy table {name!r}", code="edge.subsidy.table")
    resource = resources.files("onshi.edge").joinpath(f"data/subsidy-{name}.toml")
    if not resource.is_file():
        raise SubsidyError(f"no subsidy table {name!r}", code="edge.subsidy.table")
    return parse_table(tomllib.loads(resource.read_text(encoding="utf-8")))


def estimate(
    facility: Facility | str, readers: int, cost_yen: int, table: SubsidyTable | None = None
) -> SubsidyEstimate:
    """The subsidy for ``cost_yen`` (tax included) of costs other than the free card readers."""
    table = table or load_table()
    try:
        kind = Facility(facility)
    except ValueError:
        raise SubsidyError(f"unknown facility {facility!r}", code="edge.subsidy.facility") from None
    if readers < 1:
        raise SubsidyError(
            "a facility introduces at least one card reader", code="edge.subsidy.readers"
        )
    if cost_yen < 0:
        raise SubsidyError("the cost cannot be negative", code="edge.subsidy.cost")
    rule = table.rules[kind]
    tier = rule.tier(readers)
    subsidy = min(math.floor(min(cost_yen, tier.base_yen) * rule.rate), tier.cap_yen)
    return SubsidyEstimate(min(readers, rule.free_readers), subsidy, tier.cap_yen, rule.rate)
