"""Bodies a hot route reads itself: validated like FastAPI's, documented in OpenAPI all the same."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

from onshi.central.api.bodies import openapi_body, parse_body
from onshi.central.api.errors import describe_validation_errors
from onshi.central.api.schemas import CardNumberRequest
from tests.central.api.conftest import Running


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_card_number_body_is_in_the_openapi_document(fake_api: Running) -> None:
    document = fake_api.client().get("/openapi.json").json()
    body = document["paths"]["/v1/eligibility/card-number"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert {"QualificationConfirmationDate", "QualificationConfirmSearchInfo"} <= set(
        schema["properties"]
    )
    info = schema["properties"]["QualificationConfirmSearchInfo"]
    assert {"InsurerNumber", "Birthdate"} <= set(info["properties"])
    assert info["additionalProperties"] is False
    # every reference resolves inside the document
    for ref in _refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_openapi_body_leaves_no_definitions_behind() -> None:
    extra = openapi_body(CardNumberRequest)
    schema = extra["requestBody"]["content"]["application/json"]["schema"]
    assert "$defs" not in json.dumps(schema) and _refs(schema) == []


def _raw(birthdate: str) -> bytes:
    info = {"InsurerNumber": "06139999", "InsuredIdentificationNumber": "2", "Birthdate": birthdate}
    return json.dumps(
        {"QualificationConfirmationDate": "20261123", "QualificationConfirmSearchInfo": info}
    ).encode()


def test_parse_body_reads_bytes_as_the_model() -> None:
    body = parse_body(CardNumberRequest, _raw("19800101"))
    assert body.QualificationConfirmSearchInfo.InsurerNumber == "06139999"


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        (b'{"QualificationConfirmationDate": "20261123"}', "QualificationConfirmSearchInfo: "),
        (b"", "body: is not valid JSON"),
        (b"\xff\xfe", "body: is not valid JSON"),
        (b"[]", "body: "),
    ],
)
def test_parse_body_failures_read_as_fastapis(raw: bytes, start: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        parse_body(CardNumberRequest, raw)
    assert describe_validation_errors(caught.value.errors()).startswith(start)


def test_parse_body_errors_do_not_carry_the_input() -> None:
    # Whatever handles the error (a log, a telemetry exporter) sees the reason, not the body;
    # the reason may quote the bad value, and goes back only to the client who sent it.
    with pytest.raises(RequestValidationError) as caught:
        parse_body(CardNumberRequest, _raw("1980-01-01 ヤマダ"))
    [error] = caught.value.errors()
    assert "input" not in error and "ctx" not in error
    assert "06139999" not in repr(error)  # the valid fields are nowhere
