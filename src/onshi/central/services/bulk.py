"""一括照会 (bulk eligibility checks): accepted at once, answered in the background.

Questions and answers live in the database, not in memory: a worker killed mid-way resumes at
the first unanswered record when it starts again, and every record is answered exactly once —
also when several service processes (``serve --workers N``, several nodes) share the database:
a reception is worked on under its row lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL).

Four flows share this: eligibility (OQSmuquc01/02), online care (オンライン診療等, OQSmuonq),
home visits (訪問診療等, OQSmuhvq) and medical aid (医療扶助, OQSmutic). All are answered from
the qualifications held; online care and home visits also report the consents the patient gave
this facility (…ConsFlg/…ConsTime/…AvailableTime, open at the time of processing), since those
flows exist to see them without a visit. onshi holds no 医療扶助 records: medical-aid answers
carry the health-insurance qualifications held, like eligibility.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onshi.central.domain.consent import CONSENT_WINDOW, ConsentKind
from onshi.central.domain.qualification import Qualification
from onshi.central.errors import ReceptionNotFound, RequestInvalid, RequestTooLarge
from onshi.central.services import answers, eligibility
from onshi.central.services.clock import naive_jst
from onshi.central.services.questions import BulkPeriodQuestion, BulkQuestion, BulkRecordQuestion
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.logs import log_failure
from onshi.oqs.codes import ProcessingResultStatus, SegmentOfResult
from onshi.oqs.identifiers import MedicalInstitutionCode, format_oqs_time

if TYPE_CHECKING:
    from onshi.central.services.context import ServiceContext

Json = dict[str, Any]
BULK_CHUNK = 500  # records answered per transaction
FLOWS_WITH_CONSENTS = frozenset({"online-care", "home-visit"})
FLOWS_WITH_PERIODS = frozenset({"online-care", "home-visit", "medical-aid"})

log = logging.getLogger(__name__)


class BulkWorker:
    """A thread that answers pending receptions; ``notify`` wakes it after a submission."""

    def __init__(self, process_pending: Callable[[], int], *, idle_seconds: float = 5.0) -> None:
        self._process_pending = process_pending
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="onshi-bulk", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        # Pending work from before a restart is picked up at once, then on every wake-up;
        # the idle timeout catches receptions submitted through another process.
        while not self._stop.is_set():
            try:
                self._process_pending()
            except Exception as exc:  # noqa: BLE001 — the worker must outlive any failure
                log_failure(log, "bulk processing failed; retrying", exc)
            self._wake.wait(self._idle)
            self._wake.clear()


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def submit(
    central: ServiceContext,
    facility: MedicalInstitutionCode,
    q: BulkQuestion,
    idempotency_key: str | None = None,
) -> Json:
    """Accept a bulk check; the same ``idempotency_key`` from the same facility gets the same
    reception back (a client that died before storing our answer resends its upload)."""
    if idempotency_key is not None:
        known = _reception_for_key(central, facility, idempotency_key)
        if known is not None:
            return _receipt(facility, known, central.clock())
    if not q.records:
        raise RequestInvalid("a bulk request needs at least one QualificationConfirmSearchInfo")
    if len(q.records) > central.max_bulk_records:
        raise RequestTooLarge(
            f"a bulk request may carry at most {central.max_bulk_records} records, got {len(q.records)}"
        )
    now = central.clock()
    reception = t.BulkReception(
        ReceptionNumber=now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper(),
        MedicalInstitutionCode=facility.value,
        ArbitraryFileIdentifier=q.arbitrary_file_identifier,
        QualificationConfirmationDate=q.on,
        ReceptionDateTime=naive_jst(now),
        record_count=len(q.records),
        idempotency_key=idempotency_key,
    )
    try:
        _store(central, reception, q)
    except IntegrityError:
        # The same upload raced in twice: the other one won; answer with its reception.
        known = _reception_for_key(central, facility, idempotency_key or "")
        if known is None:
            raise
        return _receipt(facility, known, now)
    central.audit.record(
        facility=facility.value,
        action="bulk.submit",
        subject=None,
        outcome=f"accepted-{len(q.records)}",
    )
    central.bulk_worker.notify()
    return _receipt(facility, reception, now)


def submit_period(
    central: ServiceContext,
    facility: MedicalInstitutionCode,
    q: BulkPeriodQuestion,
    idempotency_key: str | None = None,
) -> Json:
    """Accept an online-care, home-visit or medical-aid upload: its records are the patients who
    gave this facility a consent (any kind) from ``q.start`` to ``q.end``, each under the
    qualification they hold today (or last held). onshi keeps no visit dates and no 医療扶助
    records, so examination periods and treatment months are read as consent periods too."""
    if q.flow not in FLOWS_WITH_PERIODS:
        raise RequestInvalid(f"flow must be one of {', '.join(sorted(FLOWS_WITH_PERIODS))}")
    if q.end < q.start:
        raise RequestInvalid("the period ends before it starts")
    if idempotency_key is not None:
        known = _reception_for_key(central, facility, idempotency_key)
        if known is not None:
            return _receipt(facility, known, central.clock())
    now = central.clock()
    on = now.date()
    with central.db.sessions() as session:
        individuals = session.scalars(
            select(t.Consent.individual_id)
            .where(
                t.Consent.MedicalInstitutionCode == facility.value,
                t.Consent.given_at >= dt.datetime.combine(q.start, dt.time()),
                t.Consent.given_at < dt.datetime.combine(q.end + dt.timedelta(days=1), dt.time()),
            )
            .distinct()
        ).all()
        held: dict[int, list[Qualification]] = {}
        for qualification in repository.held_by(session, individuals):
            held.setdefault(qualification.individual_id, []).append(qualification)
    records = []
    for individual in sorted(held):
        current = _current(held[individual], on)
        records.append(
            BulkRecordQuestion(current.key, current.birthdate, arbitrary_identifier=None)
        )
    if len(records) > central.max_bulk_records:
        raise RequestTooLarge(
            f"the period holds {len(records)} patients, more than {central.max_bulk_records}: "
            "ask for a shorter period"
        )
    reception = t.BulkReception(
        ReceptionNumber=now.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper(),
        MedicalInstitutionCode=facility.value,
        ArbitraryFileIdentifier=q.arbitrary_file_identifier,
        QualificationConfirmationDate=on,
        ReceptionDateTime=naive_jst(now),
        record_count=len(records),
        idempotency_key=idempotency_key,
        flow=q.flow,
    )
    try:
        _store(central, reception, BulkQuestion(on, tuple(records), q.arbitrary_file_identifier))
    except IntegrityError:
        known = _reception_for_key(central, facility, idempotency_key or "")
        if known is None:
            raise
        return _receipt(facility, known, now)
    central.audit.record(
        facility=facility.value,
        action="bulk.submit",
        subject=None,
        outcome=f"{q.flow}-{len(records)}",
    )
    central.bulk_worker.notify()
    return _receipt(facility, reception, now)


def _current(held: list[Qualification], on: dt.date) -> Qualification:
    """The qualification valid today, else the one that started last."""
    valid = [q for q in held if q.is_valid_on(on)]
    return max(valid or held, key=lambda q: (q.qualification_date, q.qualification_id))


def _store(central: ServiceContext, reception: t.BulkReception, q: BulkQuestion) -> None:
    with central.db.transaction() as session:
        session.add(reception)
        session.flush()
        if not q.records:  # a period in which nobody consented: an empty, completed reception
            return
        session.execute(
            insert(t.BulkRecord),
            [
                {
                    "ReceptionNumber": reception.ReceptionNumber,
                    "seq": i,
                    "ArbitraryIdentifier": r.arbitrary_identifier,
                    "request": dumps(
                        {
                            **answers.search_info(
                                r.key, r.birthdate, limit_consent=r.limit_consent
                            ),
                            **(
                                {"ArbitraryIdentifier": r.arbitrary_identifier}
                                if r.arbitrary_identifier
                                else {}
                            ),
                        }
                    ),
                    "result": None,
                }
                for i, r in enumerate(q.records)
            ],
        )


def _reception_for_key(
    central: ServiceContext, facility: MedicalInstitutionCode, key: str
) -> t.BulkReception | None:
    with central.db.sessions() as session:
        return session.scalars(
            select(t.BulkReception).where(
                t.BulkReception.MedicalInstitutionCode == facility.value,
                t.BulkReception.idempotency_key == key,
            )
        ).first()


def _receipt(
    facility: MedicalInstitutionCode, reception: t.BulkReception, now: dt.datetime
) -> Json:
    """The OQSmuquc01 answer: the reception's number and when it was received."""
    return {
        "MessageHeader": answers.header(
            facility.value,
            now,
            reception.ArbitraryFileIdentifier,
            QualificationConfirmationDate=reception.QualificationConfirmationDate.strftime(
                "%Y%m%d"
            ),
            SegmentOfResult=SegmentOfResult.COMPLETED.value,
            CharacterCodeIdentifier="0",
        ),
        "MessageBody": {
            "ProcessingResultStatus": ProcessingResultStatus.OK.value,
            "ReceptionNumber": reception.ReceptionNumber,
            "ReceptionDateTime": format_oqs_time(reception.ReceptionDateTime),
        },
    }


def process_pending(central: ServiceContext) -> int:
    """Answer every unanswered record of every open reception; return how many were answered."""
    answered = 0
    with central.db.sessions() as session:
        pending = session.scalars(
            select(t.BulkReception)
            .where(t.BulkReception.completed_at.is_(None))
            .order_by(t.BulkReception.ReceptionDateTime)
        ).all()
    for reception in pending:
        answered += _process_reception(
            central,
            reception.ReceptionNumber,
            reception.QualificationConfirmationDate,
            reception.MedicalInstitutionCode,
            reception.flow,
        )
    return answered


def _process_reception(
    central: ServiceContext,
    reception_number: str,
    on: dt.date,
    facility: str = "",
    flow: str = "eligibility",
) -> int:
    answered = 0
    while True:
        now = central.clock()
        with central.db.transaction() as session:
            # One worker per reception, across processes and nodes: each chunk runs holding the
            # reception's row lock; a worker that finds it taken moves on (SKIP LOCKED) instead
            # of answering the same records again. SQLite has one writer at a time anyway.
            claimed = session.scalar(
                select(t.BulkReception.ReceptionNumber)
                .where(
                    t.BulkReception.ReceptionNumber == reception_number,
                    t.BulkReception.completed_at.is_(None),
                )
                .with_for_update(skip_locked=True)
            )
            if claimed is None:  # another worker holds it, or has just completed it
                return answered
            records = session.execute(
                select(t.BulkRecord.seq, t.BulkRecord.request)
                .where(
                    t.BulkRecord.ReceptionNumber == reception_number,
                    t.BulkRecord.result.is_(None),
                )
                .order_by(t.BulkRecord.seq)
                .limit(BULK_CHUNK)
            ).all()
            if not records:
                session.execute(
                    update(t.BulkReception)
                    .where(
                        t.BulkReception.ReceptionNumber == reception_number,
                        t.BulkReception.completed_at.is_(None),
                    )
                    .values(completed_at=naive_jst(now))
                )
                return answered
            questions = [(seq, json.loads(request)) for seq, request in records]
            found = _bulk_candidates(central, session, [q for _, q in questions])
            records_table = t.BulkRecord.__table__
            assert isinstance(records_table, Table)
            session.execute(
                update(records_table)
                .where(
                    records_table.c.ReceptionNumber == reception_number,
                    records_table.c.seq == bindparam("b_seq"),
                    records_table.c.result.is_(None),  # an answer is never overwritten
                )
                .values(result=bindparam("b_result")),
                [
                    {
                        "b_seq": seq,
                        "b_result": dumps(
                            _safe_bulk_unit(central, session, q, found, on, now, facility, flow)
                        ),
                    }
                    for seq, q in questions
                ],
            )
            answered += len(records)


def _bulk_candidates(
    central: ServiceContext, session: Session, questions: list[Json]
) -> dict[tuple[str, str, str], list[Qualification]]:
    """Every qualification any question of the chunk may match, in one query."""
    keys = {
        (
            q["InsurerNumber"].strip(),
            q.get("InsuredCardSymbol", ""),
            q["InsuredIdentificationNumber"],
        )
        for q in questions
    }
    found: dict[tuple[str, str, str], list[Qualification]] = {k: [] for k in keys}
    for q in repository.find_by_card_keys(session, keys):
        found[
            (
                q.key.insurer_number,
                q.key.insured_card_symbol,
                q.key.insured_identification_number,
            )
        ].append(q)
    return found


def _safe_bulk_unit(
    central: ServiceContext,
    session: Session,
    q: Json,
    found: dict[tuple[str, str, str], list[Qualification]],
    on: dt.date,
    now: dt.datetime,
    facility: str = "",
    flow: str = "eligibility",
) -> Json:
    """One record's answer; a record that cannot be answered gets status 2, never blocks the rest."""
    try:
        return _bulk_unit(central, session, q, found, on, now, facility, flow)
    except Exception as exc:  # noqa: BLE001 — one record must not block its reception
        log_failure(log, "a bulk record could not be answered", exc)
        return {
            "QualificationConfirmSearchInfo": q,
            "ProcessingResultStatus": ProcessingResultStatus.ERROR.value,
            "ProcessingResultCode": "CENTRAL_ERROR",
            "ProcessingResultMessage": "this record could not be answered; ask again singly",
        }


def _bulk_unit(
    central: ServiceContext,
    session: Session,
    q: Json,
    found: dict[tuple[str, str, str], list[Qualification]],
    on: dt.date,
    now: dt.datetime,
    facility: str = "",
    flow: str = "eligibility",
) -> Json:
    branch = q.get("InsuredBranchNumber")
    key = (
        q["InsurerNumber"].strip(),
        q.get("InsuredCardSymbol", ""),
        q["InsuredIdentificationNumber"],
    )
    matches = [
        m for m in found.get(key, []) if branch is None or m.key.insured_branch_number == branch
    ]
    birthdate = dt.date(int(q["Birthdate"][:4]), int(q["Birthdate"][4:6]), int(q["Birthdate"][6:]))
    confirmation = eligibility.judge_matches(session, matches, birthdate, on)
    limit_consent = q.get("LimitApplicationCertificateRelatedConsFlg") == "1"
    consents = None
    if flow in FLOWS_WITH_CONSENTS:
        consents = _consents_held(session, answers.reported(confirmation), facility, now)
    results = eligibility.results_for(
        session,
        confirmation,
        on=on,
        now=now,
        limit_consent=limit_consent,
        reader_consents=consents,
    )
    unit: Json = {
        "QualificationConfirmSearchInfo": q,
        "ProcessingResultStatus": ProcessingResultStatus.OK.value,
        "QualificationValidity": confirmation.validity.value,
    }
    if results:
        unit["ResultOfQualificationConfirmation"] = results if len(results) > 1 else results[0]
    return unit


def _consents_held(
    session: Session, reported: list[Qualification], facility: str, now: dt.datetime
) -> dict[ConsentKind, dt.datetime]:
    """The newest open consent of each kind the one person answered about gave this facility."""
    individuals = {q.individual_id for q in reported}
    if len(individuals) != 1:
        return {}  # nobody, or several candidates: no one's consents to report
    at = naive_jst(now)
    held: dict[ConsentKind, dt.datetime] = {}
    for kind, given_at in session.execute(
        select(t.Consent.kind, t.Consent.given_at).where(
            t.Consent.individual_id == individuals.pop(),
            t.Consent.MedicalInstitutionCode == facility,
            t.Consent.given_at <= at,
            t.Consent.given_at > at - CONSENT_WINDOW,
        )
    ):
        if kind not in answers.CONSENT_FIELDS:
            continue  # the limit consent is asked per record (LimitApplicationCertificateRelatedConsFlg)
        consent = ConsentKind(kind)
        if consent not in held or given_at > held[consent]:
            held[consent] = given_at
    return held


def fetch(central: ServiceContext, facility: MedicalInstitutionCode, reception_number: str) -> Json:
    now = central.clock()
    with central.db.sessions() as session:
        reception = session.get(t.BulkReception, reception_number)
        if reception is None or reception.MedicalInstitutionCode != facility.value:
            # Refused like any other access: audited, the reception number as a keyed digest
            # (a probe's guesses are not stored in clear).
            central.audit.record(
                facility=facility.value,
                action="bulk.fetch",
                subject=central.audit.subject(reception_number),
                outcome=ReceptionNotFound.code,
            )
            raise ReceptionNotFound(f"no bulk reception {reception_number!r} for this facility")
        header = answers.header(facility.value, now, reception.ArbitraryFileIdentifier)
        if reception.completed_at is None:
            header["SegmentOfResult"] = SegmentOfResult.PROCESSING.value
            body: Json = {"ReceptionNumber": reception_number}
        else:
            units = [
                json.loads(r or "{}")
                for r in session.scalars(
                    select(t.BulkRecord.result)
                    .where(t.BulkRecord.ReceptionNumber == reception_number)
                    .order_by(t.BulkRecord.seq)
                )
            ]
            errors = sum(
                1 for u in units if u["ProcessingResultStatus"] != ProcessingResultStatus.OK.value
            )
            header.update(
                {
                    "SegmentOfResult": SegmentOfResult.COMPLETED.value,
                    "NumberOfProcessingResult": str(len(units)),
                    "NumberOfNormalProcessing": str(len(units) - errors),
                    "NumberOfError": str(errors),
                }
            )
            body = {"ReceptionNumber": reception_number, "BulkConfirmUnit": units}
    central.audit.record(
        facility=facility.value,
        action="bulk.fetch",
        subject=None,
        outcome="completed" if reception.completed_at else "processing",
    )
    return {"MessageHeader": header, "MessageBody": body}
