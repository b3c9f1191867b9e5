"""Message kinds and the file names of the OQS folders (OQS/req, OQS/res, OQS/face)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

from onshi.oqs.messages.errors import UnknownMessage


class MessageKind(StrEnum):
    """The file prefix of a request and of its result."""

    ELIGIBILITY = "OQSsiquc01"  # 資格確認照会 (one check by insurance-card number)
    BULK_UPLOAD = "OQSmuquc01"  # 一括照会 upload
    BULK_DOWNLOAD = "OQSmuquc02"  # 一括照会 result download by ReceptionNumber
    DRUG = "YZKsiquc01"  # 薬剤情報
    CHECKUP = "TKKsiquc01"  # 特定健診情報
    ONLINE_CARE_UPLOAD = "OQSmuonq01"  # オンライン診療等の一括照会 upload
    ONLINE_CARE_DOWNLOAD = "OQSmuonq02"
    HOME_VISIT_UPLOAD = "OQSmuhvq01"  # 訪問診療等の一括照会 upload
    HOME_VISIT_DOWNLOAD = "OQSmuhvq02"
    MEDICAL_AID_UPLOAD = "OQSmutic01"  # 医療扶助の一括照会 upload
    MEDICAL_AID_DOWNLOAD = "OQSmutic02"


class BulkFlow(StrEnum):
    """Which bulk flow a bulk upload or download belongs to (the central API's ``flow``)."""

    ELIGIBILITY = "eligibility"  # OQSmuquc01/02
    ONLINE_CARE = "online-care"  # OQSmuonq01/02
    HOME_VISIT = "home-visit"  # OQSmuhvq01/02
    MEDICAL_AID = "medical-aid"  # OQSmutic01/02


BULK_UPLOADS: dict[MessageKind, BulkFlow] = {
    MessageKind.BULK_UPLOAD: BulkFlow.ELIGIBILITY,
    MessageKind.ONLINE_CARE_UPLOAD: BulkFlow.ONLINE_CARE,
    MessageKind.HOME_VISIT_UPLOAD: BulkFlow.HOME_VISIT,
    MessageKind.MEDICAL_AID_UPLOAD: BulkFlow.MEDICAL_AID,
}
BULK_DOWNLOADS: dict[MessageKind, BulkFlow] = {
    MessageKind.BULK_DOWNLOAD: BulkFlow.ELIGIBILITY,
    MessageKind.ONLINE_CARE_DOWNLOAD: BulkFlow.ONLINE_CARE,
    MessageKind.HOME_VISIT_DOWNLOAD: BulkFlow.HOME_VISIT,
    MessageKind.MEDICAL_AID_DOWNLOAD: BulkFlow.MEDICAL_AID,
}


# The client's own part of the name: letters, digits, '_', '-', '.'; never a path.
_REQUEST_NAME = re.compile(
    r"(?P<prefix>[A-Za-z]{3}[a-z]{5}[0-9]{2})req_(?P<id>[0-9A-Za-z_\-][0-9A-Za-z_\-.]{0,199})\.xml",
    re.IGNORECASE,
)
_UNIQUE = re.compile(r"[0-9A-Za-z_\-]{1,64}")


def _match(filename: str) -> tuple[MessageKind, str]:
    m = _REQUEST_NAME.fullmatch(filename)
    kinds = {k.value: k for k in MessageKind}
    if m is None or m["prefix"] not in kinds or ".." in m["id"]:
        known = ", ".join(f"{k.value}req_<id>.xml" for k in MessageKind)
        raise UnknownMessage(
            f"{filename!r} is not a request file onshi answers (expected one of {known})"
        )
    return kinds[m["prefix"]], m["id"]


def kind_of_request(filename: str) -> MessageKind:
    """The kind of a request file in OQS/req, from its name alone (no directory part)."""
    return _match(filename)[0]


def response_name(request_filename: str) -> str:
    """``OQSsiquc01req_X.xml`` → ``OQSsiquc01res_X.xml`` (the result in OQS/res)."""
    kind, ident = _match(request_filename)
    return f"{kind.value}res_{ident}.xml"


def pdf_response_name(request_filename: str) -> str:
    """``YZKsiquc01req_X.xml`` → ``YZKsiquc01res_X.pdf`` (FileCategory 1 or 3: a PDF in OQS/res)."""
    return response_name(request_filename).removesuffix(".xml") + ".pdf"


def error_name(request_filename: str) -> str:
    """``OQSsiquc01req_X.xml`` → ``OQSsiquc01req_X.err`` (the request's name, extension ``.err``).

    Works for any name (a file that is not a known request still deserves an answer), as long as
    it has no directory part.
    """
    if not request_filename or "/" in request_filename or "\\" in request_filename:
        raise UnknownMessage(f"{request_filename!r} is not a file name")
    stem, dot, _ = request_filename.rpartition(".")
    if not dot or not stem:
        return f"{request_filename}.err"
    return f"{stem}.err"


# What clients match face files with: the confirmation time is the last part of the name.
FACE_FILE_PATTERN = re.compile(r"\AOQSsiquc01res_face_.+_(\d{14})\.xml\Z")


def face_file_name(when: dt.datetime, unique: str) -> str:
    r"""The face-reader result in OQS/face: ``OQSsiquc01res_face_<unique>_<yyyyMMddHHmmss>.xml``.

    ``when`` is the confirmation time (JST wall clock) and comes LAST: public clients find face
    files with ``\AOQSsiquc01res_face_.+_(\d{14})\.xml\z`` and read the time from it, and skip
    any other name. ``unique`` (letters, digits, '-'; no '_', so the time stays the last part)
    keeps two confirmations in the same second apart.
    """
    if not _UNIQUE.fullmatch(unique) or "_" in unique:
        raise UnknownMessage(f"face file unique part must be 1–64 of [0-9A-Za-z-], got {unique!r}")
    return f"{MessageKind.ELIGIBILITY.value}res_face_{unique}_{when.strftime('%Y%m%d%H%M%S')}.xml"
