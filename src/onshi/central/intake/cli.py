"""``onshi central import …`` and ``onshi central generate``: the operator's intake commands.

Exit status: 0 imported, 1 the file was refused (every problem listed, nothing stored) or the
database refused the import (nothing stored), 2 the file could not be read. Problems name line,
column and reason only: never a person's data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console

from onshi.central.errors import ImportFailed, IntakeRejected
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.generate import generate_population
from onshi.central.intake.insured_store import import_insured
from onshi.central.intake.records_store import import_linked
from onshi.central.storage.database import Database

MAX_LISTED = 1000

import_app = typer.Typer(
    help="Import insurers' data into the central database.", no_args_is_help=True
)

FileArg = Annotated[Path, typer.Argument(help="The file to import.", show_default=False)]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL [default: ONSHI_CENTRAL_DATABASE_URL or the settings]."
    ),
]


def _database_url(given: str | None) -> str:
    if given:
        return given
    from onshi.central.settings import CentralSettings

    return CentralSettings().database_url


def _run(path: Path, db: str | None, load: Callable[[Database, BinaryIO], ImportCounts]) -> None:
    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    try:
        stream = path.open("rb")
    except OSError as exc:
        err.print(f"cannot read {path}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None
    database = Database(_database_url(db))
    try:
        database.migrate()
        with stream:
            counts = load(database, stream)
    except IntakeRejected as exc:
        err.print(f"rejected: {exc.message} ({exc.code})", markup=False)
        for problem in exc.problems[:MAX_LISTED]:
            err.print(str(problem), markup=False)
        if len(exc.problems) > MAX_LISTED:
            err.print(f"… and {len(exc.problems) - MAX_LISTED} more problems", markup=False)
        raise typer.Exit(1) from None
    except ImportFailed as exc:
        err.print(f"failed: {exc.message} ({exc.code})", markup=False)
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"cannot read {path}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None
    finally:
        database.dispose()
    out.print(f"{path.name}: {counts.summary()}", markup=False)


@import_app.command("insured")
def import_insured_command(file: FileArg, db: DbOption = None) -> None:
    """Insured persons: UTF-8 CSV, header row of OQS element names (被保険者情報)."""
    _run(file, db, import_insured)


def _linked(kind: str, doc: str) -> None:
    def command(file: FileArg, db: DbOption = None) -> None:
        _run(file, db, lambda database, stream: import_linked(database, kind, stream))

    command.__doc__ = doc
    import_app.command(kind)(command)


_linked("drug", "Drug dispensing history (薬剤情報), JSON Lines.")
_linked("checkup", "Specific health checkup results (特定健診), JSON Lines.")
_linked("diagnosis", "診療情報 (treatments behind the diagnosis consent), JSON Lines.")
_linked("operation", "手術情報 (operations, behind their own consent), JSON Lines.")
_linked("limit", "Limit application certificates (限度額適用認定証), JSON Lines.")
_linked("specific-disease", "Specific disease certificates (特定疾病療養受療証), JSON Lines.")
_linked("cards", "My Number card links by certificate issuer/serial/digest, JSON Lines.")


def generate(
    persons: Annotated[int, typer.Option("--persons", min=1, help="How many persons.")] = 1000,
    out: Annotated[Path, typer.Option("--out", help="Folder for the intake files.")] = Path(
        "var/sample"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Same seed and date, same files.")] = 1,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date YYYYMMDD [default: today].")
    ] = None,
    history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history", help="Also write drug, checkup and certificate files."
        ),
    ] = True,
) -> None:
    """Write a synthetic population in the intake formats (insured.csv and *.jsonl)."""
    day = None
    if as_of is not None:
        try:
            day = dt.datetime.strptime(as_of, "%Y%m%d").date()
        except ValueError:
            raise typer.BadParameter("must be YYYYMMDD", param_hint="--as-of") from None
    counts = generate_population(out, persons, seed=seed, as_of=day, history=history)
    Console(soft_wrap=True).print(
        f"{out}: {counts.persons} persons in {counts.households} households, "
        f"{counts.qualifications} qualifications ({counts.lost} lost, {counts.moved} households moved), "
        f"{counts.drug} drug lines, {counts.checkup} checkup lines, {counts.limit} limit and "
        f"{counts.specific_disease} specific-disease certificates",
        markup=False,
    )
