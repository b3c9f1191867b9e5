"""Field checks shared by the intake formats: each turns a raw text into its stored value or says why not.

A check raises :class:`FieldInvalid` with a reason fit for an operator's screen. Reasons never
quote personal data (names, numbers, addresses); they may quote codes and dates, which identify
nobody. Dates repeat a great deal in a population file (birthdates, qualification dates), so they
are validated once and remembered.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable

from onshi.oqs.identifiers import name_kana

Check = Callable[[str], object]


class FieldInvalid(ValueError):
    """One value cannot be stored; ``reason`` says why without echoing personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
# Controls, and the invisible format characters that make two equal-looking numbers differ.
INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_DATE_SHAPE = re.compile(r"[0-9]{8}")
_dates: dict[str, dt.date] = {}


def date(raw: str) -> dt.date:
    """YYYYMMDD, a real calendar date (20230230 is refused)."""
    found = _dates.get(raw)
    if found is not None:
        return found
    value = raw.strip()
    if not _DATE_SHAPE.fullmatch(value):
        raise FieldInvalid(f"must be a date YYYYMMDD, got {_quote(raw)}")
    try:
        parsed = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise FieldInvalid(f"is not a calendar date: {_quote(raw)}") from None
    if parsed.year < 1870:
        raise FieldInvalid(f"is before 1870: {_quote(raw)}")
    if len(_dates) < 200_000:
        _dates[raw] = parsed
    return parsed


def code(values: Iterable[str], what: str) -> Callable[[str], str]:
    """A value from one OQS code list (the list is named in the reason)."""
    allowed = frozenset(values)
    listing = ", ".join(sorted(allowed))

    def check(raw: str) -> str:
        if raw in allowed:
            return raw
        value = raw.strip()
        if value in allowed:
            return value
        raise FieldInvalid(f"{_quote(raw)} is not a {what} code (one of {listing})")

    return check


def digits(length: int, what: str = "") -> Callable[[str], str]:
    """Exactly ``length`` ASCII digits (a ratio "030", a branch "01"). Quotes nothing."""
    shape = re.compile(f"[0-9]{{{length}}}")

    def check(raw: str) -> str:
        value = raw.strip()
        if shape.fullmatch(value):
            return value
        raise FieldInvalid(f"must be {length} digits{what}")

    return check


def text(max_length: int, *, personal: bool) -> Callable[[str], str]:
    """Free text up to ``max_length`` characters, NFKC-free (names keep their kanji as given)."""

    def check(raw: str) -> str:
        value = raw.strip()
        if not value:
            raise FieldInvalid("is blank")
        if len(value) > max_length:
            raise FieldInvalid(f"is longer than {max_length} characters")
        if CONTROL.search(value):
            raise FieldInvalid("contains control characters")
        if not personal and "\ufffd" in value:
            raise FieldInvalid("contains a replacement character (was the file UTF-8?)")
        return value

    return check


# Half-width katakana (U+FF61–U+FF9F) and the half-width space between family and given name.
_HALF_WIDTH_KANA = re.compile(r"[\uff61-\uff9f ]+")


def kana(raw: str) -> str:
    """カナ氏名: hiragana or full-width katakana become half-width katakana, as the OQS result has it."""
    value = raw.strip()
    if not _HALF_WIDTH_KANA.fullmatch(value):
        value = name_kana(value)
        value = " ".join(value.split())
        if not _HALF_WIDTH_KANA.fullmatch(value):
            raise FieldInvalid("must be written in kana (katakana or hiragana)")
    if len(value) > 100:
        raise FieldInvalid("is longer than 100 characters")
    return value


_POST_NUMBER = re.compile(r"([0-9]{3})-?([0-9]{4})")


def post_number(raw: str) -> str:
    """郵便番号, stored as ``123-4567`` like the OQS result; ``1234567`` is accepted."""
    found = _POST_NUMBER.fullmatch(nfkc(raw).strip())
    if not found:
        raise FieldInvalid("must be a postal code 123-4567")
    return f"{found[1]}-{found[2]}"


def nfkc(raw: str) -> str:
    """NFKC (full-width digits become ASCII); ASCII text is already normal, so skip the work."""
    return raw if raw.isascii() else unicodedata.normalize("NFKC", raw)


def _quote(raw: str) -> str:
    """Codes and dates are safe to show, but keep a runaway value short."""
    return repr(raw if len(raw) <= 20 else raw[:20] + "…")
