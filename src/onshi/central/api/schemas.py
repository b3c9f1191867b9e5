"""Request bodies of the HTTP API, named with the OQS element names, turned into questions.

Each model validates with :mod:`onshi.oqs.identifiers`, so the API accepts exactly what the
OQS file interface accepts (6-digit insurer numbers padded to 8, full-width digits, a missing
枝番…). A failed check surfaces as ``422 {"code": "REQUEST_INVALID", "message":
"<field>: <reason>"}`` (see :mod:`onshi.central.api.errors`). ``to_question`` builds the
validated values :mod:`onshi.central.services.questions` defines; nothing else leaves here.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import CardKey
from onshi.central.services.questions import (
    BulkPeriodQuestion,
    BulkQuestion,
    BulkRecordQuestion,
    CardNumberQuestion,
    CardQuestion,
    HistoryQuestion,
)
from onshi.oqs import identifiers as ids

MAX_IDENTIFIER = 100  # ArbitraryFileIdentifier / ArbitraryIdentifier, as the schema stores them
MAX_CERTIFICATE_PEM = 8192  # a P-256 user certificate is well under 1 kB


def _date(raw: object) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    if not isinstance(raw, str):
        raise ValueError("must be a YYYYMMDD string")
    return ids.oqs_date(raw, "date")


def _text(raw: object) -> str:
    # Numbers sent as JSON numbers would lose leading zeros: only strings are identifiers.
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    return raw


OqsDate = Annotated[
    dt.date,
    BeforeValidator(_date),
    PlainSerializer(ids.format_oqs_date, return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{8}$", "examples": ["20261123"]}),
]
InsurerNumberText = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(ids.insurer_number),
    WithJsonSchema({"type": "string", "examples": ["06139999", "  123456"]}),
]
CardSymbolText = Annotated[str, BeforeValidator(_text), AfterValidator(ids.insured_card_symbol)]
CardNumberText = Annotated[
    str, BeforeValidator(_text), AfterValidator(ids.insured_identification_number)
]
BranchNumberText = Annotated[
    str | None,
    BeforeValidator(lambda v: v if v is None else _text(v)),
    AfterValidator(ids.insured_branch_number),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,2}$", "examples": ["00"]}),
]
ConsFlg = Literal["0", "1"]
Identifier = Annotated[str, Field(min_length=1, max_length=MAX_IDENTIFIER)]


def _facility_code(raw: str) -> str:
    return ids.MedicalInstitutionCode(raw).value


FacilityCode = Annotated[str, AfterValidator(_facility_code)]


class _Model(BaseModel):
    # Unknown fields are refused: a misspelt element would otherwise be silently ignored
    # (a forgotten InsuredBranchNumber changes the answer).
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Header(_Model):
    # The facility is the client certificate's; a code in the body must agree with it.
    MedicalInstitutionCode: FacilityCode | None = None
    ArbitraryFileIdentifier: Identifier | None = None


class QualificationConfirmSearchInfo(_Model):
    """資格確認照会の検索条件 (OQSsiquc01 MessageBody/QualificationConfirmSearchInfo)."""

    InsurerNumber: InsurerNumberText
    InsuredCardSymbol: CardSymbolText = ""
    InsuredIdentificationNumber: CardNumberText
    InsuredBranchNumber: BranchNumberText = None
    Birthdate: OqsDate
    LimitApplicationCertificateRelatedConsFlg: ConsFlg = "0"

    def card_key(self) -> CardKey:
        return CardKey(
            self.InsurerNumber,
            self.InsuredCardSymbol,
            self.InsuredIdentificationNumber,
            self.InsuredBranchNumber,
        )


class CardNumberRequest(_Header):
    """Eligibility by insurance-card number on a date (OQSsiquc01req)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "QualificationConfirmationDate": "20261123",
                    "ArbitraryFileIdentifier": "reception-0001",
                    "QualificationConfirmSearchInfo": {
                        "InsurerNumber": "06139999",
                        "InsuredCardSymbol": "1234",
                        "InsuredIdentificationNumber": "5678",
                        "InsuredBranchNumber": "00",
                        "Birthdate": "19800101",
                        "LimitApplicationCertificateRelatedConsFlg": "0",
                    },
                }
            ]
        }
    )

    QualificationConfirmationDate: OqsDate
    QualificationConfirmSearchInfo: QualificationConfirmSearchInfo

    def to_question(self) -> CardNumberQuestion:
        info = self.QualificationConfirmSearchInfo
        return CardNumberQuestion(
            key=info.card_key(),
            birthdate=info.Birthdate,
            on=self.QualificationConfirmationDate,
            limit_consent=info.LimitApplicationCertificateRelatedConsFlg == "1",
            arbitrary_file_identifier=self.ArbitraryFileIdentifier,
        )


def _base64(raw: object) -> bytes:
    if not isinstance(raw, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_base64),
    WithJsonSchema({"type": "string", "format": "base64", "maxLength": 512}),
]


def _pem(raw: str) -> str:
    if "-----BEGIN CERTIFICATE-----" not in raw:
        raise ValueError("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
    return raw


class CardRequest(_Header):
    """Eligibility by My Number card: the card's certificate and its signature over a nonce.

    Field names are onshi's own (the OQS reader talks to the card locally); the answer is the
    same OQS result as by card number, with ReferenceClassification 1 and the consent fields.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "Certificate": "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n",
                    "Nonce": "9f2c…",
                    "Signature": "MEUCIQ…",
                    "IdentityMethod": "face",
                    "Consents": ["drug", "checkup"],
                }
            ]
        }
    )

    Certificate: Annotated[str, Field(max_length=MAX_CERTIFICATE_PEM), AfterValidator(_pem)]
    Nonce: Annotated[str, Field(min_length=1, max_length=128, pattern="^[0-9a-f]+$")]
    Signature: Base64Bytes
    IdentityMethod: Literal["face", "visual", "pin"]
    Consents: Annotated[list[ConsentKind], Field(max_length=len(ConsentKind))] = []
    QualificationConfirmationDate: OqsDate | None = None

    def to_question(self) -> CardQuestion:
        return CardQuestion(
            certificate_pem=self.Certificate.encode("ascii", errors="replace"),
            nonce=self.Nonce,
            signature=self.Signature,
            identity_method=self.IdentityMethod,
            consents=frozenset(self.Consents),
            on=self.QualificationConfirmationDate,
            arbitrary_file_identifier=self.ArbitraryFileIdentifier,
        )


class BulkSearchInfo(QualificationConfirmSearchInfo):
    """One record of a bulk upload, matched back by ``ArbitraryIdentifier``."""

    ArbitraryIdentifier: Identifier | None = None


class BulkRequest(_Header):
    """一括照会 upload (OQSmuquc01req): the records repeat QualificationConfirmSearchInfo.

    One malformed record refuses the whole upload (its index is in the message), so nothing
    is stored half.
    """

    QualificationConfirmationDate: OqsDate
    QualificationConfirmSearchInfo: Annotated[list[BulkSearchInfo], Field(min_length=1)]

    def to_question(self) -> BulkQuestion:
        return BulkQuestion(
            on=self.QualificationConfirmationDate,
            records=tuple(
                BulkRecordQuestion(
                    key=r.card_key(),
                    birthdate=r.Birthdate,
                    arbitrary_identifier=r.ArbitraryIdentifier,
                    limit_consent=r.LimitApplicationCertificateRelatedConsFlg == "1",
                )
                for r in self.QualificationConfirmSearchInfo
            ),
            arbitrary_file_identifier=self.ArbitraryFileIdentifier,
        )


class HistoryRequest(_Header):
    """薬剤情報 (YZKsiquc01) / 特定健診情報 (TKKsiquc01), with that request's own element names.

    The period is clipped to 3 years back (drugs) or 5 (checkups) by the service.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "InsurerNumber": "06139999",
                    "InsuranceCardSymbol": "1234",
                    "InsuredPersonIdentificationNumber": "5678",
                    "BranchNumber": "00",
                    "StartDate": "20240101",
                    "EndDate": "20261123",
                }
            ]
        }
    )

    InsurerNumber: InsurerNumberText
    InsuranceCardSymbol: CardSymbolText = ""
    InsuredPersonIdentificationNumber: CardNumberText
    BranchNumber: BranchNumberText = None
    StartDate: OqsDate | None = None
    EndDate: OqsDate | None = None
    # 3 or 4 (drug information only): add 診療情報, each line behind its own consent.
    FileCategory: Literal["1", "2", "3", "4"] | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> HistoryRequest:
        if self.StartDate and self.EndDate and self.StartDate > self.EndDate:
            raise ValueError("StartDate is after EndDate")
        return self

    def to_question(self) -> HistoryQuestion:
        return HistoryQuestion(
            key=CardKey(
                self.InsurerNumber,
                self.InsuranceCardSymbol,
                self.InsuredPersonIdentificationNumber,
                self.BranchNumber,
            ),
            start=self.StartDate,
            end=self.EndDate,
            arbitrary_file_identifier=self.ArbitraryFileIdentifier,
            with_treatments=self.FileCategory in ("3", "4"),
        )


class BulkPeriodRequest(_Header):
    """Online care / home visits / medical aid (OQSmuonq01, OQSmuhvq01, OQSmutic01): no names;
    every patient who gave this facility a consent from DateFrom to DateTo is answered."""

    Flow: Literal["online-care", "home-visit", "medical-aid"]
    DateFrom: OqsDate
    DateTo: OqsDate

    @model_validator(mode="after")
    def _period_in_order(self) -> BulkPeriodRequest:
        if self.DateFrom > self.DateTo:
            raise ValueError("DateFrom is after DateTo")
        return self

    def to_question(self) -> BulkPeriodQuestion:
        return BulkPeriodQuestion(
            flow=self.Flow,
            start=self.DateFrom,
            end=self.DateTo,
            arbitrary_file_identifier=self.ArbitraryFileIdentifier,
        )


RECEPTION_NUMBER_PATTERN = "^[0-9A-Za-z_-]+$"
