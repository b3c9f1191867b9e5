"""The central service's exceptions, one tree, each with a stable code.

::

    CentralError                      CENTRAL_ERROR
    ├── RequestInvalid                REQUEST_INVALID         a field is malformed or missing
    │   ├── RequestTooLarge           REQUEST_TOO_LARGE       more records or bytes than allowed
    │   └── PersonNotFound            PERSON_NOT_FOUND        no insured person has this card key
    ├── FacilityNotAuthorised         FACILITY_NOT_AUTHORISED no valid client certificate / unknown facility
    ├── CardError                     (My Number card problems, each its own code)
    │   ├── CardUnknown               CARD_UNKNOWN            not issued by the trusted JPKI CA
    │   ├── CardNotLinked             CARD_NOT_LINKED         genuine, but linked to nobody
    │   ├── CardExpired               CARD_EXPIRED
    │   ├── CardRevoked               CARD_REVOKED
    │   ├── CardSignatureInvalid      CARD_SIGNATURE_INVALID  the nonce was not signed by the card
    │   └── NonceInvalid              NONCE_INVALID           unknown, expired or replayed nonce
    ├── ConsentRequired               CONSENT_REQUIRED        no consent at this facility within its window
    ├── FacilityKindRefused           FACILITY_KIND_REFUSED   e.g. checkups asked by a pharmacy
    ├── ReceptionNotFound             RECEPTION_NOT_FOUND     bulk reception number unknown to this facility
    ├── IntakeRejected                INTAKE_REJECTED         an import file was refused whole
    ├── ImportFailed                  IMPORT_FAILED           the database refused an import's write
    ├── DatabaseUnavailable           DATABASE_UNAVAILABLE    no primary reached (a failover), 503
    └── AuditChainBroken              AUDIT_CHAIN_BROKEN

Adapters translate: the HTTP API to a status and ``{"code", "message"}``, the CLI to an exit status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class CentralError(Exception):
    code: ClassVar[str] = "CENTRAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestInvalid(CentralError):
    code = "REQUEST_INVALID"
    http_status = 422


class RequestTooLarge(RequestInvalid):
    code = "REQUEST_TOO_LARGE"
    http_status = 413


class PersonNotFound(RequestInvalid):
    code = "PERSON_NOT_FOUND"
    http_status = 404


class FacilityNotAuthorised(CentralError):
    code = "FACILITY_NOT_AUTHORISED"
    http_status = 403


class CardError(CentralError):
    code = "CARD_ERROR"
    http_status = 403


class CardUnknown(CardError):
    code = "CARD_UNKNOWN"


class CardNotLinked(CardError):
    code = "CARD_NOT_LINKED"
    http_status = 404


class CardExpired(CardError):
    code = "CARD_EXPIRED"


class CardRevoked(CardError):
    code = "CARD_REVOKED"


class CardSignatureInvalid(CardError):
    code = "CARD_SIGNATURE_INVALID"


class NonceInvalid(CardError):
    code = "NONCE_INVALID"


class ConsentRequired(CentralError):
    code = "CONSENT_REQUIRED"
    http_status = 403


class FacilityKindRefused(CentralError):
    code = "FACILITY_KIND_REFUSED"
    http_status = 403


class ReceptionNotFound(CentralError):
    code = "RECEPTION_NOT_FOUND"
    http_status = 404


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason a line of an import file is refused (1-based line, column name)."""

    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


class IntakeRejected(CentralError):
    code = "INTAKE_REJECTED"
    http_status = 422

    def __init__(self, message: str, problems: list[RowProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class ImportFailed(CentralError):
    """The database refused an import's write; nothing was stored. The message names the error
    and the table, column or constraint, never a value (see intake.insured_store)."""

    code = "IMPORT_FAILED"


class DatabaseUnavailable(CentralError):
    """No database to answer from or to write the audit entry to: the connection was lost, no
    server reached is a primary (a failover under way), or one stayed silent. Asking again
    shortly is answered."""

    code = "DATABASE_UNAVAILABLE"
    http_status = 503

    def __init__(
        self,
        message: str = "the central database is unavailable (failover in progress?); retry shortly",
    ) -> None:
        super().__init__(message)


class AuditChainBroken(CentralError):
    code = "AUDIT_CHAIN_BROKEN"
