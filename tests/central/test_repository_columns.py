"""Every column of a qualification row reaches its own field of the domain value, by each of the
lookups that build them (the row is read as a tuple, by position)."""

from __future__ import annotations

import datetime as dt

from onshi.central.domain.qualification import (
    CardKey,
    ElderlyRecipientCertificate,
    Qualification,
)
from onshi.central.storage import repository
from onshi.central.storage.database import Database
from tests.central import factories

# Each value distinct from every other one of its type: two fields swapped would show.
ROW = {
    "InsurerNumber": "39131234",
    "InsuredCardSymbol": "記号-7",
    "InsuredIdentificationNumber": "番号 88",
    "InsuredBranchNumber": "03",
    "PersonalFamilyClassification": "2",
    "InsuredName": "被保険者　花子",
    "Name": "診療　次郎",
    "NameKana": "ｼﾝﾘｮｳ ｼﾞﾛｳ",
    "Sex1": "1",
    "Birthdate": dt.date(1950, 1, 2),
    "Address": "東京都千代田区1-1",
    "PostNumber": "100-0001",
    "InsuredCardClassification": "39",
    "InsuredCertificateIssuanceDate": dt.date(2019, 3, 4),
    "InsuredCardValidDate": dt.date(2019, 5, 6),
    "InsuredCardExpirationDate": dt.date(2031, 7, 8),
    "InsuredPartialContributionRatio": "010",
    "QualificationDate": dt.date(2019, 9, 10),
    "DisqualificationDate": dt.date(2030, 11, 12),
    "ReasonOfLoss": "05",
    "ElderlyRecipientCertificateDate": dt.date(2020, 1, 13),
    "ElderlyRecipientValidStartDate": dt.date(2020, 2, 14),
    "ElderlyRecipientValidEndDate": dt.date(2028, 3, 15),
    "ElderlyRecipientContributionRatio": "020",
}


def test_each_column_reaches_its_field(database: Database) -> None:
    with database.transaction() as s:
        factories.insurer(s, ROW["InsurerNumber"], "後期高齢者医療広域連合")
        stored = factories.qualification(s, **ROW)
        qualification_id, individual_id = stored.id, stored.individual_id
    expected = Qualification(
        qualification_id=qualification_id,
        individual_id=individual_id,
        key=CardKey("39131234", "記号-7", "番号 88", "03"),
        insurer_name="後期高齢者医療広域連合",
        birthdate=dt.date(1950, 1, 2),
        name="診療　次郎",
        name_kana="ｼﾝﾘｮｳ ｼﾞﾛｳ",
        sex1="1",
        qualification_date=dt.date(2019, 9, 10),
        disqualification_date=dt.date(2030, 11, 12),
        reason_of_loss="05",
        insured_name="被保険者　花子",
        personal_family_classification="2",
        address="東京都千代田区1-1",
        post_number="100-0001",
        insured_card_classification="39",
        insured_certificate_issuance_date=dt.date(2019, 3, 4),
        insured_card_valid_date=dt.date(2019, 5, 6),
        insured_card_expiration_date=dt.date(2031, 7, 8),
        insured_partial_contribution_ratio="010",
        elderly=ElderlyRecipientCertificate(
            dt.date(2020, 1, 13), dt.date(2020, 2, 14), dt.date(2028, 3, 15), "020"
        ),
    )
    with database.lookups() as c:
        assert repository.find_by_card_key(c, expected.key) == [expected]
        assert repository.find_by_card_key(c, CardKey("39131234", "記号-7", "番号 88", None)) == [
            expected
        ]
        assert repository.holdings_of_card_keys(
            c, [("39131234", "記号-7", "番号 88", "03"), ("39131234", "記号-7", "x", None)]
        ) == [expected]
        assert repository.held_by(c, [individual_id]) == [expected]


def test_no_elderly_certificate_and_no_branch(database: Database) -> None:
    with database.transaction() as s:
        stored = factories.qualification(s, InsuredBranchNumber="")
    with database.lookups() as c:
        [found] = repository.held_by(c, [stored.individual_id])
    assert found.elderly is None
    assert found.key.insured_branch_number is None
    assert found.insured_name is None and found.disqualification_date is None


def test_held_by_several_individuals(database: Database) -> None:
    with database.transaction() as s:
        people = [factories.individual(s) for _ in range(3)]
        ids = {
            person: [
                factories.qualification(
                    s, individual_id=person, InsuredIdentificationNumber=f"{person}-{n}"
                ).id
                for n in range(2)
            ]
            for person in people
        }
    with database.lookups() as c:
        found = repository.held_by(c, [people[2], people[0], people[2]])
        assert repository.held_by(c, []) == []
        assert repository.held_by(c, [max(people) + 1000]) == []
    assert sorted(q.qualification_id for q in found) == sorted(ids[people[0]] + ids[people[2]])
    assert {q.individual_id for q in found} == {people[0], people[2]}
