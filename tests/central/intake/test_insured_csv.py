"""The insured CSV parser alone: every problem found, with its line and column."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from onshi.central.intake.insured_csv import RECORD, parse_insured

from .support import BASE, HEADER, csv_bytes, row


def parse(data: bytes):  # type: ignore[no-untyped-def]
    return parse_insured(io.BytesIO(data))


def test_valid_rows_become_typed_records() -> None:
    records, problems = parse(csv_bytes([row(1), row(2, InsuredBranchNumber="")]))
    assert problems == []
    first, second = records
    assert first.line == 2 and second.line == 3
    assert first.Birthdate == dt.date(1980, 1, 15)
    assert first.PostNumber == "160-0001"
    assert first.DisqualificationDate is None and first.ReasonOfLoss is None
    assert second.InsuredBranchNumber == ""
    assert len(first.digest) == 64 and first.digest != second.digest


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("InsurerNumber", "0113001", "8 digits"),
        ("InsurerNumber", "0113001X", "8 digits"),
        ("InsuredBranchNumber", "123", "2 digits"),
        ("InsuredPartialContributionRatio", "30", "3 digits"),
        ("InsuredPartialContributionRatio", "130", "more than 100"),
        ("Birthdate", "19800230", "not a calendar date"),
        ("Birthdate", "1980-01-15", "YYYYMMDD"),
        ("QualificationDate", "", "is required"),
        ("Sex1", "4", "not a Sex code"),
        ("PersonalFamilyClassification", "3", "PersonalFamilyClassification code"),
        ("InsuredCardClassification", "08", "InsuredCardClassification code"),
        ("ReasonOfLoss", "05", "ReasonOfLoss code"),
        ("NameKana", "山田", "kana"),
        ("Name", "", "is required"),
        ("PostNumber", "16000", "postal code"),
        ("IndividualId", "123456789012", "My Number"),
        ("IndividualId", "has space", "letters, digits"),
        ("InsuredIdentificationNumber", "12 34", "spaces"),
    ],
)
def test_each_bad_field_is_reported_on_its_line_and_column(
    column: str, value: str, reason: str
) -> None:
    records, problems = parse(csv_bytes([row(1), row(2, **{column: value}), row(3)]))
    assert [(p.line, p.column) for p in problems] == [(3, column)]
    assert reason in problems[0].reason
    assert [r.line for r in records] == [2, 4]


def test_personal_values_are_never_echoed() -> None:
    secret = "ヤマダ秘密"
    _, problems = parse(
        csv_bytes([row(1, NameKana=secret, InsuredIdentificationNumber=secret + " 1" * 30)])
    )
    assert problems
    assert all(secret not in p.reason for p in problems)


def test_every_problem_of_every_line_is_listed() -> None:
    rows = [row(1, Sex1="9", Birthdate="20231301"), row(2), row(3, InsurerNumber="12")]
    _, problems = parse(csv_bytes(rows))
    assert [(p.line, p.column) for p in problems] == [
        (2, "Sex1"),
        (2, "Birthdate"),
        (4, "InsurerNumber"),
    ]


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"DisqualificationDate": "20200401"}, "DisqualificationDate", "after QualificationDate"),
        ({"DisqualificationDate": "20190101"}, "DisqualificationDate", "after QualificationDate"),
        ({"ReasonOfLoss": "01"}, "ReasonOfLoss", "without a DisqualificationDate"),
        ({"QualificationDate": "19791231"}, "QualificationDate", "before Birthdate"),
        (
            {
                "ElderlyRecipientValidStartDate": "20250101",
                "ElderlyRecipientValidEndDate": "20240101",
            },
            "ElderlyRecipientValidEndDate",
            "before ElderlyRecipientValidStartDate",
        ),
        (
            {
                "LimitApplicationCertificateClassificationFlag": "A01",
                "LimitApplicationCertificateValidStartDate": "20250101",
            },
            "LimitApplicationCertificateClassification",
            "required when a limit certificate",
        ),
    ],
)
def test_rules_across_fields(changes: dict[str, str], column: str, reason: str) -> None:
    _, problems = parse(csv_bytes([row(1, **changes)]))
    assert [(p.line, p.column) for p in problems] == [(2, column)]
    assert reason in problems[0].reason


def test_a_lost_qualification_with_its_reason_is_fine() -> None:
    records, problems = parse(
        csv_bytes([row(1, DisqualificationDate="20240401", ReasonOfLoss="03")])
    )
    assert problems == []
    assert records[0].DisqualificationDate == dt.date(2024, 4, 1)


def test_duplicate_card_key_in_one_file() -> None:
    _, problems = parse(csv_bytes([row(1), row(2), row(1)]))
    assert [(p.line, p.column) for p in problems] == [(4, "InsuredIdentificationNumber")]
    assert "line 2" in problems[0].reason


def test_one_insurer_number_with_two_names() -> None:
    _, problems = parse(csv_bytes([row(1), row(2, InsurerName="別の名前")]))
    assert [(p.line, p.column) for p in problems] == [(3, "InsurerName")]


def test_header_problems_stop_before_rows() -> None:
    header = [c for c in HEADER if c != "Sex1"] + ["Nickname", "Name"]
    _, problems = parse(csv_bytes([row(1)], header))
    assert {(p.line, p.column) for p in problems} == {(1, "Sex1"), (1, "Nickname"), (1, "Name")}
    reasons = {p.column: p.reason for p in problems}
    assert (
        "missing" in reasons["Sex1"]
        and "unknown" in reasons["Nickname"]
        and "twice" in reasons["Name"]
    )


def test_empty_file_and_wrong_field_counts() -> None:
    _, problems = parse(b"")
    assert problems[0].line == 1 and "empty" in problems[0].reason
    lines = csv_bytes([row(1), row(2)]).decode().splitlines()
    lines[2] += ",extra"
    _, problems = parse(("\n".join(lines) + "\n").encode())
    assert [(p.line, p.column) for p in problems] == [(3, RECORD)]
    assert "fields" in problems[0].reason


def test_malformed_quoting_is_reported_with_its_line() -> None:
    text = csv_bytes([row(1)]).decode() + '01130012,"unterminated,x\n'
    text += "\n".join(["a"] * 3)
    _, problems = parse(text.encode())
    assert problems and problems[-1].column == RECORD


def test_quoted_newlines_keep_physical_line_numbers() -> None:
    rows = [row(1, Address="東京都\n新宿区"), row(2, Sex1="x")]
    _, problems = parse(csv_bytes(rows))
    # The record spanning lines 2–3 is named by its first line; the next one starts on line 4.
    assert [(p.line, p.column) for p in problems] == [(2, "Address"), (4, "Sex1")]
    assert "control characters" in problems[0].reason


def test_bom_is_tolerated() -> None:
    records, problems = parse(csv_bytes([row(1)], bom=True))
    assert problems == [] and records[0].InsurerNumber == BASE["InsurerNumber"]


def test_shift_jis_bytes_are_refused_with_line_and_column() -> None:
    good = csv_bytes([row(1)])
    bad_line = ",".join(row(2).values()).encode("cp932") + b"\n"
    _, problems = parse(good + bad_line)
    assert problems
    assert all(p.line == 3 for p in problems)
    assert {p.column for p in problems} >= {"Name"}
    assert all("UTF-8" in p.reason for p in problems)


def test_a_whole_shift_jis_file_names_the_header() -> None:
    data = csv_bytes([row(1)]).decode().replace("InsurerNumber", "保険者番号", 1).encode("cp932")
    _, problems = parse(data)
    assert problems[0].line == 1 and "UTF-8" in problems[0].reason


@pytest.mark.parametrize(
    "written", ["やまだ　たろう", "ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ", " ヤマダ  タロウ "]
)
def test_kana_is_normalised_to_half_width_katakana(written: str) -> None:
    records, problems = parse(csv_bytes([row(1, NameKana=written)]))
    assert problems == []
    assert records[0].NameKana == "ﾔﾏﾀﾞ ﾀﾛｳ"


def test_normalised_forms_have_the_same_digest() -> None:
    (a,), _ = parse(csv_bytes([row(1, NameKana="やまだ たろう", InsurerNumber="  123456")]))
    (b,), _ = parse(csv_bytes([row(1, NameKana="ﾔﾏﾀﾞ ﾀﾛｳ", InsurerNumber="00123456")]))
    assert a.InsurerNumber == b.InsurerNumber == "123456"
    assert a.digest == b.digest


def test_full_width_digits_in_symbol_and_number() -> None:
    (record,), problems = parse(
        csv_bytes([row(1, InsuredCardSymbol="１２３", InsuredIdentificationNumber="４５")])
    )
    assert problems == []
    assert (record.InsuredCardSymbol, record.InsuredIdentificationNumber) == ("123", "45")


@pytest.mark.parametrize("birthdate", ["19800230", "1980-01-15", "18500115", "1980011５"])
def test_a_bad_birthdate_is_not_echoed(birthdate: str) -> None:
    """A birthdate is personal data, wrong or not (other dates, which identify nobody, are)."""
    _, problems = parse(csv_bytes([row(1, Birthdate=birthdate, QualificationDate="19991301")]))
    reasons = {p.column: p.reason for p in problems}
    assert set(reasons) == {"Birthdate", "QualificationDate"}
    assert "1980" not in reasons["Birthdate"] and "1850" not in reasons["Birthdate"]
    assert "date" in reasons["Birthdate"] or "1870" in reasons["Birthdate"]
    assert "19991301" in reasons["QualificationDate"]  # quoted: it helps, and names nobody
