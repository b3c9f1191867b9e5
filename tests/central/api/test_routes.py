"""Every route against the real service, over mutual TLS, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from onshi import pki
from onshi.central.client import CentralClient, CentralRefused
from onshi.central.domain.qualification import CardKey
from onshi.central.services.central import Central
from onshi.central.services.clock import JST
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.identifiers import MedicalInstitutionCode
from onshi.pki.presence import challenge as card_presence_challenge
from tests.central import factories
from tests.central.api.conftest import (
    CLINIC,
    IDENTIFIER_KEY,
    PHARMACY,
    Pki,
    Running,
    assert_error,
    make_settings,
    serve,
)

KEY = CardKey("06139999", "12-34", "4260", "00")
SEARCH = factories.SEARCH
HISTORY = {
    "InsurerNumber": "06139999",
    "InsuranceCardSymbol": "12-34",
    "InsuredPersonIdentificationNumber": "4260",
    "BranchNumber": "00",
}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 10, 0, tzinfo=JST)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def central(database: Database, jpki: pki.CertificateAuthority) -> Central:
    c = Central(
        database,
        identifier_key=IDENTIFIER_KEY,
        jpki_ca_certificate=jpki.certificate,
        clock=Clock(),
        max_bulk_records=50,
    )
    c.register_facility(MedicalInstitutionCode(CLINIC), "オンシ診療所")
    c.register_facility(MedicalInstitutionCode(PHARMACY), "オンシ薬局")
    with database.transaction() as s:
        factories.qualification(s)
    return c


@pytest.fixture
def api(central: Central, pki: Pki, tmp_path: Path) -> Iterator[Running]:
    # The bulk worker is driven by hand here, so "still processing" can be seen.
    yield from serve(central, make_settings(tmp_path), pki, run_bulk_worker=False)


def new_card(jpki: pki.CertificateAuthority, **window: Any) -> pki.IssuedCertificate:
    window.setdefault("not_before", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    return jpki.issue_card_certificate(**window)


@pytest.fixture
def card(central: Central, jpki: pki.CertificateAuthority) -> pki.IssuedCertificate:
    issued = new_card(jpki)
    central.link_card(KEY, issued.certificate)
    return issued


def card_request(
    api: Running,
    card: pki.IssuedCertificate,
    *,
    consents: list[str] | None = None,
    nonce: str | None = None,
    facility: str = CLINIC,
    files: Any = None,
) -> dict[str, Any]:
    client = api.client(files) if files else api.client()
    nonce = nonce or client.post("/v1/eligibility/card/nonce").json()["nonce"]
    signature = pki.sign_challenge(card.signing_key, card_presence_challenge(facility, nonce))
    return {
        "Certificate": card.cert_pem.decode(),
        "Nonce": nonce,
        "Signature": base64.b64encode(signature).decode(),
        "IdentityMethod": "face",
        "Consents": consents or [],
    }


def test_card_number_happy_path(api: Running) -> None:
    body = {
        "QualificationConfirmationDate": "20261123",
        "ArbitraryFileIdentifier": "reception-1",
        "QualificationConfirmSearchInfo": SEARCH,
    }
    response = api.client().post("/v1/eligibility/card-number", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    header, message = answer["MessageHeader"], answer["MessageBody"]
    assert header["MedicalInstitutionCode"] == CLINIC
    assert header["ReferenceClassification"] == "2" and header["SegmentOfResult"] == "1"
    assert header["ArbitraryFileIdentifier"] == "reception-1"
    assert message["QualificationValidity"] == "1"
    (result,) = message["ResultList"]["ResultOfQualificationConfirmation"]
    assert result["Name"] == "診療　太郎" and result["InsuredPartialContributionRatio"] == "030"
    assert response.headers["content-type"].startswith("application/json")


def test_card_number_unknown_person_is_validity_4(api: Running) -> None:
    body = {
        "QualificationConfirmationDate": "20261123",
        "QualificationConfirmSearchInfo": {**SEARCH, "Birthdate": "19800402"},
    }
    answer = api.client().post("/v1/eligibility/card-number", json=body).json()
    assert answer["MessageBody"]["QualificationValidity"] == "4"


def test_card_confirmation_and_replayed_nonce(api: Running, card: pki.IssuedCertificate) -> None:
    request = card_request(api, card, consents=["drug", "limit"])
    response = api.client().post("/v1/eligibility/card", json=request)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["MessageHeader"]["ReferenceClassification"] == "1"
    result = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert result["PharmacistsInfoConsFlg"] == "1"
    assert result["LimitApplicationCertificateRelatedConsFlg"] == "1"
    replay = api.client().post("/v1/eligibility/card", json=request)
    assert "already used" in assert_error(replay, 403, "NONCE_INVALID")["message"]


def test_nonce_of_another_facility_is_refused(
    api: Running, pki: Pki, card: pki.IssuedCertificate
) -> None:
    request = card_request(api, card, files=pki.pharmacy, facility=PHARMACY)
    assert_error(api.client().post("/v1/eligibility/card", json=request), 403, "NONCE_INVALID")


def test_card_refusals_have_distinct_codes(
    api: Running,
    central: Central,
    card: pki.IssuedCertificate,
    jpki: pki.CertificateAuthority,
    tmp_path: Path,
) -> None:
    stranger = pki.CertificateAuthority.create(tmp_path / "stranger", "not JPKI")
    expired = jpki.issue_card_certificate(
        not_before=dt.datetime(2015, 1, 1, tzinfo=dt.UTC), valid_days=365
    )
    cases = [
        (stranger.issue_card_certificate(), 403, "CARD_UNKNOWN"),
        (new_card(jpki), 404, "CARD_NOT_LINKED"),
        (expired, 403, "CARD_EXPIRED"),
    ]
    for presented, status, code in cases:
        request = card_request(api, presented)
        assert_error(api.client().post("/v1/eligibility/card", json=request), status, code)
    forged = card_request(api, card)
    forged["Signature"] = card_request(api, new_card(jpki), nonce=forged["Nonce"])["Signature"]
    assert_error(
        api.client().post("/v1/eligibility/card", json=forged), 403, "CARD_SIGNATURE_INVALID"
    )
    central.revoke_card(card.certificate)
    request = card_request(api, card)
    assert_error(api.client().post("/v1/eligibility/card", json=request), 403, "CARD_REVOKED")


def test_drug_information_needs_consent_given_here(
    api: Running, pki: Pki, card: pki.IssuedCertificate
) -> None:
    refused = api.client().post("/v1/drug-information", json=HISTORY)
    assert "consent" in assert_error(refused, 403, "CONSENT_REQUIRED")["message"]
    request = card_request(api, card, consents=["drug"])
    assert api.client().post("/v1/eligibility/card", json=request).status_code == 200
    answer = api.client().post("/v1/drug-information", json=HISTORY)
    assert answer.status_code == 200, answer.text
    assert answer.json()["MessageBody"]["ResultCode"] == "1"
    # The consent was given at the clinic, not at the pharmacy.
    elsewhere = api.client(pki.pharmacy).post("/v1/drug-information", json=HISTORY)
    assert_error(elsewhere, 403, "CONSENT_REQUIRED")


def test_checkups_with_consent_and_never_for_pharmacies(
    api: Running, pki: Pki, card: pki.IssuedCertificate
) -> None:
    request = card_request(api, card, consents=["checkup"])
    assert api.client().post("/v1/eligibility/card", json=request).status_code == 200
    answer = api.client().post("/v1/checkups", json=HISTORY)
    assert answer.status_code == 200, answer.text
    pharmacy = api.client(pki.pharmacy).post("/v1/checkups", json=HISTORY)
    assert "pharmacies" in assert_error(pharmacy, 403, "FACILITY_KIND_REFUSED")["message"]


def _bulk(count: int, *, unknown_every: int = 0) -> dict[str, Any]:
    records = []
    for i in range(count):
        record = {**SEARCH, "ArbitraryIdentifier": f"reservation-{i}"}
        if unknown_every and i % unknown_every == 0:
            record["InsuredIdentificationNumber"] = "0000"
        records.append(record)
    return {
        "QualificationConfirmationDate": "20261123",
        "ArbitraryFileIdentifier": "tomorrow",
        "QualificationConfirmSearchInfo": records,
    }


def test_bulk_submit_then_fetch_processing_then_completed(api: Running, central: Central) -> None:
    client = api.client()
    receipt = client.post("/v1/bulk", json=_bulk(5, unknown_every=2))
    assert receipt.status_code == 202, receipt.text
    number = receipt.json()["MessageBody"]["ReceptionNumber"]
    assert receipt.json()["MessageBody"]["ReceptionDateTime"]
    processing = client.get(f"/v1/bulk/{number}").json()
    assert processing["MessageHeader"]["SegmentOfResult"] == "2"
    central.process_pending_bulk()
    done = client.get(f"/v1/bulk/{number}").json()
    assert done["MessageHeader"]["SegmentOfResult"] == "1"
    assert done["MessageHeader"]["NumberOfProcessingResult"] == "5"
    validity = {
        u["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"]: u["QualificationValidity"]
        for u in done["MessageBody"]["BulkConfirmUnit"]
    }
    assert validity == {
        "reservation-0": "4",
        "reservation-1": "1",
        "reservation-2": "4",
        "reservation-3": "1",
        "reservation-4": "4",
    }


def test_bulk_refusals(api: Running, pki: Pki, database: Database) -> None:
    client = api.client()
    assert_error(client.post("/v1/bulk", json=_bulk(51)), 413, "REQUEST_TOO_LARGE")
    bad = _bulk(3)
    bad["QualificationConfirmSearchInfo"][1]["InsurerNumber"] = "X"
    message = assert_error(client.post("/v1/bulk", json=bad), 422, "REQUEST_INVALID")["message"]
    assert message.startswith("QualificationConfirmSearchInfo.1.InsurerNumber: ")
    with database.sessions() as s:  # nothing was stored by either refusal
        assert s.scalar(select(func.count()).select_from(t.BulkReception)) == 0
    assert_error(client.get("/v1/bulk/20261123NOPE"), 404, "RECEPTION_NOT_FOUND")
    number = client.post("/v1/bulk", json=_bulk(1)).json()["MessageBody"]["ReceptionNumber"]
    assert_error(api.client(pki.pharmacy).get(f"/v1/bulk/{number}"), 404, "RECEPTION_NOT_FOUND")


def test_bulk_worker_answers_while_serving(central: Central, pki: Pki, tmp_path: Path) -> None:
    for running in serve(central, make_settings(tmp_path), pki):
        client = running.client()
        number = client.post("/v1/bulk", json=_bulk(20)).json()["MessageBody"]["ReceptionNumber"]
        deadline = time.monotonic() + 20
        while (answer := client.get(f"/v1/bulk/{number}").json())["MessageHeader"][
            "SegmentOfResult"
        ] == "2":
            assert time.monotonic() < deadline, "bulk never completed"
            time.sleep(0.05)
        assert len(answer["MessageBody"]["BulkConfirmUnit"]) == 20


def test_oversized_request_then_service_goes_on(api: Running) -> None:
    big = _bulk(50)
    big["QualificationConfirmSearchInfo"] *= 40  # ≈ 300 kB, over the 64 kB test limit
    assert_error(api.client().post("/v1/bulk", json=big), 413, "REQUEST_TOO_LARGE")
    ok = api.client().post(
        "/v1/eligibility/card-number",
        json={
            "QualificationConfirmationDate": "20261123",
            "QualificationConfirmSearchInfo": SEARCH,
        },
    )
    assert ok.status_code == 200


def test_central_client_over_mtls(api: Running, pki: Pki, card: pki.IssuedCertificate) -> None:
    with CentralClient(api.url, pki.clinic.cert, pki.clinic.key, pki.ca_path) as client:
        assert client.health() == {"status": "ok"}
        answer = client.confirm_by_card_number(
            {"QualificationConfirmationDate": "20261123", "QualificationConfirmSearchInfo": SEARCH}
        )
        assert answer["MessageBody"]["QualificationValidity"] == "1"
        by_card = client.confirm_with_card(
            card.cert_pem, card.signing_key, identity_method="pin", consents=["drug"]
        )
        assert by_card["MessageHeader"]["ReferenceClassification"] == "1"
        assert client.drug_information(HISTORY)["MessageBody"]["ResultCode"] == "1"
        with pytest.raises(CentralRefused) as refused:
            client.checkups(HISTORY)
        assert refused.value.code == "CONSENT_REQUIRED" and refused.value.status == 403


def test_idempotency_key_header_returns_the_same_reception(
    api: Running, database: Database
) -> None:
    client = api.client()
    headers = {"Idempotency-Key": "a" * 64}
    first = client.post("/v1/bulk", json=_bulk(2), headers=headers).json()["MessageBody"]
    again = client.post("/v1/bulk", json=_bulk(2), headers=headers).json()["MessageBody"]
    assert first == again
    assert_error(
        client.post("/v1/bulk", json=_bulk(2), headers={"Idempotency-Key": "not a key!"}),
        422,
        "REQUEST_INVALID",
    )
    with database.sessions() as s:
        assert s.scalar(select(func.count()).select_from(t.BulkReception)) == 1
