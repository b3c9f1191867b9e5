"""One request file: parse it, ask the central service, render the answer.

Pure of folder and state handling (the agent does those), so each outcome is easy to test:
an :class:`Answer` to write, or :class:`RetryLater` when the central service is unreachable.

Which file answers what (clients look in OQS/res for ``<request name, req→res>`` only):

- a file that cannot be read as a request at all (unknown name, not XML, unsafe, not
  schema-valid, a value out of range) → ``<request name>.err`` (SegmentOfResult 9);
- a request that was read but cannot be answered (no consent, no such person, a facility kind
  refused, any refusal of the central service, another facility's code) → ``<res name>.xml``
  in kind: drug/checkup ``ResultCode`` 2 with ``MessageContents`` in Japanese, eligibility
  ``ProcessingResultStatus`` 2 with ``ProcessingResultCode``/``ProcessingResultMessage``, bulk
  ``SegmentOfResult`` 9 with ``ErrorCode``/``ErrorMessage``;
- an answered drug/checkup request with FileCategory 1 or 3 → ``<res name>.pdf``; else
  ``<res name>.xml``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from onshi.central.client import CentralClient, CentralRefused, CentralUnavailable
from onshi.logs import log_failure
from onshi.oqs import messages as m
from onshi.oqs.identifiers import format_oqs_date
from onshi.terminal.reception.messages_ja import message_for

log = logging.getLogger(__name__)

WRONG_FACILITY = "OQS_WRONG_FACILITY"

# What a clerk reads in MessageContents when a drug or checkup request is refused; other codes
# read as on the reception screen.
HISTORY_REFUSALS = {
    (m.MessageKind.DRUG, "CONSENT_REQUIRED"): (
        "薬剤情報の提供に患者さんの同意が確認できません（同意は当日から24時間有効です）。"
        "カードリーダーで薬剤情報の提供に同意してもらってから、もう一度照会してください。"
    ),
    (m.MessageKind.CHECKUP, "CONSENT_REQUIRED"): (
        "特定健診情報の提供に患者さんの同意が確認できません（同意は当日から24時間有効です）。"
        "カードリーダーで健診情報の提供に同意してもらってから、もう一度照会してください。"
    ),
    (m.MessageKind.CHECKUP, "FACILITY_KIND_REFUSED"): (
        "特定健診情報は医療機関のみ照会できます（薬局からは照会できません）。"
    ),
}
REPORT_FAILED = "PDFを作成できませんでした。XML（FileCategory 2 または 4）で照会するか、管理者に連絡してください。"


@dataclass(frozen=True, slots=True)
class Answer:
    name: str  # file name in res
    data: bytes
    outcome: str  # "ok" or the error code
    summary: dict[str, Any]  # for the reception screen


class WrongFacility(m.OqsMessageError):
    """A request names another facility than this terminal's (a misconfigured client)."""

    code = WRONG_FACILITY


class RetryLater(Exception):
    """The central service could not be reached; the request stays pending."""


def _search(s: m.SearchInfo, *, with_identifier: bool = False) -> dict[str, Any]:
    info: dict[str, Any] = {
        "InsurerNumber": s.InsurerNumber,
        "InsuredCardSymbol": s.InsuredCardSymbol or "",
        "InsuredIdentificationNumber": s.InsuredIdentificationNumber,
        "Birthdate": format_oqs_date(s.Birthdate),
        "LimitApplicationCertificateRelatedConsFlg": "1"
        if s.LimitApplicationCertificateRelatedConsFlg
        else "0",
    }
    if s.InsuredBranchNumber:
        info["InsuredBranchNumber"] = s.InsuredBranchNumber
    if with_identifier and s.ArbitraryIdentifier:
        info["ArbitraryIdentifier"] = s.ArbitraryIdentifier
    return info


def _header(arbitrary: str | None) -> dict[str, Any]:
    return {"ArbitraryFileIdentifier": arbitrary} if arbitrary else {}


def ask_central(
    client: CentralClient, request: m.Request, *, idempotency_key: str | None = None
) -> dict[str, Any]:
    """The central call that answers ``request`` (JSON shaped like the OQS message).

    ``idempotency_key`` names this request file for the calls that create something at the
    central service (a bulk reception), so a retry after a crash creates nothing twice.
    """
    if isinstance(request, m.EligibilityRequest):
        return client.confirm_by_card_number(
            {
                "QualificationConfirmationDate": format_oqs_date(
                    request.QualificationConfirmationDate
                ),
                **_header(request.ArbitraryFileIdentifier),
                "QualificationConfirmSearchInfo": _search(request.search),
            }
        )
    if isinstance(request, m.BulkUploadRequest):
        return client.submit_bulk(
            {
                "QualificationConfirmationDate": format_oqs_date(
                    request.QualificationConfirmationDate
                ),
                **_header(request.ArbitraryFileIdentifier),
                "QualificationConfirmSearchInfo": [
                    _search(r, with_identifier=True) for r in request.records
                ],
            },
            idempotency_key=idempotency_key,
        )
    if isinstance(request, m.BulkPeriodRequest):
        return client.submit_bulk_period(
            {
                **_header(request.ArbitraryFileIdentifier),
                "Flow": request.flow.value,
                "DateFrom": format_oqs_date(request.start),
                "DateTo": format_oqs_date(request.end),
            },
            idempotency_key=idempotency_key,
        )
    if isinstance(request, m.BulkDownloadRequest):
        return client.fetch_bulk(request.ReceptionNumber)
    body: dict[str, Any] = {
        **_header(request.ArbitraryFileIdentifier),
        "InsurerNumber": request.InsurerNumber,
        "InsuranceCardSymbol": request.InsuredCardSymbol or "",
        "InsuredPersonIdentificationNumber": request.InsuredIdentificationNumber,
    }
    if request.InsuredBranchNumber:
        body["BranchNumber"] = request.InsuredBranchNumber
    if request.StartDate:
        body["StartDate"] = format_oqs_date(request.StartDate)
    if request.EndDate:
        body["EndDate"] = format_oqs_date(request.EndDate)
    if request.with_treatments:
        body["FileCategory"] = request.FileCategory
    if request.kind is m.MessageKind.DRUG:
        return client.drug_information(body)
    return client.checkups(body)


def _summary(kind: m.MessageKind, answer: dict[str, Any]) -> dict[str, Any]:
    body = answer.get("MessageBody", {})
    header = answer.get("MessageHeader", {})
    summary: dict[str, Any] = {"file_kind": kind.value}
    for field in ("QualificationValidity", "ReceptionNumber"):
        if field in body:
            summary[field] = body[field]
    if "SegmentOfResult" in header:
        summary["SegmentOfResult"] = header["SegmentOfResult"]
    results = body.get("ResultList", {}).get("ResultOfQualificationConfirmation", [])
    if results:
        first = results[0]
        summary.update(
            {
                k: first[k]
                for k in (
                    "Name",
                    "NameKana",
                    "InsurerName",
                    "InsuredPartialContributionRatio",
                    "ReasonOfLoss",
                )
                if k in first
            }
        )
    return summary


def render_pdf(request: m.HistoryRequest, answer: dict[str, Any]) -> bytes:
    """The PDF a FileCategory 1/3 request waits for (onshi.reports draws it)."""
    from onshi.reports import checkup_report_pdf, drug_report_pdf

    if request.kind is m.MessageKind.DRUG:
        return drug_report_pdf(answer, clinical=request.with_treatments)
    return checkup_report_pdf(answer)


def refusal_message(kind: m.MessageKind, code: str) -> str:
    """The Japanese sentence a clinic's staff reads for a refusal ``code``."""
    if code.startswith("REPORT_"):
        return REPORT_FAILED
    return HISTORY_REFUSALS.get((kind, code)) or message_for(code)


def _answered(request: m.Request, kind: m.MessageKind, name: str, answer: dict[str, Any]) -> Answer:
    summary = _summary(kind, answer)
    if isinstance(request, m.HistoryRequest) and request.pdf:
        from onshi.reports import ReportError

        try:
            pdf = render_pdf(request, answer)
        except ReportError as exc:  # e.g. no Japanese font installed: say so, in kind
            log.error("cannot draw the PDF answer: %s", exc.code)
            return _refused(request, name, exc.code, exc.message)
        return Answer(m.pdf_response_name(name), pdf, "ok", summary)
    data = m.render_result(kind, answer, encoding=request.encoding)
    return Answer(m.response_name(name), data, "ok", summary)


def _refused(request: m.Request, name: str, code: str, detail: str) -> Answer:
    """The answer in kind to a request read but not answered (see the module docstring)."""
    text = refusal_message(request.kind, code)
    on: dt.date | None = None
    if isinstance(request, m.EligibilityRequest | m.BulkUploadRequest):
        on = request.QualificationConfirmationDate
    data = m.render_refusal(
        request.kind,
        facility=request.MedicalInstitutionCode,
        code=code,
        message=text,
        encoding=request.encoding,
        arbitrary_file_identifier=request.ArbitraryFileIdentifier,
        confirmation_date=on,
    )
    summary = {"file_kind": request.kind.value, "error": code, "message": detail}
    return Answer(m.response_name(name), data, code, summary)


def process(client: CentralClient, name: str, data: bytes, *, facility_code: str) -> Answer:
    """Answer one request file; raise :class:`RetryLater` when the central service is down."""
    encoding = m.Encoding.UTF8
    request: m.Request | None = None
    try:
        kind = m.kind_of_request(name)
        request = m.parse_request(data, name)
        encoding = request.encoding
        if request.MedicalInstitutionCode != facility_code:
            raise WrongFacility(
                f"MedicalInstitutionCode {request.MedicalInstitutionCode} is not this terminal's "
                f"facility ({facility_code})",
            )
        # The file's name and content identify one upload; hex keeps any file name acceptable.
        key = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
        answer = ask_central(client, request, idempotency_key=key)
        return _answered(request, kind, name, answer)
    except CentralUnavailable as exc:
        raise RetryLater(exc.message) from None
    except (WrongFacility, CentralRefused) as exc:
        assert request is not None  # both come after the request was read
        return _refused(request, name, exc.code, exc.message)
    except m.OqsMessageError as exc:
        code, message = exc.code, exc.message
    except Exception as exc:  # noqa: BLE001 — a bug must not cost the client its answer
        log_failure(log, "unexpected failure answering a request", exc)
        code, message = (
            "TERMINAL_INTERNAL_ERROR",
            "the terminal failed unexpectedly; the request was kept",
        )
    return Answer(
        m.error_name(name),
        m.render_error(name, code, message, encoding=encoding),
        code,
        {"file_kind": name[:10], "error": code, "message": message},
    )
