"""A 10,000-record bulk check (一括照会) over HTTPS: time from submit to fully answered.

The server runs in its own process with its bulk worker, as ``onshi central serve`` does. The
client submits 10,000 QualificationConfirmSearchInfo records of random insured persons (some
unknown, some with a wrong birth date), then polls ``GET /v1/bulk/{ReceptionNumber}`` every
50 ms until SegmentOfResult is 1 and every record is there. Prints the times and the ratio
to the 5 s target (≤ 1.00 passes). Talks to 127.0.0.1 only and stops by itself.

    .venv/bin/python bench/bench_bulk.py [--records 10000] [--persons 20000] [--db URL]
        [--rounds 1] [--py-spy] [--log-statements]

``--py-spy`` samples the server process (every thread, idle ones too) from submit to fully
answered into ``./py-spy-bulk-<db>.txt``; ``--log-statements`` logs every statement of the
private PostgreSQL cluster into ``./server.log``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_http import (
    ON,
    ServerProcess,
    database,
    facility_files,
    generate_csv,
    https_client,
    load_population,
    sample_search_infos,
    settings_for,
    start_py_spy,
)
from loadgen import cpu_seconds

TARGET_SECONDS = 5.0


def bulk_body(db_url: str, records: int) -> dict[str, object]:
    infos = sample_search_infos(db_url, records)
    while len(infos) < records:  # small populations: ask about some persons twice
        infos += infos[: records - len(infos)]
    body = []
    for i, info in enumerate(infos):
        record = {**info, "ArbitraryIdentifier": f"reservation-{i:05d}"}
        if i % 50 == 0:
            record["InsuredIdentificationNumber"] = "99999999"  # nobody: validity 4
        elif i % 50 == 1:
            record["Birthdate"] = "19000101"  # wrong birth date: validity 4
        body.append(record)
    return {
        "QualificationConfirmationDate": ON,
        "ArbitraryFileIdentifier": "bench-bulk",
        "QualificationConfirmSearchInfo": body,
    }


def bench_backend(backend: str, args: argparse.Namespace, populations: Path, scratch: Path) -> bool:
    scratch.mkdir(parents=True, exist_ok=True)
    with database(backend, scratch, args.db, args.log_statements) as db_url:
        load_population(db_url, generate_csv(populations, args.persons))
        settings = settings_for(scratch, db_url)
        files = facility_files(settings)
        body = bulk_body(db_url, args.records)
        server = ServerProcess(settings, files)
        with server as url, https_client(url, files) as client:
            client.get("/v1/health")
            rounds = [
                one_round(client, body, server.process.pid, backend, args, db_url)
                for _ in range(args.rounds)
            ]
    ok = True
    print(f"\nbench_bulk: {args.records} records, {args.persons} insured persons, {backend}\n")
    print("| step | " + " | ".join(f"round {i + 1}" for i in range(len(rounds))) + " |")
    print("|---|" + "---:|" * len(rounds))
    for label in rounds[0].steps:
        print(f"| {label} | " + " | ".join(r.steps[label] for r in rounds) + " |")
    for r in rounds:
        ok = ok and r.ok
    ratios = [r.total / TARGET_SECONDS for r in rounds]
    print(
        f"\n{backend}: ratio to the 5 s target = "
        + ", ".join(f"{ratio:.2f}" for ratio in ratios)
        + " (≤ 1.00 passes)"
    )
    return ok and max(ratios) <= 1


class Round:
    def __init__(self, total: float, ok: bool, steps: dict[str, str]) -> None:
        self.total, self.ok, self.steps = total, ok, steps


def one_round(
    client: Any,
    body: dict[str, object],
    pid: int,
    backend: str,
    args: argparse.Namespace,
    db_url: str,
) -> Round:
    spy = _py_spy(pid, backend) if args.py_spy else None
    cpu_before = cpu_seconds(pid)
    began = time.perf_counter()
    receipt = client.post("/v1/bulk", json=body)
    receipt.raise_for_status()
    accepted = time.perf_counter() - began
    number = receipt.json()["MessageBody"]["ReceptionNumber"]
    polls = 0
    while True:
        polls += 1
        asked = time.perf_counter()
        answer = client.get(f"/v1/bulk/{number}").json()
        if answer["MessageHeader"]["SegmentOfResult"] == "1":
            break
        if time.perf_counter() - began > 20 * TARGET_SECONDS:
            print("bulk did not complete in time")
            return Round(float("inf"), False, {})
        time.sleep(0.05)
    total = time.perf_counter() - began
    last_fetch = time.perf_counter() - asked
    cpu = cpu_seconds(pid) - cpu_before
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
        spy.wait(60)
    worked = _worked_seconds(db_url, number)
    units = answer["MessageBody"]["BulkConfirmUnit"]
    matched = {u["QualificationConfirmSearchInfo"].get("ArbitraryIdentifier") for u in units}
    valid = sum(1 for u in units if u["QualificationValidity"] == "1")
    ok = len(units) == args.records and len(matched) == args.records
    return Round(
        total,
        ok,
        {
            "submit → ReceptionNumber": f"{accepted * 1000:.0f} ms",
            "received → completed (server clock)": f"{worked:.2f} s",
            "last fetch (every answer, client parse included)": f"{last_fetch * 1000:.0f} ms",
            "submit → fully answered": f"{total:.2f} s",
            "server CPU, submit → fully answered": f"{cpu:.2f} s ({cpu / total:.0%} of a core)",
            "records answered / matched by ArbitraryIdentifier": f"{len(units)} / {len(matched)}",
            "QualificationValidity 1": str(valid),
            "polls": str(polls),
        },
    )


def _worked_seconds(db_url: str, number: str) -> float:
    """From the reception's stored time to its completion, both on the server's clock."""
    from sqlalchemy import select

    from onshi.central.storage import tables as t
    from onshi.central.storage.database import Database

    db = Database(db_url)
    with db.sessions() as s:
        received, completed = s.execute(
            select(t.BulkReception.ReceptionDateTime, t.BulkReception.completed_at).where(
                t.BulkReception.ReceptionNumber == number
            )
        ).one()
    db.dispose()
    return float((completed - received).total_seconds())


def _py_spy(pid: int, backend: str) -> subprocess.Popen[bytes]:
    out = Path(f"py-spy-bulk-{backend}.txt")
    spy = start_py_spy(pid, out, "--idle", "--threads")
    time.sleep(1)  # py-spy attaches
    print(f"py-spy: {out}")
    return spy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--db", help="use this database URL (one backend) instead")
    parser.add_argument("--work", type=Path, help="keep generated populations here")
    parser.add_argument("--rounds", type=int, default=1, help="bulk checks, one after the other")
    parser.add_argument("--py-spy", action="store_true", help="sample the server with py-spy")
    parser.add_argument(
        "--log-statements", action="store_true", help="private PostgreSQL: log_statement=all"
    )
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    if args.db:
        backends = ["sqlite" if args.db.startswith("sqlite") else "postgresql"]
    passed = True
    with tempfile.TemporaryDirectory(prefix="onshi-bench-bulk-") as tmp:
        populations = args.work or Path(tmp)
        populations.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            passed = bench_backend(backend, args, populations, Path(tmp) / backend) and passed
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
