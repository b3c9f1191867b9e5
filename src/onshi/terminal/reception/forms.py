"""The manual-entry form (保険証・資格確認書の番号入力): staff's typing, checked in plain words.

Each field is checked with the same rules the OQS file interface uses
(:mod:`onshi.oqs.identifiers`), so a number accepted here is accepted by the central service.
Dates are typed the way people type them: ``19800401``, ``1980-04-01``, ``1980/4/1``, full-width
digits too. A refusal names the field, so the screen can put the cursor back in it.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from onshi.oqs import identifiers as ids
from onshi.terminal.reception.messages_ja import message_for

_DATE = re.compile(r"([0-9]{4})[-/.年]?([0-9]{1,2})[-/.月]?([0-9]{1,2})日?")


class FormInvalid(Exception):
    def __init__(self, code: str, field: str) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.message = message_for(code)

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}


def parse_date(raw: str) -> dt.date:
    """A date as typed; ValueError if it is not one."""
    text = unicodedata.normalize("NFKC", raw).strip().replace(" ", "")
    if text.isdigit():  # digits only: exactly YYYYMMDD (1980041 could be 4/1 or 4/11)
        return ids.oqs_date(text)
    match = _DATE.fullmatch(text)
    if match is None or not (match[2] and match[3]):
        raise ValueError(raw)
    return dt.date(int(match[1]), int(match[2]), int(match[3]))


@dataclass(frozen=True, slots=True)
class ManualCheck:
    insurer: str
    symbol: str
    number: str
    branch: str | None
    birthdate: dt.date
    on: dt.date
    limit_consent: bool

    @classmethod
    def from_json(cls, data: Any, *, today: dt.date) -> ManualCheck:
        if not isinstance(data, dict):
            raise FormInvalid("REQUEST_INVALID", "insurer")

        def text(name: str) -> str:
            value = data.get(name, "")
            return value if isinstance(value, str) else str(value if value is not None else "")

        def field(name: str, code: str, check: Any) -> Any:
            try:
                return check(text(name))
            except (ids.InvalidIdentifier, ValueError):
                raise FormInvalid(code, name) from None

        insurer = field(
            "insurer",
            "INSURER_NUMBER_INVALID",
            lambda v: ids.insurer_number(unicodedata.normalize("NFKC", v)),
        )
        symbol = field("symbol", "SYMBOL_INVALID", ids.insured_card_symbol)
        number = field("number", "NUMBER_INVALID", ids.insured_identification_number)
        branch = field("branch", "BRANCH_INVALID", ids.insured_branch_number)
        birthdate = field("birthdate", "BIRTHDATE_INVALID", parse_date)
        on = field("date", "DATE_INVALID", lambda v: parse_date(v) if v.strip() else today)
        if birthdate > on:
            raise FormInvalid("BIRTHDATE_INVALID", "birthdate")
        return cls(insurer, symbol, number, branch, birthdate, on, bool(data.get("limit_consent")))

    def request(self) -> dict[str, Any]:
        """The central API's OQSsiquc01 body."""
        info: dict[str, Any] = {
            "InsurerNumber": self.insurer,
            "InsuredCardSymbol": self.symbol,
            "InsuredIdentificationNumber": self.number,
            "Birthdate": ids.format_oqs_date(self.birthdate),
            "LimitApplicationCertificateRelatedConsFlg": "1" if self.limit_consent else "0",
        }
        if self.branch:
            info["InsuredBranchNumber"] = self.branch
        return {
            "QualificationConfirmationDate": ids.format_oqs_date(self.on),
            "QualificationConfirmSearchInfo": info,
        }
