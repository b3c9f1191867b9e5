"""Audit appends per second: several processes, each with several threads calling ``record``.

Each process is a writer as a ``serve --workers`` worker is (its own chain, group commit inside
it); afterwards the whole log is verified. Prints appends/s, p50/p99 of one ``record`` and the
client CPU per append. PostgreSQL is a private throw-away cluster on a Unix socket
(tests/postgres.py) unless ``--db`` names a database; SQLite is a temporary file. Stops by itself.

    .venv/bin/python bench/bench_audit.py [--backends postgresql,sqlite] [--processes 2]
                                          [--threads 16] [--seconds 6] [--db URL]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.postgres

AUDIT_KEY = bytes(range(7, 39))


def _writer(url: str, threads: int, seconds: float, out: Any) -> None:
    from onshi.central.services.audit import AuditLog
    from onshi.central.storage.database import Database

    db = Database(url)
    log = AuditLog(db, "bench-" + "b" * 58, audit_key=AUDIT_KEY)
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def run() -> None:
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            log.record(
                facility="1311111111",
                action="eligibility.card-number",
                subject="a" * 64,
                outcome="validity-1",
            )
            mine.append(time.perf_counter() - started)
        latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    cpu = time.process_time()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sorted(latencies), time.process_time() - cpu))
    log.close()
    db.dispose()


def measure(url: str, processes: int, threads: int, seconds: float) -> str:
    from onshi.central.services.audit import verify_chain
    from onshi.central.storage.database import Database

    db = Database(url)
    db.migrate()
    db.dispose()
    context = mp.get_context("spawn")
    out = context.Queue()
    writers = [
        context.Process(target=_writer, args=(url, threads, seconds, out)) for _ in range(processes)
    ]
    for w in writers:
        w.start()
    results = [out.get() for _ in writers]
    for w in writers:
        w.join()
    latencies = sorted(x for r in results for x in r[0])
    n = len(latencies)

    def ms(q: float) -> float:
        return latencies[min(n - 1, int(q * n))] * 1000

    db = Database(url)
    report = verify_chain(db, AUDIT_KEY)
    db.dispose()
    assert report.entries == n, (report.entries, n)
    cpu = sum(r[1] for r in results) / n * 1000
    return (
        f"| {n / seconds:,.0f} | {ms(0.5):.1f} | {ms(0.99):.1f} | {cpu:.2f} |"
        f" {report.entries:,} in {len(report.chains)} chains |"
    )


def _fresh_postgres(admin_url: str) -> str:
    import sqlalchemy

    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(sqlalchemy.make_url(admin_url).set(database=name).render_as_string(False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--db", help="an empty database URL (instead of the private ones)")
    args = parser.parse_args(argv)
    print(
        f"bench_audit: {args.processes} processes × {args.threads} threads, {args.seconds:g} s\n"
        "\n| database | appends/s | p50 ms | p99 ms | client CPU ms/append | verified |\n"
        "|---|---:|---:|---:|---:|---|"
    )
    if args.db:
        row = measure(args.db, args.processes, args.threads, args.seconds)
        print(f"| {args.db.split(':')[0]} {row}")
        return 0
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as work:
                url = f"sqlite:///{Path(work) / 'audit.sqlite3'}"
                print(f"| SQLite {measure(url, args.processes, args.threads, args.seconds)}")
        else:
            from tests.postgres import PrivateCluster, wait_ready

            cluster = PrivateCluster()
            admin = cluster.start()
            try:
                wait_ready(admin)
                url = _fresh_postgres(admin)
                row = measure(url, args.processes, args.threads, args.seconds)
                print(f"| PostgreSQL {row}")
            finally:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
