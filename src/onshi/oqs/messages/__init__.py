"""The OQS XML messages: reading request files and writing result, face and ``.err`` files.

The file interface between billing/EMR software (レセコン/電子カルテ) and the eligibility terminal:
requests appear in OQS/req, results go to OQS/res (and OQS/face for card confirmations at the
reader). Element names, nesting and code values are those of the real interface; see
docs/oqs-messages.md for kinds, names, encodings, limits and error codes.
"""

from __future__ import annotations

from onshi.oqs.messages.encoding import Encoding
from onshi.oqs.messages.errors import (
    ForbiddenXml,
    InvalidValue,
    MalformedXml,
    OqsMessageError,
    RenderError,
    SchemaViolation,
    TooDeep,
    TooLarge,
    TooManyRecords,
    UnknownMessage,
    UnsafeXml,
    Unsupported,
    UnsupportedEncoding,
    WrongRoot,
)
from onshi.oqs.messages.names import (
    BULK_DOWNLOADS,
    BULK_UPLOADS,
    FACE_FILE_PATTERN,
    BulkFlow,
    MessageKind,
    error_name,
    face_file_name,
    kind_of_request,
    pdf_response_name,
    response_name,
)
from onshi.oqs.messages.reading import read_message
from onshi.oqs.messages.requests import (
    MAX_BULK_RECORDS,
    BulkDownloadRequest,
    BulkPeriodRequest,
    BulkUploadRequest,
    EligibilityRequest,
    HistoryRequest,
    Request,
    SearchInfo,
    parse_request,
)
from onshi.oqs.messages.results import (
    RESULT_CODE_OK,
    RESULT_CODE_REFUSED,
    render_error,
    render_face_result,
    render_refusal,
    render_result,
)
from onshi.oqs.messages.safety import MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS
from onshi.oqs.messages.schemas import schema_for

__all__ = [
    "BULK_DOWNLOADS",
    "BULK_UPLOADS",
    "FACE_FILE_PATTERN",
    "MAX_BULK_RECORDS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "RESULT_CODE_OK",
    "RESULT_CODE_REFUSED",
    "BulkDownloadRequest",
    "BulkFlow",
    "BulkPeriodRequest",
    "BulkUploadRequest",
    "EligibilityRequest",
    "Encoding",
    "ForbiddenXml",
    "HistoryRequest",
    "InvalidValue",
    "MalformedXml",
    "MessageKind",
    "OqsMessageError",
    "RenderError",
    "Request",
    "SchemaViolation",
    "SearchInfo",
    "TooDeep",
    "TooLarge",
    "TooManyRecords",
    "UnknownMessage",
    "UnsafeXml",
    "Unsupported",
    "UnsupportedEncoding",
    "WrongRoot",
    "error_name",
    "face_file_name",
    "kind_of_request",
    "parse_request",
    "pdf_response_name",
    "read_message",
    "render_error",
    "render_face_result",
    "render_refusal",
    "render_result",
    "response_name",
    "schema_for",
]
