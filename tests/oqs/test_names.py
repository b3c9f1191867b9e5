import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onshi.oqs.messages import (
    MessageKind,
    OqsMessageError,
    error_name,
    face_file_name,
    kind_of_request,
    pdf_response_name,
    response_name,
)

# What a public C# client matches face files with (the time is the last part of the name).
CLIENT_FACE_PATTERN = re.compile(r"\AOQSsiquc01res_face_.+_(\d{14})\.xml\Z")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("OQSsiquc01req_X.xml", MessageKind.ELIGIBILITY),
        ("OQSmuquc01req_20240501_001.xml", MessageKind.BULK_UPLOAD),
        ("OQSmuquc02req_abc-1.XML", MessageKind.BULK_DOWNLOAD),
        ("YZKsiquc01req_002405011200123.xml", MessageKind.DRUG),
        ("TKKsiquc01req_1.xml", MessageKind.CHECKUP),
        ("OQSmuonq01req_1.xml", MessageKind.ONLINE_CARE_UPLOAD),
        ("OQSmuonq02req_1.xml", MessageKind.ONLINE_CARE_DOWNLOAD),
        ("OQSmuhvq01req_1.xml", MessageKind.HOME_VISIT_UPLOAD),
        ("OQSmuhvq02req_1.xml", MessageKind.HOME_VISIT_DOWNLOAD),
        ("OQSmutic01req_1.xml", MessageKind.MEDICAL_AID_UPLOAD),
        ("OQSmutic02req_1.xml", MessageKind.MEDICAL_AID_DOWNLOAD),
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
    assert pdf_response_name("YZKsiquc01req_0124.xml") == "YZKsiquc01res_0124.pdf"
    assert response_name("OQSmuonq01req_a.xml") == "OQSmuonq01res_a.xml"
    assert error_name("OQSsiquc01req_X.xml") == "OQSsiquc01req_X.err"
    assert error_name("OQSmuquc01req_a.b.xml") == "OQSmuquc01req_a.b.err"
    assert error_name("garbage") == "garbage.err"  # an unknown file still gets an answer
    with pytest.raises(OqsMessageError):
        error_name("../x.xml")


def test_face_file_name_ends_with_the_time() -> None:
    when = dt.datetime(2023, 2, 21, 17, 48, 35)
    name = face_file_name(when, "a1")
    assert name == "OQSsiquc01res_face_a1_20230221174835.xml"
    match = CLIENT_FACE_PATTERN.match(name)
    assert match is not None and match[1] == "20230221174835"
    for bad in ("../x", "a_1", ""):
        with pytest.raises(OqsMessageError):
            face_file_name(when, bad)


@given(
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31)),
    st.text("0123456789abcdefABCDEF-", min_size=1, max_size=64),
)
def test_every_face_file_name_is_found_by_clients(when: dt.datetime, unique: str) -> None:
    match = CLIENT_FACE_PATTERN.match(face_file_name(when, unique))
    assert match is not None
    assert match[1] == when.strftime("%Y%m%d%H%M%S")
