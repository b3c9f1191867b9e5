"""Reading request files (OQS/req) into immutable values, every value validated once.

Fields carry the OQS element names (``InsurerNumber``, ``Birthdate``…) so a reader of the real
interface recognises them; the few that are not elements are snake_case (``search``, ``records``,
``kind``, ``encoding``). Dates are :class:`datetime.date`; InsurerNumber is canonical (6 or 8
digits, no padding); InsuredBranchNumber is two digits or ``None``.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from onshi.oqs import identifiers as ids
from onshi.oqs.codes import ConsentFlag
from onshi.oqs.messages.encoding import Encoding
from onshi.oqs.messages.errors import InvalidValue, SchemaViolation, TooManyRecords, Unsupported
from onshi.oqs.messages.names import (
    BULK_DOWNLOADS,
    BULK_UPLOADS,
    BulkFlow,
    MessageKind,
    kind_of_request,
)
from onshi.oqs.messages.safety import parse
from onshi.oqs.messages.schemas import PERSONAL_ELEMENTS, validate

MAX_BULK_RECORDS = 10_000  # the real maximum is not public

# FileCategory of drug and checkup requests: odd = PDF, even = XML; 3 and 4 add 診療情報
# (diagnoses and operations) to drug information.
FILE_CATEGORY_PDF = "1"
FILE_CATEGORY_XML = "2"
FILE_CATEGORY_PDF_WITH_TREATMENTS = "3"
FILE_CATEGORY_XML_WITH_TREATMENTS = "4"


@dataclass(frozen=True, slots=True)
class SearchInfo:
    """QualificationConfirmSearchInfo: who is asked about."""

    InsurerNumber: str
    InsuredCardSymbol: str
    InsuredIdentificationNumber: str
    InsuredBranchNumber: str | None
    Birthdate: dt.date
    LimitApplicationCertificateRelatedConsFlg: bool = False
    ArbitraryIdentifier: str | None = None


@dataclass(frozen=True, slots=True)
class EligibilityRequest:
    """OQSsiquc01req: one eligibility check by insurance-card number."""

    QualificationConfirmationDate: dt.date
    MedicalInstitutionCode: str
    ArbitraryFileIdentifier: str | None
    search: SearchInfo
    encoding: Encoding = Encoding.UTF8

    kind = MessageKind.ELIGIBILITY


@dataclass(frozen=True, slots=True)
class BulkUploadRequest:
    """OQSmuquc01req: many checks at once (e.g. tomorrow's reservations), answered later."""

    QualificationConfirmationDate: dt.date
    MedicalInstitutionCode: str
    ArbitraryFileIdentifier: str | None
    records: tuple[SearchInfo, ...]
    encoding: Encoding = Encoding.UTF8

    kind = MessageKind.BULK_UPLOAD


@dataclass(frozen=True, slots=True)
class BulkPeriodRequest:
    """OQSmuonq01req / OQSmuhvq01req / OQSmutic01req: everyone who consented here in a period.

    Online care and home visits (居宅同意取得型) name no patients: the clinic asks for every
    patient who gave it a consent between ConsentDateFrom and ConsentDateTo (or seen between
    ExaminationDateFrom and ExaminationDateTo); medical aid (医療扶助) asks by
    MedicalTreatmentMonth (YYYYMM). As YUKI-ENT/OQSDrug2's bulk tool writes them.
    """

    kind: MessageKind
    MedicalInstitutionCode: str
    ArbitraryFileIdentifier: str | None
    start: dt.date
    end: dt.date
    MedicalTreatmentFlag: str | None = None
    encoding: Encoding = Encoding.UTF8

    @property
    def flow(self) -> BulkFlow:
        return BULK_UPLOADS[self.kind]


@dataclass(frozen=True, slots=True)
class BulkDownloadRequest:
    """OQSmuquc02req: the result of a bulk upload, by its ReceptionNumber."""

    MedicalInstitutionCode: str
    ReceptionNumber: str
    encoding: Encoding = Encoding.UTF8
    ArbitraryFileIdentifier: str | None = None
    kind: MessageKind = MessageKind.BULK_DOWNLOAD  # or OQSmuonq02, OQSmuhvq02, OQSmutic02

    @property
    def flow(self) -> BulkFlow:
        return BULK_DOWNLOADS[self.kind]


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """YZKsiquc01req (drug information) or TKKsiquc01req (specific health checkups).

    The request's own element names differ (InsuranceCardSymbol, InsuredPersonIdentificationNumber,
    BranchNumber); the fields use the eligibility request's names for the same things.
    StartDate and EndDate may be months (``YYYYMM``, as OQSDrug2 writes them): a start month
    means its first day, an end month its last; ``00000000`` or nothing means unbounded.
    """

    kind: MessageKind
    MedicalInstitutionCode: str
    InsurerNumber: str
    InsuredCardSymbol: str
    InsuredIdentificationNumber: str
    InsuredBranchNumber: str | None
    ArbitraryFileIdentifier: str | None
    StartDate: dt.date | None
    EndDate: dt.date | None
    encoding: Encoding = Encoding.UTF8
    FileCategory: str = FILE_CATEGORY_XML
    PrDiInfClassification: str | None = None
    MedicalTreatmentFlag: str | None = None

    @property
    def pdf(self) -> bool:
        """FileCategory 1 or 3: the client waits for ``<res name>.pdf``."""
        return self.FileCategory in (FILE_CATEGORY_PDF, FILE_CATEGORY_PDF_WITH_TREATMENTS)

    @property
    def with_treatments(self) -> bool:
        """FileCategory 3 or 4: drug information with 診療情報 (diagnoses and operations)."""
        return self.FileCategory in (
            FILE_CATEGORY_PDF_WITH_TREATMENTS,
            FILE_CATEGORY_XML_WITH_TREATMENTS,
        )


Request = (
    EligibilityRequest
    | BulkUploadRequest
    | BulkPeriodRequest
    | BulkDownloadRequest
    | HistoryRequest
)
MAX_PERIOD_DAYS = 366  # a bulk period request covers at most a year (onshi's limit)

T = TypeVar("T")


def parse_request(data: bytes, filename: str) -> Request:
    """The request in ``data``, a file named ``filename`` found in OQS/req.

    Raises an :class:`~onshi.oqs.messages.errors.OqsMessageError` subclass for anything that is
    not a safe, well-formed, schema-valid request with valid values.
    """
    kind = kind_of_request(filename)
    root, encoding = parse(data)
    header = root.find("MessageHeader")
    body = root.find("MessageBody")
    if kind is MessageKind.BULK_UPLOAD and body is not None:
        count = sum(1 for child in body if child.tag == "QualificationConfirmSearchInfo")
        if count > MAX_BULK_RECORDS:
            raise TooManyRecords(
                f"a bulk request may carry at most {MAX_BULK_RECORDS} "
                f"QualificationConfirmSearchInfo records, this one has {count}: split it"
            )
    validate(f"{kind.value}req", root)
    if header is None or body is None:  # pragma: no cover - the schemas require both
        raise SchemaViolation("MessageHeader and MessageBody are required")
    if kind is MessageKind.ELIGIBILITY:
        search = body.find("QualificationConfirmSearchInfo")
        assert search is not None
        return EligibilityRequest(
            QualificationConfirmationDate=_date(header, "QualificationConfirmationDate"),
            MedicalInstitutionCode=_facility(header),
            ArbitraryFileIdentifier=_optional(header, "ArbitraryFileIdentifier"),
            search=_search_info(search, bulk=False),
            encoding=encoding,
        )
    if kind is MessageKind.BULK_UPLOAD:
        return BulkUploadRequest(
            QualificationConfirmationDate=_date(header, "QualificationConfirmationDate"),
            MedicalInstitutionCode=_facility(header),
            ArbitraryFileIdentifier=_optional(header, "ArbitraryFileIdentifier"),
            records=tuple(
                _search_info(e, bulk=True) for e in body.iterfind("QualificationConfirmSearchInfo")
            ),
            encoding=encoding,
        )
    if kind in BULK_UPLOADS:
        return _period(kind, header, body, encoding)
    if kind in BULK_DOWNLOADS:
        return BulkDownloadRequest(
            MedicalInstitutionCode=_facility(header),
            ReceptionNumber=_text(body, "ReceptionNumber"),
            encoding=encoding,
            ArbitraryFileIdentifier=_optional(header, "ArbitraryFileIdentifier"),
            kind=kind,
        )
    return _history(kind, header, body, encoding)


def _history(
    kind: MessageKind, header: ET.Element, body: ET.Element, encoding: Encoding
) -> HistoryRequest:
    category = _optional(body, "FileCategory") or FILE_CATEGORY_XML
    if kind is MessageKind.CHECKUP and category not in (FILE_CATEGORY_PDF, FILE_CATEGORY_XML):
        raise Unsupported(
            f"FileCategory {category} (診療情報) exists for drug information only: a checkup "
            "request asks for FileCategory 1 (PDF) or 2 (XML)"
        )
    start = _optional_date(body, "StartDate")
    end = _optional_date(body, "EndDate", month_end=True)
    if start and end and end < start:
        raise InvalidValue("EndDate", f"{end:%Y%m%d} is before StartDate {start:%Y%m%d}")
    return HistoryRequest(
        kind=kind,
        MedicalInstitutionCode=_facility(header),
        InsurerNumber=_checked(header, "InsurerNumber", ids.insurer_number),
        InsuredCardSymbol=_checked(header, "InsuranceCardSymbol", ids.insured_card_symbol, ""),
        InsuredIdentificationNumber=_checked(
            header, "InsuredPersonIdentificationNumber", ids.insured_identification_number
        ),
        InsuredBranchNumber=_branch(header, "BranchNumber"),
        ArbitraryFileIdentifier=_optional(header, "ArbitraryFileIdentifier"),
        StartDate=start,
        EndDate=end,
        encoding=encoding,
        FileCategory=category,
        PrDiInfClassification=_optional(body, "PrDiInfClassification"),
        MedicalTreatmentFlag=_optional(body, "MedicalTreatmentFlag"),
    )


_PERIODS = (
    ("ConsentDateFrom", "ConsentDateTo"),
    ("ExaminationDateFrom", "ExaminationDateTo"),
    ("MedicalTreatmentMonth", "MedicalTreatmentMonth"),
)


def _period(
    kind: MessageKind, header: ET.Element, body: ET.Element, encoding: Encoding
) -> BulkPeriodRequest:
    search = body.find("QualificationConfirmSearchInfo")
    assert search is not None  # the schema requires it
    given = [(a, b) for a, b in _PERIODS if _optional(search, a) or _optional(search, b)]
    if len(given) != 1:
        raise SchemaViolation(
            "QualificationConfirmSearchInfo needs exactly one period: ConsentDateFrom/ConsentDateTo, "
            "ExaminationDateFrom/ExaminationDateTo or MedicalTreatmentMonth",
            element="QualificationConfirmSearchInfo",
        )
    first, last = given[0]
    if first == "MedicalTreatmentMonth":
        raw = _text(search, first)
        if len(raw) != 6:
            raise InvalidValue(first, f"must be YYYYMM, got {raw!r}")
        start = _optional_date(search, first)
        end = _optional_date(search, first, month_end=True)
    else:
        start, end = _optional_date(search, first), _optional_date(search, last, month_end=True)
    if start is None or end is None:
        raise InvalidValue(last if start else first, "both ends of the period are needed")
    if end < start:
        raise InvalidValue(last, f"{end:%Y%m%d} is before {first} {start:%Y%m%d}")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise InvalidValue(last, f"a period covers at most {MAX_PERIOD_DAYS} days: split it")
    return BulkPeriodRequest(
        kind=kind,
        MedicalInstitutionCode=_facility(header),
        ArbitraryFileIdentifier=_optional(header, "ArbitraryFileIdentifier"),
        start=start,
        end=end,
        MedicalTreatmentFlag=_optional(search, "MedicalTreatmentFlag"),
        encoding=encoding,
    )


def _search_info(elem: ET.Element, *, bulk: bool) -> SearchInfo:
    flag = _optional(elem, "LimitApplicationCertificateRelatedConsFlg")
    return SearchInfo(
        InsurerNumber=_checked(elem, "InsurerNumber", ids.insurer_number),
        InsuredCardSymbol=_checked(elem, "InsuredCardSymbol", ids.insured_card_symbol, ""),
        InsuredIdentificationNumber=_checked(
            elem, "InsuredIdentificationNumber", ids.insured_identification_number
        ),
        InsuredBranchNumber=_branch(elem, "InsuredBranchNumber"),
        Birthdate=_date(elem, "Birthdate"),
        LimitApplicationCertificateRelatedConsFlg=flag == ConsentFlag.GIVEN,
        ArbitraryIdentifier=_optional(elem, "ArbitraryIdentifier") if bulk else None,
    )


def _raw(parent: ET.Element, name: str) -> str | None:
    child = parent.find(name)
    return None if child is None else (child.text or "")


def _text(parent: ET.Element, name: str) -> str:
    return (_raw(parent, name) or "").strip()


def _optional(parent: ET.Element, name: str) -> str | None:
    """An optional element's text; absent and empty (``<X />``) are the same."""
    value = _raw(parent, name)
    return value.strip() or None if value is not None else None


def _checked(
    parent: ET.Element, name: str, check: Callable[[str], T], default: T | None = None
) -> T:
    raw = _raw(parent, name)
    if raw is None and default is not None:
        return default
    try:
        return check(raw or "")
    except ids.InvalidIdentifier as exc:
        raise _invalid(name, exc) from None


def _branch(parent: ET.Element, name: str) -> str | None:
    try:
        return ids.insured_branch_number(_raw(parent, name))
    except ids.InvalidIdentifier as exc:
        raise _invalid(name, exc) from None


def _date(parent: ET.Element, name: str) -> dt.date:
    return _checked(parent, name, lambda raw: ids.oqs_date(raw, name))


def _optional_date(parent: ET.Element, name: str, *, month_end: bool = False) -> dt.date | None:
    """YYYYMMDD, or YYYYMM (OQSDrug2 asks by month): its first day, or its last if ``month_end``."""
    value = _optional(parent, name)
    # OQSDrug2-style clients write 00000000 for "no date".
    if value is None or value == "00000000":
        return None
    if len(value) == 6:
        first = _checked(parent, name, lambda raw: ids.oqs_date(raw.strip() + "01", name))
        if not month_end:
            return first
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return following - dt.timedelta(days=1)
    return _date(parent, name)


def _facility(header: ET.Element) -> str:
    return _checked(
        header, "MedicalInstitutionCode", lambda raw: ids.MedicalInstitutionCode(raw.strip()).value
    )


def _invalid(name: str, exc: ids.InvalidIdentifier) -> InvalidValue:
    if name in PERSONAL_ELEMENTS:
        reason = str(exc).split(",")[0].split(":")[0]
        return InvalidValue(
            name, f"not a valid value ({reason}; the value is personal data and not shown)"
        )
    return InvalidValue(name, str(exc))
