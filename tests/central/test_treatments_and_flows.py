"""診療情報 behind its consents, dispensing institutions, the dates every result carries, and the
bulk flows by period — on SQLite and PostgreSQL, through the service facade."""

# ruff: noqa: F811 - the fixtures of test_services are imported, then asked for by name

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from onshi import pki
from onshi.central.domain.consent import ConsentKind
from onshi.central.domain.qualification import CardKey
from onshi.central.errors import PersonNotFound, RequestInvalid
from onshi.central.services.central import Central
from onshi.central.services.questions import (
    BulkPeriodQuestion,
    BulkQuestion,
    BulkRecordQuestion,
    CardNumberQuestion,
    HistoryQuestion,
)
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from tests.central import factories
from tests.central.test_services import (  # noqa: F401 - fixtures
    CLINIC,
    KEY,
    TODAY,
    Clock,
    card,
    central,
    clock,
    present,
)

ALL_TREATMENTS = frozenset({ConsentKind.DRUG, ConsentKind.DIAGNOSIS, ConsentKind.OPERATION})


def _individual(database: Database) -> int:
    with database.sessions() as s:
        found = s.scalar(select(t.Qualification.individual_id))
    assert found is not None
    return found


def _clinical(database: Database, individual_id: int) -> None:
    with database.transaction() as s:
        s.add(
            t.DrugDispensing(
                individual_id=individual_id,
                DiDate=dt.date(2026, 10, 1),
                DrugC="D0",
                DrugN="ロキソニン錠60mg",
                Qua1="3",
                DiOrg="2",
                MeTrDiHCd="1349900016",
                MeTrDiHNm="オンシ調剤薬局",
                PrlsHCd=CLINIC.value,
                PrlsHNm="オンシ診療所",
                InOut="2",
                content_digest="d0".ljust(64, "0"),
            )
        )
        for category, code in (("diagnosis", "70"), ("operation", "50")):
            s.add(
                t.MedicalTreatment(
                    individual_id=individual_id,
                    category=category,
                    DiDate=dt.date(2026, 10, 1),
                    MeTrDiHCd="1319900011",
                    SinInfN=f"{category} の診療行為",
                    MeTrIdCl=code,
                    content_digest=category.ljust(64, "0"),
                )
            )


def test_every_result_carries_qualification_dates(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s, DisqualificationDate=dt.date(2026, 12, 1), ReasonOfLoss="03")
    answer = central.confirm_by_card_number(
        CLINIC, CardNumberQuestion(KEY, dt.date(1980, 4, 1), TODAY)
    )
    [result] = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
    assert (result["QualificationDate"], result["DisqualificationDate"]) == ("20200401", "20261201")


def test_reader_consents_all_carry_their_times(
    central: Central, card: pki.IssuedCertificate
) -> None:
    answer = present(central, card, consents=ALL_TREATMENTS | {ConsentKind.CHECKUP})
    [result] = answer["MessageBody"]["ResultList"]["ResultOfQualificationConfirmation"]
    for prefix in (
        "PharmacistsInfo",
        "SpecificHealthCheckupsInfo",
        "DiagnosisInfo",
        "OperationInfo",
    ):
        assert result[f"{prefix}ConsFlg"] == "1"
        assert result[f"{prefix}ConsTime"] == "20261123100000"
        assert result[f"{prefix}AvailableTime"] == "20261124100000"
    assert result["QualificationDate"] == "20200401"


def test_drug_lines_carry_their_institutions(
    central: Central, card: pki.IssuedCertificate, database: Database
) -> None:
    _clinical(database, _individual(database))
    present(central, card, consents=frozenset({ConsentKind.DRUG}))
    [line] = central.drug_information(CLINIC, HistoryQuestion(KEY))["MessageBody"][
        "DrugInformation"
    ]
    assert {k: line[k] for k in ("DiOrg", "MeTrDiHCd", "PrlsHCd", "PrIsOrg", "InOut")} == {
        "DiOrg": "2",
        "MeTrDiHCd": "1349900016",
        "PrlsHCd": CLINIC.value,
        "PrIsOrg": "1",  # prescribed by the asking clinic
        "InOut": "2",
    }


@pytest.mark.parametrize(
    ("consents", "shown", "note"),
    [
        (ALL_TREATMENTS, ["70", "50"], None),
        (frozenset({ConsentKind.DRUG, ConsentKind.DIAGNOSIS}), ["70"], "手術情報"),
        (frozenset({ConsentKind.DRUG, ConsentKind.OPERATION}), ["50"], "診療情報"),
        (frozenset({ConsentKind.DRUG}), [], "薬剤情報のみ"),
    ],
)
def test_treatments_each_behind_their_consent(
    central: Central,
    card: pki.IssuedCertificate,
    database: Database,
    consents: frozenset[ConsentKind],
    shown: list[str],
    note: str | None,
) -> None:
    _clinical(database, _individual(database))
    present(central, card, consents=consents)
    body = central.drug_information(CLINIC, HistoryQuestion(KEY, with_treatments=True))[
        "MessageBody"
    ]
    assert [x["MeTrIdCl"] for x in body["MedicalTreatmentInformation"]] == shown
    assert (note in body["MessageContents"]) if note else ("MessageContents" not in body)
    # Without FileCategory 3/4 no 診療情報 at all.
    plain = central.drug_information(CLINIC, HistoryQuestion(KEY))["MessageBody"]
    assert "MedicalTreatmentInformation" not in plain


def test_unknown_person_has_its_own_code(central: Central, card: pki.IssuedCertificate) -> None:
    with pytest.raises(PersonNotFound) as caught:
        central.drug_information(
            CLINIC, HistoryQuestion(CardKey("06139999", "12-34", "9999", None))
        )
    assert caught.value.code == "PERSON_NOT_FOUND"


def test_bulk_receipt_says_segment_and_status(central: Central, database: Database) -> None:
    with database.transaction() as s:
        factories.qualification(s)
    receipt = central.submit_bulk(
        CLINIC, BulkQuestion(TODAY, (BulkRecordQuestion(KEY, dt.date(1980, 4, 1)),))
    )
    assert receipt["MessageHeader"]["SegmentOfResult"] == "1"
    assert receipt["MessageBody"]["ProcessingResultStatus"] == "1"


@pytest.mark.parametrize(
    ("flow", "with_consents"),
    [("online-care", True), ("home-visit", True), ("medical-aid", False)],
)
def test_bulk_flows_answer_everyone_who_consented_in_the_period(
    central: Central,
    card: pki.IssuedCertificate,
    database: Database,
    clock: Clock,
    flow: str,
    with_consents: bool,
) -> None:
    with database.transaction() as s:
        factories.qualification(s, InsuredIdentificationNumber="5000", Name="同意　なし")
    present(central, card, consents=frozenset({ConsentKind.DRUG, ConsentKind.DIAGNOSIS}))
    question = BulkPeriodQuestion(flow, dt.date(2026, 11, 1), dt.date(2026, 11, 30), "f-1")
    receipt = central.submit_bulk_period(CLINIC, question, "key-1")
    number = receipt["MessageBody"]["ReceptionNumber"]
    assert central.submit_bulk_period(CLINIC, question, "key-1") == receipt  # resent: same one
    clock.now += dt.timedelta(minutes=5)
    central.process_pending_bulk()
    answer = central.fetch_bulk(CLINIC, number)
    assert answer["MessageHeader"]["SegmentOfResult"] == "1"
    [unit] = answer["MessageBody"]["BulkConfirmUnit"]
    result = unit["ResultOfQualificationConfirmation"]
    assert result["Name"] == "診療　太郎" and result["QualificationDate"] == "20200401"
    if with_consents:
        assert (result["PharmacistsInfoConsFlg"], result["DiagnosisInfoConsFlg"]) == ("1", "1")
        assert result["DiagnosisInfoConsTime"] == "20261123100000"
        assert result["OperationInfoConsFlg"] == "0" and "OperationInfoConsTime" not in result
    else:
        assert "PharmacistsInfoConsFlg" not in result
    # A period before the consent holds nobody.
    empty = central.submit_bulk_period(
        CLINIC, BulkPeriodQuestion(flow, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    )
    central.process_pending_bulk()
    later = central.fetch_bulk(CLINIC, empty["MessageBody"]["ReceptionNumber"])
    assert later["MessageHeader"]["NumberOfProcessingResult"] == "0"


def test_bulk_flow_must_be_known(central: Central) -> None:
    with pytest.raises(RequestInvalid):
        central.submit_bulk_period(
            CLINIC, BulkPeriodQuestion("eligibility", dt.date(2026, 11, 1), dt.date(2026, 11, 2))
        )
