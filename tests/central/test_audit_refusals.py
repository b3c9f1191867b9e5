"""Refusals the edge and the bulk fetch make are audited with their code, never in clear.

A facility asking for a bulk reception that is not its own (or does not exist), and a request
whose body names another facility than its client certificate, each leave one audit entry: the
refusal code as outcome, the guessed reception number or claimed code as a keyed digest. Over
mutual TLS against the real service, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from onshi import pki as onshi_pki
from onshi.central.errors import ReceptionNotFound
from onshi.central.services.audit import verify_chain
from onshi.central.services.central import Central
from onshi.central.services.clock import JST
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.identifiers import MedicalInstitutionCode
from tests.central import factories
from tests.central.api.conftest import (
    CLINIC,
    IDENTIFIER_KEY,
    PHARMACY,
    Pki,
    Running,
    assert_error,
    make_settings,
    pki,
    serve,
)

__all__ = ["pki"]  # the mTLS fixture, used by name below

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=JST)
SEARCH = factories.SEARCH


@pytest.fixture
def central(database: Database, jpki: onshi_pki.CertificateAuthority) -> Central:
    c = Central(
        database,
        identifier_key=IDENTIFIER_KEY,
        jpki_ca_certificate=jpki.certificate,
        clock=lambda: NOW,
    )
    c.register_facility(MedicalInstitutionCode(CLINIC), "オンシ診療所")
    c.register_facility(MedicalInstitutionCode(PHARMACY), "オンシ薬局")
    with database.transaction() as s:
        factories.qualification(s)
    return c


@pytest.fixture
def api(central: Central, pki: Pki, tmp_path: Path) -> Iterator[Running]:
    yield from serve(central, make_settings(tmp_path), pki, run_bulk_worker=False)


def _entries(database: Database) -> list[t.AuditEntry]:
    with database.sessions() as s:
        return list(s.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq)))


def _new_entries(database: Database, before: int) -> list[t.AuditEntry]:
    return _entries(database)[before:]


def _in_clear(database: Database, *values: str) -> list[str]:
    """Every stored audit field that holds one of ``values`` (there must be none)."""
    found = []
    for e in _entries(database):
        for field in (e.subject, e.outcome, e.action):
            if field and any(v in field for v in values):
                found.append(field)
    return found


def _bulk() -> dict[str, Any]:
    return {
        "QualificationConfirmationDate": "20261123",
        "ArbitraryFileIdentifier": "audit-refusal",
        "QualificationConfirmSearchInfo": [{**SEARCH, "ArbitraryIdentifier": "reservation-1"}],
    }


def test_fetching_another_facilitys_reception_is_audited(
    api: Running, pki: Pki, central: Central, database: Database
) -> None:
    number = api.client().post("/v1/bulk", json=_bulk()).json()["MessageBody"]["ReceptionNumber"]
    before = len(_entries(database))
    refused = api.client(pki.pharmacy).get(f"/v1/bulk/{number}")
    assert_error(refused, 404, "RECEPTION_NOT_FOUND")
    guessed = "20261123GUESS1"
    assert_error(api.client(pki.pharmacy).get(f"/v1/bulk/{guessed}"), 404, "RECEPTION_NOT_FOUND")
    entries = _new_entries(database, before)
    assert [(e.MedicalInstitutionCode, e.action, e.outcome, e.subject) for e in entries] == [
        (PHARMACY, "bulk.fetch", "RECEPTION_NOT_FOUND", central.audit.subject(number)),
        (PHARMACY, "bulk.fetch", "RECEPTION_NOT_FOUND", central.audit.subject(guessed)),
    ]
    assert _in_clear(database, number, guessed) == []
    # The owner still gets it, and that too is audited, as before.
    assert api.client().get(f"/v1/bulk/{number}").status_code == 200
    assert _new_entries(database, before)[-1].outcome == "processing"
    assert verify_chain(database, central.audit.audit_key).entries == len(_entries(database))


def test_a_service_call_for_an_unknown_reception_is_audited(
    central: Central, database: Database
) -> None:
    with pytest.raises(ReceptionNotFound):
        central.fetch_bulk(MedicalInstitutionCode(CLINIC), "20261123NOPE01")
    [entry] = _entries(database)[-1:]
    assert (entry.action, entry.outcome) == ("bulk.fetch", "RECEPTION_NOT_FOUND")
    assert entry.subject == central.audit.subject("20261123NOPE01")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/v1/eligibility/card-number",
            {"QualificationConfirmationDate": "20261123", "QualificationConfirmSearchInfo": SEARCH},
        ),
        ("/v1/bulk", _bulk()),
    ],
)
def test_a_body_naming_another_facility_is_audited(
    api: Running, central: Central, database: Database, path: str, body: dict[str, Any]
) -> None:
    before = len(_entries(database))
    claimed = "1319999999"
    refused = api.client().post(path, json={**body, "MedicalInstitutionCode": claimed})
    assert_error(refused, 403, "FACILITY_NOT_AUTHORISED")
    [entry] = _new_entries(database, before)
    assert (entry.MedicalInstitutionCode, entry.action, entry.outcome) == (
        CLINIC,
        "facility.claim",
        "FACILITY_NOT_AUTHORISED",
    )
    assert entry.subject == central.audit.subject(claimed)
    assert _in_clear(database, claimed) == []
    # Nothing else happened: no answer was looked up, no bulk reception stored.
    with database.sessions() as s:
        assert s.scalars(select(t.BulkReception)).all() == []
    # The body naming the certificate's own facility is served, and not audited as refused.
    same = api.client().post(path, json={**body, "MedicalInstitutionCode": CLINIC})
    assert same.status_code in (200, 202), same.text
    assert all(e.action != "facility.claim" for e in _new_entries(database, before + 1))
