"""Central-service answers, shaped as onshi.central.services.answers / central.py build them."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

SEARCH_ECHO: Json = {
    "InsurerNumber": "  123456",
    "InsuredCardSymbol": "12-34",
    "InsuredIdentificationNumber": "4260",
    "InsuredBranchNumber": "01",
    "Birthdate": "20010327",
    "LimitApplicationCertificateRelatedConsFlg": "1",
}

RESULT: Json = {
    "InsuredCardClassification": "01",
    "InsurerNumber": "  123456",
    "InsuredCardSymbol": "12-34",
    "InsuredIdentificationNumber": "4260",
    "InsuredBranchNumber": "01",
    "PersonalFamilyClassification": "1",
    "Name": "診療　太郎",
    "NameKana": "ｼﾝﾘｮｳ ﾀﾛｳ",
    "Sex1": "1",
    "Birthdate": "20010327",
    "InsuredPartialContributionRatio": "030",
    "InsurerName": "東京都",
    "ElderlyRecipientCertificateInfo": {"ElderlyRecipientContributionRatio": "020"},
    "LimitApplicationCertificateRelatedConsFlg": "1",
    "LimitApplicationCertificateRelatedConsTime": "20240501120000",
    "LimitApplicationCertificateRelatedInfo": {
        "LimitApplicationCertificateClassification": "01",
        "LimitApplicationCertificateClassificationFlag": "A03",
    },
    "SpecificDiseasesCertificateRelatedConsFlg": "1",
    "SpecificDiseasesCertificateList": {
        "SpecificDiseasesCertificateInfo": [
            {"SpecificDiseasesDiseaseCategory": "1", "SpecificDiseasesSelfPay": "10000"}
        ]
    },
}


def eligibility(**header: Any) -> Json:
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20240501120000",
            "QualificationConfirmationDate": "20240501",
            "MedicalInstitutionCode": "1311111111",
            "ArbitraryFileIdentifier": "req-1",
            "ReferenceClassification": "2",
            "SegmentOfResult": "1",
            **header,
        },
        "MessageBody": {
            "ProcessingResultStatus": "1",
            "QualificationValidity": "1",
            "QualificationConfirmSearchInfo": SEARCH_ECHO,
            "ResultList": {"ResultOfQualificationConfirmation": [RESULT]},
        },
    }


def face() -> Json:
    answer = eligibility(ReferenceClassification="1")
    del answer["MessageBody"]["QualificationConfirmSearchInfo"]
    answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"] = [
        {
            **RESULT,
            "PharmacistsInfoConsFlg": "1",
            "PharmacistsInfoConsTime": "20240501120000",
            "PharmacistsInfoAvailableTime": "20240502120000",
            "SpecificHealthCheckupsInfoConsFlg": "0",
            "DiagnosisInfoConsFlg": "0",
            "OperationInfoConsFlg": "0",
        }
    ]
    return answer


def bulk_upload() -> Json:
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20240501120000",
            "MedicalInstitutionCode": "1311111111",
            "ArbitraryFileIdentifier": "bulk-1",
            "CharacterCodeIdentifier": "0",
        },
        "MessageBody": {
            "ReceptionNumber": "20240501120000ABCDEF012345",
            "ReceptionDateTime": "20240501120000",
        },
    }


def bulk_download_processing() -> Json:
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20240501120005",
            "MedicalInstitutionCode": "1311111111",
            "SegmentOfResult": "2",
        },
        "MessageBody": {"ReceptionNumber": "20240501120000ABCDEF012345"},
    }


def bulk_download_completed() -> Json:
    search = {**SEARCH_ECHO, "ArbitraryIdentifier": "R1"}
    return {
        "MessageHeader": {
            "ProcessExecutionTime": "20240501120100",
            "MedicalInstitutionCode": "1311111111",
            "ArbitraryFileIdentifier": "bulk-1",
            "SegmentOfResult": "1",
            "NumberOfProcessingResult": "3",
            "NumberOfNormalProcessing": "3",
            "NumberOfError": "0",
        },
        "MessageBody": {
            "ReceptionNumber": "20240501120000ABCDEF012345",
            "BulkConfirmUnit": [
                {
                    "QualificationConfirmSearchInfo": search,
                    "ProcessingResultStatus": "1",
                    "QualificationValidity": "1",
                    "ResultOfQualificationConfirmation": RESULT,
                },
                {
                    "QualificationConfirmSearchInfo": {**search, "ArbitraryIdentifier": "R2"},
                    "ProcessingResultStatus": "1",
                    "QualificationValidity": "5",
                    "ResultOfQualificationConfirmation": [
                        RESULT,
                        {**RESULT, "InsuredBranchNumber": "02"},
                    ],
                },
                {
                    "QualificationConfirmSearchInfo": {**search, "ArbitraryIdentifier": "R3"},
                    "ProcessingResultStatus": "1",
                    "QualificationValidity": "4",
                },
            ],
        },
    }


def _history_header() -> Json:
    return {
        "ProcessExecutionTime": "20240501120000",
        "MedicalInstitutionCode": "1311111111",
        "ArbitraryFileIdentifier": "00240501120012345",
        "SegmentOfResult": "1",
    }


PERSON = {"Name": "診療　太郎", "KanaName": "ｼﾝﾘｮｳ ﾀﾛｳ", "Birth": "20010327", "AdmGendCode": "1"}


def drug(lines: list[Json] | None = None) -> Json:
    if lines is None:
        lines = [
            {
                "DiDate": "20240105",
                "PrDate": "20240105",
                "DrugC": "620000001",
                "DrugN": "薬Ａ錠",
                "Qua1": "3",
                "Unit": "錠",
                "UsageN": "1日3回毎食後",
                "Times": "14",
            },
            {
                "DiDate": "20240105",
                "PrDate": "20240105",
                "DrugC": "620000002",
                "DrugN": "薬Ｂ",
                "Qua1": "1",
                "Unit": "包",
                "Times": "14",
            },
            {"DiDate": "20240120", "DrugC": "620000003", "DrugN": "薬Ｃ", "IngreN": "成分Ｃ"},
            {"DiDate": "20240203", "PrDate": "20240202", "DrugC": "620000001", "DrugN": "薬Ａ錠"},
        ]
    return {
        "MessageHeader": _history_header(),
        "MessageBody": {
            "ResultCode": "1",
            "StartDate": "20210501",
            "EndDate": "20240501",
            "QualificationsInfo": PERSON,
            "DrugInformation": lines,
        },
    }


def checkup() -> Json:
    return {
        "MessageHeader": _history_header(),
        "MessageBody": {
            "ResultCode": "1",
            "StartDate": "20190501",
            "EndDate": "20240501",
            "QualificationsInfo": PERSON,
            "SpecificHealthCheckupInfo": [
                {
                    "EffectiveTime": "20231010",
                    "HealthCheckupResultAndQuestionInfos": {
                        "HealthCheckupResultAndQuestionInfo": [
                            {
                                "ItemCode": "9A755000000000001",
                                "ItemName": "収縮期血圧(その他)",
                                "DataType": "PQ",
                                "DataValue": "128",
                                "Unit": "mmHg",
                            },
                            {
                                "ItemCode": "1A020000000190111",
                                "ItemName": "尿糖",
                                "DataType": "CD",
                                "DataValue": "1",
                                "Oid": "1.2.392.200119.6.2101",
                                "DataValueName": "(-)",
                            },
                        ]
                    },
                }
            ],
        },
    }
