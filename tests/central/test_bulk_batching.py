"""一括照会 answered a chunk at a time: the same answers as record by record, in a bounded number
of statements — on SQLite and PostgreSQL.

The reference answer of each record is built with the single-record functions (card-key lookup,
``_judge_alone``, ``results_for``, the person's consents read alone), as the bulk worker did
before it read what a chunk needs set-wise.
"""

# ruff: noqa: F811 - the fixtures of test_services are imported, then asked for by name

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from onshi.central.domain.consent import CONSENT_WINDOW, ConsentKind
from onshi.central.domain.qualification import (
    CardKey,
    Confirmation,
    Qualification,
    confirm_by_card_number,
)
from onshi.central.services import answers, bulk, eligibility
from onshi.central.services.central import Central
from onshi.central.services.clock import naive_jst
from onshi.central.services.questions import BulkQuestion, BulkRecordQuestion
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.codes import QualificationValidity
from tests.central import factories
from tests.central.test_services import (  # noqa: F401 - fixtures
    CLINIC,
    TODAY,
    Clock,
    central,
    clock,
)

BIRTH = dt.date(1980, 4, 1)
CHUNK = 4  # small chunks: the records below span several


def _people(session: Session) -> None:
    """Someone for each kind of answer, certificates and consents for the valid one."""
    valid = factories.qualification(session, InsuredIdentificationNumber="1")
    session.add(
        t.LimitApplicationCertificate(
            qualification_id=valid.id,
            LimitApplicationCertificateClassification="01",
            LimitApplicationCertificateClassificationFlag="A03",
            LimitApplicationCertificateValidStartDate=dt.date(2026, 4, 1),
            LimitApplicationCertificateValidEndDate=dt.date(2027, 3, 31),
            content_digest="l1",
        )
    )
    for number, start in (("1", dt.date(2025, 4, 1)), ("2", dt.date(2026, 1, 1))):
        session.add(
            t.SpecificDiseasesCertificate(
                qualification_id=valid.id,
                SpecificDiseasesDiseaseCategory=number,
                SpecificDiseasesValidStartDate=start,
                SpecificDiseasesValidEndDate=dt.date(2027, 3, 31),
                content_digest=f"s{number}",
            )
        )
    # 3: the card was lost, the same person holds a newer qualification elsewhere.
    moved = factories.qualification(
        session,
        InsuredIdentificationNumber="2",
        DisqualificationDate=dt.date(2026, 3, 31),
        ReasonOfLoss="01",
    )
    factories.qualification(
        session,
        individual_id=moved.individual_id,
        InsurerNumber="01130012",
        InsuredIdentificationNumber="200",
        QualificationDate=dt.date(2026, 4, 1),
    )
    # 2: lost, nothing newer.
    factories.qualification(
        session,
        InsuredIdentificationNumber="3",
        DisqualificationDate=dt.date(2026, 3, 31),
        ReasonOfLoss="01",
    )
    # 5 when asked without a branch: two family members on one card number, one birth date.
    for branch in ("01", "02"):
        factories.qualification(
            session,
            InsuredIdentificationNumber="4",
            InsuredBranchNumber=branch,
            PersonalFamilyClassification="2",
        )
    session.flush()
    # Consents at the clinic for the valid one: two open, one too old, one of the limit kind.
    at = naive_jst(dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))
    for kind, given_at in (
        (ConsentKind.DRUG, at - dt.timedelta(hours=1)),
        (ConsentKind.DRUG, at - dt.timedelta(hours=3)),
        (ConsentKind.DIAGNOSIS, at - CONSENT_WINDOW - dt.timedelta(minutes=1)),
        (ConsentKind.LIMIT, at - dt.timedelta(hours=1)),
    ):
        session.add(
            t.Consent(
                individual_id=valid.individual_id,
                MedicalInstitutionCode=CLINIC.value,
                kind=kind.value,
                given_at=given_at,
            )
        )


def _records() -> tuple[BulkRecordQuestion, ...]:
    asked = [
        (CardKey("06139999", "12-34", "1", "00"), BIRTH, False),  # 1
        (CardKey("06139999", "12-34", "1", "00"), BIRTH, True),  # 1 with limit information
        (CardKey("06139999", "12-34", "1", None), BIRTH, True),  # 1, any branch
        (CardKey("06139999", "12-34", "2", "00"), BIRTH, False),  # 3
        (CardKey("06139999", "12-34", "3", "00"), BIRTH, True),  # 2
        (CardKey("06139999", "12-34", "4", None), BIRTH, True),  # 5
        (CardKey("06139999", "12-34", "4", "02"), BIRTH, False),  # 1
        (CardKey("06139999", "12-34", "1", "00"), dt.date(1990, 1, 1), False),  # 4: birth date
        (CardKey("06139999", "12-34", "9", "00"), BIRTH, False),  # 4: nobody
        (CardKey("01130012", "12-34", "200", "00"), BIRTH, False),  # 1: the newer one
    ]
    # Each case several times, so that every chunk mixes them and 3 and 2 recur in one chunk.
    return tuple(
        BulkRecordQuestion(key, birth, f"r{i:02d}", limit)
        for i, (key, birth, limit) in enumerate(asked * 3)
    )


def _judge_alone(
    session: Session, matches: list[Qualification], birthdate: dt.date, on: dt.date
) -> Confirmation:
    """A card key's matches judged on ``on`` with queries of its own, as single questions were."""
    confirmation = confirm_by_card_number(matches, birthdate=birthdate, on=on)
    if confirmation.validity is QualificationValidity.INVALID and confirmation.qualification:
        held = repository.held_by(session, [confirmation.qualification.individual_id])
        confirmation = confirm_by_card_number(
            matches, birthdate=birthdate, on=on, held_by_same_individuals=held
        )
    return confirmation


def _reference(session: Session, q: dict[str, Any], now: dt.datetime, flow: str) -> dict:
    """A record's answer, record by record, as the worker computed it before batching."""
    key = CardKey(
        q["InsurerNumber"],
        q.get("InsuredCardSymbol", ""),
        q["InsuredIdentificationNumber"],
        q.get("InsuredBranchNumber"),
    )
    birthdate = dt.datetime.strptime(q["Birthdate"], "%Y%m%d").date()
    matches = repository.find_by_card_key(session, key)
    confirmation = _judge_alone(session, matches, birthdate, TODAY)
    consents = None
    if flow in bulk.FLOWS_WITH_CONSENTS:
        consents = {}
        individuals = {r.individual_id for r in answers.reported(confirmation)}
        if len(individuals) == 1:
            at = naive_jst(now)
            for kind, given_at in session.execute(
                select(t.Consent.kind, t.Consent.given_at).where(
                    t.Consent.individual_id == individuals.pop(),
                    t.Consent.MedicalInstitutionCode == CLINIC.value,
                    t.Consent.given_at <= at,
                    t.Consent.given_at > at - CONSENT_WINDOW,
                )
            ):
                if kind in answers.CONSENT_FIELDS:
                    consent = ConsentKind(kind)
                    if consent not in consents or given_at > consents[consent]:
                        consents[consent] = given_at
    results = eligibility.results_for(
        session,
        confirmation,
        on=TODAY,
        now=now,
        limit_consent=q.get("LimitApplicationCertificateRelatedConsFlg") == "1",
        reader_consents=consents,
    )
    unit: dict[str, Any] = {
        "QualificationConfirmSearchInfo": q,
        "ProcessingResultStatus": "1",
        "QualificationValidity": confirmation.validity.value,
    }
    if results:
        unit["ResultOfQualificationConfirmation"] = results if len(results) > 1 else results[0]
    return unit


@pytest.fixture
def statements(database: Database) -> Iterator[list[str]]:
    """Every statement the engine sends while the test runs."""
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        sent.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    yield sent
    event.remove(database.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("flow", ["eligibility", "online-care"])
def test_a_chunk_answers_as_record_by_record_did(
    central: Central,
    database: Database,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    statements: list[str],
    flow: str,
) -> None:
    monkeypatch.setattr(bulk, "BULK_CHUNK", CHUNK)
    with database.transaction() as s:
        _people(s)
    records = _records()
    number = central.submit_bulk(CLINIC, BulkQuestion(TODAY, records))["MessageBody"][
        "ReceptionNumber"
    ]
    with database.transaction() as s:  # the flows by period store their records like this
        s.execute(
            update(t.BulkReception)
            .where(t.BulkReception.ReceptionNumber == number)
            .values(flow=flow)
        )
    statements.clear()
    assert central.process_pending_bulk() == len(records)
    chunks = -(-len(records) // CHUNK)
    # Per chunk: claim, read, the cards' holdings (candidates with what their holders hold),
    # consents (flows that report them), limit and specific-disease certificates, the answers —
    # not one per record.
    per_chunk = 4 + (flow in bulk.FLOWS_WITH_CONSENTS) + 2
    assert len(statements) <= chunks * per_chunk + 8, len(statements)
    units = central.fetch_bulk(CLINIC, number)["MessageBody"]["BulkConfirmUnit"]
    with database.sessions() as s:
        expected = [
            _reference(s, json.loads(r), clock(), flow)
            for r in s.scalars(
                select(t.BulkRecord.request)
                .where(t.BulkRecord.ReceptionNumber == number)
                .order_by(t.BulkRecord.seq)
            )
        ]
    assert units == expected
    assert [u["QualificationValidity"] for u in units[:10]] == [
        "1", "1", "1", "3", "2", "5", "1", "4", "4", "1",
    ]  # fmt: skip
    limited = units[1]["ResultOfQualificationConfirmation"]
    assert (
        limited["LimitApplicationCertificateRelatedInfo"][
            "LimitApplicationCertificateClassificationFlag"
        ]
        == "A03"
    )
    if flow in bulk.FLOWS_WITH_CONSENTS:
        plain = units[0]["ResultOfQualificationConfirmation"]
        assert plain["PharmacistsInfoConsFlg"] == "1"
        assert plain["PharmacistsInfoConsTime"] == "20261123090000"  # the newest open one
        assert plain["DiagnosisInfoConsFlg"] == "0"  # given, but more than a day ago


def test_answers_already_stored_are_kept_and_the_rest_answered(
    central: Central, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reception another worker left half done (answers here and there) is completed; no
    stored answer is overwritten."""
    monkeypatch.setattr(bulk, "BULK_CHUNK", CHUNK)
    with database.transaction() as s:
        _people(s)
    records = _records()
    number = central.submit_bulk(CLINIC, BulkQuestion(TODAY, records))["MessageBody"][
        "ReceptionNumber"
    ]
    kept = {1, 5, 6, 17, len(records) - 1}
    with database.transaction() as s:
        for seq in kept:
            s.execute(
                update(t.BulkRecord)
                .where(t.BulkRecord.ReceptionNumber == number, t.BulkRecord.seq == seq)
                .values(result=json.dumps({"ProcessingResultStatus": "1", "kept": seq}))
            )
    assert central.process_pending_bulk() == len(records) - len(kept)
    units = central.fetch_bulk(CLINIC, number)["MessageBody"]["BulkConfirmUnit"]
    assert [u.get("kept") for u in units if "kept" in u] == sorted(kept)
    answered = [u for u in units if "kept" not in u]
    assert len(answered) == len(records) - len(kept)
    assert all(u["ProcessingResultStatus"] == "1" for u in answered)
    assert [u["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"] for u in answered] == [
        r.arbitrary_identifier for i, r in enumerate(records) if i not in kept
    ]


def test_holdings_are_of_the_branches_asked(database: Database) -> None:
    with database.transaction() as s:
        _people(s)
    with database.sessions() as s:

        def branches(*keys: tuple[str, str, str, str | None]) -> list[str | None]:
            found = repository.holdings_of_card_keys(s, keys)
            return sorted(q.key.insured_branch_number or "" for q in found)

        assert branches(("06139999", "12-34", "4", None)) == ["01", "02"]
        assert branches(("06139999", "12-34", "4", "02")) == ["02"]
        # Asked both ways in one chunk: each qualification once.
        assert branches(("06139999", "12-34", "4", "02"), ("06139999", "12-34", "4", None)) == [
            "01",
            "02",
        ]
        assert branches(("06139999", "12-34", "4", "01"), ("06139999", "12-34", "4", "02")) == [
            "01",
            "02",
        ]
        # An empty branch matches nothing, as for a single question; unknown keys neither.
        assert branches(("06139999", "12-34", "4", "")) == []
        assert branches(("06139999", "12-34", "4", "03"), ("06139999", "12-34", "99", None)) == []
        assert branches() == []
        # The same as the single-question lookup, key by key, for people holding nothing else.
        for key in (
            CardKey("06139999", "12-34", "4", None),
            CardKey("06139999", "12-34", "4", "01"),
        ):
            single = repository.find_by_card_key(s, key)
            batched = repository.holdings_of_card_keys(
                s,
                [
                    (
                        key.insurer_number,
                        key.insured_card_symbol,
                        key.insured_identification_number,
                        key.insured_branch_number,
                    )
                ],
            )
            assert sorted(q.qualification_id for q in batched) == sorted(
                q.qualification_id for q in single
            )


def test_holdings_hold_what_the_holder_holds_elsewhere(database: Database) -> None:
    """The lost card's holder holds a newer qualification under another insurer: asked for the
    lost card, both come back (what tells 資格喪失 from 無効), and nobody else's."""
    with database.transaction() as s:
        _people(s)
    with database.sessions() as s:
        found = repository.holdings_of_card_keys(
            s, [("06139999", "12-34", "2", None), ("06139999", "12-34", "3", None)]
        )
        [moved] = repository.find_by_card_key(s, CardKey("06139999", "12-34", "2", None))
        held_by_moved = repository.held_by(s, [moved.individual_id])
    assert len(held_by_moved) == 2
    assert {q.key.insured_identification_number for q in found} == {"2", "200", "3"}
    assert sorted(q.qualification_id for q in found if q.individual_id == moved.individual_id) == (
        sorted(q.qualification_id for q in held_by_moved)
    )
