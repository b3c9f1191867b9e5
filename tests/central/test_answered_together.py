"""Single inquiries that arrive together are answered together (one query of each kind, one
audit write) — and each gets the answer it would have had alone, on SQLite and PostgreSQL."""

# ruff: noqa: F811 - the fixtures of test_services are imported, then asked for by name

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from onshi.central.errors import FacilityNotAuthorised
from onshi.central.services import eligibility
from onshi.central.services.central import Central
from onshi.central.services.questions import CardNumberQuestion
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.identifiers import MedicalInstitutionCode
from tests.central.test_bulk_batching import _people, _records, statements  # noqa: F401
from tests.central.test_services import (  # noqa: F401 - fixtures
    CLINIC,
    PHARMACY,
    TODAY,
    Clock,
    central,
    clock,
)


def _questions() -> list[CardNumberQuestion]:
    """Every kind of answer, each asked on two days (before and after the card was lost)."""
    return [
        CardNumberQuestion(
            r.key, r.birthdate, on, r.limit_consent, arbitrary_file_identifier=f"{r.key}-{on}"
        )
        for on in (TODAY, dt.date(2026, 3, 1))
        for r in _records()[:10]
    ]


def _without_time(message: dict[str, Any]) -> dict[str, Any]:
    header = {k: v for k, v in message["MessageHeader"].items() if k != "ProcessExecutionTime"}
    return {**message, "MessageHeader": header}


def test_answered_together_as_alone(
    central: Central, database: Database, statements: list[str]
) -> None:
    central.register_facility(PHARMACY, "pharmacy")
    with database.transaction() as s:
        _people(s)
    questions = _questions()
    facilities = [CLINIC if i % 3 else PHARMACY for i in range(len(questions))]
    alone = [
        central.confirm_by_card_number(f, q) for f, q in zip(facilities, questions, strict=True)
    ]
    statements.clear()
    together = central.confirm_by_card_numbers(list(zip(facilities, questions, strict=True)))
    # One query per kind for all 20 (card keys, holders of invalid cards, certificates for each
    # of the two days: limit and specific disease), one audit write — not 20 of each.
    assert len(statements) <= 1 + 1 + 2 * 2 + 1, statements
    assert [_without_time(a) for a in together] == [_without_time(a) for a in alone]
    assert {a["MessageBody"]["QualificationValidity"] for a in together} == {
        "1",
        "2",
        "3",
        "4",
        "5",
    }
    report = central.audit.verify()
    assert report.entries == 2 * len(questions)
    with database.sessions() as s:
        entries = s.execute(
            select(
                t.AuditEntry.MedicalInstitutionCode, t.AuditEntry.subject, t.AuditEntry.outcome
            ).order_by(t.AuditEntry.seq)
        ).all()
    assert entries[len(questions) :] == entries[: len(questions)]  # the same entries, in order


def test_one_question_failing_is_its_own_answer(
    central: Central, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.transaction() as s:
        _people(s)
    questions = _questions()[:3]
    real = eligibility.answers.qualification_result
    calls = iter(range(100))

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if next(calls) == 1:  # the second question's result
            raise RuntimeError("poison")
        return real(*args, **kwargs)

    monkeypatch.setattr(eligibility.answers, "qualification_result", flaky)
    answers = central.confirm_by_card_numbers([(CLINIC, q) for q in questions])
    assert isinstance(answers[1], RuntimeError)
    assert [a["MessageBody"]["QualificationValidity"] for a in (answers[0], answers[2])] == [
        "1",
        "1",
    ]
    assert central.audit.verify().entries == 2  # the failed one was not answered: not audited


def test_an_unregistered_facility_is_refused_alone(central: Central, database: Database) -> None:
    """The API checks each request's facility before the group is asked (routes.eligibility)."""
    from onshi.central.api.routes import RegisteredFacilities
    from onshi.central.api.routes.eligibility import card_number_answers

    with database.transaction() as s:
        _people(s)
    q = _questions()[0]
    answer_many = card_number_answers(central, RegisteredFacilities())
    stranger = MedicalInstitutionCode("1319999999").value
    answers = answer_many(
        [(CLINIC.value, None, q), (stranger, None, q), (CLINIC.value, "1311111112", q)]
    )
    assert answers[0]["MessageBody"]["QualificationValidity"] == "1"  # type: ignore[index]
    assert isinstance(answers[1], FacilityNotAuthorised)
    assert isinstance(answers[2], FacilityNotAuthorised)  # a body claiming another facility


def test_sqlite_finds_many_card_keys_by_index(database: Database) -> None:
    """Many card keys at once (a bulk chunk, a group of inquiries) are looked up in the card-key
    index, their holders' other qualifications in the individual index: no reading of the whole
    table."""
    if database.dialect != "sqlite":
        pytest.skip("PostgreSQL joins an unnest of arrays")
    from sqlalchemy import event

    from onshi.central.storage import repository

    sent: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        sent.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    with database.engine.connect() as c:
        repository.holdings_of_card_keys(
            c, [("06139999", "12-34", "1", None), ("06139999", "12-34", "4", "01")]
        )
        statement, parameters = sent[-1]
        plan = " / ".join(
            row[3] for row in c.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    event.remove(database.engine, "before_cursor_execute", keep)
    assert "SEARCH qualification USING INDEX" in plan, plan
    assert "SCAN qualification" not in plan, plan
