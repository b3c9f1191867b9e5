"""Which file answers what: every refusal of the central service in kind, ``.err`` only for files
that are no readable request. The central client is a stand-in that refuses with each code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from lxml import etree

from onshi.central.client import CentralRefused, CentralUnavailable
from onshi.terminal.processor import RetryLater, process
from tests.terminal.oqs_files import bulk_download_request, eligibility_request

CLINIC = "1311111111"
HISTORY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<XmlMsg><MessageHeader>'
    f"<MedicalInstitutionCode>{CLINIC}</MedicalInstitutionCode>"
    "<InsurerNumber>06139999</InsurerNumber><InsuranceCardSymbol>12-34</InsuranceCardSymbol>"
    "<InsuredPersonIdentificationNumber>4260</InsuredPersonIdentificationNumber><BranchNumber />"
    "</MessageHeader><MessageBody><FileCategory>{category}</FileCategory></MessageBody></XmlMsg>"
)


@dataclass
class Refusing:
    """Every call is refused with ``code`` (or the service is unreachable)."""

    code: str
    status: int = 403

    def _refuse(self, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        if self.code == "CENTRAL_UNAVAILABLE":
            raise CentralUnavailable("down")
        raise CentralRefused(self.status, self.code, "refused (English, for the log)")

    confirm_by_card_number = submit_bulk = submit_bulk_period = fetch_bulk = _refuse
    drug_information = checkups = _refuse


def _root(data: bytes) -> etree._Element:
    return etree.fromstring(data)


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("CONSENT_REQUIRED", "YZK", "薬剤情報の提供に患者さんの同意"),
        ("CONSENT_REQUIRED", "TKK", "特定健診情報の提供に患者さんの同意"),
        ("FACILITY_KIND_REFUSED", "TKK", "医療機関のみ"),
        ("PERSON_NOT_FOUND", "YZK", "被保険者が見つかりません"),
        ("REQUEST_INVALID", "YZK", "入力内容に誤り"),
        ("CENTRAL_ERROR", "TKK", "資格確認サービスでエラー"),
    ],
)
@pytest.mark.parametrize("category", ["1", "2"])
def test_history_refusals_are_result_code_2(
    code: str, kind: str, words: str, category: str
) -> None:
    name = f"{kind}siquc01req_0{category}2612021415123450.xml"
    answer = process(
        Refusing(code),  # type: ignore[arg-type]
        name,
        HISTORY.format(category=category).encode(),
        facility_code=CLINIC,
    )
    # A PDF request refused is answered in XML: the client looks for either extension.
    assert answer.name == f"{kind}siquc01res_0{category}2612021415123450.xml"
    assert answer.outcome == code
    root = _root(answer.data)
    assert root.xpath("//ResultCode")[0].text == "2"
    assert words in root.xpath("//MessageContents")[0].text
    assert "English" not in answer.data.decode()


def test_eligibility_refusal_is_processing_status_2() -> None:
    answer = process(
        Refusing("REQUEST_INVALID", 422),  # type: ignore[arg-type]
        "OQSsiquc01req_1.xml",
        eligibility_request(),
        facility_code=CLINIC,
    )
    assert answer.name == "OQSsiquc01res_1.xml"
    root = _root(answer.data)
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert root.findtext("MessageHeader/QualificationConfirmationDate") == "20261123"
    assert root.findtext("MessageBody/ProcessingResultStatus") == "2"
    assert root.findtext("MessageBody/ProcessingResultCode") == "REQUEST_INVALID"
    assert "保険者番号" in (root.findtext("MessageBody/ProcessingResultMessage") or "")


def test_bulk_download_refusal_is_segment_9() -> None:
    answer = process(
        Refusing("RECEPTION_NOT_FOUND", 404),  # type: ignore[arg-type]
        "OQSmuquc02req_1.xml",
        bulk_download_request("20261202000000ABC"),
        facility_code=CLINIC,
    )
    root = _root(answer.data)
    assert answer.name == "OQSmuquc02res_1.xml"
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == "RECEPTION_NOT_FOUND"


def test_unreachable_central_is_retried_not_answered() -> None:
    with pytest.raises(RetryLater):
        process(
            Refusing("CENTRAL_UNAVAILABLE"),  # type: ignore[arg-type]
            "OQSsiquc01req_1.xml",
            eligibility_request(),
            facility_code=CLINIC,
        )


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("YZKsiquc01req_1.xml", b"<XmlMsg><MessageHeader>", "OQS_MALFORMED_XML"),
        ("YZKsiquc01req_1.xml", HISTORY.format(category="7").encode(), "OQS_INVALID_VALUE"),
        ("TKKsiquc01req_1.xml", HISTORY.format(category="4").encode(), "OQS_UNSUPPORTED"),
        ("OQSsiimm01req_1.xml", eligibility_request(), "OQS_UNKNOWN_MESSAGE"),
    ],
)
def test_unreadable_requests_get_err_files(name: str, data: bytes, code: str) -> None:
    answer = process(Refusing("CENTRAL_ERROR"), name, data, facility_code=CLINIC)  # type: ignore[arg-type]
    assert answer.name == name.replace(".xml", ".err")
    assert _root(answer.data).findtext("MessageHeader/ErrorCode") == code
