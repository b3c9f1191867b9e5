"""The insured-persons CSV (被保険者情報): parsed and validated, with no database in sight.

One header row names the columns by OQS element names; every later record is one qualification
(資格) of one person under one insurer. Parsing never stops at the first problem: it collects a
:class:`RowProblem` for every bad field so the insurer fixes the file in one round. ``line`` is the
physical line where the record starts (the header is line 1), which is what an editor shows.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, NamedTuple

from onshi.central.errors import RowProblem
from onshi.central.intake import fields
from onshi.central.intake.fields import FieldInvalid
from onshi.central.intake.lines import NOT_UTF8, TextLines
from onshi.oqs import codes

RECORD = "(record)"  # the column of a problem that concerns the whole record


class InsuredRecord(NamedTuple):
    """One validated qualification row, values normalised (kana half-width, 6-digit 国保 numbers…)."""

    InsurerNumber: str
    InsuredCardSymbol: str
    InsuredIdentificationNumber: str
    InsuredBranchNumber: str  # '' when the insurer gives none
    PersonalFamilyClassification: str | None
    InsuredName: str | None
    Name: str
    NameKana: str
    Sex1: str
    Birthdate: dt.date
    Address: str | None
    PostNumber: str | None
    InsuredCardClassification: str
    InsuredCertificateIssuanceDate: dt.date | None
    InsuredCardValidDate: dt.date | None
    InsuredCardExpirationDate: dt.date | None
    InsuredPartialContributionRatio: str | None
    QualificationDate: dt.date
    DisqualificationDate: dt.date | None
    ReasonOfLoss: str | None
    ElderlyRecipientCertificateDate: dt.date | None
    ElderlyRecipientValidStartDate: dt.date | None
    ElderlyRecipientValidEndDate: dt.date | None
    ElderlyRecipientContributionRatio: str | None
    IndividualId: str | None
    InsurerName: str
    LimitApplicationCertificateClassification: str | None
    LimitApplicationCertificateClassificationFlag: str | None
    LimitApplicationCertificateDate: dt.date | None
    LimitApplicationCertificateValidStartDate: dt.date | None
    LimitApplicationCertificateValidEndDate: dt.date | None
    LimitApplicationCertificateLongTermDate: dt.date | None
    line: int
    digest: str  # SHA-256 of the qualification's content: equal digests, nothing to update

    @property
    def card_key(self) -> tuple[str, str, str, str]:
        return self[0], self[1], self[2], self[3]

    @property
    def has_limit_certificate(self) -> bool:
        return self.LimitApplicationCertificateClassification is not None


COLUMNS: tuple[str, ...] = InsuredRecord._fields[:-2]
QUALIFICATION_COLUMNS: tuple[str, ...] = COLUMNS[:24]  # stored in ``qualification`` as they are
DIGESTED = 25  # the qualification columns and IndividualId make the content digest
ELDERLY_COLUMNS = COLUMNS[20:24]
LIMIT_COLUMNS = COLUMNS[26:32]
# Places in a record, and in a row made of its values (the stores' prepared rows), beyond the
# qualification's columns.
INDIVIDUAL_ID, INSURER_NAME, LIMIT_FIRST, DIGEST = (
    InsuredRecord._fields.index(name)
    for name in ("IndividualId", "InsurerName", LIMIT_COLUMNS[0], "digest")
)

REQUIRED_COLUMNS = frozenset(COLUMNS[:20]) | {"InsurerName"}
REQUIRED_VALUES = frozenset(
    {
        "InsurerNumber",
        "InsurerName",
        "InsuredIdentificationNumber",
        "Name",
        "NameKana",
        "Sex1",
        "Birthdate",
        "InsuredCardClassification",
        "QualificationDate",
    }
)
KEEP_EMPTY = frozenset({"InsuredCardSymbol", "InsuredBranchNumber"})  # '' rather than NULL
# Dates whose refusal must not quote the value: a birthdate is personal data, even a wrong one
# (fields.date quotes what it refuses, which helps with the other dates and names nobody).
UNQUOTED = frozenset({"Birthdate"})


def _without_value(reason: str) -> str:
    """``is not a calendar date: '19800230'`` → ``is not a calendar date``."""
    return reason.split(", got ", 1)[0].split(": ", 1)[0]


def _insurer_number(raw: str) -> str:
    """保険者番号: 8 digits, or 6 for 国保; ``00123456`` and ``  123456`` mean ``123456``."""
    value = raw.strip()
    if len(value) == 8 and value.startswith("00"):
        value = value[2:]
    if not (value.isascii() and value.isdigit() and len(value) in (6, 8)):
        raise FieldInvalid("must be 8 digits, or 6 for 国民健康保険")
    return value


def _card_symbol(raw: str) -> str:
    """記号: printed on the card, so no control character (a NUL cannot even be stored in
    PostgreSQL text). Spaces are kept: some symbols have them."""
    value = fields.nfkc(raw).strip()
    if len(value) > 38:
        raise FieldInvalid("is longer than 38 characters")
    if not value.isprintable() and fields.CONTROL.search(value):  # isprintable: the quick look
        raise FieldInvalid("contains control characters")
    return value


def _identification_number(raw: str) -> str:
    value = fields.nfkc(raw).strip()
    if not value:
        raise FieldInvalid("is required")
    if len(value) > 38:
        raise FieldInvalid("is longer than 38 characters")
    if fields.INVISIBLE.search(value):
        raise FieldInvalid("contains spaces or control characters")
    return value


def _branch_number(raw: str) -> str:
    value = fields.nfkc(raw).strip()
    if len(value) == 1:
        value = "0" + value
    if not (len(value) == 2 and value.isascii() and value.isdigit()):
        raise FieldInvalid("must be 2 digits")
    return value


_OPAQUE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _individual_id(raw: str) -> str:
    """An opaque person id chosen by the insurers; never a My Number (12 digits are refused)."""
    value = raw.strip()
    if not _OPAQUE.fullmatch(value):
        raise FieldInvalid("must be 1–64 letters, digits or . _ : -")
    if len(value) == 12 and value.isdigit():
        raise FieldInvalid("looks like a My Number (12 digits): use an opaque identifier")
    return value


_three_digits = fields.digits(3, ' like "030" (30 %)')


def _ratio(raw: str) -> str:
    value = _three_digits(raw)
    if int(value) > 100:
        raise FieldInvalid(f"{value!r} is more than 100 %")
    return value


CHECKS: dict[str, Callable[[str], object]] = {
    "InsurerNumber": _insurer_number,
    "InsuredCardSymbol": _card_symbol,
    "InsuredIdentificationNumber": _identification_number,
    "InsuredBranchNumber": _branch_number,
    "PersonalFamilyClassification": fields.code(
        codes.PersonalFamilyClassification, "PersonalFamilyClassification"
    ),
    "InsuredName": fields.text(100, personal=True),
    "Name": fields.text(100, personal=True),
    "NameKana": fields.kana,
    "Sex1": fields.code(codes.Sex, "Sex"),
    "Birthdate": fields.date,
    "Address": fields.text(200, personal=True),
    "PostNumber": fields.post_number,
    "InsuredCardClassification": fields.code(
        codes.InsuredCardClassification, "InsuredCardClassification"
    ),
    "InsuredCertificateIssuanceDate": fields.date,
    "InsuredCardValidDate": fields.date,
    "InsuredCardExpirationDate": fields.date,
    "InsuredPartialContributionRatio": _ratio,
    "QualificationDate": fields.date,
    "DisqualificationDate": fields.date,
    "ReasonOfLoss": fields.code(codes.ReasonOfLoss, "ReasonOfLoss"),
    "ElderlyRecipientCertificateDate": fields.date,
    "ElderlyRecipientValidStartDate": fields.date,
    "ElderlyRecipientValidEndDate": fields.date,
    "ElderlyRecipientContributionRatio": _ratio,
    "IndividualId": _individual_id,
    "InsurerName": fields.text(200, personal=False),
    "LimitApplicationCertificateClassification": fields.code(
        codes.LimitApplicationCertificateClassification, "LimitApplicationCertificateClassification"
    ),
    "LimitApplicationCertificateClassificationFlag": fields.code(
        codes.LimitApplicationCertificateClassificationFlag,
        "LimitApplicationCertificateClassificationFlag",
    ),
    "LimitApplicationCertificateDate": fields.date,
    "LimitApplicationCertificateValidStartDate": fields.date,
    "LimitApplicationCertificateValidEndDate": fields.date,
    "LimitApplicationCertificateLongTermDate": fields.date,
}
assert tuple(CHECKS) == COLUMNS


def content_digest(values: tuple[object, ...] | list[object]) -> str:
    """SHA-256 over the normalised qualification values, so formatting differences do not count."""
    # Optional values are None, never '': writing None as '' is unambiguous.
    text = "\x1f".join(["" if v is None else str(v) for v in values[:DIGESTED]])
    return hashlib.sha256(text.encode()).hexdigest()


class InsuredCsv:
    """Parses one insured-persons file; iterate :meth:`records`, then read :attr:`problems`.

    Records are yielded as they are read (a million rows need not sit in memory); a caller that
    stores them must discard its work if ``problems`` is not empty at the end.
    """

    def __init__(self, stream: Iterable[bytes], *, skipped: int = 0) -> None:
        self.lines = TextLines(stream, skipped)
        self.skipped = skipped  # see TextLines: lines numbered as in the whole file
        self.problems: list[RowProblem] = []
        self.header: list[str] = []
        # The checks across records: each card key's line, each InsurerNumber's name and line.
        self.card_keys: dict[tuple[str, str, str, str], int] = {}
        self.insurer_names: dict[str, tuple[str, int]] = {}

    def _problem(self, line: int, column: str, reason: str) -> None:
        self.problems.append(RowProblem(line, column, reason))

    def _read_header(self, reader: Iterator[list[str]]) -> bool:
        row = next(reader, None)
        if row is None:
            self._problem(1, RECORD, "the file is empty: a header row is required")
            return False
        if 1 in self.lines.undecodable:
            self._problem(1, RECORD, f"the header {NOT_UTF8}")
            return False
        self.header = [name.strip() for name in row]
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                self._problem(1, name, "column appears twice in the header")
            elif name not in CHECKS:
                self._problem(1, name or "(empty)", "unknown column (names are OQS element names)")
            seen.add(name)
        for name in COLUMNS:
            if name in REQUIRED_COLUMNS and name not in seen:
                self._problem(1, name, "required column is missing from the header")
        return not self.problems

    def records(self) -> Iterator[InsuredRecord]:
        reader = csv.reader(self.lines, strict=True)
        if not self._read_header(reader):
            return
        width = len(self.header)
        slot_of = {name: i for i, name in enumerate(COLUMNS)}
        plan = [
            (index, slot_of[name], name, CHECKS[name], name in REQUIRED_VALUES)
            for index, name in enumerate(self.header)
        ]
        blank: list[object] = [None] * len(COLUMNS)
        for name in KEEP_EMPTY:
            blank[slot_of[name]] = ""
        # The fast path checks a whole row in one comprehension and reorders it with C-level
        # getters; any doubt (a failed check, a missing required value) falls back to the
        # column-by-column path, which names every problem.
        checks = [CHECKS[name] for name in self.header]
        required = [i for i, name in enumerate(self.header) if name in REQUIRED_VALUES]
        required_of = operator.itemgetter(*required, required[0])  # always a tuple
        position = {name: i for i, name in enumerate(self.header)}
        missing = width  # index of a None appended after the row's own values
        reorder = operator.itemgetter(*(position.get(name, missing) for name in COLUMNS))
        keep_empty = [slot_of[name] for name in KEEP_EMPTY]
        keys, insurer_names = self.card_keys, self.insurer_names
        skipped = self.skipped
        undecodable = self.lines.undecodable
        problem = self._problem
        start = reader.line_num + 1 + skipped
        try:
            for row in reader:
                line, start = start, reader.line_num + 1 + skipped
                if not row:
                    continue
                if len(row) != width:
                    problem(line, RECORD, f"has {len(row)} fields, the header has {width}")
                    continue
                if undecodable and any(n in undecodable for n in range(line, start)):
                    bad = [
                        name for name, raw in zip(self.header, row, strict=True) if "\ufffd" in raw
                    ]
                    for name in bad or [RECORD]:
                        problem(line, name, NOT_UTF8)
                    continue
                try:
                    checked = [
                        check(raw) if raw else None for check, raw in zip(checks, row, strict=True)
                    ]
                except FieldInvalid:
                    checked = None
                if checked is not None and None not in required_of(checked):
                    checked.append(None)
                    values: list[Any] = list(reorder(checked))
                    for slot in keep_empty:
                        if values[slot] is None:
                            values[slot] = ""
                else:
                    slow = self._column_by_column(line, row, plan, blank)
                    if slow is None:
                        continue
                    values = slow
                if not self._consistent(line, values):
                    continue
                key = (values[0], values[1], values[2], values[3])
                first = keys.setdefault(key, line)
                if first != line:
                    problem(line, "InsuredIdentificationNumber", f"same card key as line {first}")
                    continue
                number, name_of_insurer = values[0], values[25]
                known = insurer_names.setdefault(number, (name_of_insurer, line))
                if known[0] != name_of_insurer:
                    problem(
                        line, "InsurerName", f"differs from line {known[1]} for this InsurerNumber"
                    )
                    continue
                values.append(line)
                values.append(content_digest(values))
                yield InsuredRecord._make(values)
        except csv.Error as exc:
            problem(
                reader.line_num + skipped, RECORD, f"malformed CSV: {exc}; reading stopped here"
            )

    def _column_by_column(
        self,
        line: int,
        row: list[str],
        plan: list[tuple[int, int, str, Callable[[str], object], bool]],
        blank: list[object],
    ) -> list[object] | None:
        """Check each field on its own, recording a problem for each bad one; None if any."""
        values = blank.copy()
        ok = True
        for index, slot, name, check, required in plan:
            raw = row[index]
            try:
                if raw:
                    values[slot] = check(raw)
                    continue
            except FieldInvalid as exc:
                if not raw.isspace():  # blank values fail their check: treat as empty
                    said = _without_value(exc.reason) if name in UNQUOTED else exc.reason
                    self._problem(line, name, said)
                    ok = False
                    continue
            if required:
                self._problem(line, name, "is required")
                ok = False
        return values if ok else None

    def _consistent(self, line: int, v: list[object]) -> bool:
        """Rules across fields of one record (dates in order, a reason only with a loss)."""
        before = len(self.problems)
        birth, start, end = v[9], v[17], v[18]
        assert isinstance(birth, dt.date) and isinstance(start, dt.date)
        if start < birth:
            self._problem(line, "QualificationDate", "is before Birthdate")
        if end is not None and end <= start:  # type: ignore[operator]
            self._problem(line, "DisqualificationDate", "must be after QualificationDate")
        if v[19] is not None and end is None:
            self._problem(line, "ReasonOfLoss", "is given without a DisqualificationDate")
        self._ordered(line, v, 21, 22)
        if any(v[i] is not None for i in range(26, 32)):
            for i in (26, 27, 29):
                if v[i] is None:
                    self._problem(line, COLUMNS[i], "is required when a limit certificate is given")
            self._ordered(line, v, 29, 30)
        return len(self.problems) == before

    def _ordered(self, line: int, v: list[object], first: int, last: int) -> None:
        a, b = v[first], v[last]
        if a is not None and b is not None and b < a:  # type: ignore[operator]
            self._problem(line, COLUMNS[last], f"is before {COLUMNS[first]}")


def parse_insured(stream: BinaryIO) -> tuple[list[InsuredRecord], list[RowProblem]]:
    """Everything at once, for tests and small files."""
    parsed = InsuredCsv(stream)
    records = list(parsed.records())
    return records, parsed.problems
