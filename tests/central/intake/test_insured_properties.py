"""Property tests of the insured CSV parser: round trips, and any corrupted field is pinpointed."""

from __future__ import annotations

import datetime as dt
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onshi.central.intake.insured_csv import parse_insured

from .support import csv_bytes, row

KANA = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟｰ"
NAME_CHARS = st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters='\ufffd"'
)
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2099, 12, 31))


@st.composite
def valid_rows(draw: st.DrawFn, number: int) -> dict[str, str]:
    birth = draw(dates)
    start = draw(st.dates(min_value=birth, max_value=dt.date(2099, 12, 30)))
    lost = draw(st.booleans())
    values = row(
        number,
        InsurerNumber=draw(
            st.sampled_from(["01130012", "06139999", "138057", "39131016", "31131234"])
        ),
        InsuredCardSymbol=draw(st.text(st.sampled_from("0123456789ABC記号"), max_size=8)),
        InsuredBranchNumber=draw(st.sampled_from(["", "00", "01", "02", "10"])),
        PersonalFamilyClassification=draw(st.sampled_from(["", "1", "2"])),
        Name=draw(st.text(NAME_CHARS, min_size=1, max_size=30).filter(lambda s: s.strip())),
        NameKana=draw(st.text(st.sampled_from(KANA), min_size=1, max_size=20)),
        Sex1=draw(st.sampled_from("123")),
        Birthdate=birth.strftime("%Y%m%d"),
        InsuredCardClassification=draw(st.sampled_from(["01", "02", "03", "04", "05", "06", "07"])),
        InsuredPartialContributionRatio=draw(st.sampled_from(["", "010", "020", "030", "000"])),
        QualificationDate=start.strftime("%Y%m%d"),
        IndividualId=draw(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)),
    )
    if lost:
        end = draw(st.dates(min_value=start + dt.timedelta(days=1), max_value=dt.date(2100, 1, 1)))
        values["DisqualificationDate"] = end.strftime("%Y%m%d")
        values["ReasonOfLoss"] = draw(st.sampled_from(["", "01", "02", "03", "99"]))
    return values


@st.composite
def files(draw: st.DrawFn) -> list[dict[str, str]]:
    count = draw(st.integers(1, 6))
    return [draw(valid_rows(i)) for i in range(count)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files())
def test_valid_rows_round_trip(rows: list[dict[str, str]]) -> None:
    records, problems = parse_insured(io.BytesIO(csv_bytes(rows)))
    assert problems == []
    assert len(records) == len(rows)
    for written, record in zip(rows, records, strict=True):
        assert record.Birthdate.strftime("%Y%m%d") == written["Birthdate"]
        assert record.Name == written["Name"].strip()
        assert record.NameKana == " ".join(written["NameKana"].split())
        assert record.InsuredBranchNumber == written["InsuredBranchNumber"]
        assert record.IndividualId == written["IndividualId"]
        assert (record.ReasonOfLoss or "") == written.get("ReasonOfLoss", "")
    # The same file again gives the same digests: the basis of idempotent re-import.
    again, _ = parse_insured(io.BytesIO(csv_bytes(rows)))
    assert [r.digest for r in again] == [r.digest for r in records]


CORRUPTIONS = {
    "InsurerNumber": st.sampled_from(["1234567", "123456789", "12345X78", "abc"]),
    "InsuredBranchNumber": st.sampled_from(["123", "x", "1a"]),
    "Sex1": st.sampled_from(["0", "4", "M", "11"]),
    "Birthdate": st.sampled_from(["19990229", "20001301", "2000011", "20000100", "yyyymmdd"]),
    "QualificationDate": st.sampled_from(["20230230", "2023-01-01", ""]),
    "InsuredCardClassification": st.sampled_from(["00", "08", "1", "99"]),
    "InsuredPartialContributionRatio": st.sampled_from(["30", "0300", "1x0", "200"]),
    "PersonalFamilyClassification": st.sampled_from(["0", "3", "本人"]),
    "NameKana": st.sampled_from(["山田", "ABC!", "ﾔﾏﾀﾞ1"]),
    "PostNumber": st.sampled_from(["12-34567", "1234", "abc-defg"]),
    "InsuredIdentificationNumber": st.sampled_from(["", "1 2", "x" * 39]),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files(), st.data())
def test_any_single_corrupted_field_is_reported_on_its_line_and_column(
    rows: list[dict[str, str]], data: st.DataObject
) -> None:
    target = data.draw(st.integers(0, len(rows) - 1))
    column = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    rows[target][column] = data.draw(CORRUPTIONS[column])
    records, problems = parse_insured(io.BytesIO(csv_bytes(rows)))
    assert [(p.line, p.column) for p in problems] == [(target + 2, column)]
    assert len(records) == len(rows) - 1
