"""The order onshi writes child elements in, per complex element, and which elements repeat.

Readers must not depend on this order (the real terminal writes ResultOfQualificationConfirmation
in no fixed order, and the schemas use xs:all where they can); onshi writes one fixed order so its
files are stable and easy to compare. Elements not listed here are leaves (text only).
"""

from __future__ import annotations

from collections.abc import Mapping

from onshi.oqs.messages.names import BULK_DOWNLOADS, BULK_UPLOADS, MessageKind

Shapes = Mapping[str, tuple[str, ...]]

SEARCH_INFO = (
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "Birthdate",
    "LimitApplicationCertificateRelatedConsFlg",
    "ArbitraryIdentifier",
)

RESULT_OF_QUALIFICATION_CONFIRMATION = (
    "InsuredCardClassification",
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
    "PersonalFamilyClassification",
    "InsuredName",
    "Name",
    "NameOfOther",
    "NameKana",
    "NameOfOtherKana",
    "Sex1",
    "Sex2",
    "Birthdate",
    "Address",
    "PostNumber",
    "InsuredCertificateIssuanceDate",
    "InsuredCardValidDate",
    "InsuredCardExpirationDate",
    "InsuredPartialContributionRatio",
    "PreschoolClassification",
    "ReasonOfLoss",
    "InsurerName",
    "QualificationDate",
    "DisqualificationDate",
    "ElderlyRecipientCertificateInfo",
    "LimitApplicationCertificateRelatedConsFlg",
    "LimitApplicationCertificateRelatedConsTime",
    "LimitApplicationCertificateRelatedInfo",
    "SpecificDiseasesCertificateRelatedConsFlg",
    "SpecificDiseasesCertificateRelatedConsTime",
    "SpecificDiseasesCertificateList",
    "PharmacistsInfoConsFlg",
    "PharmacistsInfoConsTime",
    "PharmacistsInfoAvailableTime",
    "SpecificHealthCheckupsInfoConsFlg",
    "SpecificHealthCheckupsInfoConsTime",
    "SpecificHealthCheckupsInfoAvailableTime",
    "DiagnosisInfoConsFlg",
    "DiagnosisInfoConsTime",
    "DiagnosisInfoAvailableTime",
    "OperationInfoConsFlg",
    "OperationInfoConsTime",
    "OperationInfoAvailableTime",
)

# Who dispensed and who prescribed, per MeTrMonthInf block (薬剤情報の調剤・処方機関).
DISPENSING_INSTITUTION = (
    "DiOrg",
    "MeTrDiHCd",
    "PrlsHCd",
    "MeTrDiHNm",
    "PrlsHNm",
    "PrIsOrg",
    "InOut",
)
# One line of 診療情報 (FileCategory 3/4), under DiDateInf/MeTrInfs/MeTrInf.
TREATMENT = ("SinInfN", "SinInfCd", "MeTrIdCl", "Qua1", "Times", "Unit")

COMMON: dict[str, tuple[str, ...]] = {
    "QualificationConfirmSearchInfo": SEARCH_INFO,
    "ResultList": ("ResultOfQualificationConfirmation",),
    "ResultOfQualificationConfirmation": RESULT_OF_QUALIFICATION_CONFIRMATION,
    "ElderlyRecipientCertificateInfo": (
        "ElderlyRecipientCertificateDate",
        "ElderlyRecipientValidStartDate",
        "ElderlyRecipientValidEndDate",
        "ElderlyRecipientContributionRatio",
    ),
    "LimitApplicationCertificateRelatedInfo": (
        "LimitApplicationCertificateClassification",
        "LimitApplicationCertificateClassificationFlag",
        "LimitApplicationCertificateDate",
        "LimitApplicationCertificateValidStartDate",
        "LimitApplicationCertificateValidEndDate",
        "LimitApplicationCertificateLongTermDate",
    ),
    "SpecificDiseasesCertificateList": ("SpecificDiseasesCertificateInfo",),
    "SpecificDiseasesCertificateInfo": (
        "SpecificDiseasesDiseaseCategory",
        "SpecificDiseasesCertificateDate",
        "SpecificDiseasesValidStartDate",
        "SpecificDiseasesValidEndDate",
        "SpecificDiseasesSelfPay",
    ),
    "BulkConfirmUnit": (
        "QualificationConfirmSearchInfo",
        "ProcessingResultStatus",
        "ProcessingResultCode",
        "ProcessingResultMessage",
        "QualificationValidity",
        "ResultOfQualificationConfirmation",
        "ReferenceNumber",
    ),
    # drug information
    "QuaInf": ("Name", "KanaName", "Birth", "AdmGendCode"),
    "MeTrMonthInf": ("MeTrMonth", *DISPENSING_INSTITUTION, "DiDateInfs"),
    "DiDateInfs": ("DiDateInf",),
    "DiDateInf": ("DiDate", "PrDate", "DrugInfs", "MeTrInfs"),
    "DrugInfs": ("DrugInf",),
    "DrugInf": ("DrugC", "DrugN", "IngreN", "Qua1", "Unit", "UsageN", "Times"),
    "MeTrInfs": ("MeTrInf",),
    "MeTrInf": TREATMENT,
    # specific health checkups
    "QualificationsInfo": ("Name", "KanasName", "Birthday", "AdministrativeGenderCode"),
    "SpecificHealthCheckupInfo": ("EffectiveTime", "HealthCheckupResultAndQuestionInfos"),
    "HealthCheckupResultAndQuestionInfos": ("HealthCheckupResultAndQuestionInfo",),
    "HealthCheckupResultAndQuestionInfo": (
        "ItemCode",
        "ItemName",
        "DataType",
        "DataValue",
        "Unit",
        "Oid",
        "DataValueName",
    ),
}

# (parent, child) pairs where the child may occur more than once (a list in answers).
REPEATED = frozenset(
    {
        ("ResultList", "ResultOfQualificationConfirmation"),
        ("BulkConfirmUnit", "ResultOfQualificationConfirmation"),
        ("SpecificDiseasesCertificateList", "SpecificDiseasesCertificateInfo"),
        ("MessageBody", "BulkConfirmUnit"),
        ("MessageBody", "MeTrMonthInf"),
        ("DiDateInfs", "DiDateInf"),
        ("DrugInfs", "DrugInf"),
        ("MeTrInfs", "MeTrInf"),
        ("MessageBody", "SpecificHealthCheckupInfo"),
        ("HealthCheckupResultAndQuestionInfos", "HealthCheckupResultAndQuestionInfo"),
    }
)

_ELIGIBILITY_HEADER = (
    "ProcessExecutionTime",
    "QualificationConfirmationDate",
    "MedicalInstitutionCode",
    "ArbitraryFileIdentifier",
    "ReferenceClassification",
    "SegmentOfResult",
    "ErrorCode",
    "ErrorMessage",
    "CharacterCodeIdentifier",
)
_HISTORY_HEADER = (
    "ProcessExecutionTime",
    "MedicalInstitutionCode",
    "ArbitraryFileIdentifier",
    "SegmentOfResult",
    "ErrorCode",
    "ErrorMessage",
    "CharacterCodeIdentifier",
)

RESULT_SHAPES: dict[MessageKind, Shapes] = {
    MessageKind.ELIGIBILITY: {
        **COMMON,
        "MessageHeader": _ELIGIBILITY_HEADER,
        "MessageBody": (
            "ProcessingResultStatus",
            "ProcessingResultCode",
            "ProcessingResultMessage",
            "QualificationValidity",
            "QualificationConfirmSearchInfo",
            "ResultList",
        ),
    },
    MessageKind.BULK_UPLOAD: {
        **COMMON,
        # a refused upload: SegmentOfResult 9 and ErrorCode in the header, status 2 in the body
        "MessageHeader": (
            "ProcessExecutionTime",
            "QualificationConfirmationDate",
            "MedicalInstitutionCode",
            "ArbitraryFileIdentifier",
            "SegmentOfResult",
            "ErrorCode",
            "ErrorMessage",
            "CharacterCodeIdentifier",
        ),
        "MessageBody": (
            "ProcessingResultStatus",
            "ProcessingResultCode",
            "ProcessingResultMessage",
            "ReceptionNumber",
            "ReceptionDateTime",
        ),
    },
    MessageKind.BULK_DOWNLOAD: {
        **COMMON,
        # the order of Sotatek-ChinhVu/smart-test's QCBIDXmlMsgResponse
        "MessageHeader": (
            "ProcessExecutionTime",
            "QualificationConfirmationDate",
            "MedicalInstitutionCode",
            "ArbitraryFileIdentifier",
            "ReceptionNumber",
            "SegmentOfResult",
            "ErrorCode",
            "ErrorMessage",
            "NumberOfProcessingResult",
            "NumberOfNormalProcessing",
            "NumberOfError",
            "CharacterCodeIdentifier",
        ),
        "MessageBody": ("ReceptionNumber", "BulkConfirmUnit"),
    },
    MessageKind.DRUG: {
        **COMMON,
        "MessageHeader": (*_HISTORY_HEADER, "QuaInf"),
        "MessageBody": ("ResultCode", "MessageContents", "StartDate", "EndDate", "MeTrMonthInf"),
    },
    MessageKind.CHECKUP: {
        **COMMON,
        "MessageHeader": (*_HISTORY_HEADER, "QualificationsInfo"),
        "MessageBody": (
            "ResultCode",
            "MessageContents",
            "StartDate",
            "EndDate",
            "SpecificHealthCheckupInfo",
        ),
    },
}
# The other bulk flows write the same messages as OQSmuquc01/02.
RESULT_SHAPES.update({kind: RESULT_SHAPES[MessageKind.BULK_UPLOAD] for kind in BULK_UPLOADS})
RESULT_SHAPES.update({kind: RESULT_SHAPES[MessageKind.BULK_DOWNLOAD] for kind in BULK_DOWNLOADS})

ERROR_SHAPES: Shapes = {
    "MessageHeader": (
        "ProcessExecutionTime",
        "SegmentOfResult",
        "ErrorCode",
        "ErrorMessage",
        "CharacterCodeIdentifier",
        "RequestFileName",
    ),
}
