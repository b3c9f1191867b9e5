import datetime as dt

import pytest

from onshi.oqs.messages import (
    MAX_BULK_RECORDS,
    BulkDownloadRequest,
    BulkUploadRequest,
    EligibilityRequest,
    Encoding,
    HistoryRequest,
    InvalidValue,
    MessageKind,
    OqsMessageError,
    SearchInfo,
    parse_request,
)
from tests.oqs.helpers import HEADER, SEARCH, document, eligibility, history

EXPECTED_SEARCH = SearchInfo(
    InsurerNumber="123456",
    InsuredCardSymbol="12-34",
    InsuredIdentificationNumber="4260",
    InsuredBranchNumber="01",
    Birthdate=dt.date(2001, 3, 27),
    LimitApplicationCertificateRelatedConsFlg=True,
)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_eligibility(encoding: Encoding) -> None:
    request = parse_request(document(eligibility(), encoding), "OQSsiquc01req_1.xml")
    assert request == EligibilityRequest(
        QualificationConfirmationDate=dt.date(2024, 5, 1),
        MedicalInstitutionCode="1311111111",
        ArbitraryFileIdentifier="req-1",
        search=EXPECTED_SEARCH,
        encoding=encoding,
    )


def test_utf8_bom_and_no_declaration() -> None:
    assert (
        parse_request(document(eligibility(), bom=True), "OQSsiquc01req_1.xml").encoding
        is Encoding.UTF8
    )
    bare = eligibility().encode()
    assert parse_request(bare, "OQSsiquc01req_1.xml").encoding is Encoding.UTF8


def test_character_code_identifier_without_declaration_means_shift_jis() -> None:
    header = HEADER.replace(
        "</MessageHeader>", "<CharacterCodeIdentifier>1</CharacterCodeIdentifier></MessageHeader>"
    )
    search = SEARCH.replace("12-34", "記号１")
    data = eligibility(header, search).encode("cp932")
    request = parse_request(data, "OQSsiquc01req_1.xml")
    assert isinstance(request, EligibilityRequest)
    assert request.encoding is Encoding.SHIFT_JIS
    assert request.search.InsuredCardSymbol == "記号1"  # NFKC


def test_cp932_extensions_are_read() -> None:
    search = SEARCH.replace("12-34", "髙①㈱")
    request = parse_request(
        document(eligibility(search=search), Encoding.SHIFT_JIS), "OQSsiquc01req_1.xml"
    )
    assert isinstance(request, EligibilityRequest)
    assert request.search.InsuredCardSymbol == "髙1(株)"  # NFKC, as identifiers normalise


def test_lenient_element_order_and_optional_elements() -> None:
    search = (
        "<QualificationConfirmSearchInfo>"
        "<Birthdate> 20010327 </Birthdate>"
        "<InsuredIdentificationNumber>4260</InsuredIdentificationNumber>"
        "<InsurerNumber>00123456</InsurerNumber>"
        "<InsuredBranchNumber />"
        "<InsuredCardSymbol></InsuredCardSymbol>"
        "</QualificationConfirmSearchInfo>"
    )
    header = (
        "<MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>"
        "<QualificationConfirmationDate>20240501</QualificationConfirmationDate></MessageHeader>"
    )
    request = parse_request(document(eligibility(header, search)), "OQSsiquc01req_1.xml")
    assert isinstance(request, EligibilityRequest)
    assert request.ArbitraryFileIdentifier is None
    assert request.search == SearchInfo("123456", "", "4260", None, dt.date(2001, 3, 27), False)


def test_bulk_upload() -> None:
    records = "".join(
        SEARCH.replace(
            "</QualificationConfirmSearchInfo>",
            f"<ArbitraryIdentifier>R{i}</ArbitraryIdentifier></QualificationConfirmSearchInfo>",
        )
        for i in range(3)
    )
    body = f"<XmlMsg>{HEADER}<MessageBody>{records}</MessageBody></XmlMsg>"
    request = parse_request(document(body, Encoding.SHIFT_JIS), "OQSmuquc01req_1.xml")
    assert isinstance(request, BulkUploadRequest)
    assert [r.ArbitraryIdentifier for r in request.records] == ["R0", "R1", "R2"]
    assert request.records[0].InsurerNumber == "123456"
    assert request.encoding is Encoding.SHIFT_JIS


def test_bulk_upload_cap() -> None:
    records = SEARCH * (MAX_BULK_RECORDS + 1)
    body = f"<XmlMsg>{HEADER}<MessageBody>{records}</MessageBody></XmlMsg>"
    with pytest.raises(OqsMessageError) as caught:
        parse_request(document(body), "OQSmuquc01req_1.xml")
    assert caught.value.code == "OQS_TOO_MANY_RECORDS"


def test_bulk_upload_needs_a_record() -> None:
    body = f"<XmlMsg>{HEADER}<MessageBody></MessageBody></XmlMsg>"
    with pytest.raises(OqsMessageError) as caught:
        parse_request(document(body), "OQSmuquc01req_1.xml")
    assert caught.value.code == "OQS_SCHEMA"


def test_bulk_download_as_oqsdrug2_writes_it() -> None:
    body = (
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>"
        "</MessageHeader><MessageBody><ReceptionNumber>20240501120000ABCDEF012345</ReceptionNumber>"
        "</MessageBody></XmlMsg>"
    )
    request = parse_request(document(body, Encoding.SHIFT_JIS), "OQSmuquc02req_1.xml")
    assert request == BulkDownloadRequest(
        "1311111111", "20240501120000ABCDEF012345", Encoding.SHIFT_JIS
    )


def test_drug_request_as_oqsdrug2_writes_it() -> None:
    body = (
        "<StartDate>20210501</StartDate><EndDate>20240501</EndDate><FileCategory>2</FileCategory>"
        "<PrDiInfClassification>1</PrDiInfClassification><MedicalTreatmentFlag>1</MedicalTreatmentFlag>"
    )
    request = parse_request(
        document(history(body), Encoding.SHIFT_JIS), "YZKsiquc01req_002405011200123.xml"
    )
    assert request == HistoryRequest(
        kind=MessageKind.DRUG,
        MedicalInstitutionCode="1311111111",
        InsurerNumber="06123456",
        InsuredCardSymbol="記号",
        InsuredIdentificationNumber="1234",
        InsuredBranchNumber=None,
        ArbitraryFileIdentifier="00240501120012345",
        StartDate=dt.date(2021, 5, 1),
        EndDate=dt.date(2024, 5, 1),
        encoding=Encoding.SHIFT_JIS,
        FileCategory="2",
        PrDiInfClassification="1",
        MedicalTreatmentFlag="1",
    )


def test_checkup_request_without_dates() -> None:
    body = "<FileCategory>2</FileCategory><PrDiInfClassification>1</PrDiInfClassification>"
    request = parse_request(
        document(history(body, branch="<BranchNumber>02</BranchNumber>")), "TKKsiquc01req_1.xml"
    )
    assert isinstance(request, HistoryRequest)
    assert (request.kind, request.StartDate, request.EndDate, request.InsuredBranchNumber) == (
        MessageKind.CHECKUP,
        None,
        None,
        "02",
    )


def test_zero_date_means_no_date() -> None:
    body = (
        "<StartDate>00000000</StartDate><EndDate>20240501</EndDate><FileCategory>2</FileCategory>"
    )
    request = parse_request(document(history(body)), "YZKsiquc01req_1.xml")
    assert isinstance(request, HistoryRequest)
    assert request.StartDate is None


@pytest.mark.parametrize(
    ("category", "pdf", "with_treatments"),
    [("1", True, False), ("2", False, False), ("3", True, True), ("4", False, True)],
)
def test_drug_file_categories(category: str, pdf: bool, with_treatments: bool) -> None:
    body = f"<FileCategory>{category}</FileCategory>"
    request = parse_request(document(history(body)), "YZKsiquc01req_1.xml")
    assert isinstance(request, HistoryRequest)
    assert (request.FileCategory, request.pdf, request.with_treatments) == (
        category,
        pdf,
        with_treatments,
    )


def test_checkup_pdf_is_category_1_and_treatments_are_for_drugs_only() -> None:
    request = parse_request(
        document(history("<FileCategory>1</FileCategory>")), "TKKsiquc01req_1.xml"
    )
    assert isinstance(request, HistoryRequest) and request.pdf
    with pytest.raises(OqsMessageError) as caught:
        parse_request(document(history("<FileCategory>4</FileCategory>")), "TKKsiquc01req_1.xml")
    assert caught.value.code == "OQS_UNSUPPORTED"


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        ("202406", "202412", dt.date(2024, 6, 1), dt.date(2024, 12, 31)),
        ("202402", "202402", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("202302", "202302", dt.date(2023, 2, 1), dt.date(2023, 2, 28)),
        ("20240615", "20241203", dt.date(2024, 6, 15), dt.date(2024, 12, 3)),
        ("00000000", "202411", None, dt.date(2024, 11, 30)),
        ("202405", "00000000", dt.date(2024, 5, 1), None),
    ],
)
def test_drug_periods_by_month_as_oqsdrug2_asks(
    start: str, end: str, first: dt.date | None, last: dt.date | None
) -> None:
    body = f"<StartDate>{start}</StartDate><EndDate>{end}</EndDate><FileCategory>2</FileCategory>"
    request = parse_request(document(history(body)), "YZKsiquc01req_1.xml")
    assert isinstance(request, HistoryRequest)
    assert (request.StartDate, request.EndDate) == (first, last)


@pytest.mark.parametrize("bad", ["202413", "2024", "2024061", "20240230"])
def test_impossible_periods(bad: str) -> None:
    body = f"<StartDate>{bad}</StartDate>"
    with pytest.raises(InvalidValue) as caught:
        parse_request(document(history(body)), "YZKsiquc01req_1.xml")
    assert caught.value.element == "StartDate"


def test_end_before_start() -> None:
    body = "<StartDate>20240501</StartDate><EndDate>20240401</EndDate>"
    with pytest.raises(InvalidValue) as caught:
        parse_request(document(history(body)), "YZKsiquc01req_1.xml")
    assert caught.value.element == "EndDate"


def _replace(old: str, new: str) -> bytes:
    text = eligibility()
    assert old in text
    return document(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        (
            "<MedicalInstitutionCode>1311111111<",
            "<MedicalInstitutionCode>131111111<",
            "MedicalInstitutionCode",
        ),
        (
            "<MedicalInstitutionCode>1311111111<",
            "<MedicalInstitutionCode>4811111111<",
            "MedicalInstitutionCode",
        ),
        (
            "<MedicalInstitutionCode>1311111111<",
            "<MedicalInstitutionCode>1321111111<",
            "MedicalInstitutionCode",
        ),
        (
            "<QualificationConfirmationDate>20240501<",
            "<QualificationConfirmationDate>2024-05-01<",
            "QualificationConfirmationDate",
        ),
        ("<Birthdate>20010327<", "<Birthdate>20230230<", "Birthdate"),
        ("<Birthdate>20010327<", "<Birthdate>20011327<", "Birthdate"),
        ("<InsurerNumber>  123456<", "<InsurerNumber>1234567<", "InsurerNumber"),
        ("<InsurerNumber>  123456<", "<InsurerNumber>12345a<", "InsurerNumber"),
        ("<InsuredBranchNumber>01<", "<InsuredBranchNumber>123<", "InsuredBranchNumber"),
        (
            "<InsuredIdentificationNumber>4260<",
            "<InsuredIdentificationNumber><",
            "InsuredIdentificationNumber",
        ),
        ("<InsuredCardSymbol>12-34<", "<InsuredCardSymbol>" + "x" * 39 + "<", "InsuredCardSymbol"),
        (
            "<LimitApplicationCertificateRelatedConsFlg>1<",
            "<LimitApplicationCertificateRelatedConsFlg>2<",
            "LimitApplicationCertificateRelatedConsFlg",
        ),
    ],
)
def test_invalid_values_name_the_element(old: str, new: str, element: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_request(_replace(old, new), "OQSsiquc01req_1.xml")
    assert caught.value.code == "OQS_INVALID_VALUE"
    assert caught.value.element == element
    assert element in caught.value.message


def test_personal_values_are_not_repeated_in_messages() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_request(
            _replace("<Birthdate>20010327<", "<Birthdate>19990230<"), "OQSsiquc01req_1.xml"
        )
    assert "19990230" not in caught.value.message


def test_unknown_code_in_history_request() -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_request(document(history("<FileCategory>5</FileCategory>")), "YZKsiquc01req_1.xml")
    assert caught.value.element == "FileCategory"


@pytest.mark.parametrize(
    ("old", "new", "element"),
    [
        ("<Birthdate>20010327</Birthdate>", "", "QualificationConfirmSearchInfo"),
        ("<Birthdate>", "<Unknown>1</Unknown><Birthdate>", "Unknown"),
        ("<MedicalInstitutionCode>1311111111</MedicalInstitutionCode>", "", "MessageHeader"),
    ],
)
def test_structure_errors(old: str, new: str, element: str) -> None:
    with pytest.raises(OqsMessageError) as caught:
        parse_request(_replace(old, new), "OQSsiquc01req_1.xml")
    assert caught.value.code == "OQS_SCHEMA"
    assert element in caught.value.message


def test_wrong_kind_for_the_file_name() -> None:
    with pytest.raises(OqsMessageError) as caught:
        parse_request(document(eligibility()), "OQSmuquc02req_1.xml")
    assert caught.value.code == "OQS_SCHEMA"


def _period(search: str, *, name_kind: str = "OQSmuonq01") -> object:
    body = (
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>1311111111</MedicalInstitutionCode>"
        "<ArbitraryFileIdentifier>20261202141512123ONS</ArbitraryFileIdentifier></MessageHeader>"
        f"<MessageBody><QualificationConfirmSearchInfo>{search}</QualificationConfirmSearchInfo>"
        "</MessageBody></XmlMsg>"
    )
    return parse_request(document(body, Encoding.SHIFT_JIS), f"{name_kind}req_202612020001.xml")


@pytest.mark.parametrize(
    ("kind", "search", "first", "last"),
    [
        (
            "OQSmuonq01",
            "<ConsentDateFrom>20261101</ConsentDateFrom><ConsentDateTo>20261202</ConsentDateTo>"
            "<MedicalTreatmentFlag>3</MedicalTreatmentFlag>",
            dt.date(2026, 11, 1),
            dt.date(2026, 12, 2),
        ),
        (
            "OQSmuonq01",
            "<ExaminationDateFrom>20261101</ExaminationDateFrom>"
            "<ExaminationDateTo>20261130</ExaminationDateTo><MedicalTreatmentFlag>3</MedicalTreatmentFlag>",
            dt.date(2026, 11, 1),
            dt.date(2026, 11, 30),
        ),
        (
            "OQSmuhvq01",
            "<ConsentDateFrom>20261101</ConsentDateFrom><ConsentDateTo>20261202</ConsentDateTo>"
            "<MedicalTreatmentFlag>2</MedicalTreatmentFlag>",
            dt.date(2026, 11, 1),
            dt.date(2026, 12, 2),
        ),
        (
            "OQSmutic01",
            "<MedicalTreatmentMonth>202602</MedicalTreatmentMonth>",
            dt.date(2026, 2, 1),
            dt.date(2026, 2, 28),
        ),
    ],
)
def test_bulk_period_requests_as_oqsdrug2_writes_them(
    kind: str, search: str, first: dt.date, last: dt.date
) -> None:
    from onshi.oqs.messages import BulkFlow, BulkPeriodRequest

    request = _period(search, name_kind=kind)
    assert isinstance(request, BulkPeriodRequest)
    assert (request.start, request.end, request.kind.value) == (first, last, kind)
    assert request.flow in set(BulkFlow) - {BulkFlow.ELIGIBILITY}
    assert request.ArbitraryFileIdentifier == "20261202141512123ONS"


@pytest.mark.parametrize(
    ("search", "code"),
    [
        ("", "OQS_SCHEMA"),  # no period at all
        (
            "<ConsentDateFrom>20261101</ConsentDateFrom>"
            "<MedicalTreatmentMonth>202611</MedicalTreatmentMonth>",
            "OQS_SCHEMA",
        ),
        ("<ConsentDateFrom>20261101</ConsentDateFrom>", "OQS_INVALID_VALUE"),
        (
            "<ConsentDateFrom>20261202</ConsentDateFrom><ConsentDateTo>20261101</ConsentDateTo>",
            "OQS_INVALID_VALUE",
        ),
        (
            "<ConsentDateFrom>20240101</ConsentDateFrom><ConsentDateTo>20261101</ConsentDateTo>",
            "OQS_INVALID_VALUE",
        ),
        ("<MedicalTreatmentMonth>20261101</MedicalTreatmentMonth>", "OQS_INVALID_VALUE"),
        ("<InsurerNumber>06139999</InsurerNumber>", "OQS_SCHEMA"),
    ],
)
def test_bad_bulk_periods(search: str, code: str) -> None:
    with pytest.raises(OqsMessageError) as caught:
        _period(search)
    assert caught.value.code == code
