"""``onshi card issue|reset|status``: a card is written only once its link is registered."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from onshi.central.services.central import Central
from onshi.central.settings import CentralSettings
from onshi.central.storage import tables as t
from onshi.cli import app as onshi_app
from onshi.reader import ReaderError, VirtualCard
from onshi.reader.cli import card_app
from tests.central import factories

runner = CliRunner()


@pytest.fixture
def central_dirs(sqlite_url: str, tmp_path: Path) -> tuple[str, Path]:
    data_dir = tmp_path / "central"
    central = Central.from_settings(CentralSettings(database_url=sqlite_url, data_dir=data_dir))
    with central.db.transaction() as session:
        factories.qualification(session)
    central.db.dispose()
    return sqlite_url, data_dir


def _links(db_url: str) -> int:
    from onshi.central.storage.database import Database

    db = Database(db_url)
    try:
        with db.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(t.CardLink)) or 0)
    finally:
        db.dispose()


def _issue(db_url: str, data_dir: Path, out: Path, *extra: str, number: str = "4260") -> Result:
    return runner.invoke(
        onshi_app,
        [
            "card",
            "issue",
            "--insurer",
            "06139999",
            "--symbol",
            "12-34",
            "--number",
            number,
            "--branch",
            "00",
            "--pin",
            "1234",
            "--out",
            str(out),
            "--db",
            db_url,
            "--data-dir",
            str(data_dir),
            *extra,
        ],
    )


def test_issue_writes_a_linked_card(central_dirs: tuple[str, Path], tmp_path: Path) -> None:
    db_url, data_dir = central_dirs
    out = tmp_path / "cards" / "taro.p12"
    result = _issue(db_url, data_dir, out)
    assert result.exit_code == 0, result.output
    assert out.exists() and (out.parent / "taro.p12.chip.json").exists()
    assert _links(db_url) == 1
    VirtualCard(out).verify_pin("1234")


def test_issue_for_nobody_writes_nothing(central_dirs: tuple[str, Path], tmp_path: Path) -> None:
    db_url, data_dir = central_dirs
    out = tmp_path / "nobody.p12"
    result = _issue(db_url, data_dir, out, number="9999")
    assert result.exit_code == 1
    assert "matches no insured person" in result.output
    assert not out.exists()
    assert _links(db_url) == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--pin", "12"], "4桁"), (["--insurer", "12"], "InsurerNumber")],
)
def test_issue_refuses_bad_input(
    central_dirs: tuple[str, Path], tmp_path: Path, args: list[str], fragment: str
) -> None:
    db_url, data_dir = central_dirs
    result = _issue(db_url, data_dir, tmp_path / "x.p12", *args)
    assert result.exit_code == 2
    assert fragment in result.output


def test_issue_never_overwrites(central_dirs: tuple[str, Path], tmp_path: Path) -> None:
    db_url, data_dir = central_dirs
    out = tmp_path / "taro.p12"
    out.write_bytes(b"precious")
    assert _issue(db_url, data_dir, out).exit_code == 2
    assert out.read_bytes() == b"precious"


def test_reset_and_status(central_dirs: tuple[str, Path], tmp_path: Path) -> None:
    db_url, data_dir = central_dirs
    out = tmp_path / "taro.p12"
    assert _issue(db_url, data_dir, out).exit_code == 0
    card = VirtualCard(out)
    for wrong in ("0000", "0001", "0002"):
        with pytest.raises(ReaderError):
            card.verify_pin(wrong)
    assert runner.invoke(card_app, ["status", str(out)]).output.strip() == "locked"
    assert runner.invoke(card_app, ["reset", str(out), "--pin", "12"]).exit_code == 2
    result = runner.invoke(card_app, ["reset", str(out), "--pin", "5678"])
    assert result.exit_code == 0 and "ロックを解除" in result.output
    assert (
        runner.invoke(card_app, ["status", str(out)]).output.strip() == "usable, 3 PIN tries left"
    )
    card.verify_pin("5678")
