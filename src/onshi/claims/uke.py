"""A light reading of a UKE file (レセプト電算処理システムの記録ファイル): who claims, for which month.

A UKE file is Shift_JIS text, one record per line (CR LF), fields separated by commas, the
record type first: ``IR`` (医療機関情報, exactly one, first), then per claim ``RE`` (レセプト共通)
followed by its ``HO``/``KO``/``SY``/``SI``/``IY``/``TO``/``CO``… records, and optionally ``GO``
(trailer: the claim count) last. The receiver checks only what it needs to file the claim and to
refuse what is plainly not one; the content (patients, diagnoses, fees) is not interpreted and
never logged.

IR fields read here: 2 審査支払機関 (1 社保/支払基金, 2 国保), 3 都道府県 (2 digits), 4 点数表
(1 digit), 5 医療機関コード (7 digits) — 3+4+5 make the 10-digit MedicalInstitutionCode the
facility certificate carries —, 8 請求年月 (``GYYMM`` with the era code, 5 令和 / 4 平成, or
``YYYYMM``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from onshi.claims.errors import ClaimsFileInvalid

__all__ = ["ClaimsFileSummary", "read_uke", "sample_uke"]

_RECORD_TYPE = re.compile(r"[A-Z]{2}")
_ERA_START = {"4": 1988, "5": 2018}  # 平成1年 = 1989, 令和1年 = 2019
_PAYERS = {"1": "社保", "2": "国保"}
_EOF = "\x1a"  # some billing software still ends the file with Ctrl-Z


@dataclass(frozen=True)
class ClaimsFileSummary:
    """What the receiver files a claims file under."""

    medical_institution_code: str  # 10 digits: prefecture, fee table, facility
    claim_month: str  # YYYYMM
    payer: str  # "1" 社保 (支払基金) or "2" 国保
    claims: int  # RE records
    records: int  # all records


def _claim_month(value: str) -> str:
    if re.fullmatch(r"[0-9]{6}", value):
        year, month = int(value[:4]), int(value[4:])
    elif re.fullmatch(r"[45][0-9]{4}", value):
        year, month = _ERA_START[value[0]] + int(value[1:3]), int(value[3:])
    else:
        raise ClaimsFileInvalid(f"IR 請求年月 {value!r} is neither GYYMM nor YYYYMM")
    if not 1 <= month <= 12 or not 1989 <= year <= 2200:
        raise ClaimsFileInvalid(f"IR 請求年月 {value!r} is not a month")
    return f"{year:04d}{month:02d}"


def read_uke(data: bytes) -> ClaimsFileSummary:
    """Check ``data`` is a UKE file and say whose and which month; :class:`ClaimsFileInvalid` if not."""
    if b"\x00" in data:
        raise ClaimsFileInvalid("a UKE file is text: this one holds NUL bytes")
    if not data.isascii():
        # Much UTF-8 Japanese also decodes as Shift_JIS (into nonsense): refuse it by name.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise ClaimsFileInvalid("the file is UTF-8 text: a UKE file is Shift_JIS")
    try:
        text = data.decode("cp932")  # Shift_JIS as Windows writes it
    except UnicodeDecodeError as exc:
        raise ClaimsFileInvalid(
            f"not Shift_JIS text (byte {exc.start}): a UKE file is Shift_JIS"
        ) from exc
    text = text.rstrip(_EOF).rstrip("\r\n")
    if not text:
        raise ClaimsFileInvalid("the file is empty")
    lines = text.replace("\r\n", "\n").split("\n")
    kinds: list[str] = []
    for number, line in enumerate(lines, start=1):
        kind = line.split(",", 1)[0]
        if not _RECORD_TYPE.fullmatch(kind) or "," not in line:
            raise ClaimsFileInvalid(f"line {number} is not a UKE record (RECORD,field,…)")
        kinds.append(kind)
    if kinds[0] != "IR":
        raise ClaimsFileInvalid(f"the first record is {kinds[0]}, not IR (医療機関情報)")
    if kinds.count("IR") != 1:
        raise ClaimsFileInvalid("more than one IR record")
    fields = lines[0].split(",")
    if len(fields) < 8:
        raise ClaimsFileInvalid(f"the IR record has {len(fields)} fields, fewer than 8")
    payer, prefecture, table, facility = fields[1:5]
    if payer not in _PAYERS:
        raise ClaimsFileInvalid(f"IR 審査支払機関 {payer!r} is not 1 (社保) or 2 (国保)")
    if not (re.fullmatch(r"[0-9]{2}", prefecture) and 1 <= int(prefecture) <= 47):
        raise ClaimsFileInvalid(f"IR 都道府県 {prefecture!r} is not 01–47")
    if not re.fullmatch(r"[0-9]", table) or not re.fullmatch(r"[0-9]{7}", facility):
        raise ClaimsFileInvalid("IR 点数表 (1 digit) and 医療機関コード (7 digits) are malformed")
    month = _claim_month(fields[7])
    claims = kinds.count("RE")
    if claims == 0:
        raise ClaimsFileInvalid("no RE record: the file claims nothing")
    if "GO" in kinds:
        if kinds.index("GO") != len(kinds) - 1:
            raise ClaimsFileInvalid("the GO record (trailer) is not the last one")
        total = lines[-1].split(",")[1]
        if not total.isdigit() or int(total) != claims:
            raise ClaimsFileInvalid(f"GO says {total!r} claims, the file holds {claims} RE records")
    return ClaimsFileSummary(prefecture + table + facility, month, payer, claims, len(kinds))


def sample_uke(medical_institution_code: str, claim_month: str, *, claims: int = 2) -> bytes:
    """A small synthetic UKE file (no real person) for tests and demonstrations."""
    if not re.fullmatch(r"[0-9]{10}", medical_institution_code):
        raise ClaimsFileInvalid("a medical institution code is 10 digits")
    _claim_month(claim_month)
    code = medical_institution_code
    lines = [f"IR,1,{code[:2]},{code[2]},{code[3:]},,オンシ診療所,{claim_month},00,0312345678"]
    for n in range(1, claims + 1):
        lines += [
            f"RE,{n},1112,{claim_month},テスト　タロウ{n},1,19800401,,,,,,,,,,,,,,",
            f"HO,06139999,12-34,{4260 + n},1,600,,,,,",
            "SY,8830417,,,01,,,,",
            "SI,11,1,111000110,,288,1,,,,,,,,,,,,,,",
        ]
    lines.append(f"GO,{claims},{600 * claims},99")
    return ("\r\n".join(lines) + "\r\n").encode("cp932")
