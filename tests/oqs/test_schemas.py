"""The schemas' code lists are onshi.oqs.codes, value for value."""

from enum import StrEnum

import pytest

from onshi.oqs import codes
from onshi.oqs.messages import schema_for
from onshi.oqs.messages.schemas import SCHEMA_NAMES

ENUMS: dict[str, type[StrEnum]] = {
    "ReferenceClassificationCode": codes.ReferenceClassification,
    "SegmentOfResultCode": codes.SegmentOfResult,
    "ProcessingResultStatusCode": codes.ProcessingResultStatus,
    "CharacterCodeIdentifierCode": codes.CharacterCodeIdentifier,
    "QualificationValidityCode": codes.QualificationValidity,
    "SexCode": codes.Sex,
    "PersonalFamilyClassificationCode": codes.PersonalFamilyClassification,
    "PreschoolClassificationCode": codes.PreschoolClassification,
    "InsuredCardClassificationCode": codes.InsuredCardClassification,
    "ReasonOfLossCode": codes.ReasonOfLoss,
    "ConsentFlagCode": codes.ConsentFlag,
    "LimitApplicationCertificateClassificationCode": codes.LimitApplicationCertificateClassification,
    "LimitApplicationCertificateClassificationFlagCode": codes.LimitApplicationCertificateClassificationFlag,
    "SpecificDiseasesCertificateRelatedConsFlgCode": codes.SpecificDiseasesCertificateRelatedConsFlg,
    "SpecificDiseasesDiseaseCategoryCode": codes.SpecificDiseasesDiseaseCategory,
}


@pytest.mark.parametrize(("type_name", "enum"), ENUMS.items())
def test_enumerations_match_the_code_lists(type_name: str, enum: type[StrEnum]) -> None:
    xsd_type = schema_for("OQSsiquc01res").types[type_name]
    assert set(xsd_type.enumeration) == {e.value for e in enum}


@pytest.mark.parametrize("name", sorted(SCHEMA_NAMES))
def test_every_schema_loads(name: str) -> None:
    assert schema_for(name).elements["XmlMsg"] is not None


def test_unknown_schema() -> None:
    with pytest.raises(KeyError):
        schema_for("OQSsiimm01req")
