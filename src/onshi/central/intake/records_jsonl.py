"""JSON Lines intake of what hangs off a person: drug history (薬剤情報), 診療情報 (diagnoses and
operations), checkups (特定健診),
limit certificates (限度額適用認定証), specific-disease certificates (特定疾病療養受療証) and
My Number card links.

One JSON object per line, keys are OQS element names; every record names its person by card key
(InsurerNumber, InsuredCardSymbol, InsuredIdentificationNumber, InsuredBranchNumber). Parsing is
pure and collects every problem with its line and key, like the insured CSV.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from onshi.central.errors import RowProblem
from onshi.central.intake import fields
from onshi.central.intake.fields import FieldInvalid
from onshi.central.intake.insured_csv import CHECKS, RECORD
from onshi.central.intake.lines import NOT_UTF8, TextLines
from onshi.oqs import codes

KEY_FIELDS = (
    "InsurerNumber",
    "InsuredCardSymbol",
    "InsuredIdentificationNumber",
    "InsuredBranchNumber",
)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    check: Callable[[str], object]
    required: bool = False
    number: bool = False  # a JSON number is the natural form (SpecificDiseasesSelfPay)


@dataclass(frozen=True, slots=True)
class Kind:
    """One JSON Lines format: its fields, its table, and what its rows hang off."""

    name: str
    table: str
    owner: str  # "individual" or "qualification": the id column the rows carry
    fields: tuple[Field, ...]
    ordered: tuple[tuple[str, str], ...] = ()  # (earlier, later) date pairs
    constants: tuple[tuple[str, str], ...] = ()  # columns every row of this kind has

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


class LinkedRecord(NamedTuple):
    """One valid line: where it was, whose it is, and its values in ``Kind.columns`` order."""

    line: int
    card_key: tuple[str, str, str, str]
    values: tuple[Any, ...]


def _self_pay(raw: str) -> int:
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > 1_000_000:
        raise FieldInvalid("must be a whole number of yen from 0 to 1000000")
    return int(value)


def _hex(length: int | None, what: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = raw.strip().lower().removeprefix("0x")
        if not value or any(c not in "0123456789abcdef" for c in value):
            raise FieldInvalid(f"must be {what} in hexadecimal")
        if length is not None and len(value) != length:
            raise FieldInvalid(f"must be {length} hexadecimal digits")
        if length is None and len(value) > 64:
            raise FieldInvalid("is longer than 64 hexadecimal digits")
        return value.lstrip("0") or "0" if length is None else value

    return check


def _text(n: int) -> Callable[[str], str]:
    return fields.text(n, personal=False)


def _digits(n: int, what: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = raw.strip()
        if len(value) > n or not (value.isascii() and value.isdigit()):
            raise FieldInvalid(f"must be {what} ({n} digits at most)")
        return value

    return check


def _one_of(allowed: str, what: str) -> Callable[[str], str]:
    def check(raw: str) -> str:
        value = raw.strip()
        if value not in allowed.split():
            raise FieldInvalid(f"must be {what}")
        return value

    return check


# The institutions of a drug line (調剤・処方機関), as OQSDrug2 reads them on MeTrMonthInf.
INSTITUTION_FIELDS = (
    Field("DiOrg", _one_of("1 2", "1 (医療機関) or 2 (薬局)")),
    Field("MeTrDiHCd", _digits(10, "a medical institution code")),
    Field("MeTrDiHNm", _text(200)),
    Field("PrlsHCd", _digits(10, "a medical institution code")),
    Field("PrlsHNm", _text(200)),
    Field("InOut", _one_of("1 2", "1 (院内) or 2 (院外)")),
)
TREATMENT_FIELDS = (
    Field("DiDate", fields.date, True),
    Field("MeTrDiHCd", _digits(10, "a medical institution code")),
    Field("MeTrDiHNm", _text(200)),
    Field("SinInfN", _text(200), True),
    Field("SinInfCd", _text(20)),
    Field("MeTrIdCl", _digits(2, "a 診療識別 code")),
    Field("Qua1", _text(20)),
    Field("Times", _text(20)),
    Field("Unit", _text(20)),
)


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "drug",
            "drug_dispensing",
            "individual",
            (
                Field("DiDate", fields.date, True),
                Field("PrDate", fields.date),
                Field("DrugC", _text(20), True),
                Field("DrugN", _text(200), True),
                Field("IngreN", _text(200)),
                Field("Qua1", _text(20), True),
                Field("Unit", _text(20)),
                Field("UsageN", _text(200)),
                Field("Times", _text(20)),
                *INSTITUTION_FIELDS,
            ),
            (("PrDate", "DiDate"),),
        ),
        Kind(
            "diagnosis",
            "medical_treatment",
            "individual",
            TREATMENT_FIELDS,
            constants=(("category", "diagnosis"),),
        ),
        Kind(
            "operation",
            "medical_treatment",
            "individual",
            TREATMENT_FIELDS,
            constants=(("category", "operation"),),
        ),
        Kind(
            "checkup",
            "checkup_result",
            "individual",
            (
                Field("EffectiveTime", fields.date, True),
                Field("ItemCode", _text(20), True),
                Field("ItemName", _text(200), True),
                Field("DataType", _text(10)),
                Field("DataValue", _text(100)),
                Field("Unit", _text(20)),
                Field("Oid", _text(100)),
                Field("DataValueName", _text(200)),
            ),
        ),
        Kind(
            "limit",
            "limit_application_certificate",
            "qualification",
            (
                Field(
                    "LimitApplicationCertificateClassification",
                    fields.code(
                        codes.LimitApplicationCertificateClassification,
                        "LimitApplicationCertificateClassification",
                    ),
                    True,
                ),
                Field(
                    "LimitApplicationCertificateClassificationFlag",
                    fields.code(
                        codes.LimitApplicationCertificateClassificationFlag,
                        "LimitApplicationCertificateClassificationFlag",
                    ),
                    True,
                ),
                Field("LimitApplicationCertificateDate", fields.date),
                Field("LimitApplicationCertificateValidStartDate", fields.date, True),
                Field("LimitApplicationCertificateValidEndDate", fields.date),
                Field("LimitApplicationCertificateLongTermDate", fields.date),
            ),
            (
                (
                    "LimitApplicationCertificateValidStartDate",
                    "LimitApplicationCertificateValidEndDate",
                ),
            ),
        ),
        Kind(
            "specific-disease",
            "specific_diseases_certificate",
            "qualification",
            (
                Field(
                    "SpecificDiseasesDiseaseCategory",
                    fields.code(
                        codes.SpecificDiseasesDiseaseCategory, "SpecificDiseasesDiseaseCategory"
                    ),
                    True,
                ),
                Field("SpecificDiseasesCertificateDate", fields.date),
                Field("SpecificDiseasesValidStartDate", fields.date, True),
                Field("SpecificDiseasesValidEndDate", fields.date),
                Field("SpecificDiseasesSelfPay", _self_pay, number=True),
            ),
            (("SpecificDiseasesValidStartDate", "SpecificDiseasesValidEndDate"),),
        ),
        Kind(
            "cards",
            "card_link",
            "individual",
            (
                Field("issuer", _text(300), True),
                Field("serial", _hex(None, "the serial number"), True),
                Field("certificate_digest", _hex(64, "a SHA-256"), True),
            ),
        ),
    )
}

_KEY_CHECKS = tuple(
    (name, CHECKS[name], name in {"InsurerNumber", "InsuredIdentificationNumber"})
    for name in KEY_FIELDS
)


def certificate_identity(pem: str) -> tuple[str, str, str]:
    """(issuer, serial hex, SHA-256 of DER) of a user certificate (利用者証明用電子証明書)."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise FieldInvalid("is not a PEM X.509 certificate") from None
    der = certificate.public_bytes(serialization.Encoding.DER)
    digest = hashlib.sha256(der).hexdigest()
    return certificate.issuer.rfc4514_string(), format(certificate.serial_number, "x"), digest


class LinkedRecords:
    """Parses one JSON Lines file of ``kind``; iterate :meth:`records`, then read :attr:`problems`."""

    def __init__(self, kind: Kind, stream: BinaryIO) -> None:
        self.kind = kind
        self.lines = TextLines(stream)
        self.problems: list[RowProblem] = []
        self._known = set(KEY_FIELDS) | set(kind.columns)
        if kind.name == "cards":
            self._known.add("certificate")

    def records(self) -> Iterator[LinkedRecord]:
        for number, text in enumerate(self.lines, start=1):
            if not text.strip():
                continue
            if number in self.lines.undecodable:
                self.problems.append(RowProblem(number, RECORD, NOT_UTF8))
                continue
            record = self._record(number, text)
            if record is not None:
                yield record

    def _record(self, line: int, text: str) -> LinkedRecord | None:
        problems = self.problems
        before = len(problems)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(
                RowProblem(line, RECORD, f"is not JSON: {exc.msg} at column {exc.colno}")
            )
            return None
        if not isinstance(obj, dict):
            problems.append(RowProblem(line, RECORD, "must be one JSON object"))
            return None
        for name in obj:
            if name not in self._known:
                problems.append(
                    RowProblem(line, str(name)[:40], f"unknown key for {self.kind.name} records")
                )
        if self.kind.name == "cards" and "certificate" in obj and not self._derive_card(line, obj):
            return None
        key: list[str] = []
        for name, check, required in _KEY_CHECKS:
            key.append(self._value(line, obj, name, check, required, False) or "")  # type: ignore[arg-type]
        values = [
            self._value(line, obj, f.name, f.check, f.required, f.number) for f in self.kind.fields
        ]
        if len(problems) > before:
            return None
        for earlier, later in self.kind.ordered:
            a, b = values[self.kind.columns.index(earlier)], values[self.kind.columns.index(later)]
            if a is not None and b is not None and b < a:  # type: ignore[operator]
                problems.append(RowProblem(line, later, f"is before {earlier}"))
                return None
        return LinkedRecord(line, (key[0], key[1], key[2], key[3]), tuple(values))

    def _derive_card(self, line: int, obj: dict[str, Any]) -> bool:
        """Fill issuer, serial and digest from a PEM certificate; False if it is not one."""
        pem = obj.pop("certificate")
        if not isinstance(pem, str):
            self.problems.append(RowProblem(line, "certificate", "must be a PEM text"))
            return False
        try:
            issuer, serial, digest = certificate_identity(pem)
        except FieldInvalid as exc:
            self.problems.append(RowProblem(line, "certificate", exc.reason))
            return False
        for name, derived in (
            ("issuer", issuer),
            ("serial", serial),
            ("certificate_digest", digest),
        ):
            given = obj.setdefault(name, derived)
            if given != derived:
                self.problems.append(RowProblem(line, name, "differs from the certificate's"))
        return True

    def _value(
        self,
        line: int,
        obj: dict[str, Any],
        name: str,
        check: Callable[[str], object],
        required: bool,
        number: bool,
    ) -> object:
        raw = obj.get(name)
        if raw is None or raw == "":
            if required:
                self.problems.append(RowProblem(line, name, "is required"))
            return None
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            self.problems.append(
                RowProblem(line, name, "must be a string" + (" or a number" if number else ""))
            )
            return None
        try:
            return check(str(raw) if not isinstance(raw, str) else raw)
        except FieldInvalid as exc:
            if isinstance(raw, str) and raw.isspace():
                if required:
                    self.problems.append(RowProblem(line, name, "is required"))
                return None
            self.problems.append(RowProblem(line, name, exc.reason))
            return None
