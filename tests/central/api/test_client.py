"""CentralClient without a network: every exchange through httpx.MockTransport."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from onshi.central.client import CentralClient, CentralRefused, CentralUnavailable
from onshi.pki import CertificateAuthority, verify_challenge
from onshi.pki.presence import challenge as card_presence_challenge
from tests.central.api.conftest import CLINIC, Pki


def client_answering(handler: httpx.MockTransport) -> CentralClient:
    return CentralClient("https://central.test", transport=handler)


def test_answers_are_returned_as_dicts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageBody": {"QualificationValidity": "1"}})

    with client_answering(httpx.MockTransport(handler)) as client:
        answer = client.confirm_by_card_number({"QualificationConfirmationDate": "20261123"})
    assert answer["MessageBody"]["QualificationValidity"] == "1"
    assert seen[0].method == "POST" and seen[0].url.path == "/v1/eligibility/card-number"
    assert json.loads(seen[0].content) == {"QualificationConfirmationDate": "20261123"}


def test_refusals_carry_the_servers_code() -> None:
    transport = httpx.MockTransport(
        lambda _r: httpx.Response(403, json={"code": "CONSENT_REQUIRED", "message": "ask first"})
    )
    with pytest.raises(CentralRefused) as refused, client_answering(transport) as client:
        client.drug_information({})
    assert (refused.value.status, refused.value.code) == (403, "CONSENT_REQUIRED")
    assert refused.value.message == "ask first"


def test_answers_that_are_not_ours_are_refusals_too() -> None:
    transport = httpx.MockTransport(lambda _r: httpx.Response(502, text="<html>bad gateway"))
    with pytest.raises(CentralRefused) as refused, client_answering(transport) as client:
        client.fetch_bulk("20261123ABC")
    assert refused.value.code == "CENTRAL_ERROR" and refused.value.status == 502


def test_no_connection_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with (
        pytest.raises(CentralUnavailable) as error,
        client_answering(httpx.MockTransport(handler)) as client,
    ):
        client.health()
    assert error.value.code == "CENTRAL_UNAVAILABLE"


def test_card_exchange_signs_the_facility_bound_challenge(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> None:
    jpki = CertificateAuthority.create(tmp_path_factory.mktemp("jpki") / "ca", "test JPKI")
    card = jpki.issue_card_certificate()
    sent: dict[str, object] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/nonce"):
            return httpx.Response(200, json={"nonce": "cd" * 32, "expires_at": "…"})
        sent.update(json.loads(request.content))
        return httpx.Response(200, json={"MessageHeader": {"ReferenceClassification": "1"}})

    client = CentralClient(
        "https://central.test",
        pki.clinic.cert,
        pki.clinic.key,
        transport=httpx.MockTransport(handler),
    )
    assert client.facility_code == CLINIC
    client.confirm_with_card(
        card.cert_pem, card.signing_key, identity_method="face", consents=["drug"]
    )
    verify_challenge(
        card.certificate,
        card_presence_challenge(CLINIC, "cd" * 32),
        base64.b64decode(str(sent["Signature"])),
    )
    assert sent["IdentityMethod"] == "face" and sent["Consents"] == ["drug"]


def test_a_ca_is_needed_for_a_real_connection() -> None:
    with pytest.raises(ValueError, match="ca_path"):
        CentralClient("https://central.test")
