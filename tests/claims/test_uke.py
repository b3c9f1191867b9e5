"""Reading UKE files lightly: whose, which month, how many claims — and what is refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onshi.claims.errors import ClaimsFileInvalid
from onshi.claims.uke import read_uke, sample_uke

CODE = "1311234567"


def test_sample_reads_back() -> None:
    summary = read_uke(sample_uke(CODE, "202611", claims=3))
    assert summary.medical_institution_code == CODE
    assert summary.claim_month == "202611"
    assert summary.payer == "1"
    assert summary.claims == 3
    assert summary.records == 1 + 3 * 4 + 1


@pytest.mark.parametrize(
    ("written", "month"), [("50811", "202611"), ("43104", "201904"), ("202612", "202612")]
)
def test_claim_month_in_era_or_western_form(written: str, month: str) -> None:
    data = sample_uke(CODE, "202611").replace(b",202611,00,", f",{written},00,".encode())
    assert read_uke(data).claim_month == month


def test_lf_only_and_ctrl_z_are_tolerated() -> None:
    data = sample_uke(CODE, "202611").replace(b"\r\n", b"\n") + b"\x1a"
    assert read_uke(data).claims == 2


def lines(data: bytes) -> list[bytes]:
    return data.rstrip(b"\r\n").split(b"\r\n")


def join(parts: list[bytes]) -> bytes:
    return b"\r\n".join(parts) + b"\r\n"


SAMPLE = sample_uke(CODE, "202611", claims=2)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        ("IR,1,13,1,1234567,,オンシ,202611".encode() + b"\r\nRE,1\r\n", "UTF-8"),
        (SAMPLE.replace(b"IR,1,", b"IR,1,\x81\x20", 1), "not Shift_JIS"),
        (SAMPLE.replace(b"IR,", b"IR\x00", 1), "NUL"),
        (join(lines(SAMPLE)[1:]), "first record"),
        (join([lines(SAMPLE)[0], *lines(SAMPLE)]), "more than one IR"),
        (join([lines(SAMPLE)[0], lines(SAMPLE)[-1].replace(b"GO,2", b"GO,0")]), "no RE"),
        (SAMPLE.replace(b"GO,2,", b"GO,5,"), "GO says"),
        (join([*lines(SAMPLE)[:-1], lines(SAMPLE)[-1], lines(SAMPLE)[1]]), "not the last"),
        (SAMPLE.replace(b",202611,00,", b",202613,00,"), "not a month"),
        (SAMPLE.replace(b",202611,00,", b",3601,00,"), "GYYMM"),
        (SAMPLE.replace(b"IR,1,", b"IR,9,", 1), "審査支払機関"),
        (SAMPLE.replace(b"IR,1,13,", b"IR,1,48,", 1), "都道府県"),
        (SAMPLE.replace(b",1234567,", b",12345,", 1), "医療機関コード"),
        (b"IR,1,13\r\nRE,1\r\n", "fewer than 8"),
        (SAMPLE + b"hello world\r\n", "not a UKE record"),
        (b"%PDF-1.7\n...", "not a UKE record"),
    ],
)
def test_not_a_uke_file(data: bytes, reason: str) -> None:
    with pytest.raises(ClaimsFileInvalid, match=reason) as caught:
        read_uke(data)
    assert caught.value.code == "CLAIMS_FILE_INVALID"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_the_coded_error(data: bytes) -> None:
    with contextlib.suppress(ClaimsFileInvalid):
        read_uke(b"IR,1,13,1,1234567,,x,202611\r\n" + data)
