"""The price list (料金表) as versioned data, and quotes (見積) for K IDs × T terminals.

Prices are yen before consumption tax (税抜), as the seed lists them; the data lives in
``data/prices.toml`` (one ``[[version]]`` per change, each with an ``effective_from`` date) and
the newest version in force on a date applies. Invoices add the consumption tax (see billing).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from onshi.vpn.errors import (
    IdCountOutOfRange,
    InvalidPriceList,
    PriceListNotInForce,
    TerminalsOutOfRange,
)

#: The seed's supported range: an ID carries 2 certificates, at most 3 more (5 terminals at once).
MIN_TERMINALS = 1
MAX_TERMINALS = 5


@dataclass(frozen=True)
class Product:
    """One priced item (型名 ``code``), ``yen`` per ``unit`` before tax."""

    code: str
    name: str
    unit: str
    yen: int


@dataclass(frozen=True)
class PriceList:
    """One version of the price list, in force from ``effective_from``."""

    effective_from: dt.date
    initial_fee: Product  # NS2E050S, once per ID
    id_fee: Product  # NS2E050G, per ID and month, 2 certificates included
    extra_certificate: Product  # NS2E051G, per certificate and month
    consumption_tax_percent: int
    certificates_included_per_id: int
    max_extra_certificates_per_id: int

    def monthly_yen_per_id(self, extra_certificates_per_id: int) -> int:
        return self.id_fee.yen + self.extra_certificate.yen * extra_certificates_per_id


def _product(table: Any, where: str) -> Product:
    if not isinstance(table, dict):
        raise InvalidPriceList(f"price list {where}: missing")
    try:
        code, name, unit, yen = table["code"], table["name"], table["unit"], table["yen"]
    except KeyError as exc:
        raise InvalidPriceList(f"price list {where}: {exc.args[0]} is missing") from None
    if not (isinstance(code, str) and isinstance(name, str) and isinstance(unit, str)):
        raise InvalidPriceList(f"price list {where}: code, name and unit must be text")
    if not isinstance(yen, int) or isinstance(yen, bool) or yen < 0:
        raise InvalidPriceList(f"price list {where}: yen must be a whole number ≥ 0")
    return Product(code=code, name=name, unit=unit, yen=yen)


def _positive_int(version: dict[str, Any], key: str, where: str) -> int:
    value = version.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidPriceList(f"price list {where}: {key} must be a whole number ≥ 0")
    return value


def parse_price_lists(text: str) -> tuple[PriceList, ...]:
    """Parse price-list TOML into versions sorted by ``effective_from`` (oldest first)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPriceList(f"price list is not valid TOML: {exc}") from None
    versions = document.get("version")
    if not isinstance(versions, list) or not versions:
        raise InvalidPriceList("price list has no [[version]]")
    lists: list[PriceList] = []
    for index, version in enumerate(versions, start=1):
        where = f"version {index}"
        effective = version.get("effective_from")
        if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
            raise InvalidPriceList(f"price list {where}: effective_from must be a date")
        lists.append(
            PriceList(
                effective_from=effective,
                initial_fee=_product(version.get("initial_fee"), f"{where} initial_fee"),
                id_fee=_product(version.get("id_fee"), f"{where} id_fee"),
                extra_certificate=_product(
                    version.get("extra_certificate"), f"{where} extra_certificate"
                ),
                consumption_tax_percent=_positive_int(version, "consumption_tax_percent", where),
                certificates_included_per_id=_positive_int(
                    version, "certificates_included_per_id", where
                ),
                max_extra_certificates_per_id=_positive_int(
                    version, "max_extra_certificates_per_id", where
                ),
            )
        )
    lists.sort(key=lambda p: p.effective_from)
    dates = [p.effective_from for p in lists]
    if len(set(dates)) != len(dates):
        raise InvalidPriceList("price list has two versions with the same effective_from")
    return tuple(lists)


@cache
def price_lists() -> tuple[PriceList, ...]:
    """The packaged price-list versions (read once, on first use)."""
    text = resources.files("onshi.vpn.domain").joinpath("data/prices.toml").read_text("utf-8")
    return parse_price_lists(text)


def price_list_on(day: dt.date, versions: tuple[PriceList, ...] | None = None) -> PriceList:
    """The newest version whose ``effective_from`` is on or before ``day``."""
    in_force = [p for p in (versions or price_lists()) if p.effective_from <= day]
    if not in_force:
        first = (versions or price_lists())[0].effective_from
        raise PriceListNotInForce(
            f"no price list is in force on {day.isoformat()}; the first applies from "
            f"{first.isoformat()}"
        )
    return in_force[-1]


def extra_certificates_for(terminals: int, prices: PriceList | None = None) -> int:
    """Extra certificates each ID needs so ``terminals`` devices can connect at once."""
    price = prices or price_lists()[-1]
    high = price.certificates_included_per_id + price.max_extra_certificates_per_id
    if not MIN_TERMINALS <= terminals <= high:
        raise TerminalsOutOfRange(
            f"terminals per ID must be between {MIN_TERMINALS} and {high} "
            f"({price.certificates_included_per_id} included + at most "
            f"{price.max_extra_certificates_per_id} extra certificates); {terminals} is not"
        )
    return max(0, terminals - price.certificates_included_per_id)


def round_yen(amount: Decimal) -> int:
    """Whole yen, halves rounded up (四捨五入) — used only for guide figures, never on invoices."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Quote:
    """A quote before tax: K IDs, each used by T terminals at once (seed 1-4 reference table)."""

    ids: int
    terminals: int
    extra_certificates_per_id: int
    extra_certificates: int
    initial_yen: int
    monthly_yen: int
    per_terminal_yen: int  # monthly, per terminal: the seed's 端末単位での単価目安, rounded half up

    def as_dict(self) -> dict[str, int]:
        return {
            "ids": self.ids,
            "terminals": self.terminals,
            "extra_certificates_per_id": self.extra_certificates_per_id,
            "extra_certificates": self.extra_certificates,
            "initial_yen": self.initial_yen,
            "monthly_yen": self.monthly_yen,
            "per_terminal_yen": self.per_terminal_yen,
        }


def quote(ids: int, terminals: int, prices: PriceList | None = None) -> Quote:
    """The quote for ``ids`` IDs used by ``terminals`` terminals each (latest prices by default)."""
    price = prices or price_lists()[-1]
    if ids < 1:
        raise IdCountOutOfRange(f"a quote needs at least 1 ID; {ids} is not allowed")
    extra = extra_certificates_for(terminals, price)
    monthly = ids * price.monthly_yen_per_id(extra)
    return Quote(
        ids=ids,
        terminals=terminals,
        extra_certificates_per_id=extra,
        extra_certificates=ids * extra,
        initial_yen=ids * price.initial_fee.yen,
        monthly_yen=monthly,
        per_terminal_yen=round_yen(Decimal(monthly) / Decimal(ids * terminals)),
    )
