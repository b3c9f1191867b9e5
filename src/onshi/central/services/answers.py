"""Shaping answers in the OQS result's element names and nesting (MessageHeader / MessageBody).

The terminal agent writes these as XML unchanged, so names, nesting and code values here are
exactly those of the real result files; absent values are left out, never sent empty.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from onshi.central.domain.consent import CONSENT_WINDOW, ConsentKind, years_after
from onshi.central.domain.qualification import CardKey, Confirmation, Qualification
from onshi.central.storage import tables as t
from onshi.oqs.codes import (
    ConsentFlag,
    PreschoolClassification,
    ProcessingResultStatus,
    ReferenceClassification,
    SegmentOfResult,
)
from onshi.oqs.identifiers import format_oqs_date, format_oqs_time, insurer_number_for_message

Json = dict[str, Any]

# The face-reader consent fields, by the consent they report (…ConsFlg/…ConsTime/…AvailableTime).
CONSENT_FIELDS: Mapping[ConsentKind, str] = {
    ConsentKind.DRUG: "PharmacistsInfo",
    ConsentKind.CHECKUP: "SpecificHealthCheckupsInfo",
    ConsentKind.DIAGNOSIS: "DiagnosisInfo",
    ConsentKind.OPERATION: "OperationInfo",
}


def _date(value: dt.date | None) -> str | None:
    return format_oqs_date(value) if value else None


_EMPTY: tuple[object, ...] = (None, "", [], {})
# Enum members' ``.value`` read once: each read is a descriptor call (profiled: 8 a question).
_GIVEN = ConsentFlag.GIVEN.value
_NOT_GIVEN = ConsentFlag.NOT_GIVEN.value
_PRESCHOOL = PreschoolClassification.PRESCHOOL.value
_COMPLETED = SegmentOfResult.COMPLETED.value
_OK = ProcessingResultStatus.OK.value


def _compact(fields: Mapping[str, Any]) -> Json:
    # A value that is true is not empty: only the others are compared with each empty value
    # (comparing every value with all four was a third of the shaping's time, profiled).
    return {k: v for k, v in fields.items() if v or v not in _EMPTY}


def preschool_until(birthdate: dt.date) -> dt.date:
    """The last day a child counts as 未就学: the first 31 March after turning six.

    One turns six, legally, the day before the sixth birthday; so children born 1 January to
    1 April start school in the year they turn six.
    """
    turns_six = years_after(birthdate, 6) - dt.timedelta(days=1)
    year = turns_six.year if turns_six.month <= 3 else turns_six.year + 1
    return dt.date(year, 3, 31)


def _preschool_on(birthdate: dt.date, on: dt.date) -> bool:
    # preschool_until is at the latest 31 March seven years after the birth year: anyone born
    # before that is answered without it (1.5 µs a result, most results).
    return birthdate.year + 7 >= on.year and on <= preschool_until(birthdate)


def header(
    facility: str, answered_at: dt.datetime, arbitrary_file_identifier: str | None, **fields: str
) -> Json:
    """MessageHeader: when and for whom, the client's own file id if it gave one, then ``fields``."""
    return _compact(
        {
            "ProcessExecutionTime": format_oqs_time(answered_at),
            "MedicalInstitutionCode": facility,
            "ArbitraryFileIdentifier": arbitrary_file_identifier,
            **fields,
        }
    )


def search_info(key: CardKey, birthdate: dt.date, *, limit_consent: bool) -> Json:
    """QualificationConfirmSearchInfo: the question, echoed."""
    return _compact(
        {
            "InsurerNumber": insurer_number_for_message(key.insurer_number),
            "InsuredCardSymbol": key.insured_card_symbol,
            "InsuredIdentificationNumber": key.insured_identification_number,
            "InsuredBranchNumber": key.insured_branch_number,
            "Birthdate": format_oqs_date(birthdate),
            "LimitApplicationCertificateRelatedConsFlg": _GIVEN if limit_consent else _NOT_GIVEN,
        }
    )


def limit_info(row: t.LimitApplicationCertificate) -> Json:
    return _compact(
        {
            "LimitApplicationCertificateClassification": row.LimitApplicationCertificateClassification,
            "LimitApplicationCertificateClassificationFlag": row.LimitApplicationCertificateClassificationFlag,
            "LimitApplicationCertificateDate": _date(row.LimitApplicationCertificateDate),
            "LimitApplicationCertificateValidStartDate": _date(
                row.LimitApplicationCertificateValidStartDate
            ),
            "LimitApplicationCertificateValidEndDate": _date(
                row.LimitApplicationCertificateValidEndDate
            ),
            "LimitApplicationCertificateLongTermDate": _date(
                row.LimitApplicationCertificateLongTermDate
            ),
        }
    )


def specific_disease_info(row: t.SpecificDiseasesCertificate) -> Json:
    return _compact(
        {
            "SpecificDiseasesDiseaseCategory": row.SpecificDiseasesDiseaseCategory,
            "SpecificDiseasesCertificateDate": _date(row.SpecificDiseasesCertificateDate),
            "SpecificDiseasesValidStartDate": _date(row.SpecificDiseasesValidStartDate),
            "SpecificDiseasesValidEndDate": _date(row.SpecificDiseasesValidEndDate),
            "SpecificDiseasesSelfPay": (
                None if row.SpecificDiseasesSelfPay is None else str(row.SpecificDiseasesSelfPay)
            ),
        }
    )


def qualification_result(
    q: Qualification,
    *,
    on: dt.date,
    answered_at: dt.datetime,
    limit_consent: bool,
    limit: t.LimitApplicationCertificate | None = None,
    specific_diseases: Sequence[t.SpecificDiseasesCertificate] = (),
    reader_consents: Iterable[ConsentKind] | Mapping[ConsentKind, dt.datetime] | None = None,
) -> Json:
    """ResultOfQualificationConfirmation for one qualification.

    Limit certification and specific-disease information are given only with the limit
    consent. ``reader_consents`` (card confirmations only) adds the face-reader consent fields.
    """
    elderly = q.elderly
    fields: Json = {
        "InsuredCardClassification": q.insured_card_classification,
        "InsurerNumber": insurer_number_for_message(q.key.insurer_number),
        "InsuredCardSymbol": q.key.insured_card_symbol,
        "InsuredIdentificationNumber": q.key.insured_identification_number,
        "InsuredBranchNumber": q.key.insured_branch_number,
        "PersonalFamilyClassification": q.personal_family_classification,
        "InsuredName": q.insured_name,
        "Name": q.name,
        "NameKana": q.name_kana,
        "Sex1": q.sex1,
        "Birthdate": format_oqs_date(q.birthdate),
        "Address": q.address,
        "PostNumber": q.post_number,
        "InsuredCertificateIssuanceDate": _date(q.insured_certificate_issuance_date),
        "InsuredCardValidDate": _date(q.insured_card_valid_date),
        "InsuredCardExpirationDate": _date(q.insured_card_expiration_date),
        "InsuredPartialContributionRatio": q.insured_partial_contribution_ratio,
        "PreschoolClassification": _PRESCHOOL if _preschool_on(q.birthdate, on) else None,
        "ReasonOfLoss": q.reason_of_loss
        if q.disqualification_date and q.disqualification_date <= on
        else None,
        "InsurerName": q.insurer_name,
        # In every result: OQSDrug2 treats QualificationDate as required.
        "QualificationDate": format_oqs_date(q.qualification_date),
        "DisqualificationDate": _date(q.disqualification_date),
    }
    if elderly is not None:
        fields["ElderlyRecipientCertificateInfo"] = _compact(
            {
                "ElderlyRecipientCertificateDate": _date(elderly.certificate_date),
                "ElderlyRecipientValidStartDate": _date(elderly.valid_start_date),
                "ElderlyRecipientValidEndDate": _date(elderly.valid_end_date),
                "ElderlyRecipientContributionRatio": elderly.contribution_ratio,
            }
        )
    consent_flag = _GIVEN if limit_consent else _NOT_GIVEN
    fields["LimitApplicationCertificateRelatedConsFlg"] = consent_flag
    fields["SpecificDiseasesCertificateRelatedConsFlg"] = consent_flag
    if limit_consent:
        stamp = format_oqs_time(answered_at)
        fields["LimitApplicationCertificateRelatedConsTime"] = stamp
        if limit is not None:
            fields["LimitApplicationCertificateRelatedInfo"] = limit_info(limit)
        fields["SpecificDiseasesCertificateRelatedConsTime"] = stamp
        if specific_diseases:
            fields["SpecificDiseasesCertificateList"] = {
                "SpecificDiseasesCertificateInfo": [
                    specific_disease_info(r) for r in specific_diseases
                ]
            }
    if reader_consents is not None:
        # A mapping gives each consent's own time (bulk answers report consents held); a plain
        # collection means "given now" (a card confirmation at the reader).
        given = (
            dict(reader_consents)
            if isinstance(reader_consents, Mapping)
            else dict.fromkeys(reader_consents, answered_at)
        )
        for kind, prefix in CONSENT_FIELDS.items():
            fields[f"{prefix}ConsFlg"] = _GIVEN if kind in given else _NOT_GIVEN
            if kind in given:  # clients read …ConsTime/…AvailableTime whenever the flag is 1
                fields[f"{prefix}ConsTime"] = format_oqs_time(given[kind])
                fields[f"{prefix}AvailableTime"] = format_oqs_time(given[kind] + CONSENT_WINDOW)
    return _compact(fields)


def message(
    *,
    facility: str,
    on: dt.date,
    answered_at: dt.datetime,
    reference: ReferenceClassification,
    confirmation: Confirmation,
    results: list[Json],
    search: Json | None,
    arbitrary_file_identifier: str | None,
) -> Json:
    """The whole answer to one eligibility question."""
    header = _compact(
        {
            "ProcessExecutionTime": format_oqs_time(answered_at),
            "QualificationConfirmationDate": format_oqs_date(on),
            "MedicalInstitutionCode": facility,
            "ArbitraryFileIdentifier": arbitrary_file_identifier,
            "ReferenceClassification": reference.value,
            "SegmentOfResult": _COMPLETED,
        }
    )
    body: Json = {
        "ProcessingResultStatus": _OK,
        "QualificationValidity": confirmation.validity.value,
    }
    if search:
        body["QualificationConfirmSearchInfo"] = search
    if results:
        body["ResultList"] = {"ResultOfQualificationConfirmation": results}
    return {"MessageHeader": header, "MessageBody": body}


def reported(confirmation: Confirmation) -> list[Qualification]:
    """The qualifications an answer lists: the one judged, or every candidate of 5."""
    if confirmation.candidates:
        return list(confirmation.candidates)
    return [confirmation.qualification] if confirmation.qualification else []
