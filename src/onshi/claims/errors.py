"""The claims receiver's exceptions: one tree, each with a stable code.

::

    ClaimsError                   CLAIMS_ERROR              (catch-all; storage failures)
    ├── ClaimsInvalidInput        CLAIMS_INVALID_INPUT      a bad option, setting or facility code
    ├── ClaimsFileInvalid         CLAIMS_FILE_INVALID       not a UKE file: encoding, IR, RE, GO
    ├── ClaimsFileTooLarge        CLAIMS_FILE_TOO_LARGE     more bytes than the limit
    ├── ClaimsNotAuthorised       CLAIMS_NOT_AUTHORISED     no facility client certificate
    ├── ClaimsFacilityMismatch    CLAIMS_FACILITY_MISMATCH  the IR record's code is not the certificate's
    ├── ClaimsReceiptNotFound     CLAIMS_RECEIPT_NOT_FOUND  no such receipt for this facility
    └── ClaimsSubmitFailed        CLAIMS_SUBMIT_FAILED      (client side) no answer, TLS refused…

Adapters translate: the HTTP API to a status and ``{"code", "message"}``, the CLI to
``error: CODE: message`` and exit status 2 (bad input) or 1.
"""

from __future__ import annotations

from typing import ClassVar


class ClaimsError(Exception):
    code: ClassVar[str] = "CLAIMS_ERROR"
    http_status: ClassVar[int] = 500
    exit_status: ClassVar[int] = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClaimsInvalidInput(ClaimsError):
    code = "CLAIMS_INVALID_INPUT"
    http_status = 422
    exit_status = 2


class ClaimsFileInvalid(ClaimsError):
    code = "CLAIMS_FILE_INVALID"
    http_status = 422
    exit_status = 2


class ClaimsFileTooLarge(ClaimsError):
    code = "CLAIMS_FILE_TOO_LARGE"
    http_status = 413
    exit_status = 2


class ClaimsNotAuthorised(ClaimsError):
    code = "CLAIMS_NOT_AUTHORISED"
    http_status = 403


class ClaimsFacilityMismatch(ClaimsError):
    code = "CLAIMS_FACILITY_MISMATCH"
    http_status = 403


class ClaimsReceiptNotFound(ClaimsError):
    code = "CLAIMS_RECEIPT_NOT_FOUND"
    http_status = 404


class ClaimsSubmitFailed(ClaimsError):
    code = "CLAIMS_SUBMIT_FAILED"
    http_status = 502
