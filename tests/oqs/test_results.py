import copy
import datetime as dt
from typing import Any

import pytest

from onshi.oqs.messages import (
    Encoding,
    MessageKind,
    RenderError,
    read_message,
    render_error,
    render_face_result,
    render_result,
    schema_for,
)
from tests.oqs import answers


def read(data: bytes, schema: str) -> tuple[dict[str, Any], Encoding]:
    schema_for(schema).validate(_tree(data))  # the schema itself, not only onshi's reading of it
    return read_message(data, schema=schema)


def _tree(data: bytes) -> Any:
    from onshi.oqs.messages.safety import parse

    return parse(data)[0]


@pytest.mark.parametrize("encoding", list(Encoding))
def test_eligibility(encoding: Encoding) -> None:
    data = render_result(MessageKind.ELIGIBILITY, answers.eligibility(), encoding=encoding)
    assert data.startswith(f'<?xml version="1.0" encoding="{encoding.value}"'.encode())
    message, read_encoding = read(data, "OQSsiquc01res")
    assert read_encoding is encoding
    header = message["MessageHeader"]
    assert header["CharacterCodeIdentifier"] == ("0" if encoding is Encoding.UTF8 else "1")
    assert "ErrorCode" not in header
    assert message["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"] == [
        answers.RESULT
    ]
    assert message["MessageBody"]["QualificationConfirmSearchInfo"] == answers.SEARCH_ECHO


def test_shift_jis_bytes_are_cp932() -> None:
    data = render_result(
        MessageKind.ELIGIBILITY, answers.eligibility(), encoding=Encoding.SHIFT_JIS
    )
    assert "診療　太郎".encode("cp932") in data
    assert "ｼﾝﾘｮｳ".encode("cp932") in data


def test_unrepresentable_characters_become_geta() -> None:
    answer = answers.eligibility()
    result = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    result["Name"] = "𠮷野　〜子\u0001"  # not in cp932; WAVE DASH has a cp932 twin; a control char
    data = render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.SHIFT_JIS)
    message, _ = read(data, "OQSsiquc01res")
    assert (
        message["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]["Name"]
        == "〓野　～子〓"
    )
    utf8 = render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8)
    assert "𠮷野".encode() in utf8


def test_character_code_identifier_follows_the_encoding_written() -> None:
    answer = answers.eligibility(CharacterCodeIdentifier="0")
    data = render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.SHIFT_JIS)
    assert read(data, "OQSsiquc01res")[0]["MessageHeader"]["CharacterCodeIdentifier"] == "1"


def test_failed_answer_carries_error_fields() -> None:
    answer = {
        "MessageHeader": {
            **answers.eligibility()["MessageHeader"],
            "SegmentOfResult": "9",
            "ErrorCode": "CENTRAL_UNAVAILABLE",
            "ErrorMessage": "the central service did not answer",
        }
    }
    message, _ = read(
        render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8), "OQSsiquc01res"
    )
    assert message["MessageHeader"]["ErrorCode"] == "CENTRAL_UNAVAILABLE"
    assert "MessageBody" not in message
    del answer["MessageHeader"]["ErrorCode"]
    with pytest.raises(RenderError):
        render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8)


def test_error_fields_dropped_when_not_failed() -> None:
    answer = answers.eligibility(ErrorCode="X", ErrorMessage="y")
    message, _ = read(
        render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8), "OQSsiquc01res"
    )
    assert "ErrorCode" not in message["MessageHeader"]


def test_face() -> None:
    data = render_face_result(answers.face())
    message, encoding = read(data, "face")
    assert encoding is Encoding.UTF8
    assert message["MessageHeader"]["ReferenceClassification"] == "1"
    result = message["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert result["PharmacistsInfoAvailableTime"] == "20240502120000"
    with pytest.raises(RenderError):
        render_face_result(answers.eligibility())  # ReferenceClassification 2 is no face answer


def test_bulk_upload() -> None:
    data = render_result(
        MessageKind.BULK_UPLOAD, answers.bulk_upload(), encoding=Encoding.SHIFT_JIS
    )
    message, _ = read(data, "OQSmuquc01res")
    assert message["MessageHeader"]["CharacterCodeIdentifier"] == "1"
    assert message["MessageBody"] == answers.bulk_upload()["MessageBody"]


def test_bulk_download_processing() -> None:
    data = render_result(
        MessageKind.BULK_DOWNLOAD, answers.bulk_download_processing(), encoding=Encoding.UTF8
    )
    message, _ = read(data, "OQSmuquc02res")
    assert message["MessageHeader"]["SegmentOfResult"] == "2"
    assert message["MessageHeader"]["ReceptionNumber"] == "20240501120000ABCDEF012345"
    assert message["MessageBody"] == {"ReceptionNumber": "20240501120000ABCDEF012345"}


def test_bulk_download_completed() -> None:
    answer = answers.bulk_download_completed()
    data = render_result(MessageKind.BULK_DOWNLOAD, answer, encoding=Encoding.UTF8)
    message, _ = read(data, "OQSmuquc02res")
    header = message["MessageHeader"]
    assert (
        header["NumberOfProcessingResult"],
        header["NumberOfNormalProcessing"],
        header["NumberOfError"],
    ) == ("3", "3", "0")
    units = message["MessageBody"]["BulkConfirmUnit"]
    assert [u["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"] for u in units] == [
        "R1",
        "R2",
        "R3",
    ]
    assert [len(u.get("ResultOfQualificationConfirmation", [])) for u in units] == [1, 2, 0]
    assert units[1]["QualificationValidity"] == "5"


def test_drug_nesting_as_oqsdrug2_reads_it() -> None:
    data = render_result(MessageKind.DRUG, answers.drug(), encoding=Encoding.SHIFT_JIS)
    message, _ = read(data, "YZKsiquc01res")
    assert message["MessageHeader"]["QuaInf"] == answers.PERSON
    assert message["MessageBody"]["ResultCode"] == "1"
    months = message["MessageBody"]["MeTrMonthInf"]
    assert [m["MeTrMonth"] for m in months] == ["202401", "202402"]
    january = months[0]["DiDateInfs"]["DiDateInf"]
    assert [d["DiDate"] for d in january] == ["20240105", "20240120"]
    assert [d["DrugC"] for d in january[0]["DrugInfs"]["DrugInf"]] == ["620000001", "620000002"]
    assert flatten_drugs(message) == answers.drug()["MessageBody"]["DrugInformation"]


def flatten_drugs(message: dict[str, Any]) -> list[dict[str, Any]]:
    lines = []
    for month in message["MessageBody"].get("MeTrMonthInf", []):
        for day in month["DiDateInfs"]["DiDateInf"]:
            for drug in day["DrugInfs"]["DrugInf"]:
                dates = {k: day[k] for k in ("DiDate", "PrDate") if k in day}
                lines.append({**dates, **drug})
    return lines


def test_drug_without_lines() -> None:
    data = render_result(MessageKind.DRUG, answers.drug([]), encoding=Encoding.UTF8)
    assert "MeTrMonthInf" not in read(data, "YZKsiquc01res")[0]["MessageBody"]


def test_checkup_uses_its_own_person_names() -> None:
    data = render_result(MessageKind.CHECKUP, answers.checkup(), encoding=Encoding.UTF8)
    message, _ = read(data, "TKKsiquc01res")
    assert message["MessageHeader"]["QualificationsInfo"] == {
        "Name": "診療　太郎",
        "KanasName": "ｼﾝﾘｮｳ ﾀﾛｳ",
        "Birthday": "20010327",
        "AdministrativeGenderCode": "1",
    }
    assert (
        message["MessageBody"]["SpecificHealthCheckupInfo"]
        == answers.checkup()["MessageBody"]["SpecificHealthCheckupInfo"]
    )


@pytest.mark.parametrize("encoding", list(Encoding))
def test_error_file(encoding: Encoding) -> None:
    data = render_error(
        "OQSsiquc01req_1.xml",
        "OQS_SCHEMA",
        "/XmlMsg/MessageHeader: Tag 'MedicalInstitutionCode' expected. <&>",
        encoding=encoding,
        when=dt.datetime(2024, 5, 1, 12, 0, 0),
    )
    message, read_encoding = read(data, "err")
    assert read_encoding is encoding
    assert message["MessageHeader"] == {
        "ProcessExecutionTime": "20240501120000",
        "SegmentOfResult": "9",
        "ErrorCode": "OQS_SCHEMA",
        "ErrorMessage": "/XmlMsg/MessageHeader: Tag 'MedicalInstitutionCode' expected. <&>",
        "CharacterCodeIdentifier": "0" if encoding is Encoding.UTF8 else "1",
        "RequestFileName": "OQSsiquc01req_1.xml",
    }


def test_error_file_never_fails() -> None:
    data = render_error(
        "../weird name", "bad code/with spaces", "x" * 5000 + "𠮷", encoding=Encoding.SHIFT_JIS
    )
    message, _ = read(data, "err")
    assert message["MessageHeader"]["ErrorCode"] == "bad_code_with_spaces"
    assert len(message["MessageHeader"]["ErrorMessage"]) == 1000


@pytest.mark.parametrize(
    "break_it",
    [
        lambda a: a["MessageBody"].update(Unexpected="1"),
        lambda a: a["MessageBody"].update(QualificationValidity="6"),
        lambda a: a["MessageHeader"].update(SegmentOfResult=1),
        lambda a: a["MessageHeader"].pop("ProcessExecutionTime"),
        lambda a: a["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0].update(
            Sex1="4"
        ),
        lambda a: a["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0].pop(
            "Name"
        ),
        lambda a: a["MessageBody"].update(ResultList="text"),
        lambda a: a["MessageBody"].update(QualificationValidity=["1", "2"]),
        lambda a: a.update(Extra={}),
    ],
)
def test_a_bad_answer_raises_instead_of_writing_an_invalid_file(break_it: Any) -> None:
    answer = copy.deepcopy(answers.eligibility())
    break_it(answer)
    with pytest.raises(RenderError) as caught:
        render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8)
    assert caught.value.code == "OQS_RENDER"


# -- answers in kind, institutions, 診療情報, bulk flows ------------------------------------------

REFUSAL = {
    "facility": "1311111111",
    "code": "CONSENT_REQUIRED",
    "message": "薬剤情報の提供に患者さんの同意が確認できません。",
    "arbitrary_file_identifier": "123450",
    "when": dt.datetime(2026, 12, 2, 14, 0, 0),
}


@pytest.mark.parametrize("kind", [MessageKind.DRUG, MessageKind.CHECKUP])
@pytest.mark.parametrize("encoding", list(Encoding))
def test_history_refusal_is_result_code_2_with_message_contents(
    kind: MessageKind, encoding: Encoding
) -> None:
    from onshi.oqs.messages import render_refusal

    data = render_refusal(kind, encoding=encoding, **REFUSAL)  # type: ignore[arg-type]
    message, _ = read(data, f"{kind.value}res")
    assert message["MessageBody"]["ResultCode"] == "2"
    assert message["MessageBody"]["MessageContents"] == REFUSAL["message"]
    assert message["MessageHeader"]["ArbitraryFileIdentifier"] == "123450"


def test_eligibility_refusal_is_processing_status_2() -> None:
    from onshi.oqs.messages import render_refusal

    data = render_refusal(
        MessageKind.ELIGIBILITY,
        encoding=Encoding.UTF8,
        confirmation_date=dt.date(2026, 12, 2),
        **REFUSAL,  # type: ignore[arg-type]
    )
    message, _ = read(data, "OQSsiquc01res")
    header, body = message["MessageHeader"], message["MessageBody"]
    assert (header["SegmentOfResult"], header["ReferenceClassification"]) == ("1", "2")
    assert header["QualificationConfirmationDate"] == "20261202"
    assert (body["ProcessingResultStatus"], body["ProcessingResultCode"]) == (
        "2",
        "CONSENT_REQUIRED",
    )
    assert body["ProcessingResultMessage"] == REFUSAL["message"]


@pytest.mark.parametrize(
    "kind",
    [
        MessageKind.BULK_UPLOAD,
        MessageKind.BULK_DOWNLOAD,
        MessageKind.ONLINE_CARE_UPLOAD,
        MessageKind.HOME_VISIT_DOWNLOAD,
        MessageKind.MEDICAL_AID_UPLOAD,
    ],
)
def test_bulk_refusal_is_segment_9(kind: MessageKind) -> None:
    from onshi.oqs.messages import render_refusal

    data = render_refusal(kind, encoding=Encoding.SHIFT_JIS, **REFUSAL)  # type: ignore[arg-type]
    message, _ = read(data, f"{kind.value}res")
    assert message["MessageHeader"]["SegmentOfResult"] == "9"
    assert message["MessageHeader"]["ErrorCode"] == "CONSENT_REQUIRED"
    if kind.value.endswith("01"):
        assert message["MessageBody"]["ProcessingResultStatus"] == "2"


PHARMACY = {
    "DiOrg": "2",
    "MeTrDiHCd": "1349900016",
    "MeTrDiHNm": "オンシ調剤薬局",
    "PrlsHCd": "1311111111",
    "PrlsHNm": "テスト診療所",
    "PrIsOrg": "1",
    "InOut": "2",
}
IN_HOUSE = {"DiOrg": "1", "MeTrDiHCd": "1311111111", "PrIsOrg": "1", "InOut": "1"}


def test_one_month_block_per_institution_with_its_fields() -> None:
    lines = [
        {"DiDate": "20260105", "DrugC": "A", **PHARMACY},
        {"DiDate": "20260110", "DrugC": "B", **PHARMACY},
        {"DiDate": "20260112", "DrugC": "C", **IN_HOUSE},
        {"DiDate": "20260203", "DrugC": "D", **PHARMACY},
    ]
    answer = answers.drug(lines)
    message, _ = read(
        render_result(MessageKind.DRUG, answer, encoding=Encoding.UTF8), "YZKsiquc01res"
    )
    months = message["MessageBody"]["MeTrMonthInf"]
    assert [(m["MeTrMonth"], m["MeTrDiHCd"]) for m in months] == [
        ("202601", "1349900016"),
        ("202601", "1311111111"),
        ("202602", "1349900016"),
    ]
    assert {k: months[0][k] for k in PHARMACY} == PHARMACY
    assert [d["DiDate"] for d in months[0]["DiDateInfs"]["DiDateInf"]] == ["20260105", "20260110"]
    assert "DiOrg" not in months[1]["DiDateInfs"]["DiDateInf"][0]["DrugInfs"]["DrugInf"][0]


def test_treatments_join_their_date_or_make_their_own() -> None:
    answer = answers.drug([{"DiDate": "20260112", "DrugC": "C", **IN_HOUSE}])
    answer["MessageBody"]["MedicalTreatmentInformation"] = [
        {"DiDate": "20260112", "SinInfN": "ＣＴ撮影", "MeTrIdCl": "70", **IN_HOUSE},
        {
            "DiDate": "20260301",
            "SinInfN": "白内障手術",
            "MeTrIdCl": "50",
            "MeTrDiHCd": "1319900011",
        },
    ]
    message, _ = read(
        render_result(MessageKind.DRUG, answer, encoding=Encoding.UTF8), "YZKsiquc01res"
    )
    first, second = message["MessageBody"]["MeTrMonthInf"]
    day = first["DiDateInfs"]["DiDateInf"][0]
    assert day["DrugInfs"]["DrugInf"][0]["DrugC"] == "C"
    assert day["MeTrInfs"]["MeTrInf"] == [{"SinInfN": "ＣＴ撮影", "MeTrIdCl": "70"}]
    assert (second["MeTrMonth"], second["MeTrDiHCd"]) == ("202603", "1319900011")
    only = second["DiDateInfs"]["DiDateInf"][0]
    assert "DrugInfs" not in only and only["MeTrInfs"]["MeTrInf"][0]["MeTrIdCl"] == "50"


def test_every_result_may_carry_qualification_dates() -> None:
    answer = answers.eligibility()
    result = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    result.update(QualificationDate="20200401", DisqualificationDate="20261201")
    message, _ = read(
        render_result(MessageKind.ELIGIBILITY, answer, encoding=Encoding.UTF8), "OQSsiquc01res"
    )
    [read_back] = message["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
    assert (read_back["QualificationDate"], read_back["DisqualificationDate"]) == (
        "20200401",
        "20261201",
    )


def test_bulk_receipt_with_segment_and_status() -> None:
    answer = {
        "MessageHeader": {
            "ProcessExecutionTime": "20261202140000",
            "MedicalInstitutionCode": "1311111111",
            "SegmentOfResult": "1",
        },
        "MessageBody": {
            "ProcessingResultStatus": "1",
            "ReceptionNumber": "20261202140000ABCDEF",
            "ReceptionDateTime": "20261202140000",
        },
    }
    for kind in (MessageKind.BULK_UPLOAD, MessageKind.ONLINE_CARE_UPLOAD):
        message, _ = read(render_result(kind, answer, encoding=Encoding.UTF8), f"{kind.value}res")
        assert message["MessageHeader"]["SegmentOfResult"] == "1"
        assert message["MessageBody"]["ProcessingResultStatus"] == "1"
