"""The synthetic population: deterministic, realistic in shape, and accepted by the intake."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.generate import check_digit, generate_population
from onshi.central.intake.insured_store import import_insured
from onshi.central.intake.records_store import import_linked
from onshi.central.storage.database import Database

from .support import counts

AS_OF = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("population")
    generate_population(out, 3000, seed=7, as_of=AS_OF)
    return out


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "insured.csv").open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_same_seed_same_files(population: Path, tmp_path: Path) -> None:
    generate_population(tmp_path, 3000, seed=7, as_of=AS_OF)
    for name in (
        "insured.csv",
        "drug.jsonl",
        "checkup.jsonl",
        "limit.jsonl",
        "specific-disease.jsonl",
        "diagnosis.jsonl",
        "operation.jsonl",
    ):
        assert (tmp_path / name).read_bytes() == (population / name).read_bytes(), name
    generate_population(tmp_path / "other", 3000, seed=8, as_of=AS_OF)
    assert (tmp_path / "other" / "insured.csv").read_bytes() != (
        population / "insured.csv"
    ).read_bytes()


def test_population_has_the_promised_shape(population: Path) -> None:
    rows = _rows(population)
    people = {r["IndividualId"] for r in rows}
    assert len(people) == 3000
    lost = [r for r in rows if r["DisqualificationDate"]]
    assert 0.03 < len(lost) / len(rows) < 0.12
    assert all(r["ReasonOfLoss"] for r in lost)
    per_person = Counter(r["IndividualId"] for r in rows)
    moved = [p for p, n in per_person.items() if n > 1]
    assert 0.01 < len(moved) / len(people) < 0.06
    insurers_of = {
        p: {r["InsurerNumber"] for r in rows if r["IndividualId"] == p} for p in moved[:20]
    }
    assert all(len(v) == 2 for v in insurers_of.values())
    families = Counter(
        (r["InsurerNumber"], r["InsuredCardSymbol"], r["InsuredIdentificationNumber"]) for r in rows
    )
    assert max(families.values()) >= 4
    assert {r["InsuredBranchNumber"] for r in rows} >= {"", "00", "01", "02"}
    assert {r["PersonalFamilyClassification"] for r in rows} == {"1", "2"}
    kinds = Counter(
        r["InsurerNumber"][:2] if len(r["InsurerNumber"]) == 8 else "国保" for r in rows
    )
    assert {"01", "06", "39", "国保"} <= set(kinds) and {"31", "32", "33"} & set(kinds)
    assert all(check_digit(r["InsurerNumber"][:-1]) == r["InsurerNumber"][-1] for r in rows)
    for r in rows:
        birth = dt.datetime.strptime(r["Birthdate"], "%Y%m%d").date()
        age = AS_OF.year - birth.year - ((AS_OF.month, AS_OF.day) < (birth.month, birth.day))
        if r["InsurerNumber"].startswith("39"):
            assert age >= 75 and r["InsuredPartialContributionRatio"] in {"010", "020", "030"}
        elif age < 6:
            assert r["InsuredPartialContributionRatio"] == "020"
        if 70 <= age < 75:
            assert r["ElderlyRecipientContributionRatio"] in {"020", "030"}
    twins = Counter(
        (r["InsurerNumber"], r["InsuredIdentificationNumber"], r["Birthdate"])
        for r in rows
        if r["PersonalFamilyClassification"] == "2"
    )
    assert any(n >= 2 for n in twins.values())
    drug_days = [
        json.loads(line)["DiDate"] for line in (population / "drug.jsonl").open(encoding="utf-8")
    ]
    old = sum(d < (AS_OF - dt.timedelta(days=3 * 365)).strftime("%Y%m%d") for d in drug_days)
    assert 0 < old < len(drug_days) * 0.3


def test_drug_lines_name_their_institutions(population: Path) -> None:
    lines = [json.loads(x) for x in (population / "drug.jsonl").open(encoding="utf-8")]
    assert all(x["PrlsHCd"][2] == "1" and x["MeTrDiHCd"][2] in "14" for x in lines)
    in_house = [x for x in lines if x["InOut"] == "1"]
    assert 0 < len(in_house) < len(lines)
    assert all(x["MeTrDiHCd"] == x["PrlsHCd"] and x["DiOrg"] == "1" for x in in_house)
    operations = [json.loads(x) for x in (population / "operation.jsonl").open(encoding="utf-8")]
    assert operations and all(x["MeTrIdCl"] == "50" for x in operations)


def test_output_imports_cleanly(population: Path, sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        with (population / "insured.csv").open("rb") as f:
            first = import_insured(database, f)
        assert first.inserted == len(_rows(population)) and first.updated == 0
        for kind in ("drug", "checkup", "limit", "specific-disease", "diagnosis", "operation"):
            with (population / f"{kind}.jsonl").open("rb") as f:
                result = import_linked(database, kind, f)
            assert result.inserted > 0, kind
        with (population / "insured.csv").open("rb") as f:
            assert import_insured(database, f) == ImportCounts(unchanged=first.inserted)
        stored = counts(database)
        assert stored["individual"] == 3000 and stored["qualification_history"] == 0
    finally:
        database.dispose()
