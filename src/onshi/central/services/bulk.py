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
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast, overload

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onshi.central.domain.consent import CONSENT_WINDOW, ConsentKind
from onshi.central.domain.qualification import CardKey, Qualification
from onshi.central.errors import ReceptionNotFound, RequestInvalid, RequestTooLarge
from onshi.central.intake.bulk import BulkWriter
from onshi.central.services import answers, eligibility
from onshi.central.services.clock import naive_jst
from onshi.central.services.questions import (
    BulkPeriodQuestion,
    BulkQuestion,
    BulkRecordQuestion,
    CardNumberQuestion,
)
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

_RECORDS = cast(Table, t.BulkRecord.__table__)
_QUESTION_COLUMNS = ("ReceptionNumber", "seq", "ArbitraryIdentifier", "request")
# PostgreSQL: a chunk's answers in one statement, as two arrays sent in binary (no escaping).
# Profiled on 10,000 answers: 500 pipelined UPDATEs a chunk cost the server 0.8 s; text arrays
# are escaped in Python by the driver (3.5 s); a VALUES join was planned as a nested loop over
# the whole reception when its statistics were stale (2.6 s for one chunk). This one reads the
# reception's rows through its primary key whatever the statistics say.
_STORE_ANSWERS_POSTGRESQL = (
    "UPDATE bulk_record SET result = (%b::text[])[array_position(%b::integer[], seq)] "
    'WHERE "ReceptionNumber" = %s AND seq = ANY(%b::integer[]) '
    "AND result IS NULL"  # an answer is never overwritten
)
_STORE_ANSWER = (
    update(_RECORDS)
    .where(
        _RECORDS.c.ReceptionNumber == bindparam("b_reception"),
        _RECORDS.c.seq == bindparam("b_seq"),
        _RECORDS.c.result.is_(None),
    )
    .values(result=bindparam("b_result"))
)


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
        number = reception.ReceptionNumber
        # COPY on PostgreSQL: 10,000 pipelined INSERTs took 0.65 s of the server's time there.
        BulkWriter(session.connection()).insert(
            _RECORDS,
            _QUESTION_COLUMNS,
            [
                (
                    number,
                    i,
                    r.arbitrary_identifier,
                    dumps(
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
                )
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
    after = -1  # the last record this worker answered: the next chunk is read from past it
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
            # ``seq > after``: the index scan starts where the last chunk ended instead of
            # stepping over every answered record (and, on PostgreSQL, its dead row versions).
            records = session.execute(
                select(t.BulkRecord.seq, t.BulkRecord.request)
                .where(
                    t.BulkRecord.ReceptionNumber == reception_number,
                    t.BulkRecord.result.is_(None),
                    t.BulkRecord.seq > after,
                )
                .order_by(t.BulkRecord.seq)
                .limit(BULK_CHUNK)
            ).all()
            if not records and after >= 0:
                after = -1  # nothing past the last chunk: look once more from the start
                continue
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
            questions = [json.loads(request) for _, request in records]
            units = _answer_chunk(central, session, questions, on, now, facility, flow)
            _store_answers(
                session,
                reception_number,
                [seq for seq, _ in records],
                [dumps(unit) for unit in units],
            )
            after = records[-1].seq
            answered += len(records)


def _store_answers(
    session: Session, reception_number: str, seqs: list[int], results: list[str]
) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            _STORE_ANSWERS_POSTGRESQL, (results, seqs, reception_number, seqs)
        )
    else:  # SQLite runs in process: executemany costs no round trips
        connection.execute(
            _STORE_ANSWER,
            [
                {"b_reception": reception_number, "b_seq": seq, "b_result": result}
                for seq, result in zip(seqs, results, strict=True)
            ],
        )


def _answer_chunk(
    central: ServiceContext,
    session: Session,
    questions: list[Json],
    on: dt.date,
    now: dt.datetime,
    facility: str,
    flow: str,
) -> list[Json]:
    """The answers of a chunk's records, in order, judged together
    (:func:`~onshi.central.services.eligibility.judge_card_numbers`): one query of each kind
    for the whole chunk, not per record (one round trip each on PostgreSQL: 674 held_by and
    2,742 certificate queries in 10,000 records when it was per record).

    A record that cannot be answered gets status 2 and never blocks the rest.
    """
    asked: list[CardNumberQuestion | Exception] = []
    for q in questions:
        try:
            asked.append(_question(q, on))
        except Exception as exc:  # noqa: BLE001 — reported as this record's failure below
            asked.append(exc)
    readable = [a for a in asked if isinstance(a, CardNumberQuestion)]
    consents = None
    if flow in FLOWS_WITH_CONSENTS:

        def consents(individuals: set[int]) -> eligibility.HeldConsents:
            return _consents_held(session, individuals, facility, now)

    judged = iter(eligibility.judge_card_numbers(session, readable, now=now, consents=consents))
    return [
        _unit(q, a if isinstance(a, Exception) else next(judged))
        for q, a in zip(questions, asked, strict=True)
    ]


def _question(q: Json, on: dt.date) -> CardNumberQuestion:
    birthdate = q["Birthdate"]
    return CardNumberQuestion(
        key=CardKey(
            q["InsurerNumber"].strip(),
            q.get("InsuredCardSymbol", ""),
            q["InsuredIdentificationNumber"],
            q.get("InsuredBranchNumber"),
        ),
        birthdate=dt.date(int(birthdate[:4]), int(birthdate[4:6]), int(birthdate[6:])),
        on=on,
        limit_consent=q.get("LimitApplicationCertificateRelatedConsFlg") == "1",
    )


def _unit(q: Json, judged: eligibility.Judged | Exception) -> Json:
    if isinstance(judged, Exception):
        log_failure(log, "a bulk record could not be answered", judged)
        return {
            "QualificationConfirmSearchInfo": q,
            "ProcessingResultStatus": ProcessingResultStatus.ERROR.value,
            "ProcessingResultCode": "CENTRAL_ERROR",
            "ProcessingResultMessage": "this record could not be answered; ask again singly",
        }
    confirmation, results = judged
    unit: Json = {
        "QualificationConfirmSearchInfo": q,
        "ProcessingResultStatus": ProcessingResultStatus.OK.value,
        "QualificationValidity": confirmation.validity.value,
    }
    if results:
        unit["ResultOfQualificationConfirmation"] = results if len(results) > 1 else results[0]
    return unit


def _consents_held(
    session: Session, individuals: set[int], facility: str, now: dt.datetime
) -> dict[int, dict[ConsentKind, dt.datetime]]:
    """Per individual, the newest open consent of each kind given to this facility."""
    held: dict[int, dict[ConsentKind, dt.datetime]] = {}
    if not individuals:
        return held
    at = naive_jst(now)
    for individual, kind, given_at in session.execute(
        select(t.Consent.individual_id, t.Consent.kind, t.Consent.given_at).where(
            t.Consent.individual_id.in_(sorted(individuals)),
            t.Consent.MedicalInstitutionCode == facility,
            t.Consent.given_at <= at,
            t.Consent.given_at > at - CONSENT_WINDOW,
        )
    ):
        if kind not in answers.CONSENT_FIELDS:
            continue  # the limit consent is asked per record (LimitApplicationCertificateRelatedConsFlg)
        consent = ConsentKind(kind)
        newest = held.setdefault(individual, {})
        if consent not in newest or given_at > newest[consent]:
            newest[consent] = given_at
    return held


class StoredUnits(Sequence[Json]):
    """The answers of a reception's records as the database holds them, one JSON text each.

    The API sends the texts as they are, spliced into its response (:meth:`json_text`):
    parsing and re-serialising 10,000 answers cost 0.35–0.55 s a fetch. Python callers read
    them as dicts, parsed once on first use.
    """

    __slots__ = ("_parsed", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self._parsed: list[Json] | None = None

    def json_text(self) -> str:
        """The JSON array of the answers, exactly as stored."""
        return "[" + ",".join(self.texts) + "]"

    def _units(self) -> list[Json]:
        if self._parsed is None:
            self._parsed = [json.loads(text) for text in self.texts]
        return self._parsed

    @overload
    def __getitem__(self, index: int) -> Json: ...
    @overload
    def __getitem__(self, index: slice) -> list[Json]: ...
    def __getitem__(self, index: int | slice) -> Json | list[Json]:
        return self._units()[index]

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[Json]:
        return iter(self._units())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredUnits):
            return self._units() == other._units()
        return isinstance(other, list) and self._units() == other

    __hash__ = None  # type: ignore[assignment]  # equal to a list, so unhashable like one

    def __repr__(self) -> str:
        return f"StoredUnits({self._units()!r})"


# Matches a key only: inside a JSON string the name would be followed by an escaped quote.
_STATUS = re.compile(r'"ProcessingResultStatus"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _status(text: str) -> str:
    """A stored answer's ProcessingResultStatus, read without parsing the whole answer."""
    found = _STATUS.findall(text)
    if len(found) == 1 and "\\" not in found[0]:
        return str(found[0])
    return str(json.loads(text)["ProcessingResultStatus"])  # unusual text: the sure way


def fetch(central: ServiceContext, facility: MedicalInstitutionCode, reception_number: str) -> Json:
    """SegmentOfResult 2 while the reception is processed; 1 with every record's answer, as
    :class:`StoredUnits` (also read as a list of dicts)."""
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
            units = StoredUnits(
                [
                    r or "{}"
                    for r in session.scalars(
                        select(t.BulkRecord.result)
                        .where(t.BulkRecord.ReceptionNumber == reception_number)
                        .order_by(t.BulkRecord.seq)
                    )
                ]
            )
            ok = ProcessingResultStatus.OK.value
            errors = sum(1 for text in units.texts if _status(text) != ok)
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
