"""Building intake files in tests: a valid row, changed here and there."""

from __future__ import annotations

import csv
import io

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
