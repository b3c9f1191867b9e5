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


def test_schemas_built_by_many_threads_at_once_all_work() -> None:
    """The terminal's workers validate their first requests at the same moment: building the
    libxml2 schemas concurrently once failed with XMLSchemaParseError."""
    import threading

    from onshi.oqs.messages import schemas

    schemas._fast_schemas.clear()
    names = sorted(n for n in schemas.SCHEMA_NAMES if n.endswith("req"))
    barrier = threading.Barrier(16)
    failures: list[BaseException] = []

    def build(name: str) -> None:
        barrier.wait()
        try:
            schemas._fast_schema(name)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=build, args=(names[i % len(names)],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert set(schemas._fast_schemas) == set(names)
