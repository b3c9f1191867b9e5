"""Insert central data directly (independent of the intake code, which has its own tests)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from onshi.central.storage import tables as t

NOW = dt.datetime(2026, 11, 23, 10, 0, 0)


def insurer(session: Session, number: str = "06139999", name: str = "オンシ健康保険組合") -> None:
    if session.get(t.Insurer, number) is None:
        session.add(t.Insurer(InsurerNumber=number, InsurerName=name))
        session.flush()


def individual(session: Session) -> int:
    row = t.Individual()
    session.add(row)
    session.flush()
    return row.id


DEFAULTS: dict[str, Any] = {
    "InsurerNumber": "06139999",
    "InsuredCardSymbol": "12-34",
    "InsuredIdentificationNumber": "4260",
    "InsuredBranchNumber": "00",
    "PersonalFamilyClassification": "1",
    "Name": "診療　太郎",
    "NameKana": "ｼﾝﾘｮｳ ﾀﾛｳ",
    "Sex1": "1",
    "Birthdate": dt.date(1980, 4, 1),
    "InsuredCardClassification": "01",
    "InsuredPartialContributionRatio": "030",
    "QualificationDate": dt.date(2020, 4, 1),
}

# The default person's QualificationConfirmSearchInfo, as a facility sends it.
SEARCH = {
    "InsurerNumber": DEFAULTS["InsurerNumber"],
    "InsuredCardSymbol": DEFAULTS["InsuredCardSymbol"],
    "InsuredIdentificationNumber": DEFAULTS["InsuredIdentificationNumber"],
    "InsuredBranchNumber": DEFAULTS["InsuredBranchNumber"],
    "Birthdate": DEFAULTS["Birthdate"].strftime("%Y%m%d"),
}


def qualification(
    session: Session, *, individual_id: int | None = None, **fields: Any
) -> t.Qualification:
    values = {**DEFAULTS, **fields}
    insurer(session, values["InsurerNumber"])
    if individual_id is None:
        individual_id = individual(session)
    row = t.Qualification(
        individual_id=individual_id,
        content_digest=hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest(),
        version=1,
        updated_at=NOW,
        **values,
    )
    session.add(row)
    session.flush()
    return row


def qualifications(session: Session, count: int) -> None:
    """``count`` insured persons at once (Core inserts, for benchmarks): number ``0`` … ``count-1``
    under the default insurer and symbol, each their own individual, all with the defaults."""
    insurer(session, DEFAULTS["InsurerNumber"])
    first = (session.scalar(select(func.max(t.Individual.id))) or 0) + 1
    session.execute(insert(t.Individual), [{"id": first + i} for i in range(count)])
    session.execute(
        insert(t.Qualification),
        [
            {
                **DEFAULTS,
                "individual_id": first + i,
                "InsuredIdentificationNumber": str(i),
                "content_digest": f"{i:064d}",
                "version": 1,
                "updated_at": NOW,
            }
            for i in range(count)
        ],
    )
