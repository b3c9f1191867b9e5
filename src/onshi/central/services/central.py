"""The central service's use cases behind one facade: what the HTTP API and the CLI call."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import select, update

from onshi import pki
from onshi.audit import keys as audit_keys
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import (
    CardKey,
    confirm_by_individual,
)
from onshi.central.errors import (
    CentralError,
    FacilityNotAuthorised,
    RequestInvalid,
)
from onshi.central.services import answers, bulk, cards, eligibility, history
from onshi.central.services.audit import AuditLog, LoopChain
from onshi.central.services.bulk import BulkWorker
from onshi.central.services.clock import Clock, jst_now, naive_jst
from onshi.central.services.questions import (
    BulkPeriodQuestion,
    BulkQuestion,
    CardNumberQuestion,
    CardQuestion,
    HistoryQuestion,
    IdentityMethod,
)
from onshi.central.settings import CentralSettings
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.central.storage.loop_connection import LoopConnection
from onshi.oqs.codes import (
    ReferenceClassification,
)
from onshi.oqs.identifiers import (
    InvalidIdentifier,
    MedicalInstitutionCode,
)

Json = dict[str, Any]
BULK_CHUNK = 500
log = logging.getLogger(__name__)


class Central:
    def __init__(
        self,
        db: Database,
        *,
        identifier_key: str,
        jpki_ca_certificate: x509.Certificate,
        clock: Clock = jst_now,
        nonce_ttl_seconds: int = 120,
        max_bulk_records: int = 20_000,
        audit_key: bytes | None = None,
    ) -> None:
        self.db = db
        self.jpki_ca = jpki_ca_certificate
        self.clock = clock
        self.nonce_ttl = dt.timedelta(seconds=nonce_ttl_seconds)
        self.max_bulk_records = max_bulk_records
        self.audit = AuditLog(db, identifier_key, clock, audit_key=audit_key)
        self.bulk_worker = BulkWorker(self.process_pending_bulk)
        # For a server on PostgreSQL (confirm_by_card_numbers_on_loop). The connection opens on
        # first use; made here, so that a URL it cannot take is refused when the service starts.
        self._loop_connection: LoopConnection | None = None
        self._loop_chain: LoopChain | None = None
        if db.dialect == "postgresql":
            self._loop_connection, self._loop_chain = (
                LoopConnection(db.engine),
                LoopChain(self.audit),
            )

    @classmethod
    def from_settings(cls, settings: CentralSettings) -> Central:
        """Open (and migrate) the database; load or create the CAs and the identifier key."""
        db = Database(settings.database_url)
        db.migrate()
        pki.CertificateAuthority.load_or_create(settings.ca_dir, "onshi facility CA")
        jpki = pki.CertificateAuthority.load_or_create(settings.jpki_ca_dir, "onshi test JPKI CA")
        key = settings.identifier_key
        if "identifier_key" not in settings.model_fields_set:
            key = _persistent_key(settings.data_dir / "identifier.key")
        return cls(
            db,
            identifier_key=key,
            jpki_ca_certificate=jpki.certificate,
            nonce_ttl_seconds=settings.nonce_ttl_seconds,
            max_bulk_records=settings.max_bulk_records,
            audit_key=audit_keys.audit_key(settings.audit_key_path, create=True),
        )

    # -- facilities ------------------------------------------------------------------------

    def register_facility(self, code: MedicalInstitutionCode, name: str) -> None:
        with self.db.transaction() as session:
            row = session.get(t.Facility, code.value)
            if row is None:
                session.add(
                    t.Facility(
                        MedicalInstitutionCode=code.value,
                        name=name,
                        registered_at=naive_jst(self.clock()),
                    )
                )
            else:
                row.name = name

    def require_facility(self, code: str) -> MedicalInstitutionCode:
        try:
            facility = MedicalInstitutionCode(code)
        except InvalidIdentifier as exc:
            self._audit_refused_facility(None, code)
            raise FacilityNotAuthorised(
                f"the client certificate names no valid facility: {exc}"
            ) from None
        with self.db.sessions() as session:
            registered = session.get(t.Facility, facility.value) is not None
        if not registered:
            self._audit_refused_facility(facility.value, code)
            raise FacilityNotAuthorised(
                f"facility {facility.value} is not registered with the central service"
            )
        return facility

    def audit_claim_refused(self, code: str, claimed: str) -> None:
        """Audit a request refused because its body names another facility than its client
        certificate: the certificate's code (if valid), the claimed one as a keyed digest."""
        try:
            facility: str | None = MedicalInstitutionCode(code).value
        except InvalidIdentifier:
            facility = None
        self.audit.record(
            facility=facility,
            action="facility.claim",
            subject=self.audit.subject(claimed),
            outcome=FacilityNotAuthorised.code,
        )

    def _audit_refused_facility(self, facility: str | None, code: str) -> None:
        """A refused facility is audited too (the code as a digest when it is not a valid one)."""
        self.audit.record(
            facility=facility,
            action="facility.check",
            subject=None if facility else self.audit.subject(code),
            outcome=FacilityNotAuthorised.code,
        )

    # -- eligibility by insurance-card number ---------------------------------------------

    def _answer_card_numbers(
        self, asked: Sequence[tuple[str | None, str, CardNumberQuestion]]
    ) -> tuple[list[eligibility.Judged | Exception], dt.datetime]:
        """Judge, shape the results, audit: what every question by card number shares.

        ``asked`` holds (facility, audit action, question); questions that arrived together
        are read with one query of each kind and audited in one write.
        """
        now = self.clock()
        questions = [q for _, _, q in asked]
        with self.db.lookups() as connection:
            judged = eligibility.judge_card_numbers(connection, questions, now=now)
        self.audit.record_many(self._card_number_entries(asked, judged))
        return judged, now

    def _card_number_entries(
        self,
        asked: Sequence[tuple[str | None, str, CardNumberQuestion]],
        judged: Sequence[eligibility.Judged | Exception],
    ) -> list[tuple[str | None, str, str | None, str]]:
        """The audit entry of each question judged; none for one that could not be (it is
        not answered: its exception stands for it)."""
        return [
            (facility, action, self.card_key_subject(q.key), f"validity-{answer[0].validity.value}")
            for (facility, action, q), answer in zip(asked, judged, strict=True)
            if not isinstance(answer, Exception)
        ]

    def confirm_by_card_number(
        self, facility: MedicalInstitutionCode, q: CardNumberQuestion
    ) -> Json:
        answer = self.confirm_by_card_numbers([(facility, q)])[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def confirm_by_card_numbers(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[Json | Exception]:
        """Questions by card number that arrived together, answered together (the API gathers
        concurrent inquiries): each answer, or the exception that stands for it, in order."""
        judged, now = self._answer_card_numbers(_by_card_number(asked))
        return self._card_number_messages(asked, judged, now)

    async def confirm_by_card_numbers_on_loop(
        self, asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]]
    ) -> list[Json | Exception]:
        """:meth:`confirm_by_card_numbers` for a server on PostgreSQL, from its event loop: the
        read and the audit append go through asyncpg (storage.loop_connection), so no thread takes
        turns with the loop on the interpreter lock (docs/central/performance.md). Questions
        with the limit consent have their certificates read in a thread, through the engine
        (a few rows, after the holdings: a later snapshot, as two requests would see)."""
        assert self._loop_connection is not None and self._loop_chain is not None, (
            "on the event loop on PostgreSQL only"
        )
        now = self.clock()
        questions = [q for _, q in asked]
        holdings = await self._loop_connection.holdings(eligibility.card_keys(questions))
        confirmed = eligibility.confirm_card_numbers(questions, holdings)
        certificates = {}
        if wanted := confirmed.certificates_wanted():
            certificates = await asyncio.to_thread(self._read_certificates, wanted)
        judged = eligibility.shape_results(confirmed, now=now, certificates=certificates)
        entries = self._card_number_entries(_by_card_number(asked), judged)
        await self._loop_chain.record_many(self._loop_connection, entries)
        return self._card_number_messages(asked, judged, now)

    def _read_certificates(
        self, wanted: dict[dt.date, set[int]]
    ) -> dict[dt.date, eligibility.Certificates]:
        with self.db.lookups() as connection:
            return eligibility.read_certificates(connection, wanted)

    async def close_loop_connection(self) -> None:
        if self._loop_connection is not None:
            await self._loop_connection.close()

    def _card_number_messages(
        self,
        asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]],
        judged: Sequence[eligibility.Judged | Exception],
        now: dt.datetime,
    ) -> list[Json | Exception]:
        out: list[Json | Exception] = []
        for (facility, q), answer in zip(asked, judged, strict=True):
            if isinstance(answer, Exception):
                out.append(answer)
                continue
            confirmation, results = answer
            out.append(
                answers.message(
                    facility=facility.value,
                    on=q.on,
                    answered_at=now,
                    reference=ReferenceClassification.INSURANCE_CARD,
                    confirmation=confirmation,
                    results=results,
                    search=answers.search_info(q.key, q.birthdate, limit_consent=q.limit_consent),
                    arbitrary_file_identifier=q.arbitrary_file_identifier,
                )
            )
        return out

    def query_flat(self, q: CardNumberQuestion) -> Json:
        """The operator's answer: QualificationValidity and the (first) result's OQS fields."""
        [answer], _ = self._answer_card_numbers([(None, "eligibility.operator-query", q)])
        if isinstance(answer, Exception):
            raise answer
        confirmation, results = answer
        flat: Json = {"QualificationValidity": confirmation.validity.value}
        if results:
            flat.update(results[0])
        if len(results) > 1:
            flat["ResultList"] = results
        return flat

    def card_key_subject(self, key: CardKey) -> str:
        return self.audit.subject(
            key.insurer_number,
            key.insured_card_symbol,
            key.insured_identification_number,
            key.insured_branch_number,
        )

    # -- eligibility by My Number card ------------------------------------------------------

    def issue_nonce(self, facility: MedicalInstitutionCode) -> dict[str, str]:
        now = self.clock()
        nonce = cards.issue_nonce(self.db, facility.value, now, self.nonce_ttl)
        return {"nonce": nonce, "expires_at": (now + self.nonce_ttl).isoformat()}

    def confirm_by_card(self, facility: MedicalInstitutionCode, q: CardQuestion) -> Json:
        if q.identity_method not in IdentityMethod.ALL:
            raise RequestInvalid("identity method must be face, visual or pin")
        now = self.clock()
        on = q.on or now.date()
        try:
            certificate = cards.parse_card_certificate(q.certificate_pem)
        except CentralError as exc:  # an unreadable card is a refused attempt too
            self.audit.record(
                facility=facility.value,
                action=f"eligibility.card.{q.identity_method}",
                subject=None,
                outcome=exc.code,
            )
            raise
        card_subject = self.audit.subject(*cards.card_identity(certificate))
        try:
            cards.consume_nonce(self.db, facility.value, q.nonce, now)
            with self.db.transaction() as session:
                individual_id = cards.verify_card(
                    session,
                    certificate,
                    jpki_ca=self.jpki_ca,
                    facility=facility.value,
                    nonce=q.nonce,
                    signature=q.signature,
                    now=now,
                )
                for kind in q.consents:
                    session.add(
                        t.Consent(
                            individual_id=individual_id,
                            MedicalInstitutionCode=facility.value,
                            kind=kind.value,
                            given_at=naive_jst(now),
                        )
                    )
                held = repository.held_by(session, [individual_id])
                confirmation = confirm_by_individual(held, on=on)
                results = eligibility.results_for(
                    session,
                    confirmation,
                    on=on,
                    now=now,
                    limit_consent=ConsentKind.LIMIT in q.consents,
                    reader_consents=q.consents,
                )
        except CentralError as exc:
            self.audit.record(
                facility=facility.value,
                action=f"eligibility.card.{q.identity_method}",
                subject=card_subject,
                outcome=exc.code,
            )
            raise
        self.audit.record(
            facility=facility.value,
            action=f"eligibility.card.{q.identity_method}",
            subject=card_subject,
            outcome=f"validity-{confirmation.validity.value}",
        )
        return answers.message(
            facility=facility.value,
            on=on,
            answered_at=now,
            reference=ReferenceClassification.MY_NUMBER_CARD,
            confirmation=confirmation,
            results=results,
            search=None,
            arbitrary_file_identifier=q.arbitrary_file_identifier,
        )

    def link_card(self, key: CardKey, certificate: x509.Certificate) -> None:
        """Register a card as a health insurance card for the holder of ``key`` (マイナ保険証登録)."""
        issuer, serial = cards.card_identity(certificate)
        with self.db.transaction() as session:
            matches = repository.find_by_card_key(session, key)
            individuals = {q.individual_id for q in matches}
            if len(individuals) != 1:
                raise RequestInvalid(
                    "the card key matches no insured person"
                    if not individuals
                    else "the card key matches several persons: give the branch number"
                )
            existing = session.scalars(
                select(t.CardLink).where(t.CardLink.issuer == issuer, t.CardLink.serial == serial)
            ).first()
            if existing is None:
                session.add(
                    t.CardLink(
                        issuer=issuer,
                        serial=serial,
                        certificate_digest=pki.certificate_digest(certificate),
                        individual_id=individuals.pop(),
                        linked_at=naive_jst(self.clock()),
                    )
                )
        self.audit.record(
            facility=None,
            action="card.link",
            subject=self.audit.subject(issuer, serial),
            outcome="linked",
        )

    def revoke_card(self, certificate: x509.Certificate) -> None:
        self.revoke_card_serial(*cards.card_identity(certificate))

    def revoke_card_serial(self, issuer: str | None, serial: str) -> int:
        """Mark a card's user certificate revoked (lost or suspended card); return how many links.

        ``issuer`` may be None when the serial alone is unambiguous (it is, for onshi's JPKI CA).
        """
        serial = serial.lower().removeprefix("0x").lstrip("0") or "0"
        where = [t.CardLink.serial == serial, t.CardLink.revoked_at.is_(None)]
        if issuer is not None:
            where.append(t.CardLink.issuer == issuer)
        with self.db.transaction() as session:
            result = session.execute(
                update(t.CardLink).where(*where).values(revoked_at=naive_jst(self.clock()))
            )
            revoked = int(result.rowcount)  # type: ignore[attr-defined]
        self.audit.record(
            facility=None,
            action="card.revoke",
            subject=self.audit.subject(issuer, serial),
            outcome=f"revoked-{revoked}",
        )
        return revoked

    # -- drug information and checkups ------------------------------------------------------

    def drug_information(self, facility: MedicalInstitutionCode, q: HistoryQuestion) -> Json:
        return history.answer_history(self, facility, q, ConsentKind.DRUG)

    def checkups(self, facility: MedicalInstitutionCode, q: HistoryQuestion) -> Json:
        return history.answer_history(self, facility, q, ConsentKind.CHECKUP)

    # -- bulk -------------------------------------------------------------------------------

    def submit_bulk(
        self, facility: MedicalInstitutionCode, q: BulkQuestion, idempotency_key: str | None = None
    ) -> Json:
        return bulk.submit(self, facility, q, idempotency_key)

    def submit_bulk_period(
        self,
        facility: MedicalInstitutionCode,
        q: BulkPeriodQuestion,
        idempotency_key: str | None = None,
    ) -> Json:
        return bulk.submit_period(self, facility, q, idempotency_key)

    def process_pending_bulk(self) -> int:
        """Answer every unanswered record of every open reception; return how many were answered."""
        return bulk.process_pending(self)

    def fetch_bulk(self, facility: MedicalInstitutionCode, reception_number: str) -> Json:
        return bulk.fetch(self, facility, reception_number)


def _persistent_key(path: Path) -> str:
    """The identifier key of a self-hosted install that set none: made once, kept 0600."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _by_card_number(
    asked: Sequence[tuple[MedicalInstitutionCode, CardNumberQuestion]],
) -> list[tuple[str | None, str, CardNumberQuestion]]:
    return [(facility.value, "eligibility.card-number", q) for facility, q in asked]
