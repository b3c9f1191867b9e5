"""The versioned price list and quotes: the seed's table 1-4 must come out exactly."""

from __future__ import annotations

import datetime as dt

import pytest

from onshi.vpn.domain.pricing import (
    extra_certificates_for,
    parse_price_lists,
    price_list_on,
    price_lists,
    quote,
)
from onshi.vpn.errors import (
    IdCountOutOfRange,
    InvalidPriceList,
    PriceListNotInForce,
    TerminalsOutOfRange,
)

VERSION = """
[[version]]
effective_from = {date}
consumption_tax_percent = 10
certificates_included_per_id = 2
max_extra_certificates_per_id = 3
[version.initial_fee]
code = "NS2E050S"
name = "初期費"
unit = "ID"
yen = 5000
[version.id_fee]
code = "NS2E050G"
name = "ID利用料"
unit = "ID"
yen = {id_fee}
[version.extra_certificate]
code = "NS2E051G"
name = "追加証明書 利用料"
unit = "枚"
yen = {extra}
"""


def version(date: str = "2022-01-01", id_fee: int = 2500, extra: int = 350) -> str:
    return VERSION.format(date=date, id_fee=id_fee, extra=extra)


def test_packaged_price_list_is_the_seeds() -> None:
    prices = price_list_on(dt.date(2026, 12, 2))
    assert (prices.initial_fee.code, prices.initial_fee.yen, prices.initial_fee.unit) == (
        "NS2E050S",
        5000,
        "ID",
    )
    assert (prices.id_fee.code, prices.id_fee.yen) == ("NS2E050G", 2500)
    assert (prices.extra_certificate.code, prices.extra_certificate.yen) == ("NS2E051G", 350)
    assert prices.extra_certificate.unit == "枚"
    assert prices.certificates_included_per_id == 2
    assert prices.max_extra_certificates_per_id == 3
    assert prices.consumption_tax_percent == 10
    assert price_lists()[0].effective_from == dt.date(2022, 1, 1)


@pytest.mark.parametrize(
    ("terminals", "extra", "monthly", "per_terminal"),
    [
        (1, 0, 2500, 2500),
        (2, 0, 2500, 1250),
        (3, 1, 2850, 950),
        (4, 2, 3200, 800),
        (5, 3, 3550, 710),
    ],
)
def test_the_seeds_reference_table(
    terminals: int, extra: int, monthly: int, per_terminal: int
) -> None:
    result = quote(1, terminals)
    assert result.extra_certificates_per_id == extra
    assert result.extra_certificates == extra
    assert result.monthly_yen == monthly
    assert result.per_terminal_yen == per_terminal
    assert result.initial_yen == 5000


def test_ten_ids_on_five_terminals_need_thirty_extra_certificates() -> None:
    result = quote(10, 5)
    assert result.as_dict() == {
        "ids": 10,
        "terminals": 5,
        "extra_certificates_per_id": 3,
        "extra_certificates": 30,
        "initial_yen": 50_000,
        "monthly_yen": 35_500,
        "per_terminal_yen": 710,
    }


@pytest.mark.parametrize("terminals", [0, 6, -1, 100])
def test_terminals_outside_one_to_five_are_refused(terminals: int) -> None:
    with pytest.raises(TerminalsOutOfRange, match="between 1 and 5") as info:
        quote(1, terminals)
    assert info.value.exit_status == 2
    with pytest.raises(TerminalsOutOfRange):
        extra_certificates_for(terminals)


@pytest.mark.parametrize("ids", [0, -3])
def test_fewer_than_one_id_is_refused(ids: int) -> None:
    with pytest.raises(IdCountOutOfRange, match="at least 1 ID"):
        quote(ids, 2)


def test_per_terminal_figure_is_rounded_half_up_to_the_yen() -> None:
    # 2500 + 2 × 351 = 3202 → 800.5 per terminal → 801; 2500 + 355 = 2855 → 951.67 → 952
    (odd,) = parse_price_lists(version(extra=351))
    assert quote(1, 4, odd).per_terminal_yen == 801
    (other,) = parse_price_lists(version(extra=355))
    assert quote(3, 3, other).per_terminal_yen == 952
    # 2500 + 353 = 2853 → 951 exactly; 2500 + 2 × 349 = 3198 → 799.5 → 800
    (exact,) = parse_price_lists(version(extra=353))
    assert quote(1, 3, exact).per_terminal_yen == 951
    (half,) = parse_price_lists(version(extra=349))
    assert quote(1, 4, half).per_terminal_yen == 800


def test_the_newest_version_in_force_applies() -> None:
    versions = parse_price_lists(version("2027-04-01", id_fee=2700) + version("2022-01-01"))
    assert [v.effective_from for v in versions] == [dt.date(2022, 1, 1), dt.date(2027, 4, 1)]
    assert price_list_on(dt.date(2027, 3, 31), versions).id_fee.yen == 2500
    assert price_list_on(dt.date(2027, 4, 1), versions).id_fee.yen == 2700
    assert quote(1, 1, price_list_on(dt.date(2030, 1, 1), versions)).monthly_yen == 2700
    with pytest.raises(PriceListNotInForce, match="2021-12-31"):
        price_list_on(dt.date(2021, 12, 31), versions)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [toml", "not valid TOML"),
        ("", "no \\[\\[version\\]\\]"),
        (version().replace("yen = 2500", 'yen = "2500"'), "whole number"),
        (version().replace("yen = 2500", "yen = -1"), "whole number"),
        (version().replace("effective_from = 2022-01-01", 'effective_from = "soon"'), "a date"),
        (version().replace('code = "NS2E050G"\n', ""), "code is missing"),
        (version() + version(), "same effective_from"),
        (version().replace("consumption_tax_percent = 10", ""), "consumption_tax_percent"),
    ],
)
def test_broken_price_data_is_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidPriceList, match=message):
        parse_price_lists(text)
