"""Queries of the central service: rows in, domain values out."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg
from sqlalchemy.orm import Session

from onshi.central.domain import qualification as domain
from onshi.central.storage import tables as t

_QUALIFICATION_COLUMNS = (
    t.Qualification.id,
    t.Qualification.individual_id,
    t.Qualification.InsurerNumber,
    t.Qualification.InsuredCardSymbol,
    t.Qualification.InsuredIdentificationNumber,
    t.Qualification.InsuredBranchNumber,
    t.Insurer.InsurerName,
    t.Qualification.Birthdate,
    t.Qualification.Name,
    t.Qualification.NameKana,
    t.Qualification.Sex1,
    t.Qualification.QualificationDate,
    t.Qualification.DisqualificationDate,
    t.Qualification.ReasonOfLoss,
    t.Qualification.InsuredName,
    t.Qualification.PersonalFamilyClassification,
    t.Qualification.Address,
    t.Qualification.PostNumber,
    t.Qualification.InsuredCardClassification,
    t.Qualification.InsuredCertificateIssuanceDate,
    t.Qualification.InsuredCardValidDate,
    t.Qualification.InsuredCardExpirationDate,
    t.Qualification.InsuredPartialContributionRatio,
    t.Qualification.ElderlyRecipientCertificateDate,
    t.Qualification.ElderlyRecipientValidStartDate,
    t.Qualification.ElderlyRecipientValidEndDate,
    t.Qualification.ElderlyRecipientContributionRatio,
)

_SELECT_QUALIFICATION = select(*_QUALIFICATION_COLUMNS).join(
    t.Insurer, t.Insurer.InsurerNumber == t.Qualification.InsurerNumber
)


Reader = Session | Connection  # a Session, or the kept connection of Database.lookups()


def _connection(source: Reader) -> Connection:
    return source.connection() if isinstance(source, Session) else source


def to_domain(row: Any) -> domain.Qualification:
    # Unpacked as a tuple, in the order of _QUALIFICATION_COLUMNS: reading a row's 27 columns by
    # name cost 8 µs a row, a fifth of a grouped inquiry's CPU (profiled); unpacking, under 1.
    (
        qualification_id,
        individual_id,
        insurer_number,
        insured_card_symbol,
        insured_identification_number,
        insured_branch_number,
        insurer_name,
        birthdate,
        name,
        name_kana,
        sex1,
        qualification_date,
        disqualification_date,
        reason_of_loss,
        insured_name,
        personal_family_classification,
        address,
        post_number,
        insured_card_classification,
        insured_certificate_issuance_date,
        insured_card_valid_date,
        insured_card_expiration_date,
        insured_partial_contribution_ratio,
        elderly_certificate_date,
        elderly_valid_start_date,
        elderly_valid_end_date,
        elderly_contribution_ratio,
    ) = row
    elderly = None
    if elderly_valid_start_date is not None or elderly_contribution_ratio:
        elderly = domain.ElderlyRecipientCertificate(
            elderly_certificate_date,
            elderly_valid_start_date,
            elderly_valid_end_date,
            elderly_contribution_ratio,
        )
    return domain.Qualification(
        qualification_id=qualification_id,
        individual_id=individual_id,
        key=domain.CardKey(
            insurer_number,
            insured_card_symbol,
            insured_identification_number,
            insured_branch_number or None,
        ),
        insurer_name=insurer_name,
        birthdate=birthdate,
        name=name,
        name_kana=name_kana,
        sex1=sex1,
        qualification_date=qualification_date,
        disqualification_date=disqualification_date,
        reason_of_loss=reason_of_loss,
        insured_name=insured_name,
        personal_family_classification=personal_family_classification,
        address=address,
        post_number=post_number,
        insured_card_classification=insured_card_classification,
        insured_certificate_issuance_date=insured_certificate_issuance_date,
        insured_card_valid_date=insured_card_valid_date,
        insured_card_expiration_date=insured_card_expiration_date,
        insured_partial_contribution_ratio=insured_partial_contribution_ratio,
        elderly=elderly,
    )


_BY_KEY_ANY_BRANCH = _SELECT_QUALIFICATION.where(
    t.Qualification.InsurerNumber == bindparam("insurer"),
    t.Qualification.InsuredCardSymbol == bindparam("symbol"),
    t.Qualification.InsuredIdentificationNumber == bindparam("number"),
).order_by(t.Qualification.id)
_BY_KEY = _BY_KEY_ANY_BRANCH.where(t.Qualification.InsuredBranchNumber == bindparam("branch"))


def find_by_card_key(source: Reader, key: domain.CardKey) -> list[domain.Qualification]:
    """Qualifications with this card key; every branch when the key has none.

    The hot path of every inquiry: prebuilt statements run on a connection, so SQLAlchemy
    reuses their compiled form and skips the ORM layer.
    """
    params = {
        "insurer": key.insurer_number,
        "symbol": key.insured_card_symbol,
        "number": key.insured_identification_number,
    }
    statement = _BY_KEY_ANY_BRANCH
    if key.insured_branch_number is not None:
        statement, params["branch"] = _BY_KEY, key.insured_branch_number
    return [to_domain(row) for row in _connection(source).execute(statement, params).all()]


# The individuals as one parameter (an array; JSON on SQLite), not one each: SQLAlchemy renders
# an expanding IN anew at every execution (measured: 30–45 µs of a 200 µs lookup of 8 on SQLite).
_HELD_BY_POSTGRESQL = _SELECT_QUALIFICATION.where(
    t.Qualification.individual_id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)
_HELD = func.json_each(bindparam("ids", type_=String)).table_valued("value", name="held")
_HELD_BY_SQLITE = _SELECT_QUALIFICATION.where(
    t.Qualification.individual_id.in_(select(_HELD.c.value))
)


def held_by(source: Reader, individual_ids: Iterable[int]) -> list[domain.Qualification]:
    """Every qualification of these individuals, under any insurer."""
    ids = sorted(set(individual_ids))
    if not ids:
        return []
    connection = _connection(source)
    if connection.dialect.name == "postgresql":
        result = connection.execute(_HELD_BY_POSTGRESQL, {"ids": ids})
    else:
        result = connection.execute(_HELD_BY_SQLITE, {"ids": json.dumps(ids)})
    return [to_domain(row) for row in result.all()]


def _covers(start: dt.date | None, end: dt.date | None, on: dt.date) -> bool:
    return (start is None or start <= on) and (end is None or on <= end)


def _all(source: Reader, statement: Any) -> Sequence[Any]:
    """ORM entities of ``statement`` (a Session of its own on a bare connection)."""
    if isinstance(source, Session):
        return source.scalars(statement).all()
    with Session(bind=source) as session:
        return session.scalars(statement).all()


def certificates_on(
    source: Reader, qualification_ids: Iterable[int], on: dt.date
) -> tuple[
    dict[int, t.LimitApplicationCertificate], dict[int, list[t.SpecificDiseasesCertificate]]
]:
    """Per qualification, the limit certification (限度額適用認定) in force on ``on`` — the one
    that started last; of two starting the same day, the first stored — and the
    specific-disease certificates (特定疾病療養受療証) in force. One query of each kind for
    all of them: a bulk chunk asks for hundreds."""
    ids = sorted(set(qualification_ids))
    if not ids:
        return {}, {}
    limit, specific = t.LimitApplicationCertificate, t.SpecificDiseasesCertificate
    limits: dict[int, t.LimitApplicationCertificate] = {}
    for row in _all(
        source,
        select(limit)
        .where(limit.qualification_id.in_(ids))
        .order_by(limit.qualification_id, limit.id),
    ):
        start = row.LimitApplicationCertificateValidStartDate
        if not _covers(start, row.LimitApplicationCertificateValidEndDate, on):
            continue
        chosen = limits.get(row.qualification_id)
        if chosen is None or start > chosen.LimitApplicationCertificateValidStartDate:
            limits[row.qualification_id] = row
    diseases: dict[int, list[t.SpecificDiseasesCertificate]] = {}
    for row in _all(
        source,
        select(specific)
        .where(specific.qualification_id.in_(ids))
        .order_by(specific.qualification_id, specific.id),
    ):
        if _covers(row.SpecificDiseasesValidStartDate, row.SpecificDiseasesValidEndDate, on):
            diseases.setdefault(row.qualification_id, []).append(row)
    return limits, diseases


_WANTED_BRANCHES = select(
    func.unnest(bindparam("i", type_=ARRAY(String))).label("i"),
    func.unnest(bindparam("s", type_=ARRAY(String))).label("s"),
    func.unnest(bindparam("n", type_=ARRAY(String))).label("n"),
    func.unnest(bindparam("b", type_=ARRAY(String))).label("b"),
).subquery("wanted")


def _same_card(wanted: Any) -> Any:
    """A qualification whose card key is ``wanted``'s (columns i, s, n)."""
    return and_(
        t.Qualification.InsurerNumber == wanted.c.i,
        t.Qualification.InsuredCardSymbol == wanted.c.s,
        t.Qualification.InsuredIdentificationNumber == wanted.c.n,
    )


def _holdings_of(wanted: Any) -> Any:
    """Every qualification of the individuals holding a card key of ``wanted`` (columns i, s,
    n), of its branch b (of every branch where b is null)."""
    holders = select(t.Qualification.individual_id).join(
        wanted,
        and_(
            _same_card(wanted),
            or_(wanted.c.b.is_(None), t.Qualification.InsuredBranchNumber == wanted.c.b),
        ),
    )
    # In the order they were stored, as find_by_card_key: several candidates answer in one order.
    return _SELECT_QUALIFICATION.where(t.Qualification.individual_id.in_(holders)).order_by(
        t.Qualification.id
    )


_HOLDINGS_POSTGRESQL = _holdings_of(_WANTED_BRANCHES)


# SQLite: the card keys as one JSON parameter, unpacked by json_each — one statement, compiled
# once, each key looked up in the card-key index (``(…) IN (VALUES …)`` scans the whole table).
_ASKED = func.json_each(bindparam("keys", type_=String)).table_valued("value", name="asked")
_WANTED_SQLITE = select(
    func.json_extract(_ASKED.c.value, "$[0]").label("i"),
    func.json_extract(_ASKED.c.value, "$[1]").label("s"),
    func.json_extract(_ASKED.c.value, "$[2]").label("n"),
    func.json_extract(_ASKED.c.value, "$[3]").label("b"),
).subquery("wanted")
_HOLDINGS_SQLITE = _holdings_of(_WANTED_SQLITE)


def wanted_card_keys(
    keys: Iterable[tuple[str, str, str, str | None]],
) -> list[tuple[str, str, str, str | None]]:
    """Each card key once, with its branches, or with None alone (every branch)."""
    asked: dict[tuple[str, str, str], set[str | None]] = {}
    for insurer, symbol, number, branch in keys:
        asked.setdefault((insurer, symbol, number), set()).add(branch)
    return [
        (*key, branch)
        for key, branches in asked.items()
        for branch in ([None] if None in branches else sorted(b for b in branches if b))
    ]


def holdings_parameters(wanted: list[tuple[str, str, str, str | None]]) -> dict[str, list[Any]]:
    """The card keys of :func:`wanted_card_keys` as the PostgreSQL statement's four arrays."""
    insurers, symbols, numbers, branches = (list(column) for column in zip(*wanted, strict=True))
    return {"i": insurers, "s": symbols, "n": numbers, "b": branches}


def holdings_sql_asyncpg() -> str:
    """:func:`holdings_of_card_keys`' statement on PostgreSQL as asyncpg takes it (``$1`` to
    ``$4``: the arrays of :func:`holdings_parameters`, in order), for a connection outside
    SQLAlchemy."""
    compiled = _HOLDINGS_POSTGRESQL.compile(dialect=postgresql_asyncpg.dialect())  # type: ignore[no-untyped-call]
    assert list(compiled.positiontup or ()) == ["i", "s", "n", "b"], compiled.positiontup
    return str(compiled)


def holdings_of_card_keys(
    source: Reader, keys: Iterable[tuple[str, str, str, str | None]]
) -> list[domain.Qualification]:
    """Every qualification, under any insurer, of every individual who holds one of these card
    keys, each key with its branch (None: every branch, as :func:`find_by_card_key`).

    What questions by card number need, in one round trip: each key's matches, and the rest of
    what their holders hold — a match that has ended is 資格喪失 when its holder holds a newer
    one, 無効 otherwise. Asking for the rest only once a match turned out ended took a second
    round trip in most groups of inquiries (docs/central/performance.md).
    """
    wanted = wanted_card_keys(keys)
    if not wanted:  # nothing asked, or only empty branches: those match nothing
        return []
    connection = _connection(source)
    if connection.dialect.name == "postgresql":
        result = connection.execute(_HOLDINGS_POSTGRESQL, holdings_parameters(wanted))
    else:
        result = connection.execute(_HOLDINGS_SQLITE, {"keys": json.dumps(wanted)})
    return [to_domain(row) for row in result.all()]
