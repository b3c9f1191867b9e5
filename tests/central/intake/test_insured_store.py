"""Storing insured persons on SQLite and PostgreSQL: counts, idempotence, history, all-or-nothing."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select

from onshi.central.errors import IntakeRejected
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row


def load(database: Database, rows: list[dict[str, str]], **kwargs: int) -> ImportCounts:
    return import_insured(database, io.BytesIO(csv_bytes(rows)), **kwargs)


def test_a_valid_file_imports(database: Database) -> None:
    rows = [row(1), row(2), row(3, InsurerNumber="138057", InsurerName="新宿区国民健康保険")]
    assert load(database, rows) == ImportCounts(inserted=3)
    stored = counts(database)
    assert (stored["insurer"], stored["individual"], stored["qualification"]) == (2, 3, 3)
    with database.transaction() as s:
        q = s.scalars(select(t.Qualification).order_by(t.Qualification.id)).all()
    assert [x.version for x in q] == [1, 1, 1]
    assert q[2].InsurerNumber == "138057"
    assert q[0].Birthdate.isoformat() == "1980-01-15"


def test_reimport_changes_nothing(database: Database) -> None:
    rows = [row(i) for i in range(1, 8)]
    load(database, rows, chunk_size=3)
    before = counts(database)
    assert load(database, rows, chunk_size=3) == ImportCounts(unchanged=7)
    assert counts(database) == before
    assert before["qualification_history"] == 0


def test_a_changed_row_is_updated_and_its_old_state_kept(database: Database) -> None:
    load(database, [row(1), row(2)])
    changed = [row(1, Address="大阪府大阪市北区梅田1丁目1番1号"), row(2)]
    assert load(database, changed) == ImportCounts(updated=1, unchanged=1)
    with database.transaction() as s:
        q = s.scalars(
            select(t.Qualification).where(t.Qualification.InsuredIdentificationNumber == "5001")
        ).one()
        history = s.scalars(select(t.QualificationHistory)).all()
    assert q.version == 2 and q.Address.startswith("大阪府")
    assert len(history) == 1 and history[0].qualification_id == q.id and history[0].version == 1
    earlier = json.loads(history[0].content)
    assert earlier["Address"].startswith("東京都") and earlier["Birthdate"] == "19800115"
    assert load(database, changed) == ImportCounts(unchanged=2)  # and no second history row
    assert counts(database)["qualification_history"] == 1


def test_a_loss_is_an_update(database: Database) -> None:
    load(database, [row(1)])
    assert load(database, [row(1, DisqualificationDate="20240401", ReasonOfLoss="99")]).updated == 1


BAD_ROWS = [
    ("InsurerNumber", "1234"),
    ("Birthdate", "20230230"),
    ("Sex1", "5"),
    ("ReasonOfLoss", "01"),
    ("InsuredPartialContributionRatio", "30"),
    ("NameKana", "漢字"),
]


@pytest.mark.parametrize(("column", "value"), BAD_ROWS)
def test_any_bad_row_rejects_the_whole_file(database: Database, column: str, value: str) -> None:
    rows = [row(i) for i in range(1, 13)]
    rows[10] = row(11, **{column: value})
    with pytest.raises(IntakeRejected) as caught:
        load(database, rows, chunk_size=4)  # the first chunks were written, then rolled back
    assert caught.value.code == "INTAKE_REJECTED"
    assert [(p.line, p.column) for p in caught.value.problems] == [(12, column)]
    assert set(counts(database).values()) == {0}


def test_a_rejected_update_leaves_the_earlier_import_intact(database: Database) -> None:
    load(database, [row(1), row(2)])
    before = counts(database)
    with pytest.raises(IntakeRejected):
        load(database, [row(1, Address="変更"), row(2, Birthdate="x")])
    assert counts(database) == before
    with database.transaction() as s:
        assert (
            s.scalar(
                select(t.Qualification.version).where(
                    t.Qualification.InsuredIdentificationNumber == "5001"
                )
            )
            == 1
        )


def test_individual_id_links_qualifications_across_insurers(database: Database) -> None:
    rows = [
        row(1, IndividualId="person-1", DisqualificationDate="20240401", ReasonOfLoss="03"),
        row(
            2,
            IndividualId="person-1",
            InsurerNumber="06139999",
            InsurerName="さくら電機健康保険組合",
            QualificationDate="20240401",
        ),
        row(3, IndividualId="person-2"),
        row(4),
    ]
    load(database, rows)
    with database.transaction() as s:
        q = {
            x.InsuredIdentificationNumber: x.individual_id
            for x in s.scalars(select(t.Qualification))
        }
        people = {
            r.id: r.external_id
            for r in s.execute(select(t.Individual.id, t.Individual.external_id))
        }
    assert q["5001"] == q["5002"]
    assert len({q["5001"], q["5003"], q["5004"]}) == 3
    assert people[q["5001"]] == "person-1" and people[q["5004"]] is None
    # A later file naming the same person under a third insurer joins them too.
    load(database, [row(9, IndividualId="person-1", InsurerNumber="31131234", InsurerName="共済")])
    with database.transaction() as s:
        third = s.scalar(
            select(t.Qualification.individual_id).where(
                t.Qualification.InsuredIdentificationNumber == "5009"
            )
        )
    assert third == q["5001"]


def test_a_row_without_individual_id_keeps_its_individual(database: Database) -> None:
    load(database, [row(1)])
    load(database, [row(1, Address="変更後")])
    load(database, [row(1, Address="変更後", IndividualId="named-later")])
    stored = counts(database)
    assert stored["individual"] == 1  # adopted the id rather than splitting the person
    with database.transaction() as s:
        assert s.scalar(select(t.Individual.external_id)) == "named-later"


def test_limit_certificate_columns(database: Database) -> None:
    limit = {
        "LimitApplicationCertificateClassification": "01",
        "LimitApplicationCertificateClassificationFlag": "A03",
        "LimitApplicationCertificateValidStartDate": "20250401",
        "LimitApplicationCertificateValidEndDate": "20260331",
    }
    assert load(database, [row(1, **limit), row(2)]).limit_certificates == 1
    assert load(database, [row(1, **limit), row(2)]) == ImportCounts(unchanged=2)
    assert counts(database)["limit_application_certificate"] == 1


def test_bom_and_kana_forms_store_the_same(database: Database) -> None:
    data = csv_bytes([row(1, NameKana="やまだ　たろう")], bom=True)
    import_insured(database, io.BytesIO(data))
    with database.transaction() as s:
        assert s.scalar(select(t.Qualification.NameKana)) == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert load(database, [row(1)]) == ImportCounts(unchanged=1)
