"""The seam between the HTTP adapter and the service: what the API needs of ``Central``.

:class:`onshi.central.services.central.Central` satisfies it; tests of the edge (TLS,
identity, error mapping, limits) pass a small fake instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from onshi.central.services.questions import (
    BulkPeriodQuestion,
    BulkQuestion,
    CardNumberQuestion,
    CardQuestion,
    HistoryQuestion,
)
from onshi.oqs.identifiers import MedicalInstitutionCode


class BulkWorkerLike(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class CentralService(Protocol):
    @property
    def bulk_worker(self) -> BulkWorkerLike: ...

    def require_facility(self, code: str) -> MedicalInstitutionCode: ...

    def audit_claim_refused(self, code: str, claimed: str) -> None: ...

    def confirm_by_card_numbers(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[dict[str, Any] | Exception]: ...

    async def confirm_by_card_numbers_on_loop(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[dict[str, Any] | Exception]: ...

    async def close_loop_connection(self) -> None: ...

    def issue_nonce(self, facility: MedicalInstitutionCode) -> dict[str, str]: ...

    def confirm_by_card(
        self, facility: MedicalInstitutionCode, q: CardQuestion
    ) -> dict[str, Any]: ...

    def submit_bulk(
        self, facility: MedicalInstitutionCode, q: BulkQuestion, idempotency_key: str | None = None
    ) -> dict[str, Any]: ...

    def submit_bulk_period(
        self,
        facility: MedicalInstitutionCode,
        q: BulkPeriodQuestion,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]: ...

    def fetch_bulk(
        self, facility: MedicalInstitutionCode, reception_number: str
    ) -> dict[str, Any]: ...

    def drug_information(
        self, facility: MedicalInstitutionCode, q: HistoryQuestion
    ) -> dict[str, Any]: ...

    def checkups(self, facility: MedicalInstitutionCode, q: HistoryQuestion) -> dict[str, Any]: ...
