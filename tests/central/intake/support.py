"""Building intake files in tests (a valid row, changed here and there; random populations and
their next files) and reading back what an import stored."""

from __future__ import annotations

import csv
import io
import json
import random
from typing import Any

from sqlalchemy import text

from onshi.central.storage.database import Database

HEADER = [
    "InsurerNumber",
    "InsurerName",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "PersonalFamilyClassification",
    "InsuredName",
    "Name",
    "NameKana",
    "Sex1",
    "Birthdate",
    "Address",
    "PostNumber",
    "InsuredCardClassification",
    "InsuredCertificateIssuanceDate",
    "InsuredCardValidDate",
    "InsuredCardExpirationDate",
    "InsuredPartialContributionRatio",
    "QualificationDate",
    "DisqualificationDate",
    "ReasonOfLoss",
    "IndividualId",
]

BASE = {
    "InsurerNumber": "01130012",
    "InsurerName": "全国健康保険協会東京支部",
    "InsuredCardSymbol": "1234",
    "InsuredIdentificationNumber": "5678",
    "InsuredBranchNumber": "00",
    "PersonalFamilyClassification": "1",
    "InsuredName": "山田　太郎",
    "Name": "山田　太郎",
    "NameKana": "ﾔﾏﾀﾞ ﾀﾛｳ",
    "Sex1": "1",
    "Birthdate": "19800115",
    "Address": "東京都新宿区本町1丁目2番3号",
    "PostNumber": "160-0001",
    "InsuredCardClassification": "01",
    "InsuredCertificateIssuanceDate": "20200401",
    "InsuredCardValidDate": "20200401",
    "InsuredCardExpirationDate": "",
    "InsuredPartialContributionRatio": "030",
    "QualificationDate": "20200401",
    "DisqualificationDate": "",
    "ReasonOfLoss": "",
    "IndividualId": "",
}

TABLES = (
    "insurer",
    "individual",
    "qualification",
    "qualification_history",
    "limit_application_certificate",
    "specific_diseases_certificate",
    "drug_dispensing",
    "checkup_result",
    "medical_treatment",
    "card_link",
)


def row(number: int = 1, **changes: str) -> dict[str, str]:
    """A valid row whose card number is ``number``; ``changes`` override fields."""
    values = dict(BASE, InsuredIdentificationNumber=str(5000 + number))
    values.update(changes)
    return values


def csv_bytes(
    rows: list[dict[str, str]], header: list[str] | None = None, *, bom: bool = False
) -> bytes:
    columns = header or list(dict.fromkeys([*HEADER, *(k for r in rows for k in r)]))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="", lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()


def counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as c:
        return {
            name: int(c.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in TABLES
        }


LIMIT = {
    "LimitApplicationCertificateClassification": "01",
    "LimitApplicationCertificateClassificationFlag": "A03",
    "LimitApplicationCertificateValidStartDate": "20250401",
    "LimitApplicationCertificateValidEndDate": "20260331",
}
INSURERS = [
    ("01130012", "全国健康保険協会東京支部"),
    ("06139999", "さくら電機健康保険組合"),
    ("138057", "新宿区国民健康保険"),
]


def stored(database: Database) -> dict[str, Any]:
    """Everything an import decides, without the ids it happened to pick."""
    with database.engine.connect() as c:
        rows = c.execute(
            text(
                'SELECT q."InsurerNumber", q."InsuredCardSymbol", q."InsuredIdentificationNumber", '
                'q."InsuredBranchNumber", q.version, q.content_digest, q."Address", '
                "q.individual_id, i.external_id FROM qualification q "
                "JOIN individual i ON i.id = q.individual_id"
            )
        ).all()
        history = c.execute(
            text(
                'SELECT q."InsuredIdentificationNumber", h.version, h.content '
                "FROM qualification_history h JOIN qualification q ON q.id = h.qualification_id"
            )
        ).all()
        limits = c.execute(
            text(
                'SELECT q."InsuredIdentificationNumber", l.content_digest '
                "FROM limit_application_certificate l "
                "JOIN qualification q ON q.id = l.qualification_id"
            )
        ).all()
        insurers = c.execute(text('SELECT "InsurerNumber", "InsurerName" FROM insurer')).all()
    people: dict[int, set[str]] = {}
    for r in rows:
        people.setdefault(r[7], set()).add(r[2])
    # history content names the row's own id and individual id: compare without them
    kept = sorted((h[0], h[1], _without_ids(h[2])) for h in history)
    return {
        "qualifications": sorted((*r[:7], r[8]) for r in rows),
        "people": sorted(sorted(p) for p in people.values()),
        "history": kept,
        "limits": sorted(tuple(r) for r in limits),
        "insurers": sorted(tuple(r) for r in insurers),
        "counts": counts(database),
    }


def _without_ids(content: str) -> str:
    earlier = json.loads(content)
    for key in ("id", "individual_id", "updated_at"):
        earlier.pop(key, None)
    return json.dumps(earlier, sort_keys=True, ensure_ascii=False)


def population(seed: int, size: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for n in range(1, size + 1):
        number, name = rng.choice(INSURERS)
        person = rng.choice(["", "", *(f"p{k}" for k in range(size // 3))])
        changes = {"InsurerNumber": number, "InsurerName": name, "IndividualId": person}
        if rng.random() < 0.2:
            changes.update(LIMIT)
        out.append(row(n, **changes))
    return out


def next_file(seed: int, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The insurers' next file: some rows changed, some named, some new, some gone."""
    rng = random.Random(seed)
    out = []
    for r in rows:
        roll = rng.random()
        if roll < 0.1:
            continue  # not in this file: stays stored as it was
        changed = dict(r)
        if roll < 0.3:
            changed["Address"] = f"大阪府大阪市北区梅田{rng.randint(1, 9)}丁目"
        elif roll < 0.4 and not r["IndividualId"]:
            changed["IndividualId"] = f"named-{rng.randint(1, 5)}"
        out.append(changed)
    out += [row(1000 + n, IndividualId=rng.choice(["", "p1", "named-2"])) for n in range(8)]
    rng.shuffle(out)
    return out
