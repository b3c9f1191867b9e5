"""A 10,000-record bulk check (一括照会) over HTTPS: time from submit to fully answered.

The server runs in its own process with its bulk worker, as ``onshi central serve`` does. The
client submits 10,000 QualificationConfirmSearchInfo records of random insured persons (some
unknown, some with a wrong birth date), then polls ``GET /v1/bulk/{ReceptionNumber}`` every
50 ms until SegmentOfResult is 1 and every record is there. Prints the times and the ratio
to the 5 s target (≤ 1.00 passes). Talks to 127.0.0.1 only and stops by itself.

    .venv/bin/python bench/bench_bulk.py [--records 10000] [--persons 20000] [--db URL]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

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
    with database(backend, scratch, args.db, False) as db_url:
        load_population(db_url, generate_csv(populations, args.persons))
        settings = settings_for(scratch, db_url)
        files = facility_files(settings)
        body = bulk_body(db_url, args.records)
        server = ServerProcess(settings, files)
        with server as url, https_client(url, files) as client:
            client.get("/v1/health")
            cpu_before = cpu_seconds(server.process.pid)
            began = time.perf_counter()
            receipt = client.post("/v1/bulk", json=body)
            receipt.raise_for_status()
            accepted = time.perf_counter() - began
            number = receipt.json()["MessageBody"]["ReceptionNumber"]
            polls = 0
            while True:
                polls += 1
                answer = client.get(f"/v1/bulk/{number}").json()
                if answer["MessageHeader"]["SegmentOfResult"] == "1":
                    break
                if time.perf_counter() - began > 20 * TARGET_SECONDS:
                    print("bulk did not complete in time")
                    return False
                time.sleep(0.05)
            total = time.perf_counter() - began
            cpu = cpu_seconds(server.process.pid) - cpu_before
    units = answer["MessageBody"]["BulkConfirmUnit"]
    matched = {u["QualificationConfirmSearchInfo"].get("ArbitraryIdentifier") for u in units}
    valid = sum(1 for u in units if u["QualificationValidity"] == "1")
    ok = len(units) == args.records and len(matched) == args.records
    print(f"\nbench_bulk: {args.records} records, {args.persons} insured persons, {backend}\n")
    print("| step | value |")
    print("|---|---:|")
    print(f"| submit → ReceptionNumber | {accepted * 1000:.0f} ms |")
    print(f"| submit → fully answered | {total:.2f} s |")
    print(f"| server CPU, submit → fully answered | {cpu:.2f} s ({cpu / total:.0%} of a core) |")
    print(f"| records answered / matched by ArbitraryIdentifier | {len(units)} / {len(matched)} |")
    print(f"| QualificationValidity 1 | {valid} |")
    print(f"| polls | {polls} |")
    ratio = total / TARGET_SECONDS
    print(f"\n{backend}: ratio to the 5 s target = {ratio:.2f} (≤ 1.00 passes)")
    return ok and ratio <= 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--db", help="use this database URL (one backend) instead")
    parser.add_argument("--work", type=Path, help="keep generated populations here")
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
