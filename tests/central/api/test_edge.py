"""The edge of the API: error shapes and codes, validation messages, size limits, logs."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest

from onshi.central import errors
from onshi.central.domain.consent import ConsentKind
from tests.central.api.conftest import CLINIC, Running, assert_error

BODY = {
    "QualificationConfirmationDate": "20261123",
    "ArbitraryFileIdentifier": "file-1",
    "QualificationConfirmSearchInfo": {
        "InsurerNumber": "  123456",
        "InsuredCardSymbol": "１２－３４",
        "InsuredIdentificationNumber": "４２６０",
        "InsuredBranchNumber": "1",
        "Birthdate": "19800401",
        "LimitApplicationCertificateRelatedConsFlg": "1",
    },
}


def _with_info(**changes: object) -> dict[str, object]:
    info = {**BODY["QualificationConfirmSearchInfo"], **changes}  # type: ignore[dict-item]
    return {
        **BODY,
        "QualificationConfirmSearchInfo": {k: v for k, v in info.items() if v is not None},
    }


def _error_classes() -> list[type[errors.CentralError]]:
    found: list[type[errors.CentralError]] = []
    pending: list[type[errors.CentralError]] = [errors.CentralError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.code)


def test_request_becomes_a_validated_question(fake_api: Running) -> None:
    response = fake_api.client().post("/v1/eligibility/card-number", json=BODY)
    assert response.status_code == 200, response.text
    assert response.json()["MessageHeader"]["MedicalInstitutionCode"] == CLINIC
    name, facility, question = fake_api.central.calls[0]
    assert (name, facility) == ("confirm_by_card_number", CLINIC)
    assert question.key.insurer_number == "123456"  # 8-character right-aligned form
    assert question.key.insured_card_symbol == "12-34"  # NFKC
    assert question.key.insured_identification_number == "4260"
    assert question.key.insured_branch_number == "01"
    assert question.birthdate == dt.date(1980, 4, 1)
    assert question.on == dt.date(2026, 11, 23)
    assert question.limit_consent is True
    assert question.arbitrary_file_identifier == "file-1"


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.code)
def test_every_service_error_has_its_status_and_code(
    fake_api: Running, cls: type[errors.CentralError]
) -> None:
    fake_api.central.fail_with = cls("what went wrong, for a person")
    response = fake_api.client().post("/v1/eligibility/card-number", json=BODY)
    body = assert_error(response, cls.http_status, cls.code)
    assert body["message"] == "what went wrong, for a person"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"InsurerNumber": "12"}, "QualificationConfirmSearchInfo.InsurerNumber"),
        ({"InsurerNumber": 6139999}, "QualificationConfirmSearchInfo.InsurerNumber"),
        ({"Birthdate": "20230230"}, "QualificationConfirmSearchInfo.Birthdate"),
        ({"Birthdate": None}, "QualificationConfirmSearchInfo.Birthdate"),
        ({"InsuredBranchNumber": "abc"}, "QualificationConfirmSearchInfo.InsuredBranchNumber"),
        (
            {"InsuredIdentificationNumber": " "},
            "QualificationConfirmSearchInfo.InsuredIdentificationNumber",
        ),
        (
            {"LimitApplicationCertificateRelatedConsFlg": "2"},
            "QualificationConfirmSearchInfo.LimitApplicationCertificateRelatedConsFlg",
        ),
        ({"Unknown": "x"}, "QualificationConfirmSearchInfo.Unknown"),
    ],
)
def test_malformed_fields_are_named(
    fake_api: Running, change: dict[str, object], field: str
) -> None:
    response = fake_api.client().post("/v1/eligibility/card-number", json=_with_info(**change))
    body = assert_error(response, 422, "REQUEST_INVALID")
    assert body["message"].startswith(f"{field}: "), body
    assert fake_api.central.calls == []


def test_malformed_date_and_json(fake_api: Running) -> None:
    client = fake_api.client()
    bad_date = {**BODY, "QualificationConfirmationDate": "2026-11-23"}
    message = assert_error(
        client.post("/v1/eligibility/card-number", json=bad_date), 422, "REQUEST_INVALID"
    )["message"]
    assert message.startswith("QualificationConfirmationDate: ") and "YYYYMMDD" in message
    broken = client.post(
        "/v1/eligibility/card-number",
        content=b'{"QualificationConfirmationDate": ',
        headers={"content-type": "application/json"},
    )
    assert assert_error(broken, 422, "REQUEST_INVALID")["message"].startswith("body: ")
    facility = {**BODY, "MedicalInstitutionCode": "9911111111"}
    assert (
        "MedicalInstitutionCode"
        in assert_error(
            client.post("/v1/eligibility/card-number", json=facility), 422, "REQUEST_INVALID"
        )["message"]
    )


def test_card_request_fields(fake_api: Running) -> None:
    client = fake_api.client()
    card = {
        "Certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "Nonce": "ab" * 32,
        "Signature": "MEUCIQ==",
        "IdentityMethod": "pin",
        "Consents": ["drug", "limit"],
    }
    assert client.post("/v1/eligibility/card", json=card).status_code == 200
    question = fake_api.central.calls[-1][2]
    assert question.identity_method == "pin"
    assert question.consents == frozenset({ConsentKind.DRUG, ConsentKind.LIMIT})
    assert question.signature == b"0E\x02!"
    for change, field in [
        ({"Signature": "not base64!"}, "Signature"),
        ({"IdentityMethod": "fingerprint"}, "IdentityMethod"),
        ({"Consents": ["everything"]}, "Consents.0"),
        ({"Certificate": "hello"}, "Certificate"),
        ({"Nonce": "XYZ"}, "Nonce"),
    ]:
        response = client.post("/v1/eligibility/card", json={**card, **change})
        assert assert_error(response, 422, "REQUEST_INVALID")["message"].startswith(f"{field}: ")


def test_bulk_record_errors_name_the_record(fake_api: Running) -> None:
    record = BODY["QualificationConfirmSearchInfo"]
    records = [dict(record, ArbitraryIdentifier=f"r{i}") for i in range(3)]  # type: ignore[arg-type]
    records[2]["Birthdate"] = "19801301"
    body = {"QualificationConfirmationDate": "20261123", "QualificationConfirmSearchInfo": records}
    response = fake_api.client().post("/v1/bulk", json=body)
    message = assert_error(response, 422, "REQUEST_INVALID")["message"]
    assert message.startswith("QualificationConfirmSearchInfo.2.Birthdate: ")
    assert fake_api.central.calls == []  # nothing reached the service, nothing stored


def test_oversized_body_is_refused_and_the_server_keeps_serving(fake_api: Running) -> None:
    client = fake_api.client()
    huge = b"{" + b" " * (200 * 1024) + b"}"
    response = client.post(
        "/v1/eligibility/card-number", content=huge, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "REQUEST_TOO_LARGE")

    def chunks() -> object:  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b" " * 1024

    response = fake_api.client().post("/v1/bulk", content=chunks())  # type: ignore[arg-type]
    assert_error(response, 413, "REQUEST_TOO_LARGE")
    assert fake_api.central.calls == []
    assert fake_api.client().post("/v1/eligibility/card-number", json=BODY).status_code == 200


def test_unexpected_errors_leak_nothing_and_the_server_keeps_serving(
    fake_api: Running, caplog: pytest.LogCaptureFixture
) -> None:
    fake_api.central.fail_with = RuntimeError("SELECT … [parameters: ('123456', '4260')]")
    with caplog.at_level(logging.INFO, logger="onshi.central.api"):
        response = fake_api.client().post("/v1/eligibility/card-number", json=BODY)
    body = assert_error(response, 500, "CENTRAL_ERROR")
    assert response.headers["x-request-id"] in body["message"]
    assert "Traceback" not in response.text and "4260" not in response.text
    assert "RuntimeError" in caplog.text and "4260" not in caplog.text
    fake_api.central.fail_with = None
    assert fake_api.client().post("/v1/eligibility/card-number", json=BODY).status_code == 200


def _logged(caplog: pytest.LogCaptureFixture, needle: str) -> str:
    # The line is written once the response has gone out, so it may trail the client a little.
    deadline = time.monotonic() + 5
    while True:
        for record in caplog.records:
            if needle in record.getMessage():
                return record.getMessage()
        assert time.monotonic() < deadline, caplog.text
        time.sleep(0.01)


def test_log_lines_carry_facility_path_status_and_no_personal_data(
    fake_api: Running, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="onshi.central.api"):
        response = fake_api.client().post(
            "/v1/eligibility/card-number", json=BODY, headers={"x-request-id": "reader-7.42"}
        )
        line = _logged(caplog, "request_id=reader-7.42")
    assert response.headers["x-request-id"] == "reader-7.42"
    assert f"facility={CLINIC}" in line
    assert "path=/v1/eligibility/card-number" in line and "status=200" in line
    for personal in ("123456", "4260", "19800401", "12-34"):
        assert personal not in caplog.text


def test_hostile_request_id_is_replaced(fake_api: Running) -> None:
    response = fake_api.client().get("/v1/health", headers={"x-request-id": 'a b"<>' * 40})
    assert response.status_code == 200
    assert " " not in response.headers["x-request-id"]
    assert len(response.headers["x-request-id"]) < 100


def test_control_character_in_a_header_is_refused_before_the_app(fake_api: Running) -> None:
    # llhttp (RFC 9110 §5.5): the request never reaches the app, so nothing of it is logged.
    response = fake_api.client().get("/v1/health", headers={"x-request-id": "a\x7fb"})
    assert response.status_code == 400


def test_routing_errors_have_codes(fake_api: Running) -> None:
    client = fake_api.client()
    assert_error(client.get("/v1/nothing-here"), 404, "NOT_FOUND")
    assert_error(client.get("/v1/eligibility/card-number"), 405, "METHOD_NOT_ALLOWED")
    assert_error(client.get("/v1/bulk/not%20a%20number"), 422, "REQUEST_INVALID")


def test_bulk_worker_runs_with_the_app(fake_api: Running) -> None:
    assert fake_api.central.bulk_worker.running


def test_every_route_reaches_its_service_method(fake_api: Running) -> None:
    client = fake_api.client()
    history = {
        "InsurerNumber": "06139999",
        "InsuranceCardSymbol": "1",
        "InsuredPersonIdentificationNumber": "2",
        "StartDate": "20240101",
    }
    bulk = {
        "QualificationConfirmationDate": "20261123",
        "QualificationConfirmSearchInfo": [BODY["QualificationConfirmSearchInfo"]],
    }
    assert client.post("/v1/eligibility/card/nonce").json()["nonce"] == "ab" * 32
    assert client.post("/v1/bulk", json=bulk).status_code == 202
    assert client.get("/v1/bulk/20261123ABC").status_code == 200
    assert client.post("/v1/drug-information", json=history).status_code == 200
    assert client.post("/v1/checkups", json=history).status_code == 200
    names = [name for name, _, _ in fake_api.central.calls]
    assert names == ["issue_nonce", "submit_bulk", "fetch_bulk", "drug_information", "checkups"]
    drug = fake_api.central.calls[3][2]
    assert drug.key.insured_identification_number == "2" and drug.start == dt.date(2024, 1, 1)
    assert fake_api.central.calls[2][2] == "20261123ABC"


def test_error_codes_are_unique() -> None:
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"QualificationConfirmationDate": "\xff\xfe"}', "application/json"),  # not UTF-8
        (b"\x00\x01\x02", "application/json"),
        (b"QualificationConfirmationDate=20261123", "application/x-www-form-urlencoded"),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
    ],
)
def test_an_unreadable_body_is_422_as_documented_never_400(
    fake_api: Running, body: bytes, content_type: str
) -> None:
    client = fake_api.client()
    response = client.post(
        "/v1/eligibility/card-number", content=body, headers={"content-type": content_type}
    )
    assert_error(response, 422, "REQUEST_INVALID")
