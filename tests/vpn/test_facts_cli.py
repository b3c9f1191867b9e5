"""``onshi vpn opening-date | migration-plan | quote | support-open`` as scripts use them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from onshi.cli import app

RUN = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = RUN.invoke(app, ["vpn", *args])
    return result.exit_code, result.stdout, result.stderr


def test_opening_date() -> None:
    assert invoke("opening-date", "--submitted", "2026-12-25") == (0, "2027-01-15\n", "")


def test_migration_plan_json_has_exactly_the_six_keys() -> None:
    code, out, _ = invoke("migration-plan", "--go-live", "2027-05", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "opening_target": "2027-04-01",
        "apply_by": "2027-03-17",
        "verification_until": "2027-04-30",
        "old_service_end": "2027-04-30",
        "old_cancel_request_from": "2027-04-02",
        "billing_start": "2027-05-01",
    }


def test_migration_plan_table() -> None:
    code, out, _ = invoke("migration-plan", "--go-live", "2027-05")
    assert code == 0
    assert "apply_by" in out and "2027-03-17" in out and "2027-05-01" in out


def test_quote_json() -> None:
    code, out, _ = invoke("quote", "--ids", "10", "--terminals", "5", "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "ids": 10,
        "terminals": 5,
        "extra_certificates_per_id": 3,
        "extra_certificates": 30,
        "initial_yen": 50000,
        "monthly_yen": 35500,
        "per_terminal_yen": 710,
    }


def test_quote_table() -> None:
    code, out, _ = invoke("quote", "--ids", "1", "--terminals", "3")
    assert code == 0
    assert "¥2,850" in out and "¥950" in out and "¥5,000" in out


@pytest.mark.parametrize(
    ("args", "code_name"),
    [
        (("--ids", "1", "--terminals", "6"), "VPN_TERMINALS_OUT_OF_RANGE"),
        (("--ids", "1", "--terminals", "0"), "VPN_TERMINALS_OUT_OF_RANGE"),
        (("--ids", "0", "--terminals", "2"), "VPN_ID_COUNT_OUT_OF_RANGE"),
    ],
)
def test_quote_out_of_range(args: tuple[str, ...], code_name: str) -> None:
    code, out, err = invoke("quote", *args, "--format", "json")
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {code_name}: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        ("2026-12-10T23:30", True),
        ("2026-12-11T23:30", False),
        ("2026-12-06T09:00", True),
        ("2026-12-10T14:30Z", True),  # 23:30 JST
        ("2026-12-11T08:59:59+09:00", False),
    ],
)
def test_support_open(at: str, is_open: bool) -> None:
    code, out, _ = invoke("support-open", "--at", at, "--format", "json")
    assert code == 0
    assert json.loads(out) == {"open": is_open}


def test_support_open_text() -> None:
    code, out, _ = invoke("support-open", "--at", "2026-12-10T23:30")
    assert (code, out) == (0, "open (that day: 09:00–24:00 JST)\n")


@pytest.mark.parametrize(
    "args",
    [
        ("opening-date", "--submitted", "2026-02-30"),
        ("opening-date", "--submitted", "next week"),
        ("migration-plan", "--go-live", "2027-13", "--format", "json"),
        ("support-open", "--at", "noon", "--format", "json"),
        ("support-open", "--at", "2026-12-10", "--format", "json"),
        ("support-open", "--at", "2026-12-10T24:00", "--format", "json"),
        ("quote", "--ids", "1", "--terminals", "2", "--format", "xml"),
        ("quote", "--ids", "ten", "--terminals", "2", "--format", "json"),
        ("quote", "--ids", "1", "--terminals", "2.5"),
        ("quote", "--ids", "１", "--terminals", "2"),
    ],
)
def test_what_is_not_a_date_is_refused_cleanly(args: tuple[str, ...]) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: VPN_INVALID_INPUT: ")
    assert err.count("\n") == 1


def test_as_a_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "onshi", "vpn", "opening-date", "--submitted", "2026-02-31"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr
        == "error: VPN_INVALID_INPUT: '2026-02-31' is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "onshi",
            "vpn",
            "quote",
            "--ids",
            "2",
            "--terminals",
            "4",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout)["monthly_yen"] == 6400
