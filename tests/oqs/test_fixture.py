"""The public face sample (hangilc/myclinic-ts, MIT): onshi's face schema accepts the real format."""

from pathlib import Path

from onshi.oqs.codes import QualificationValidity, ReferenceClassification
from onshi.oqs.messages import Encoding, read_message, render_face_result, schema_for

SAMPLE = Path(__file__).parent / "fixtures" / "face-result-example.xml"


def test_sample_validates_against_the_face_schema() -> None:
    schema_for("face").validate(str(SAMPLE))


def test_sample_values_are_readable() -> None:
    message, encoding = read_message(SAMPLE.read_bytes(), schema="face")
    assert encoding is Encoding.UTF8
    header, body = message["MessageHeader"], message["MessageBody"]
    assert header["ReferenceClassification"] == ReferenceClassification.MY_NUMBER_CARD
    assert header["MedicalInstitutionCode"] == "1311111111"
    assert body["QualificationValidity"] == QualificationValidity.VALID
    (result,) = body["ResultList"]["ResultOfQualificationConfirmation"]
    assert result["InsurerNumber"] == "  123456"
    assert result["Name"] == "診療　太郎"
    assert result["NameKana"] == "ｼﾝﾘｮｳ ﾀﾛｳ"
    assert result["PharmacistsInfoAvailableTime"] == "20230222174835"


def test_sample_rendered_again_by_onshi_is_equivalent() -> None:
    message, _ = read_message(SAMPLE.read_bytes(), schema="face")
    again, _ = read_message(render_face_result(message), schema="face")
    assert again == message
