"""Benchmark of the insured-persons intake: rows per second, as ratios measured in one run.

    .venv/bin/python bench/bench_import.py [--persons 1000000] [--postgres-url URL | --private-postgres]

Machines are noisy, so next to the absolute rate the script measures two references in the same
run and prints the import's time relative to them:

* parse — reading and validating the CSV without a database (the intake's pure half);
* floor — ``csv.reader`` plus a raw ``executemany`` of the same rows into an unindexed table:
  what any import of this file into SQLite must at least cost.

The target is 20,000 rows/s end to end on SQLite (a fresh database, one transaction).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.postgres

from onshi.central.intake.generate import generate_population
from onshi.central.intake.insured_csv import InsuredCsv
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

TARGET = 20_000
PARSE_RATIO = 1.5  # an import may cost at most 1.5 × parsing the same file


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def parse_only(path: Path) -> int:
    with path.open("rb") as f:
        parsed = InsuredCsv(f)
        n = sum(1 for _ in parsed.records())
    assert not parsed.problems, parsed.problems[:5]
    return n


def floor(path: Path, folder: Path) -> int:
    """csv.reader + executemany into a table without indexes, in one transaction."""
    connection = sqlite3.connect(folder / "floor.sqlite3")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        columns = ", ".join(f'"{c}" TEXT' for c in header)
        connection.execute(f"CREATE TABLE raw ({columns})")
        insert = f"INSERT INTO raw VALUES ({', '.join('?' * len(header))})"
        n = 0
        with connection:
            while chunk := [r for _, r in zip(range(5000), rows, strict=False)]:
                connection.executemany(insert, chunk)
                n += len(chunk)
    connection.close()
    return n


def import_into(url: str, path: Path) -> tuple[float, float, int]:
    database = Database(url)
    database.migrate()
    with path.open("rb") as f:
        first, counts = timed(lambda: import_insured(database, f))
    with path.open("rb") as f:
        again, unchanged = timed(lambda: import_insured(database, f))
    database.dispose()
    assert unchanged.unchanged == counts.inserted  # type: ignore[attr-defined]
    return first, again, counts.inserted  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres-url", help="a live PostgreSQL server (admin URL of an empty database)"
    )
    parser.add_argument(
        "--private-postgres",
        action="store_true",
        help="start a throwaway cluster (tests/postgres.py)",
    )
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="onshi-bench-")) if args.keep is None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("floor.sqlite3*"), *folder.glob("central.sqlite3*")]:
        old.unlink()  # a kept folder: the databases start empty again
    out: list[tuple[str, str, str, str]] = []
    print(f"generating {args.persons:,} persons into {folder} …", flush=True)
    generated, counts = timed(
        lambda: generate_population(
            folder, args.persons, seed=args.seed, as_of=dt.date(2025, 6, 1), history=False
        )
    )
    path = folder / "insured.csv"
    rows = counts.qualifications  # type: ignore[attr-defined]
    out.append(
        (
            "generate (insured.csv only)",
            f"{generated:8.1f} s",
            f"{args.persons / generated:10,.0f} persons/s",
            "",
        )
    )

    t_parse, _ = timed(lambda: parse_only(path))
    t_floor, _ = timed(lambda: floor(path, folder))
    out.append(
        ("reference: parse + validate", f"{t_parse:8.1f} s", f"{rows / t_parse:10,.0f} rows/s", "")
    )
    out.append(
        (
            "reference: floor (csv + raw executemany)",
            f"{t_floor:8.1f} s",
            f"{rows / t_floor:10,.0f} rows/s",
            "",
        )
    )

    first, again, inserted = import_into(f"sqlite:///{folder / 'central.sqlite3'}", path)
    # The machine's load drifts: compare each import with the parse times on either side of it.
    t_after, _ = timed(lambda: parse_only(path))
    t_parse = (t_parse + t_after) / 2
    out.append(("reference: parse again (mean)", f"{t_parse:8.1f} s", "", ""))
    rate = inserted / first
    out.append(
        (
            "SQLite import, fresh",
            f"{first:8.1f} s",
            f"{rate:10,.0f} rows/s",
            f"{rate / TARGET:.2f}× target; {first / t_parse:.2f}× parse (target ≤ {PARSE_RATIO}); "
            f"{first / t_floor:.2f}× floor",
        )
    )
    out.append(
        (
            "SQLite re-import, unchanged",
            f"{again:8.1f} s",
            f"{inserted / again:10,.0f} rows/s",
            f"{again / t_parse:.2f}× parse",
        )
    )

    cluster = None
    url = args.postgres_url
    if args.private_postgres and not url:
        from tests.postgres import PrivateCluster, wait_ready

        cluster = PrivateCluster()
        url = cluster.start()
        wait_ready(url)
    try:
        if url:
            first, again, inserted = import_into(url, path)
            t_parse2, _ = timed(lambda: parse_only(path))
            t_parse = (t_after + t_parse2) / 2
            out.append(("reference: parse again (mean)", f"{t_parse:8.1f} s", "", ""))
            out.append(
                (
                    "PostgreSQL import via COPY, fresh",
                    f"{first:8.1f} s",
                    f"{inserted / first:10,.0f} rows/s",
                    f"{inserted / first / TARGET:.2f}× target; {first / t_parse:.2f}× parse "
                    f"(target ≤ {PARSE_RATIO})",
                )
            )
            out.append(
                (
                    "PostgreSQL re-import, unchanged",
                    f"{again:8.1f} s",
                    f"{inserted / again:10,.0f} rows/s",
                    f"{again / t_parse:.2f}× parse",
                )
            )
    finally:
        if cluster is not None:
            cluster.stop()

    print(f"\n{args.persons:,} persons, {rows:,} qualification rows\n")
    width = max(len(r[0]) for r in out)
    for name, seconds, speed, ratio in out:
        print(f"{name:<{width}}  {seconds}  {speed}  {ratio}")


if __name__ == "__main__":
    main()
