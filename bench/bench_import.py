"""Benchmark of the insured-persons intake: rows per second, as ratios measured in one run.

    .venv/bin/python bench/bench_import.py [--persons 1000000] [--runs N]
        [--postgres-url URL | --private-postgres]

Machines are noisy, so next to the absolute rate the script measures two references in the same
run and prints the import's time relative to them:

* parse — reading and validating the CSV without a database (the intake's pure half);
* floor — ``csv.reader`` plus a raw ``executemany`` of the same rows into an unindexed table:
  what any import of this file into SQLite must at least cost.

The target is 20,000 rows/s end to end on SQLite (a fresh database, one transaction), and an
import (fresh, and again unchanged) within 1.5 × the parse time, on SQLite and PostgreSQL. With
``--runs N`` each database is imported N times (a fresh database each time), each run beside
its own parse times, and the load average is printed with each row: parsing is pure Python and
slows with a busy machine far more than the database's own work does.

The parse reference runs in one process. An import of a file this size parses in a second
process while the first writes (``intake/parse_ahead.py``), so it uses two cores (and the
PostgreSQL server a third process): on a machine whose other core is busy the ratios grow.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.postgres

import psycopg

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


@contextmanager
def fresh_postgres(admin_url: str, run: int) -> Iterator[str]:
    """An empty database of its own on the server of ``admin_url``, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"onshi_bench_import_{os.getpid()}_{run}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    parser.add_argument("--runs", type=int, default=1, help="imports per database (each fresh)")
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

    def measured(label: str, url: str) -> None:
        """One fresh import and one unchanged re-import, each beside a parse of the same file."""
        load = f"load {os.getloadavg()[0]:.1f}"
        before, _ = timed(lambda: parse_only(path))
        first, again, inserted = import_into(url, path)
        after, _ = timed(lambda: parse_only(path))
        parse = (before + after) / 2
        out.append((f"{label}: parse (mean of before/after)", f"{parse:8.1f} s", "", load))
        rate = inserted / first
        out.append(
            (
                f"{label} import, fresh",
                f"{first:8.1f} s",
                f"{rate:10,.0f} rows/s",
                f"{first / parse:.2f}× parse (target ≤ {PARSE_RATIO}); {rate / TARGET:.2f}× target "
                f"rate; {first / t_floor:.2f}× floor",
            )
        )
        out.append(
            (
                f"{label} re-import, unchanged",
                f"{again:8.1f} s",
                f"{inserted / again:10,.0f} rows/s",
                f"{again / parse:.2f}× parse",
            )
        )

    for run in range(1, args.runs + 1):
        for old in folder.glob("central.sqlite3*"):
            old.unlink()
        measured(f"SQLite #{run}", f"sqlite:///{folder / 'central.sqlite3'}")

    cluster = None
    url = args.postgres_url
    if args.private_postgres and not url:
        from tests.postgres import PrivateCluster, wait_ready

        cluster = PrivateCluster()
        url = cluster.start()
        wait_ready(url)
    try:
        if url:
            for run in range(1, args.runs + 1):
                with fresh_postgres(url, run) as run_url:
                    measured(f"PostgreSQL #{run}", run_url)
    finally:
        if cluster is not None:
            cluster.stop()

    print(f"\n{args.persons:,} persons, {rows:,} qualification rows\n")
    width = max(len(r[0]) for r in out)
    for name, seconds, speed, ratio in out:
        print(f"{name:<{width}}  {seconds}  {speed}  {ratio}")
    if args.keep is None:
        shutil.rmtree(folder)  # a generated population of a million persons is ≈ 250 MB


if __name__ == "__main__":
    main()
