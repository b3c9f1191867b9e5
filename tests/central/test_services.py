"""The central service's use cases on SQLite and PostgreSQL: answers, refusals, audit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from onshi import pki
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import CardKey
from onshi.central.errors import (
    AuditChainBroken,
    CardExpired,
    CardNotLinked,
    CardRevoked,
    CardSignatureInvalid,
    CardUnknown,
    ConsentRequired,
    FacilityKindRefused,
    FacilityNotAuthorised,
    NonceInvalid,
    ReceptionNotFound,
    RequestTooLarge,
)
from onshi.central.services.central import Central
from onshi.central.services.clock import JST
from onshi.central.services.questions import (
    BulkQuestion,
    BulkRecordQuestion,
    CardNumberQuestion,
    CardQuestion,
    HistoryQuestion,
)
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.oqs.identifiers import MedicalInstitutionCode
from onshi.pki.presence import challenge as card_presence_challenge
from tests.central import factories

CLINIC = MedicalInstitutionCode("1311111111")
PHARMACY = MedicalInstitutionCode("1341111111")
TODAY = dt.date(2026, 11, 23)
KEY = CardKey("06139999", "12-34", "4260", "00")


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 10, 0, tzinfo=JST)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def central(database: Database, jpki: pki.CertificateAuthority, clock: Clock) -> Central:
    c = Central(
        database,
        identifier_key="k" * 64,
        jpki_ca_certificate=jpki.certificate,
        clock=clock,
        max_bulk_records=50,
    )
    c.register_facility(CLINIC, "オンシ診療所")
    c.register_facility(PHARMACY, "オンシ薬局")
    return c


def ask(
    central: Central,
    key: CardKey = KEY,
    birth: dt.date = dt.date(1980, 4, 1),
    *,
    on: dt.date = TODAY,
    limit: bool = False,
) -> dict:
    return central.confirm_by_card_number(
        CLINIC, CardNumberQuestion(key, birth, on, limit_consent=limit)
    )


def test_valid_answer_carries_oqs_fields(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s, InsuredName="診療　太郎", Address="東京都")
    answer = ask(central)
    header, body = answer["MessageHeader"], answer["MessageBody"]
    assert header["ReferenceClassification"] == "2" and header["SegmentOfResult"] == "1"
    assert header["MedicalInstitutionCode"] == "1311111111"
    assert body["QualificationValidity"] == "1"
    (result,) = body["ResultList"]["ResultOfQualificationConfirmation"]
    assert result["InsurerNumber"] == "06139999"
    assert result["NameKana"] == "ｼﾝﾘｮｳ ﾀﾛｳ"
    assert result["InsuredPartialContributionRatio"] == "030"
    assert result["LimitApplicationCertificateRelatedConsFlg"] == "0"
    assert "ReasonOfLoss" not in result
    assert body["QualificationConfirmSearchInfo"]["Birthdate"] == "19800401"


def test_lost_qualification_gives_reason(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s, DisqualificationDate=dt.date(2026, 11, 1), ReasonOfLoss="03")
    body = ask(central)["MessageBody"]
    assert body["QualificationValidity"] == "2"
    assert body["ResultList"]["ResultOfQualificationConfirmation"][0]["ReasonOfLoss"] == "03"
    # The day before the loss it was still valid.
    assert ask(central, on=dt.date(2026, 10, 31))["MessageBody"]["QualificationValidity"] == "1"


def test_moved_person_gets_3(central: Central, database: Database) -> None:
    with database.transaction() as s:
        old = factories.qualification(
            s, DisqualificationDate=dt.date(2026, 10, 1), ReasonOfLoss="03"
        )
        factories.qualification(
            s,
            individual_id=old.individual_id,
            InsurerNumber="01130012",
            InsuredCardSymbol="5",
            InsuredIdentificationNumber="77",
            QualificationDate=dt.date(2026, 10, 1),
        )
    assert ask(central)["MessageBody"]["QualificationValidity"] == "3"


def test_unknown_card_and_wrong_birthdate_are_4(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    assert ask(central, birth=dt.date(1980, 4, 2))["MessageBody"]["QualificationValidity"] == "4"
    nobody = CardKey("06139999", "12-34", "9999", None)
    body = ask(central, nobody)["MessageBody"]
    assert body["QualificationValidity"] == "4" and "ResultList" not in body


def test_twins_without_branch_are_5_and_branch_resolves(
    central: Central, database: Database
) -> None:
    with database.transaction() as s:
        factories.qualification(
            s,
            InsuredBranchNumber="01",
            Birthdate=dt.date(2015, 6, 1),
            PersonalFamilyClassification="2",
        )
        factories.qualification(
            s,
            InsuredBranchNumber="02",
            Birthdate=dt.date(2015, 6, 1),
            PersonalFamilyClassification="2",
        )
    no_branch = CardKey("06139999", "12-34", "4260", None)
    body = ask(central, no_branch, dt.date(2015, 6, 1))["MessageBody"]
    assert body["QualificationValidity"] == "5"
    assert len(body["ResultList"]["ResultOfQualificationConfirmation"]) == 2
    one = CardKey("06139999", "12-34", "4260", "02")
    assert ask(central, one, dt.date(2015, 6, 1))["MessageBody"]["QualificationValidity"] == "1"


def test_limit_information_only_with_consent(central: Central, database: Database) -> None:
    with database.transaction() as s:
        q = factories.qualification(s)
        s.add(
            t.LimitApplicationCertificate(
                qualification_id=q.id,
                LimitApplicationCertificateClassification="01",
                LimitApplicationCertificateClassificationFlag="A03",
                LimitApplicationCertificateValidStartDate=dt.date(2026, 4, 1),
                LimitApplicationCertificateValidEndDate=dt.date(2027, 3, 31),
                content_digest="d1",
            )
        )
    without = ask(central)["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert "LimitApplicationCertificateRelatedInfo" not in without
    with_consent = ask(central, limit=True)["MessageBody"]["ResultList"][
        "ResultOfQualificationConfirmation"
    ][0]
    assert with_consent["LimitApplicationCertificateRelatedConsFlg"] == "1"
    assert (
        with_consent["LimitApplicationCertificateRelatedInfo"][
            "LimitApplicationCertificateClassificationFlag"
        ]
        == "A03"
    )


def test_preschool_child_is_flagged(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(
            s, Birthdate=dt.date(2021, 5, 5), InsuredPartialContributionRatio="020"
        )
    result = ask(central, birth=dt.date(2021, 5, 5))["MessageBody"]["ResultList"][
        "ResultOfQualificationConfirmation"
    ][0]
    assert result["PreschoolClassification"] == "1"


def test_unregistered_facility_is_refused(central: Central) -> None:
    with pytest.raises(FacilityNotAuthorised):
        central.require_facility("1399999999")
    with pytest.raises(FacilityNotAuthorised):
        central.require_facility("not-a-code")


# -- My Number card ------------------------------------------------------------------------


def present(
    central: Central,
    card: pki.IssuedCertificate,
    *,
    facility: MedicalInstitutionCode = CLINIC,
    consents: frozenset[ConsentKind] = frozenset(),
    nonce: str | None = None,
    signer: pki.IssuedCertificate | None = None,
) -> dict:
    nonce = nonce or central.issue_nonce(facility)["nonce"]
    signature = pki.sign_challenge(
        (signer or card).private_key, card_presence_challenge(facility.value, nonce)
    )
    return central.confirm_by_card(
        facility, CardQuestion(card.cert_pem, nonce, signature, "face", consents)
    )


def new_card(jpki: pki.CertificateAuthority) -> pki.IssuedCertificate:
    return jpki.issue_card_certificate(not_before=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))


@pytest.fixture
def card(
    central: Central, database: Database, jpki: pki.CertificateAuthority
) -> pki.IssuedCertificate:
    with database.transaction() as s:
        factories.qualification(s)
    issued = new_card(jpki)
    central.link_card(KEY, issued.certificate)
    return issued


def test_card_confirmation_records_consents(central: Central, card: pki.IssuedCertificate) -> None:
    answer = present(central, card, consents=frozenset({ConsentKind.DRUG, ConsentKind.LIMIT}))
    assert answer["MessageHeader"]["ReferenceClassification"] == "1"
    result = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"][0]
    assert result["PharmacistsInfoConsFlg"] == "1"
    assert result["PharmacistsInfoConsTime"] == "20261123100000"
    assert result["PharmacistsInfoAvailableTime"] == "20261124100000"
    assert result["SpecificHealthCheckupsInfoConsFlg"] == "0"
    assert result["LimitApplicationCertificateRelatedConsFlg"] == "1"


def test_replayed_nonce_is_refused(central: Central, card: pki.IssuedCertificate) -> None:
    nonce = central.issue_nonce(CLINIC)["nonce"]
    present(central, card, nonce=nonce)
    with pytest.raises(NonceInvalid, match="already used"):
        present(central, card, nonce=nonce)


def test_expired_nonce_and_other_facilitys_nonce(
    central: Central, card: pki.IssuedCertificate, clock: Clock
) -> None:
    nonce = central.issue_nonce(CLINIC)["nonce"]
    with pytest.raises(NonceInvalid, match="not issued to this facility"):
        present(central, card, facility=PHARMACY, nonce=nonce)
    clock.now += dt.timedelta(minutes=5)
    with pytest.raises(NonceInvalid, match="expired"):
        present(central, card, nonce=nonce)


def test_card_errors_have_distinct_codes(
    central: Central, card: pki.IssuedCertificate, jpki: pki.CertificateAuthority, tmp_path: Path
) -> None:
    stranger_ca = pki.CertificateAuthority.create(tmp_path / "other", "not JPKI")
    with pytest.raises(CardUnknown):
        present(central, stranger_ca.issue_card_certificate())
    with pytest.raises(CardNotLinked):
        present(central, new_card(jpki))
    expired = jpki.issue_card_certificate(
        not_before=dt.datetime(2015, 1, 1, tzinfo=dt.UTC), valid_days=365
    )
    with pytest.raises(CardExpired):
        present(central, expired)
    with pytest.raises(CardSignatureInvalid):
        present(central, card, signer=new_card(jpki))
    central.revoke_card(card.certificate)
    with pytest.raises(CardRevoked):
        present(central, card)
    codes = {
        CardUnknown.code,
        CardNotLinked.code,
        CardExpired.code,
        CardSignatureInvalid.code,
        CardRevoked.code,
    }
    assert len(codes) == 5


# -- drug information and checkups -----------------------------------------------------------


def _history(database: Database, individual_id: int) -> None:
    with database.transaction() as s:
        for i, day in enumerate([dt.date(2026, 10, 1), dt.date(2024, 1, 1), dt.date(2022, 1, 1)]):
            s.add(
                t.DrugDispensing(
                    individual_id=individual_id,
                    DiDate=day,
                    DrugC=f"D{i}",
                    DrugN="ロキソニン錠60mg",
                    Qua1="3",
                    content_digest=f"drug{i}",
                )
            )
        for i, day in enumerate([dt.date(2025, 6, 1), dt.date(2020, 6, 1)]):
            s.add(
                t.CheckupResult(
                    individual_id=individual_id,
                    EffectiveTime=day,
                    ItemCode="9N001",
                    ItemName="身長",
                    DataValue="170.0",
                    content_digest=f"chk{i}",
                )
            )


def test_drug_information_needs_consent_and_reaches_three_years(
    central: Central, card: pki.IssuedCertificate, database: Database, clock: Clock
) -> None:
    with database.sessions() as s:
        individual_id = s.scalar(select(t.Qualification.individual_id))
    assert individual_id is not None
    _history(database, individual_id)
    question = HistoryQuestion(KEY)
    with pytest.raises(ConsentRequired):
        central.drug_information(CLINIC, question)
    present(central, card, consents=frozenset({ConsentKind.DRUG}))
    answer = central.drug_information(CLINIC, question)
    codes = [line["DrugC"] for line in answer["MessageBody"]["DrugInformation"]]
    assert codes == ["D1", "D0"]  # 2022 is more than 3 years back
    # Consent is per facility and per kind, and lasts 24 hours.
    with pytest.raises(ConsentRequired):
        central.drug_information(PHARMACY, question)
    with pytest.raises(ConsentRequired):
        central.checkups(CLINIC, question)
    clock.now += dt.timedelta(hours=24)
    with pytest.raises(ConsentRequired):
        central.drug_information(CLINIC, question)


def test_checkups_five_years_and_never_for_pharmacies(
    central: Central, card: pki.IssuedCertificate, database: Database
) -> None:
    with database.sessions() as s:
        individual_id = s.scalar(select(t.Qualification.individual_id))
    assert individual_id is not None
    _history(database, individual_id)
    present(central, card, consents=frozenset({ConsentKind.CHECKUP}))
    answer = central.checkups(CLINIC, HistoryQuestion(KEY))
    assert [c["EffectiveTime"] for c in answer["MessageBody"]["SpecificHealthCheckupInfo"]] == [
        "20250601"
    ]
    present(central, card, facility=PHARMACY, consents=frozenset({ConsentKind.CHECKUP}))
    with pytest.raises(FacilityKindRefused):
        central.checkups(PHARMACY, HistoryQuestion(KEY))


# -- bulk --------------------------------------------------------------------------------------


def test_bulk_is_answered_per_record_by_arbitrary_identifier(
    central: Central, database: Database
) -> None:
    with database.transaction() as s:
        factories.qualification(s)
        factories.qualification(
            s,
            InsuredIdentificationNumber="5000",
            DisqualificationDate=dt.date(2026, 1, 1),
            ReasonOfLoss="01",
        )
    records = (
        BulkRecordQuestion(KEY, dt.date(1980, 4, 1), "reservation-1"),
        BulkRecordQuestion(
            CardKey("06139999", "12-34", "5000", None), dt.date(1980, 4, 1), "reservation-2"
        ),
        BulkRecordQuestion(
            CardKey("06139999", "12-34", "0000", None), dt.date(1980, 4, 1), "reservation-3"
        ),
    )
    receipt = central.submit_bulk(CLINIC, BulkQuestion(TODAY, records, "file-1"))
    number = receipt["MessageBody"]["ReceptionNumber"]
    assert central.fetch_bulk(CLINIC, number)["MessageHeader"]["SegmentOfResult"] == "2"
    assert central.process_pending_bulk() == 3
    assert central.process_pending_bulk() == 0  # answered exactly once
    done = central.fetch_bulk(CLINIC, number)
    assert done["MessageHeader"]["SegmentOfResult"] == "1"
    assert done["MessageHeader"]["NumberOfProcessingResult"] == "3"
    validity = {
        u["QualificationConfirmSearchInfo"]["ArbitraryIdentifier"]: u["QualificationValidity"]
        for u in done["MessageBody"]["BulkConfirmUnit"]
    }
    assert validity == {"reservation-1": "1", "reservation-2": "2", "reservation-3": "4"}
    with pytest.raises(ReceptionNotFound):
        central.fetch_bulk(PHARMACY, number)


def test_bulk_resumes_after_a_crash_mid_way(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    records = tuple(BulkRecordQuestion(KEY, dt.date(1980, 4, 1), f"r{i}") for i in range(10))
    number = central.submit_bulk(CLINIC, BulkQuestion(TODAY, records))["MessageBody"][
        "ReceptionNumber"
    ]
    # A worker that died after answering some records left them answered, the rest open.
    with database.transaction() as s:
        s.execute(
            update(t.BulkRecord)
            .where(t.BulkRecord.seq < 4)
            .values(result='{"ProcessingResultStatus": "1", "kept": true}')
        )
    assert central.process_pending_bulk() == 6
    units = central.fetch_bulk(CLINIC, number)["MessageBody"]["BulkConfirmUnit"]
    assert sum(1 for u in units if u.get("kept")) == 4 and len(units) == 10


def test_bulk_refuses_too_many_records(central: Central, database: Database) -> None:
    records = tuple(BulkRecordQuestion(KEY, dt.date(1980, 4, 1), str(i)) for i in range(51))
    with pytest.raises(RequestTooLarge):
        central.submit_bulk(CLINIC, BulkQuestion(TODAY, records))
    with database.sessions() as s:
        assert s.scalar(select(func.count()).select_from(t.BulkReception)) == 0


# -- audit -----------------------------------------------------------------------------------------


def test_every_access_is_audited_without_identifiers(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    ask(central)
    ask(central, birth=dt.date(1999, 1, 1))
    report = central.audit.verify()
    assert report.entries == 2
    with database.sessions() as s:
        entries = s.scalars(select(t.AuditEntry).order_by(t.AuditEntry.seq)).all()
    assert [e.outcome for e in entries] == ["validity-1", "validity-4"]
    for e in entries:
        assert "4260" not in (e.subject or "") and len(e.subject or "") == 64


def test_altered_or_removed_audit_entries_are_found(central: Central, database: Database) -> None:
    for _ in range(4):
        ask(central)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == 2).values(outcome="validity-1"))
    with pytest.raises(AuditChainBroken, match="entry 2 was altered"):
        central.audit.verify()
    with database.transaction() as s:
        s.execute(t.AuditEntry.__table__.delete().where(t.AuditEntry.seq == 2))
    with pytest.raises(AuditChainBroken, match="entry 2 is missing"):
        central.audit.verify()


def test_leap_day_birthdays_are_answered(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(
            s, Birthdate=dt.date(2024, 2, 29), InsuredPartialContributionRatio="020"
        )
    body = ask(central, birth=dt.date(2024, 2, 29))["MessageBody"]
    assert body["QualificationValidity"] == "1"
    assert (
        body["ResultList"]["ResultOfQualificationConfirmation"][0]["PreschoolClassification"] == "1"
    )


def test_a_record_that_fails_does_not_block_its_bulk(
    central: Central, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onshi.oqs import messages

    with database.transaction() as s:
        factories.qualification(s)
    records = tuple(BulkRecordQuestion(KEY, dt.date(1980, 4, 1), f"r{i}") for i in range(3))
    number = central.submit_bulk(CLINIC, BulkQuestion(TODAY, records))["MessageBody"][
        "ReceptionNumber"
    ]
    from onshi.central.services import eligibility

    real = eligibility.confirm_by_card_number
    calls = iter(range(100))

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if next(calls) == 1:  # the second record (r1), judged in order
            raise RuntimeError("poison")
        return real(*args, **kwargs)

    monkeypatch.setattr(eligibility, "confirm_by_card_number", flaky)
    assert central.process_pending_bulk() == 3
    answer = central.fetch_bulk(CLINIC, number)
    assert answer["MessageHeader"]["NumberOfError"] == "1"
    statuses = [u["ProcessingResultStatus"] for u in answer["MessageBody"]["BulkConfirmUnit"]]
    assert statuses == ["1", "2", "1"]
    # The answer with an error record is still a valid OQS bulk result file.
    assert messages.render_result(
        messages.MessageKind.BULK_DOWNLOAD, answer, encoding=messages.Encoding.UTF8
    )


def test_a_resent_bulk_upload_gets_the_same_reception(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    question = BulkQuestion(TODAY, (BulkRecordQuestion(KEY, dt.date(1980, 4, 1), "r0"),), "file-1")
    first = central.submit_bulk(CLINIC, question, "key-1")
    again = central.submit_bulk(CLINIC, question, "key-1")
    other = central.submit_bulk(CLINIC, question, "key-2")
    assert first["MessageBody"] == again["MessageBody"]
    assert other["MessageBody"]["ReceptionNumber"] != first["MessageBody"]["ReceptionNumber"]
    # The key is the facility's own: another facility's same key is another upload.
    elsewhere = central.submit_bulk(PHARMACY, question, "key-1")
    assert elsewhere["MessageBody"]["ReceptionNumber"] != first["MessageBody"]["ReceptionNumber"]
    with database.sessions() as s:
        assert s.scalar(select(func.count()).select_from(t.BulkReception)) == 3


def test_a_card_revoked_by_serial_is_refused(central: Central, card: pki.IssuedCertificate) -> None:
    assert central.revoke_card_serial(None, "0x" + format(card.serial, "X")) == 1
    assert central.revoke_card_serial(None, format(card.serial, "x")) == 0  # already revoked
    with pytest.raises(CardRevoked):
        present(central, card)


def test_operator_revokes_a_card_from_the_command_line(tmp_path: Path, sqlite_url: str) -> None:
    from typer.testing import CliRunner

    from onshi.central.settings import CentralSettings
    from onshi.cli import app

    settings = CentralSettings(database_url=sqlite_url, data_dir=tmp_path, identifier_key="k" * 64)
    service = Central.from_settings(settings)
    with service.db.transaction() as s:
        factories.qualification(s)
    issued = pki.CertificateAuthority.load(settings.jpki_ca_dir).issue_card_certificate()
    service.link_card(KEY, issued.certificate)
    runner = CliRunner()
    args = ["central", "card", "revoke", "--db", sqlite_url, "--data-dir", str(tmp_path)]
    done = runner.invoke(app, [*args[:3], format(issued.serial, "x"), *args[3:]])
    assert done.exit_code == 0, done.output
    again = runner.invoke(app, [*args[:3], format(issued.serial, "x"), *args[3:]])
    assert again.exit_code == 1
    bad = runner.invoke(app, [*args[:3], "not-hex", *args[3:]])
    assert bad.exit_code == 2
    with service.db.sessions() as s:
        assert s.scalar(select(t.CardLink.revoked_at)) is not None
