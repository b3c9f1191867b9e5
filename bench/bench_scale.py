"""Inquiry latency at 1,000,000 insured persons vs 10,000, on SQLite and PostgreSQL.

For each database: import a generated population of each size (the intake generator and
importer), then answer the same number of eligibility questions by insurance-card number
in-process (``Central.confirm_by_card_number``: the query, the judgement, the audit entry)
for random persons of that population. Prints p50/p99 per size and the ratio
p50(1M) / p50(10k) (target ≤ 1.25). PostgreSQL is a private throw-away cluster on a Unix
socket (tests/postgres.py); nothing else is contacted. Stops by itself.

    .venv/bin/python bench/bench_scale.py [--small 10000] [--large 1000000] [--queries 3000]
                                          [--backends sqlite,postgresql] [--work DIR]

``--work DIR`` keeps the generated CSV files (and SQLite databases) for the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_http import AS_OF, generate_csv, load_population, sample_search_infos

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres

TARGET = 1.25
ON = AS_OF  # the populations' generation date (see bench_http.AS_OF)


@contextmanager
def database_urls(backend: str, work: Path, sizes: list[int]) -> Iterator[dict[int, str]]:
    if backend == "sqlite":
        yield {n: f"sqlite:///{work / f'central-{n}.sqlite3'}" for n in sizes}
        return
    import sqlalchemy
    from tests.postgres import PrivateCluster, wait_ready

    cluster = PrivateCluster()
    admin = cluster.start()
    try:
        wait_ready(admin)
        engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            for n in sizes:
                c.execute(sqlalchemy.text(f'CREATE DATABASE "central_{n}"'))
        engine.dispose()
        yield {n: cluster.url(f"central_{n}") for n in sizes}
    finally:
        cluster.stop()


def latencies(db_url: str, queries: int) -> list[float]:
    from onshi.central.domain.qualification import CardKey
    from onshi.central.services.central import Central
    from onshi.central.services.questions import CardNumberQuestion
    from onshi.central.storage.database import Database
    from onshi.oqs.identifiers import MedicalInstitutionCode
    from onshi.pki import CertificateAuthority

    infos = sample_search_infos(db_url, queries)
    questions = [
        CardNumberQuestion(
            CardKey(
                i["InsurerNumber"],
                i["InsuredCardSymbol"],
                i["InsuredIdentificationNumber"],
                i["InsuredBranchNumber"] or None,
            ),
            dt.date(int(i["Birthdate"][:4]), int(i["Birthdate"][4:6]), int(i["Birthdate"][6:])),
            ON,
        )
        for i in infos
    ]
    with tempfile.TemporaryDirectory() as tmp:
        jpki = CertificateAuthority.create(Path(tmp) / "jpki", "bench JPKI")
        db = Database(db_url)
        central = Central(db, identifier_key="s" * 64, jpki_ca_certificate=jpki.certificate)
        facility = MedicalInstitutionCode("1311111111")
        central.register_facility(facility, "bench clinic")
        for q in questions[:200]:  # warm caches and the connection pool
            central.confirm_by_card_number(facility, q)
        measured = []
        for q in questions:
            began = time.perf_counter()
            answer = central.confirm_by_card_number(facility, q)
            measured.append(time.perf_counter() - began)
            assert answer["MessageBody"]["QualificationValidity"] in {"1", "2", "3", "5"}
        db.dispose()
    return sorted(measured)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--work", type=Path, help="keep generated files here")
    args = parser.parse_args(argv)

    sizes = [args.small, args.large]
    rows = []
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="onshi-bench-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csvs = {}
        for n in sizes:
            began = time.perf_counter()
            csvs[n] = generate_csv(work, n)
            print(f"population {n}: {time.perf_counter() - began:.0f} s", flush=True)
        for backend in args.backends.split(","):
            with database_urls(backend, work, sizes) as urls:
                p50 = {}
                for n in sizes:
                    began = time.perf_counter()
                    load_population(urls[n], csvs[n])
                    print(f"{backend} import {n}: {time.perf_counter() - began:.0f} s", flush=True)
                    measured = latencies(urls[n], args.queries)
                    p50[n] = statistics.median(measured) * 1000
                    p99 = measured[int(len(measured) * 0.99)] * 1000
                    rows.append((backend, n, p50[n], p99))
                ratio = p50[args.large] / p50[args.small]
                worst = max(worst, ratio)
                rows.append((backend, -1, ratio, 0.0))

    print(f"\nbench_scale: in-process inquiry by card number, {args.queries} random persons each\n")
    print("| database | insured persons | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    for backend, n, a, b in rows:
        if n == -1:
            print(f"| {backend} | **ratio {args.large:,} / {args.small:,}** | **{a:.2f}** | |")
        else:
            print(f"| {backend} | {n:,} | {a:.3f} | {b:.3f} |")
    print(f"\nworst ratio = {worst:.2f} (target ≤ {TARGET})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
