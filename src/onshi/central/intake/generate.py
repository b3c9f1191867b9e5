"""A synthetic but plausible insured population, written in the intake formats.

The demo's sample data and the benchmarks' input. Deterministic for a seed and a reference date
(``as_of``): households share an address and, under employees' insurance (被用者保険), the
insured's symbol and number with branch numbers 00, 01, 02…; 国保 members are each 被保険者; people
of 75 and over are in 後期高齢者医療 with their own numbers. About 5 % of qualifications are lost
(資格喪失) and about 3 % of households moved insurer (an old lost qualification and a new one,
linked by IndividualId). Rows are streamed to disk, so a million persons need little memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from onshi.central.intake import names
from onshi.central.intake.generate_history import HISTORY_FILES, HistoryWriter
from onshi.central.intake.insured_csv import COLUMNS
from onshi.central.intake.synthetic import (
    GeneratedCounts,
    Insurer,
    Person,
    Row,
    add_years,
    check_digit,
    yyyymmdd,
)

INSURED_HEADER = ["InsurerNumber", "InsurerName", *COLUMNS[1:24], "IndividualId"]

# Share of the population by 5-year age band (0–4 … 95–99), after Japan's 2020 census.
AGE_BANDS = (
    3.6,
    4.0,
    4.3,
    4.5,
    5.0,
    5.1,
    5.3,
    6.0,
    6.8,
    7.9,
    7.5,
    6.6,
    6.0,
    6.2,
    7.4,
    5.5,
    4.5,
    3.0,
    1.5,
    0.4,
)

MOVE_RATE_BELOW_75 = 0.04  # of households headed by someone under 75


class PopulationWriter:
    """Generates households one at a time and writes them to the intake files."""

    def __init__(self, out: Path, *, seed: int, as_of: dt.date, history: bool) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible on purpose, not secret
        self.as_of = as_of
        self.history = history
        self.out = out
        self.counts = GeneratedCounts()
        self._numbers: dict[str, int] = {}
        self._insurers()

    # Insurers -----------------------------------------------------------------------------
    def _insurers(self) -> None:
        rng = self.rng
        self.kyokai: dict[str, Insurer] = {}
        self.kokuho: list[Insurer] = []
        self.koki: dict[str, Insurer] = {}
        for pref_no, pref, city, _post, kokuho in names.places():
            body = f"01{pref_no}001"
            self.kyokai[pref_no] = Insurer(
                body + check_digit(body), f"全国健康保険協会{pref}支部", "kyokai"
            )
            body = f"{pref_no}{kokuho}"
            self.kokuho.append(Insurer(body + check_digit(body), f"{city}国民健康保険", "kokuho"))
            body = f"39{pref_no}101"
            self.koki[pref_no] = Insurer(
                body + check_digit(body), f"{pref}後期高齢者医療広域連合", "koki"
            )
        self.unions = []
        for i, union in enumerate(names.UNIONS):
            body = f"06{rng.choice(names.places())[0]}{i + 101:03d}"
            self.unions.append(Insurer(body + check_digit(body), f"{union}健康保険組合", "union"))
        self.mutual = []
        for law, name in names.MUTUAL_AID.items():
            body = f"{law}13{rng.randrange(100, 999)}"
            self.mutual.append(Insurer(body + check_digit(body), name, "mutual"))

    def _employer_insurer(self, place: tuple[str, ...], avoid: Insurer | None = None) -> Insurer:
        while True:
            r = self.rng.random()
            if r < 0.55:
                found = self.kyokai[place[0]]
            elif r < 0.88:
                found = self.rng.choice(self.unions)
            else:
                found = self.rng.choice(self.mutual)
            if found != avoid:
                return found

    def _kokuho_of(self, place: tuple[str, ...]) -> Insurer:
        return self.kokuho[names.places().index(place)]  # type: ignore[arg-type,unused-ignore]

    def _card_number(self, insurer: Insurer) -> tuple[str, str]:
        n = self._numbers.get(insurer.number, 0) + 1
        self._numbers[insurer.number] = n
        rng = self.rng
        if insurer.kind == "koki":
            return "", f"{n:08d}"
        if insurer.kind == "kyokai":
            return str(rng.randrange(1000000, 99999999)), str(n)
        if insurer.kind == "kokuho":
            return f"{rng.choice('一二三四五')}{rng.randrange(1, 99)}", f"{n:07d}"
        return str(rng.randrange(1, 9999)), str(n)

    # People -------------------------------------------------------------------------------
    def _age(self, low: int = 0, high: int = 100) -> int:
        rng = self.rng
        while True:
            band = rng.choices(range(20), AGE_BANDS)[0]
            age = band * 5 + rng.randrange(5)
            if low <= age < high:
                return age

    def _person(
        self, surname: tuple[str, str], sex: str, age: int, birth: dt.date | None = None
    ) -> Person:
        rng = self.rng
        given = rng.choice(names.given_names(sex))
        if birth is None:
            birth = self.as_of - dt.timedelta(days=int(age * 365.25) + rng.randrange(365))
        as_of = self.as_of
        age = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
        self.counts.persons += 1
        return Person(
            f"P{self.counts.persons:010d}",
            f"{surname[0]}　{given[0]}",
            f"{surname[1]} {given[1]}",
            sex,
            birth,
            age,
        )

    def _household(self) -> list[Person]:
        rng = self.rng
        surname = rng.choice(names.surnames())
        head_age = self._age(20, 100)
        head = self._person(surname, "1" if rng.random() < 0.6 else "2", head_age)
        members = [head]
        if rng.random() < 0.55:
            spouse_age = max(20, min(99, head_age + rng.randint(-6, 6)))
            members.append(self._person(surname, "2" if head.sex == "1" else "1", spouse_age))
        if 24 <= head_age <= 62:
            children = rng.choices((0, 1, 2, 3), (0.35, 0.25, 0.3, 0.1))[0]
            oldest = min(22, head_age - 22)
            twins_at = 1 if children >= 2 and rng.random() < 0.04 else -1
            for i in range(children):
                if i == twins_at:
                    twin = members[-1]
                    members.append(self._person(surname, rng.choice("12"), twin.age, twin.birth))
                    self.counts.twins += 1
                    continue
                members.append(self._person(surname, rng.choice("12"), rng.randint(0, oldest)))
        return members

    # Qualifications -----------------------------------------------------------------------
    def _ratio(self, age: int) -> str:
        if age < 6:
            return "020"  # 未就学
        if age < 70:
            return "030"
        if age < 75:
            return "030" if self.rng.random() < 0.1 else "020"  # 現役並み所得 stays at 30 %
        return self.rng.choices(("010", "020", "030"), (0.8, 0.1, 0.1))[0]

    def _qualification(
        self,
        insurer: Insurer,
        card: tuple[str, str],
        branch: str,
        person: Person,
        insured: Person,
        place: tuple[str, ...],
        address: tuple[str, str],
        start: dt.date,
        classification: str,
    ) -> Row:
        rng, as_of = self.rng, self.as_of
        start = max(start, person.birth)
        if insurer.kind == "koki":
            start = max(start, add_years(person.birth, 75))
        issued = max(start, as_of - dt.timedelta(days=rng.randrange(1, 1500)))
        july = dt.date(as_of.year if as_of.month < 8 else as_of.year + 1, 7, 31)
        ratio = self._ratio(person.age)
        values = {
            "InsurerNumber": insurer.number,
            "InsurerName": insurer.name,
            "InsuredCardSymbol": card[0],
            "InsuredIdentificationNumber": card[1],
            "InsuredBranchNumber": branch,
            "PersonalFamilyClassification": classification,
            "InsuredName": insured.name,
            "Name": person.name,
            "NameKana": person.kana,
            "Sex1": person.sex,
            "Birthdate": yyyymmdd(person.birth),
            "Address": address[0],
            "PostNumber": address[1],
            "InsuredCardClassification": "01",
            "InsuredCertificateIssuanceDate": yyyymmdd(issued),
            "InsuredCardValidDate": yyyymmdd(issued),
            "InsuredCardExpirationDate": yyyymmdd(july)
            if insurer.kind in {"kokuho", "koki"}
            else "",
            "InsuredPartialContributionRatio": ratio,
            "QualificationDate": yyyymmdd(start),
            "IndividualId": person.individual_id,
        }
        if 70 <= person.age < 75:
            seventy = add_years(person.birth, 70)
            first = (
                seventy
                if seventy.day == 1
                else (seventy.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
            )
            values |= {
                "ElderlyRecipientCertificateDate": yyyymmdd(first),
                "ElderlyRecipientValidStartDate": yyyymmdd(first),
                "ElderlyRecipientValidEndDate": yyyymmdd(july),
                "ElderlyRecipientContributionRatio": ratio,
            }
        return Row(insurer, card[0], card[1], branch, person, values)

    def _lose(self, row: Row, on: dt.date, reason: str) -> None:
        start = dt.date.fromisoformat(
            row.values["QualificationDate"][:4]
            + "-"
            + row.values["QualificationDate"][4:6]
            + "-"
            + row.values["QualificationDate"][6:]
        )
        on = max(on, start + dt.timedelta(days=1))
        row.values["DisqualificationDate"] = yyyymmdd(on)
        row.values["ReasonOfLoss"] = reason
        row.lost = True

    def households(self, persons: int) -> Iterator[list[Row]]:
        rng, as_of = self.rng, self.as_of
        while self.counts.persons < persons:
            members = self._household()
            if self.counts.persons > persons:  # the last household is cut to size
                members = members[: len(members) - (self.counts.persons - persons)]
                self.counts.persons = persons
            self.counts.households += 1
            place = rng.choice(names.places())
            address = (
                f"{place[1]}{place[2]}{rng.choice(names.TOWNS)}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号",
                f"{place[3]}-{rng.randrange(10000):04d}",
            )
            head = members[0]
            if head.age >= 75:
                kind = "koki"
            elif head.age >= 65:
                kind = "kokuho" if rng.random() < 0.75 else "employer"
            else:
                kind = "kokuho" if rng.random() < 0.22 else "employer"
            insurer = (
                self._kokuho_of(place)
                if kind == "kokuho"
                else self.koki[place[0]]
                if kind == "koki"
                else self._employer_insurer(place)
            )
            tenure = rng.randrange(0, max(1, min(head.age - 18, 40)) * 365)
            start = max(add_years(head.birth, 18), as_of - dt.timedelta(days=tenure))
            rows = self._cards(insurer, members, place, address, start)
            # 後期高齢者 do not change insurer by moving jobs; the others move often enough that
            # about 3 % of all households carry an old and a new qualification.
            moved = kind != "koki" and rng.random() < MOVE_RATE_BELOW_75
            if moved:
                self.counts.moved += 1
                move_on = as_of - dt.timedelta(days=rng.randrange(30, 900))
                new_insurer = (
                    self._kokuho_of(place)
                    if kind == "employer" and rng.random() < 0.3
                    else self._employer_insurer(place, avoid=insurer)
                )
                # Members of 75 and over stay in 後期高齢者医療: only the others change insurer.
                movers = [m for m in members if m.age < 75]
                for row in rows:
                    if row.person.age < 75:
                        self._lose(row, move_on, "03")
                rows = rows + self._cards(new_insurer, movers, place, address, move_on)
            for row in rows:
                if not row.lost and rng.random() < 0.04:
                    days = rng.randrange(1, 1000)
                    reason = (
                        "01"
                        if row.person.age >= 80 and rng.random() < 0.5
                        else rng.choice(("03", "03", "99", "02"))
                    )
                    self._lose(row, as_of - dt.timedelta(days=days), reason)
            self.counts.lost += sum(r.lost for r in rows)
            self.counts.qualifications += len(rows)
            yield rows

    def _cards(
        self,
        insurer: Insurer,
        members: list[Person],
        place: tuple[str, ...],
        address: tuple[str, str],
        start: dt.date,
    ) -> list[Row]:
        """Qualifications of one household under one insurer: one card number, branch per member."""
        rows: list[Row] = []
        head = members[0]
        if insurer.kind == "koki":
            family, others = [head], members[1:]
        else:
            family = [m for m in members if m.age < 75]
            others = [m for m in members if m.age >= 75]
        card = self._card_number(insurer)
        if len(family) > 1:
            self.counts.families += 1
        for i, person in enumerate(family):
            branch = "" if insurer.kind == "koki" else f"{i:02d}"
            classification = "1" if i == 0 or insurer.kind == "kokuho" else "2"
            insured = person if insurer.kind == "kokuho" else head
            rows.append(
                self._qualification(
                    insurer, card, branch, person, insured, place, address, start, classification
                )
            )
        for other in others:
            # 75 and over: each in 後期高齢者医療 under their own number; a younger spouse of a
            # 後期 insured cannot be a dependant there and joins 国保.
            own = self.koki[place[0]] if other.age >= 75 else self._kokuho_of(place)
            branch = "" if own.kind == "koki" else "00"
            rows.append(
                self._qualification(
                    own, self._card_number(own), branch, other, other, place, address, start, "1"
                )
            )
        return rows


def generate_population(
    out: Path, persons: int, *, seed: int = 1, as_of: dt.date | None = None, history: bool = True
) -> GeneratedCounts:
    """Write ``insured.csv`` (and, with ``history``, the JSON Lines files) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    writer = PopulationWriter(out, seed=seed, as_of=as_of or dt.date.today(), history=history)
    histories = HistoryWriter(writer.rng, writer.as_of, writer.counts)
    files: dict[str, Any] = {}
    try:
        if history:
            for kind in HISTORY_FILES:
                files[kind] = (out / f"{kind}.jsonl").open("w", encoding="utf-8", buffering=1 << 20)
        with (out / "insured.csv").open("w", encoding="utf-8", newline="", buffering=1 << 20) as f:
            rows = csv.DictWriter(f, INSURED_HEADER, restval="", lineterminator="\n")
            rows.writeheader()
            for household in writer.households(persons):
                rows.writerows(row.values for row in household)
                if history:
                    for row in household:
                        if not row.lost:
                            histories.write(row, files)
    finally:
        for handle in files.values():
            handle.close()
    return writer.counts
