"""The 2021 subsidy table, applied."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from onshi.edge.__main__ import build_app
from onshi.edge.errors import DataError, SubsidyError
from onshi.edge.subsidy import Facility, estimate, load_table, parse_table


@pytest.mark.parametrize(("facility", "readers", "cost", "free", "subsidy", "cap", "rate"), [
    ("hospital", 1, 5_000_000, 1, 1_050_000, 1_050_000, Fraction(1, 2)),  # 2,101,000/2 → capped
    ("hospital", 2, 5_000_000, 2, 1_001_000, 1_001_000, Fraction(1, 2)),
    ("hospital", 3, 5_000_000, 3, 951_000, 951_000, Fraction(1, 2)),  # 1,903,000/2 = 951,500
    ("hospital", 5, 5_000_000, 3, 951_000, 951_000, Fraction(1, 2)),  # beyond the table: tier 3
    ("hospital", 1, 1_000_001, 1, 500_000, 1_050_000, Fraction(1, 2)),  # floor
    ("large-chain-pharmacy", 1, 1_000_000, 1, 214_000, 214_000, Fraction(1, 2)),
    ("large-chain-pharmacy", 2, 300_001, 1, 150_000, 214_000, Fraction(1, 2)),
    ("clinic", 1, 429_000, 1, 321_000, 321_000, Fraction(3, 4)),  # 321,750 → cap
    ("clinic", 1, 400_001, 1, 300_000, 321_000, Fraction(3, 4)),  # floor(300,000.75)
    ("pharmacy", 3, 100_000, 1, 75_000, 321_000, Fraction(3, 4)),
    ("clinic", 1, 0, 1, 0, 321_000, Fraction(3, 4)),
])  # fmt: skip
def test_estimates(
    facility: str, readers: int, cost: int, free: int, subsidy: int, cap: int, rate: Fraction
) -> None:
    result = estimate(facility, readers, cost)
    assert (result.free_readers, result.subsidy_yen, result.cap_yen, result.rate) == (
        free,
        subsidy,
        cap,
        rate,
    )


def test_formula_holds_for_every_facility_and_cost() -> None:
    table = load_table()
    for kind in Facility:
        rule = table.rules[kind]
        for readers in (1, 2, 3):
            tier = rule.tier(readers)
            for cost in range(0, 2_500_000, 7_919):
                got = estimate(kind, readers, cost).subsidy_yen
                assert got == min(int(min(cost, tier.base_yen) * rule.rate), tier.cap_yen)
                assert 0 <= got <= tier.cap_yen


@pytest.mark.parametrize(("args", "code"), [
    (("school", 1, 100), "edge.subsidy.facility"),
    (("clinic", 0, 100), "edge.subsidy.readers"),
    (("clinic", 1, -1), "edge.subsidy.cost"),
])  # fmt: skip
def test_bad_input(args: tuple[str, int, int], code: str) -> None:
    with pytest.raises(SubsidyError) as info:
        estimate(*args)
    assert info.value.code == code


def test_table_is_versioned_data() -> None:
    table = load_table("2021")
    assert table.version == "2021-04" and table.source.startswith("https://www.mhlw.go.jp/")
    with pytest.raises(SubsidyError):
        load_table("1999")
    with pytest.raises(SubsidyError):
        load_table("../areas")


def test_malformed_table_is_a_data_error() -> None:
    with pytest.raises(DataError):
        parse_table({"version": "x", "source": "y", "facility": {"clinic": {"label": "c"}}})


RUN = CliRunner()


def test_cli_json() -> None:
    result = RUN.invoke(
        build_app(),
        [
            "subsidy",
            "--facility",
            "hospital",
            "--readers",
            "2",
            "--cost",
            "3000000",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "free_readers": 2,
        "subsidy_yen": 1001000,
        "cap_yen": 1001000,
        "rate": 0.5,
    }


def test_cli_text() -> None:
    result = RUN.invoke(
        build_app(), ["subsidy", "--facility", "clinic", "--readers", "1", "--cost", "400000"]
    )
    assert result.exit_code == 0 and "300,000 yen" in result.stdout and "rate 3/4" in result.stdout


@pytest.mark.parametrize("args", [
    ["--facility", "school", "--readers", "1", "--cost", "1"],
    ["--facility", "clinic", "--readers", "0", "--cost", "1"],
    ["--facility", "clinic", "--readers", "1", "--cost", "-5"],
    ["--facility", "clinic", "--readers", "1", "--cost", "12.5"],
    ["--facility", "clinic", "--readers", "x", "--cost", "1"],
    ["--facility", "clinic", "--readers", "1"],
    ["--facility", "clinic", "--readers", "1", "--cost", "1", "--table", "1999"],
])  # fmt: skip
def test_cli_bad_input_exits_2(args: list[str]) -> None:
    result = RUN.invoke(build_app(), ["subsidy", *args])
    assert result.exit_code == 2, result.output
