"""A completed bulk fetch sends the stored answers as they are, spliced into the response.

The body must be exactly what parsing and re-serialising every answer gave (compact UTF-8
JSON), and the header's counts must read each answer's ProcessingResultStatus right — also
when a value happens to contain that name.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from onshi import pki
from onshi.central.api.responses import BulkAnswerResponse, OqsJSONResponse
from onshi.central.services import bulk
from onshi.central.services.bulk import StoredUnits
from onshi.central.services.central import Central
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.identifiers import MedicalInstitutionCode
from tests.central import factories
from tests.central.api.conftest import CLINIC, IDENTIFIER_KEY, Pki, Running, make_settings, serve

SEARCH = factories.SEARCH


@pytest.fixture
def central(database: Database, jpki: pki.CertificateAuthority) -> Central:
    c = Central(
        database,
        identifier_key=IDENTIFIER_KEY,
        jpki_ca_certificate=jpki.certificate,
        max_bulk_records=50,
    )
    c.register_facility(MedicalInstitutionCode(CLINIC), "オンシ診療所")
    with database.transaction() as s:
        factories.qualification(s)
    return c


@pytest.fixture
def api(central: Central, pki: Pki, tmp_path: Path) -> Iterator[Running]:
    yield from serve(central, make_settings(tmp_path), pki, run_bulk_worker=False)


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_the_fetched_body_is_the_stored_answers_unchanged(
    api: Running, central: Central, database: Database
) -> None:
    client = api.client()
    records = [
        {**SEARCH, "ArbitraryIdentifier": f"予約-{i}"}
        if i % 3
        else {**SEARCH, "InsuredIdentificationNumber": "0000", "ArbitraryIdentifier": f"r{i}"}
        for i in range(9)
    ]
    # A value that names the status key must not count as a status.
    records[1]["ArbitraryIdentifier"] = '"ProcessingResultStatus":"2"'
    bulk = {"QualificationConfirmationDate": "20261123", "QualificationConfirmSearchInfo": records}
    number = client.post("/v1/bulk", json=bulk).json()["MessageBody"]["ReceptionNumber"]
    central.process_pending_bulk()
    with database.transaction() as s:  # two failed records
        s.execute(
            update(t.BulkRecord)
            .where(t.BulkRecord.ReceptionNumber == number, t.BulkRecord.seq == 4)
            .values(result='{"ProcessingResultStatus":"2","ProcessingResultCode":"X"}')
        )
        s.execute(
            update(t.BulkRecord)
            .where(t.BulkRecord.ReceptionNumber == number, t.BulkRecord.seq == 7)
            .values(result='{"ProcessingResultStatus":"2","ProcessingResultMessage":"失敗\\"x"}')
        )
    response = client.get(f"/v1/bulk/{number}")
    assert response.status_code == 200
    answer = response.json()
    assert response.content == compact(answer)  # compact, UTF-8, nothing spliced in twice
    header, units = answer["MessageHeader"], answer["MessageBody"]["BulkConfirmUnit"]
    assert (header["SegmentOfResult"], header["NumberOfProcessingResult"]) == ("1", "9")
    assert (header["NumberOfNormalProcessing"], header["NumberOfError"]) == ("7", "2")
    assert units[4] == {"ProcessingResultStatus": "2", "ProcessingResultCode": "X"}
    assert units[7]["ProcessingResultMessage"] == '失敗"x'
    assert (
        units[1]["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"]
        == records[1]["ArbitraryIdentifier"]
    )
    assert [u["QualificationValidity"] for u in units if "QualificationValidity" in u] == [
        "4",
        "1",
        "1",
        "4",
        "1",
        "4",
        "1",
    ]
    # What Python callers get is the same answer, as dicts.
    direct = central.fetch_bulk(MedicalInstitutionCode(CLINIC), number)
    assert isinstance(direct["MessageBody"]["BulkConfirmUnit"], StoredUnits)
    assert direct["MessageBody"]["BulkConfirmUnit"] == units
    assert {k: v for k, v in direct["MessageHeader"].items() if k != "ProcessExecutionTime"} == {
        k: v for k, v in header.items() if k != "ProcessExecutionTime"
    }


def test_stored_units_read_as_a_list_of_dicts() -> None:
    texts = ['{"a":"1","b":["x",{"c":"日本"}]}', '{"ProcessingResultStatus": "2"}']
    units = StoredUnits(texts)
    parsed = [json.loads(text) for text in texts]
    assert len(units) == 2 and units[1] == parsed[1] and units[:1] == parsed[:1]
    assert list(units) == parsed and units == parsed and units == StoredUnits(list(texts))
    assert units != parsed[:1] and units != tuple(parsed)
    assert json.loads(units.json_text()) == parsed
    with pytest.raises(TypeError):
        hash(units)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ('{"ProcessingResultStatus":"1"}', "1"),
        ('{"ProcessingResultStatus" : "2", "x": "y"}', "2"),  # written by another serialiser
        ('{"q":{"A":"\\"ProcessingResultStatus\\":\\"1\\""},"ProcessingResultStatus":"2"}', "2"),
        ('{"ProcessingResultStatus":"\\u0032"}', "2"),  # escaped: read the sure way
    ],
)
def test_a_stored_status_is_read_without_parsing_the_answer(text: str, status: str) -> None:
    assert bulk._status(text) == status == json.loads(text)["ProcessingResultStatus"]


@pytest.mark.parametrize(
    "content",
    [
        {
            "MessageHeader": {"A": "1"},
            "MessageBody": {"ReceptionNumber": "R", "BulkConfirmUnit": "U"},
        },
        {"a": {"b": {"c": ["日本", None, 1.5, True]}}, "d": {}, "e": []},
        {"when": dt.date(2026, 11, 23), "at": {"t": dt.datetime(2026, 11, 23, 10, 0, 1)}},
        {1: {"x": "y"}, "z": {"q": "<&>\u2028\x00"}},  # a key JSON writes as text
        {"list": [{"u": "U"}]},  # StoredUnits inside a list: rendered as parsed
    ],
)
def test_rendered_like_json_dumps_with_units_spliced(content: dict[Any, Any]) -> None:
    units = StoredUnits(['{"ProcessingResultStatus":"1","Name":"診療　太郎"}', '{"x":"\\u0001"}'])
    parsed = [json.loads(text) for text in units.texts]

    def place(value: Any, stored: Any) -> Any:
        if value == "U":
            return stored
        if isinstance(value, dict):
            return {k: place(v, stored) for k, v in value.items()}
        if isinstance(value, list):
            return [place(v, stored) for v in value]
        return value

    rendered = BulkAnswerResponse(place(content, units)).body
    expected = OqsJSONResponse(place(content, parsed)).body
    assert rendered == expected
    assert json.loads(rendered) == json.loads(expected)
