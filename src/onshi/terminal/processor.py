"""One request file: parse it, ask the central service, render the answer.

Pure of folder and state handling (the agent does those), so each outcome is easy to test:
an :class:`Answer` to write, or :class:`RetryLater` when the central service is unreachable.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from onshi.central.client import CentralClient, CentralRefused, CentralUnavailable
from onshi.logs import log_failure
from onshi.oqs import messages as m
from onshi.oqs.identifiers import format_oqs_date

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    name: str  # file name in res
    data: bytes
    outcome: str  # "ok" or the error code
    summary: dict[str, Any]  # for the reception screen


class WrongFacility(m.OqsMessageError):
    """A request names another facility than this terminal's (a misconfigured client)."""

    code = "OQS_WRONG_FACILITY"


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


def process(client: CentralClient, name: str, data: bytes, *, facility_code: str) -> Answer:
    """Answer one request file; raise :class:`RetryLater` when the central service is down."""
    encoding = m.Encoding.UTF8
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
        return Answer(
            m.response_name(name),
            m.render_result(kind, answer, encoding=encoding),
            "ok",
            _summary(kind, answer),
        )
    except CentralUnavailable as exc:
        raise RetryLater(exc.message) from None
    except (m.OqsMessageError, CentralRefused) as exc:
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
