"""Single inquiry over HTTPS vs the same server's trivial endpoint, side by side.

Same server process, same mutual TLS, same clients: ``GET /v1/health`` (certificate check
only) and ``POST /v1/eligibility/card-number`` (certificate, facility check, validation, the
database query, the audit entry, the OQS answer). Clients are separate processes, each with a
few threads holding one keep-alive httpx connection each. Prints req/s, p50/p99 latency and
the ratio inquiry/trivial (target ≥ 0.50). Talks to 127.0.0.1 only and stops by itself.

    .venv/bin/python bench/bench_http.py [--persons 10000] [--rounds 4] [--seconds 3]
                                         [--processes 2] [--threads 4] [--db URL]

The helpers here (population, facility certificate, server process, load) are shared by
bench_bulk.py and bench_scale.py.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

IDENTIFIER_KEY = "bench-" + "b" * 58
FACILITY = "1311111111"
ON = "20261123"


@dataclass(frozen=True)
class Files:
    cert: Path
    key: Path
    ca: Path


def settings_for(work: Path, db_url: str, **extra: Any) -> Any:
    from onshi.central.settings import CentralSettings

    return CentralSettings(
        database_url=db_url, data_dir=work / "data", identifier_key=IDENTIFIER_KEY, **extra
    )


def generate_csv(work: Path, persons: int, seed: int = 1) -> Path:
    """insured.csv for ``persons`` persons (kept in ``work`` and reused by later runs)."""
    from onshi.central.intake.generate import generate_population

    out = work / f"population-{persons}-{seed}"
    csv = out / "insured.csv"
    if not csv.exists():
        generate_population(out, persons, seed=seed, history=False)
    return csv


def load_population(db_url: str, csv: Path) -> None:
    """Migrate the database and import ``csv`` unless it already holds qualifications."""
    from sqlalchemy import func, select

    from onshi.central.intake.insured_store import import_insured
    from onshi.central.storage import tables as t
    from onshi.central.storage.database import Database

    db = Database(db_url)
    db.migrate()
    with db.sessions() as s:
        present = s.scalar(select(func.count()).select_from(t.Qualification))
    if not present:
        with csv.open("rb") as stream:
            import_insured(db, stream)
    db.dispose()


def sample_search_infos(db_url: str, count: int, seed: int = 7) -> list[dict[str, str]]:
    """QualificationConfirmSearchInfo of ``count`` random persons of the database."""
    from sqlalchemy import func, select

    from onshi.central.storage import tables as t
    from onshi.central.storage.database import Database

    db = Database(db_url)
    with db.sessions() as s:
        top = s.scalar(select(func.max(t.Qualification.id))) or 0
        rng = random.Random(seed)
        ids = sorted({rng.randint(1, top) for _ in range(count * 2)})
        rows = s.execute(
            select(
                t.Qualification.InsurerNumber,
                t.Qualification.InsuredCardSymbol,
                t.Qualification.InsuredIdentificationNumber,
                t.Qualification.InsuredBranchNumber,
                t.Qualification.Birthdate,
            ).where(t.Qualification.id.in_(ids))
        ).all()
    db.dispose()
    infos = [
        {
            "InsurerNumber": r.InsurerNumber,
            "InsuredCardSymbol": r.InsuredCardSymbol,
            "InsuredIdentificationNumber": r.InsuredIdentificationNumber,
            "InsuredBranchNumber": r.InsuredBranchNumber or "",
            "Birthdate": r.Birthdate.strftime("%Y%m%d"),
        }
        for r in rows
    ]
    random.Random(seed).shuffle(infos)
    return infos[:count]


def facility_files(settings: Any) -> Files:
    """Register the bench facility and write its client certificate."""
    from onshi.central.api.server import FACILITY_CA_NAME
    from onshi.central.services.central import Central
    from onshi.oqs.identifiers import MedicalInstitutionCode
    from onshi.pki import CertificateAuthority

    central = Central.from_settings(settings)
    central.register_facility(MedicalInstitutionCode(FACILITY), "bench clinic")
    central.db.dispose()
    ca = CertificateAuthority.load_or_create(settings.ca_dir, FACILITY_CA_NAME)
    out = settings.data_dir / "facility"
    out.mkdir(parents=True, exist_ok=True)
    files = Files(out / "facility.cert.pem", out / "facility.key.pem", ca.cert_path)
    ca.issue_facility_certificate(FACILITY, "bench clinic").write(files.cert, files.key)
    return files


def _server_main(settings: Any, ports: Any) -> None:
    from onshi.central.api import create_app
    from onshi.central.api.server import ensure_server_tls, serve_forever
    from onshi.central.services.central import Central
    from onshi.web import bind

    central = Central.from_settings(settings)
    tls = ensure_server_tls(settings.data_dir, settings.ca_dir, "127.0.0.1")
    sock = bind("127.0.0.1", 0)
    ports.put(sock.getsockname()[1])
    serve_forever(create_app(central, settings), tls, sock, log_level="warning")


class ServerProcess:
    """The central service in a process of its own (it has the GIL to itself), on 127.0.0.1."""

    def __init__(self, settings: Any, files: Files) -> None:
        self.files = files
        context = mp.get_context("spawn")
        self._ports = context.Queue()
        self.process = context.Process(
            target=_server_main, args=(settings, self._ports), daemon=True
        )

    def __enter__(self) -> str:
        self.process.start()
        port = self._ports.get(timeout=120)
        url = f"https://127.0.0.1:{port}"
        self._wait_ready(url)
        return url

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + 30
        with https_client(url, self.files, timeout=2) as client:
            while True:
                try:
                    if client.get("/v1/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.05)

    def __exit__(self, *_exc: object) -> None:
        self.process.terminate()
        self.process.join(15)
        if self.process.is_alive():
            self.process.kill()


def https_client(url: str, files: Files, timeout: float = 60) -> httpx.Client:
    from onshi.pki import client_ssl_context

    context = client_ssl_context(files.cert, files.key, files.ca)
    # TCP_NODELAY, as CentralClient does: no Nagle wait between a POST's headers and body.
    transport = httpx.HTTPTransport(
        verify=context, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    return httpx.Client(base_url=url, transport=transport, timeout=timeout)


@dataclass(frozen=True)
class Load:
    method: str
    path: str
    bodies: list[dict[str, Any]] | None  # cycled through; None: no body


def _client_process(
    url: str, files: Files, load: Load, start_at: float, seconds: float, threads: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def run(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with https_client(url, files) as client:
            client.get("/v1/health")  # handshake before the clock starts
            while time.time() < start_at:
                time.sleep(0.001)
            end = start_at + seconds
            i = offset
            while True:
                body = load.bodies[i % len(load.bodies)] if load.bodies else None
                i += 1
                began = time.perf_counter()
                response = client.request(load.method, load.path, json=body)
                mine.append(time.perf_counter() - began)
                if response.status_code >= 400:
                    bad += 1
                if time.time() >= end:
                    break
        with lock:
            latencies.extend(mine)
            errors += bad

    workers = [threading.Thread(target=run, args=(n * 7919,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies, errors


@dataclass(frozen=True)
class Measured:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def measure(
    pool: Any,
    url: str,
    files: Files,
    load: Load,
    *,
    seconds: float,
    processes: int,
    threads: int,
) -> tuple[list[float], int]:
    """One round: every client process starts at the same instant and runs ``seconds``."""
    start_at = time.time() + 1.5  # every client connected (TLS handshake done) and waiting
    parts = pool.starmap(
        _client_process,
        [(url, files, load, start_at, seconds, threads) for _ in range(processes)],
    )
    return [x for part, _ in parts for x in part], sum(e for _, e in parts)


def summarise(name: str, rounds: list[tuple[list[float], int]], seconds: float) -> Measured:
    latencies = sorted(x for part, _ in rounds for x in part)
    return Measured(
        name,
        len(latencies),
        sum(e for _, e in rounds),
        seconds * len(rounds),
        statistics.median(latencies) * 1000,
        latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    )


def table(rows: list[Measured]) -> str:
    lines = [
        "| endpoint | requests | errors | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.requests} | {r.errors} | {r.per_second:.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds per endpoint")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="onshi-bench-http-") as tmp:
        work = Path(tmp)
        db_url = args.db or f"sqlite:///{work / 'central.sqlite3'}"
        load_population(db_url, generate_csv(work, args.persons))
        settings = settings_for(work, db_url)
        files = facility_files(settings)
        bodies = [
            {"QualificationConfirmationDate": ON, "QualificationConfirmSearchInfo": info}
            for info in sample_search_infos(db_url, 1000)
        ]
        trivial_load = Load("GET", "/v1/health", None)
        inquiry_load = Load("POST", "/v1/eligibility/card-number", bodies)
        context = mp.get_context("spawn")
        with ServerProcess(settings, files) as url, context.Pool(args.processes) as pool:
            opts = {"seconds": args.seconds, "processes": args.processes, "threads": args.threads}
            # Warm both paths (imports, caches, connection pools), then alternate short rounds
            # so that whatever else the machine does weighs on both endpoints alike.
            measure(pool, url, files, trivial_load, **{**opts, "seconds": 1})
            measure(pool, url, files, inquiry_load, **{**opts, "seconds": 1})
            trivial_rounds, inquiry_rounds = [], []
            for _ in range(args.rounds):
                trivial_rounds.append(measure(pool, url, files, trivial_load, **opts))
                inquiry_rounds.append(measure(pool, url, files, inquiry_load, **opts))
    trivial = summarise("GET /v1/health (trivial)", trivial_rounds, args.seconds)
    single = summarise("POST /v1/eligibility/card-number", inquiry_rounds, args.seconds)
    ratio = single.per_second / trivial.per_second
    print(
        f"\nbench_http: {args.persons} insured persons, {args.processes} client processes × "
        f"{args.threads} threads, keep-alive mTLS, {args.rounds} alternating rounds of "
        f"{args.seconds:.0f} s per endpoint\n"
    )
    print(table([trivial, single]))
    print(f"\nthroughput ratio inquiry/trivial = {ratio:.2f} (target ≥ 0.50)")
    return 0 if ratio >= 0.5 and single.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
