import datetime as dt

import pytest

from onshi.oqs.messages import (
    MessageKind,
    OqsMessageError,
    error_name,
    face_file_name,
    kind_of_request,
    response_name,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("OQSsiquc01req_X.xml", MessageKind.ELIGIBILITY),
        ("OQSmuquc01req_20240501_001.xml", MessageKind.BULK_UPLOAD),
        ("OQSmuquc02req_abc-1.XML", MessageKind.BULK_DOWNLOAD),
        ("YZKsiquc01req_002405011200123.xml", MessageKind.DRUG),
        ("TKKsiquc01req_1.xml", MessageKind.CHECKUP),
    ],
)
def test_kinds(name: str, kind: MessageKind) -> None:
    assert kind_of_request(name) is kind


@pytest.mark.parametrize(
    "name",
    [
        "OQSsiquc01res_X.xml",  # a result, not a request
        "OQSsiquc01res_face_20240501120000_1.xml",
        "OQSsiimm01req_X.xml",  # a kind onshi does not answer
        "OQSsiquc01req_.xml",
        "OQSsiquc01req_X.txt",
        "OQSsiquc01req_../../etc/passwd.xml",
        "OQSsiquc01req_a..b.xml",
        "sub/OQSsiquc01req_X.xml",
        "oqssiquc01req_X.xml",
        "",
    ],
)
def test_unknown_names(name: str) -> None:
    with pytest.raises(OqsMessageError) as caught:
        kind_of_request(name)
    assert caught.value.code == "OQS_UNKNOWN_MESSAGE"


def test_response_and_error_names() -> None:
    assert response_name("OQSsiquc01req_X.xml") == "OQSsiquc01res_X.xml"
    assert response_name("YZKsiquc01req_0024.xml") == "YZKsiquc01res_0024.xml"
    assert error_name("OQSsiquc01req_X.xml") == "OQSsiquc01req_X.err"
    assert error_name("OQSmuquc01req_a.b.xml") == "OQSmuquc01req_a.b.err"
    assert error_name("garbage") == "garbage.err"  # an unknown file still gets an answer
    with pytest.raises(OqsMessageError):
        error_name("../x.xml")


def test_face_file_name() -> None:
    when = dt.datetime(2023, 2, 21, 17, 48, 35)
    assert face_file_name(when, "a1") == "OQSsiquc01res_face_20230221174835_a1.xml"
    with pytest.raises(OqsMessageError):
        face_file_name(when, "../x")
