"""The operator's commands: ``query`` as a subprocess (as scripts use it), the others in-process."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from onshi.central.cli import app
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.pki import load_certificate, medical_institution_code_of
from tests.central import factories

QUERY = [
    "--insurer",
    "06139999",
    "--symbol",
    "12-34",
    "--number",
    "4260",
    "--birthdate",
    "19800401",
    "--date",
    "20261123",
]


def onshi(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_CENTRAL_")}
    return subprocess.run(
        [sys.executable, "-m", "onshi", "central", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_query_prints_one_json_object_with_oqs_names(sqlite_url: str, tmp_path: Path) -> None:
    database = Database(sqlite_url)
    with database.transaction() as s:
        factories.qualification(s)
        factories.qualification(
            s,
            InsuredIdentificationNumber="5000",
            DisqualificationDate=dt.date(2026, 1, 1),
            ReasonOfLoss="01",
        )
    database.dispose()
    data = ["--db", sqlite_url, "--data-dir", str(tmp_path / "data")]
    done = onshi("query", *data, *QUERY, "--branch", "00", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["QualificationValidity"] == "1"
    assert answer["Name"] == "診療　太郎"
    assert answer["InsuredPartialContributionRatio"] == "030"
    assert answer["InsurerNumber"] == "06139999"
    assert "ReasonOfLoss" not in answer

    lost = [*QUERY]
    lost[lost.index("4260")] = "5000"
    answer = json.loads(onshi("query", *data, *lost, cwd=tmp_path).stdout)
    assert answer["QualificationValidity"] == "2" and answer["ReasonOfLoss"] == "01"


def test_query_bad_input_exits_2_with_a_message(sqlite_url: str, tmp_path: Path) -> None:
    bad = [*QUERY]
    bad[bad.index("19800401")] = "19800231"
    done = onshi(
        "query", "--db", sqlite_url, "--data-dir", str(tmp_path / "data"), *bad, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "--birthdate" in done.stderr and "calendar date" in done.stderr
    assert done.stdout == ""


def test_facility_add_registers_and_writes_the_certificate(sqlite_url: str, tmp_path: Path) -> None:
    out = tmp_path / "clinic"
    result = CliRunner().invoke(
        app,
        [
            "facility",
            "add",
            "1311111111",
            "オンシ診療所",
            "--out",
            str(out),
            "--db",
            sqlite_url,
            "--data-dir",
            str(tmp_path / "data"),
        ],
    )
    assert result.exit_code == 0, result.output
    certificate = load_certificate(out / "facility.cert.pem")
    assert medical_institution_code_of(certificate) == "1311111111"
    assert (out / "facility.key.pem").stat().st_mode & 0o777 == 0o600
    assert (out / "ca.cert.pem").read_bytes() == (
        tmp_path / "data" / "ca" / "ca.cert.pem"
    ).read_bytes()
    database = Database(sqlite_url)
    with database.sessions() as s:
        assert s.get(t.Facility, "1311111111") is not None
    database.dispose()
    refused = CliRunner().invoke(
        app,
        [
            "facility",
            "add",
            "9911111111",
            "x",
            "--out",
            str(out),
            "--db",
            sqlite_url,
            "--data-dir",
            str(tmp_path / "data"),
        ],
    )
    assert refused.exit_code == 2 and "prefecture" in refused.output


def test_audit_verify_reports_ok_then_the_broken_entry(sqlite_url: str, tmp_path: Path) -> None:
    query = ["query", "--db", sqlite_url, "--data-dir", str(tmp_path / "data"), *QUERY]
    for _ in range(3):
        assert CliRunner().invoke(app, query).exit_code == 0
    verify = ["audit", "verify", "--db", sqlite_url, "--data-dir", str(tmp_path / "data")]
    verified = CliRunner().invoke(app, verify)
    assert verified.exit_code == 0 and verified.output.startswith("OK: 3 entries")
    database = Database(sqlite_url)
    with database.transaction() as s:
        s.execute(update(t.AuditEntry).where(t.AuditEntry.seq == 2).values(outcome="validity-1x"))
    database.dispose()
    broken = CliRunner().invoke(app, verify)
    assert broken.exit_code == 1 and "entry 2" in broken.output
