"""Writing result files (OQS/res, OQS/face) and ``.err`` files from the central service's answers.

Every function validates its own output against the message's schema before returning it: a bug
raises :class:`RenderError` instead of writing a file a strict client would choke on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from onshi.oqs.codes import ProcessingResultStatus, ReferenceClassification, SegmentOfResult
from onshi.oqs.identifiers import format_oqs_time
from onshi.oqs.messages import tree
from onshi.oqs.messages.encoding import Encoding, declaration, encode
from onshi.oqs.messages.errors import OqsMessageError, RenderError
from onshi.oqs.messages.names import BULK_DOWNLOADS, BULK_UPLOADS, MessageKind
from onshi.oqs.messages.safety import OWN_OUTPUT_LIMITS, parse
from onshi.oqs.messages.schemas import is_valid, validate
from onshi.oqs.messages.shapes import DISPENSING_INSTITUTION, ERROR_SHAPES, RESULT_SHAPES, TREATMENT

Json = dict[str, Any]
JST = dt.timezone(dt.timedelta(hours=9), "JST")
MAX_ERROR_MESSAGE = 1000
# ResultCode of a drug or checkup answer: 1 success (what clients test), 2 refused (onshi's own).
RESULT_CODE_OK = "1"
RESULT_CODE_REFUSED = "2"


def render_result(kind: MessageKind, answer: Mapping[str, Any], *, encoding: Encoding) -> bytes:
    """The result file (OQS/res) answering a request of ``kind``, from the central's JSON answer."""
    header, body = _split(answer)
    header["CharacterCodeIdentifier"] = encoding.character_code_identifier.value
    _error_fields(header)
    if kind in BULK_DOWNLOADS and "ReceptionNumber" in body:
        # smart-test's reader takes ReceptionNumber from the header; the body carries it too.
        header.setdefault("ReceptionNumber", body["ReceptionNumber"])
    elif kind is MessageKind.DRUG:
        header, body = _drug(header, body)
    elif kind is MessageKind.CHECKUP:
        header, body = _checkup(header, body)
    message = {"MessageHeader": header, **({"MessageBody": body} if body else {})}
    return _finish(f"{kind.value}res", message, RESULT_SHAPES[kind], encoding)


def render_refusal(
    kind: MessageKind,
    *,
    facility: str,
    code: str,
    message: str,
    encoding: Encoding,
    arbitrary_file_identifier: str | None = None,
    confirmation_date: dt.date | None = None,
    when: dt.datetime | None = None,
) -> bytes:
    """The result file (OQS/res) of a request that was read but cannot be answered, in kind.

    Clients wait for ``<request name, req→res>.xml`` and read it: drug and checkup answers get
    ``ResultCode`` 2 and ``MessageContents`` (``message``, for the clinic's staff, in Japanese);
    eligibility answers ``ProcessingResultStatus`` 2 with ``ProcessingResultCode`` ``code`` and
    ``ProcessingResultMessage``; bulk answers ``SegmentOfResult`` 9 with ``ErrorCode``/``ErrorMessage``
    (uploads also ``ProcessingResultStatus`` 2). ``.err`` files stay for unreadable files.
    """
    now = when or dt.datetime.now(JST)
    safe_code = "".join(c if c.isascii() and (c.isalnum() or c in "_.:-") else "_" for c in code)
    safe_code = safe_code[:64] or "OQS_ERROR"
    text = " ".join(message.split()) or "照会に回答できませんでした。"
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[: MAX_ERROR_MESSAGE - 1] + "…"
    header: Json = {
        "ProcessExecutionTime": format_oqs_time(now),
        "MedicalInstitutionCode": facility,
        "ArbitraryFileIdentifier": arbitrary_file_identifier,
    }
    body: Json
    if kind in (MessageKind.DRUG, MessageKind.CHECKUP):
        header["SegmentOfResult"] = SegmentOfResult.COMPLETED.value
        body = {"ResultCode": RESULT_CODE_REFUSED, "MessageContents": text}
    elif kind is MessageKind.ELIGIBILITY:
        header.update(
            QualificationConfirmationDate=(confirmation_date or now.date()).strftime("%Y%m%d"),
            ReferenceClassification=ReferenceClassification.INSURANCE_CARD.value,
            SegmentOfResult=SegmentOfResult.COMPLETED.value,
        )
        body = {
            "ProcessingResultStatus": ProcessingResultStatus.ERROR.value,
            "ProcessingResultCode": safe_code,
            "ProcessingResultMessage": text,
        }
    else:
        header.update(
            SegmentOfResult=SegmentOfResult.FAILED.value, ErrorCode=safe_code, ErrorMessage=text
        )
        body = {}
        if kind in BULK_UPLOADS:
            if confirmation_date is not None:
                header["QualificationConfirmationDate"] = confirmation_date.strftime("%Y%m%d")
            body = {
                "ProcessingResultStatus": ProcessingResultStatus.ERROR.value,
                "ProcessingResultCode": safe_code,
                "ProcessingResultMessage": text,
            }
    answer = {"MessageHeader": {k: v for k, v in header.items() if v}, "MessageBody": body}
    return render_result(kind, answer, encoding=encoding)


def render_face_result(answer: Mapping[str, Any], *, encoding: Encoding = Encoding.UTF8) -> bytes:
    """A face file (OQS/face): the central's answer to a card confirmation at the reader."""
    header, body = _split(answer)
    header.setdefault("ReferenceClassification", ReferenceClassification.MY_NUMBER_CARD.value)
    if header["ReferenceClassification"] != ReferenceClassification.MY_NUMBER_CARD:
        raise RenderError(
            "a face file answers a card confirmation: ReferenceClassification must be 1"
        )
    header["CharacterCodeIdentifier"] = encoding.character_code_identifier.value
    _error_fields(header)
    message = {"MessageHeader": header, **({"MessageBody": body} if body else {})}
    return _finish("face", message, RESULT_SHAPES[MessageKind.ELIGIBILITY], encoding)


def render_error(
    request_filename: str,
    code: str,
    message: str,
    *,
    encoding: Encoding = Encoding.UTF8,
    when: dt.datetime | None = None,
) -> bytes:
    """The ``.err`` file answering ``request_filename``: SegmentOfResult 9, ErrorCode, ErrorMessage."""
    safe_code = "".join(c if c.isascii() and (c.isalnum() or c in "_.:-") else "_" for c in code)
    text = " ".join(message.split()) or "the request could not be answered"
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[: MAX_ERROR_MESSAGE - 1] + "…"
    header = {
        "ProcessExecutionTime": format_oqs_time(when or dt.datetime.now(JST)),
        "SegmentOfResult": SegmentOfResult.FAILED.value,
        "ErrorCode": safe_code[:64] or "OQS_ERROR",
        "ErrorMessage": text,
        "CharacterCodeIdentifier": encoding.character_code_identifier.value,
        "RequestFileName": request_filename[:MAX_ERROR_MESSAGE],
    }
    return _finish("err", {"MessageHeader": header}, ERROR_SHAPES, encoding)


def _split(answer: Mapping[str, Any]) -> tuple[Json, Json]:
    unknown = sorted(set(answer) - {"MessageHeader", "MessageBody"})
    if unknown or not isinstance(answer.get("MessageHeader"), Mapping):
        raise RenderError(
            "an answer is {'MessageHeader': {...}, 'MessageBody': {...}}"
            + (f"; unexpected {', '.join(unknown)}" if unknown else "")
        )
    body = answer.get("MessageBody") or {}
    if not isinstance(body, Mapping):
        raise RenderError("MessageBody must be a group of elements")
    return dict(answer["MessageHeader"]), dict(body)


def _error_fields(header: Json) -> None:
    """ErrorCode and ErrorMessage belong to SegmentOfResult 9 only, and 9 needs an ErrorCode."""
    if header.get("SegmentOfResult") == SegmentOfResult.FAILED:
        if tree.absent(header.get("ErrorCode")):
            raise RenderError("SegmentOfResult 9 (異常終了) needs an ErrorCode")
    else:
        header.pop("ErrorCode", None)
        header.pop("ErrorMessage", None)


def _drug(header: Json, body: Json) -> tuple[Json, Json]:
    """Flat DrugInformation lines → MeTrMonthInf / DiDateInfs / DiDateInf / DrugInfs / DrugInf.

    Consecutive lines of the same month and institution (DiOrg, MeTrDiHCd… as OQSDrug2 reads
    them on MeTrMonthInf) start one MeTrMonthInf; consecutive lines of the same DiDate and
    PrDate one DiDateInf. Order is kept exactly, so reading back gives the same lines (lines
    with no drug field at all are left out: DrugInfs may not be empty). 診療情報 lines
    (MedicalTreatmentInformation, FileCategory 3/4) join the DiDateInf of their month,
    institution and DiDate, as MeTrInfs/MeTrInf.
    """
    info = body.pop("QualificationsInfo", None)
    if info is not None:
        header["QuaInf"] = info
    lines = body.pop("DrugInformation", None) or []
    treatments = body.pop("MedicalTreatmentInformation", None) or []
    months: list[Json] = []
    for line in lines:
        di_date, pr_date, institution = _dated(line, "DrugInformation")
        drug = {
            k: v
            for k, v in line.items()
            if k not in ("DiDate", "PrDate", *DISPENSING_INSTITUTION) and not tree.absent(v)
        }
        if not drug:
            continue  # a dispensing date without any drug: nothing a client could show
        if not months or _month_key(months[-1]) != (di_date[:6], institution):
            months.append(_month(di_date, institution))
        dates = months[-1]["DiDateInfs"]["DiDateInf"]
        if not dates or (dates[-1]["DiDate"], dates[-1].get("PrDate")) != (di_date, pr_date):
            dates.append({"DiDate": di_date, "PrDate": pr_date})
        dates[-1].setdefault("DrugInfs", {"DrugInf": []})["DrugInf"].append(drug)
    for line in treatments:
        di_date, _, institution = _dated(line, "MedicalTreatmentInformation")
        treatment = {k: v for k, v in line.items() if k in TREATMENT and not tree.absent(v)}
        if not treatment:
            continue
        month = next((m for m in months if _month_key(m) == (di_date[:6], institution)), None)
        if month is None:
            month = _month(di_date, institution)
            months.append(month)
        dates = month["DiDateInfs"]["DiDateInf"]
        day = next((d for d in dates if d["DiDate"] == di_date), None)
        if day is None:
            day = {"DiDate": di_date}
            dates.append(day)
        day.setdefault("MeTrInfs", {"MeTrInf": []})["MeTrInf"].append(treatment)
    if months:
        body["MeTrMonthInf"] = months
    return header, body


def _dated(line: object, what: str) -> tuple[str, Any, tuple[Any, ...]]:
    if not isinstance(line, Mapping) or tree.absent(line.get("DiDate")):
        raise RenderError(f"every {what} line needs a DiDate")
    institution = tuple(line.get(k) or None for k in DISPENSING_INSTITUTION)
    return str(line["DiDate"]), line.get("PrDate"), institution


def _month(di_date: str, institution: tuple[Any, ...]) -> Json:
    return {
        "MeTrMonth": di_date[:6],
        **{k: v for k, v in zip(DISPENSING_INSTITUTION, institution, strict=True) if v},
        "DiDateInfs": {"DiDateInf": []},
    }


def _month_key(month: Json) -> tuple[str, tuple[Any, ...]]:
    return month["MeTrMonth"], tuple(month.get(k) for k in DISPENSING_INSTITUTION)


_CHECKUP_PERSON = {
    "Name": "Name",
    "KanaName": "KanasName",
    "Birth": "Birthday",
    "AdmGendCode": "AdministrativeGenderCode",
}


def _checkup(header: Json, body: Json) -> tuple[Json, Json]:
    """QualificationsInfo moves to the header with the checkup result's own names (KanasName…)."""
    info = body.pop("QualificationsInfo", None)
    if info is not None:
        if not isinstance(info, Mapping):
            raise RenderError("QualificationsInfo must be a group of elements")
        header["QualificationsInfo"] = {_CHECKUP_PERSON.get(k, k): v for k, v in info.items()}
    return header, body


def _finish(
    schema: str, message: Json, shapes: Mapping[str, tuple[str, ...]], encoding: Encoding
) -> bytes:
    text = tree.write("XmlMsg", message, {**shapes, "XmlMsg": ("MessageHeader", "MessageBody")})
    data = encode(declaration(encoding) + text, encoding)
    if is_valid(schema, data, encoding.codec):
        return data
    # Invalid: parse it again the slow way for an error that names the element and the rule.
    try:
        root, _ = parse(data, OWN_OUTPUT_LIMITS)
        validate(schema, root)
    except OqsMessageError as exc:
        raise RenderError(f"onshi would write an invalid {schema} file: {exc.message}") from exc
    raise RenderError(f"onshi would write an invalid {schema} file")
