"""The operator's commands: exit 0 imported, 1 refused (problems listed), 2 unreadable."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from onshi.central.cli import app
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row

runner = CliRunner()


def test_import_insured_and_reimport(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(1), row(2)]))
    result = runner.invoke(app, ["import", "insured", str(path), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "2 inserted, 0 updated, 0 unchanged" in result.output
    result = runner.invoke(app, ["import", "insured", str(path), "--db", sqlite_url])
    assert "0 inserted, 0 updated, 2 unchanged" in result.output


def test_refused_file_lists_problems_without_personal_data(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(1, NameKana="秘密の名前"), row(2, Sex1="7")]))
    result = runner.invoke(app, ["import", "insured", str(path), "--db", sqlite_url])
    assert result.exit_code == 1
    assert "rejected:" in result.output and "INTAKE_REJECTED" in result.output
    assert "line 2, NameKana:" in result.output and "line 3, Sex1:" in result.output
    assert "秘密" not in result.output and "5001" not in result.output


def test_database_refusal_is_reported_without_a_traceback(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(1)]))
    assert runner.invoke(app, ["import", "insured", str(path), "--db", sqlite_url]).exit_code == 0
    database = Database(sqlite_url)
    with database.engine.begin() as c:  # as a full disk would
        c.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON qualification_history "
                "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
            )
        )
    database.dispose()
    path.write_bytes(csv_bytes([row(1, Address="大阪府")]))
    result = runner.invoke(app, ["import", "insured", str(path), "--db", sqlite_url])
    assert result.exit_code == 1, result.output
    assert "failed: import refused by the database" in result.output
    assert "no space left on device" in result.output and "IMPORT_FAILED" in result.output
    assert "Traceback" not in result.output and "大阪府" not in result.output


def test_unreadable_file(tmp_path: Path, sqlite_url: str) -> None:
    result = runner.invoke(
        app, ["import", "insured", str(tmp_path / "missing.csv"), "--db", sqlite_url]
    )
    assert result.exit_code == 2


def test_generate_then_import_every_kind(tmp_path: Path, sqlite_url: str) -> None:
    out = tmp_path / "sample"
    result = runner.invoke(
        app,
        ["generate", "--persons", "150", "--out", str(out), "--seed", "3", "--as-of", "20250601"],
    )
    assert result.exit_code == 0, result.output
    assert "150 persons" in result.output
    for kind, name in [
        ("insured", "insured.csv"),
        ("drug", "drug.jsonl"),
        ("checkup", "checkup.jsonl"),
        ("limit", "limit.jsonl"),
        ("specific-disease", "specific-disease.jsonl"),
    ]:
        result = runner.invoke(app, ["import", kind, str(out / name), "--db", sqlite_url])
        assert result.exit_code == 0, (kind, result.output)


def test_jsonl_unknown_card_key(tmp_path: Path, sqlite_url: str) -> None:
    path = tmp_path / "drug.jsonl"
    record = {
        "InsurerNumber": "01130012",
        "InsuredCardSymbol": "1",
        "InsuredIdentificationNumber": "1",
        "DiDate": "20250101",
        "DrugC": "1",
        "DrugN": "x",
        "Qua1": "1",
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "drug", str(path), "--db", sqlite_url])
    assert result.exit_code == 1
    assert "line 1, (card key): no qualification has this card key" in result.output


def test_database_url_from_the_environment(tmp_path: Path, sqlite_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(1)]))
    monkeypatch.setenv("ONSHI_CENTRAL_DATABASE_URL", sqlite_url)
    result = runner.invoke(app, ["import", "insured", str(path)])
    assert result.exit_code == 0, result.output
    from onshi.central.storage.database import Database

    database = Database(sqlite_url)
    assert counts(database)["qualification"] == 1
    database.dispose()
