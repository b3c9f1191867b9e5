"""Single inquiry over HTTPS vs the same server's trivial endpoint, side by side.

Same server process, same mutual TLS, same clients: ``GET /v1/health`` (certificate check
only) and ``POST /v1/eligibility/card-number`` (certificate, facility check, validation, the
database query, the audit entry, the OQS answer) for random existing persons. The clients are
``loadgen.py``: asyncio over raw TLS streams in separate processes (16 keep-alive connections
from 2 processes by default), so the server, not the client, is saturated. Prints req/s,
p50/p99 latency, the server's CPU per request and the ratio inquiry/trivial (target ≥ 0.50,
p99 ≤ 50 ms) for SQLite and for a private PostgreSQL cluster the run starts (initdb in a
temporary folder, as the tests do; ``--db URL`` to use another). Talks to 127.0.0.1 and a Unix
socket only and stops by itself.

    .venv/bin/python bench/bench_http.py [--persons 100000] [--rounds 3] [--seconds 3]
        [--processes 2] [--connections 16] [--backends sqlite,postgresql] [--db URL]
        [--work DIR (keep the generated population)] [--log-statements] [--statement-times]
        [--capacity [--open-connections 64]]

With ``--capacity`` the same server is then probed open-loop (``loadgen.py``: requests sent
at a fixed rate over 64 connections, latency counted from the moment each was due): for each
endpoint, the highest rate it sustains with p99 ≤ 50 ms, rates rising by 1.2 × (a failed rate
tried three times) and the two endpoints taking turns; and the inquiry at Japan's estimated
peak, 900/s. A closed loop of 16 connections measures what 16 patient clients see: a stall of
the server delays their next requests too, so it never shows in the latencies. The open loop keeps sending, as the clinics
of a nation would, and a stall shows as the backlog it leaves.

Experiments on the server's threading (figures in docs/central/performance.md):
``ONSHI_BENCH_THREADS=N`` limits the server's thread pool to N, ``ONSHI_BENCH_INLINE=1`` runs
the service calls on the event loop whatever the database, ``=0`` never.

Every date the benchmarks ask about is the generation date of the population they generate
(``AS_OF``), so the questions stay answerable on any day the benchmark runs.

The helpers here (population, facility certificate, server process) are shared by
bench_bulk.py and bench_scale.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from loadgen import Round, Summary, TlsFiles, encode, run_round, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.postgres

IDENTIFIER_KEY = "bench-" + "b" * 58
FACILITY = "1311111111"
# The populations are generated as of this day and every question asks about it: the data and
# the questions move together, whatever the calendar says when the benchmark runs.
AS_OF = dt.date(2026, 11, 23)
ON = AS_OF.strftime("%Y%m%d")


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

    out = work / f"population-{persons}-{seed}-{AS_OF:%Y%m%d}"
    csv = out / "insured.csv"
    if not csv.exists():
        generate_population(out, persons, seed=seed, as_of=AS_OF, history=False)
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


def _server_main(settings: Any, ports: Any, workers: int = 1) -> None:
    from onshi.central.api import create_app
    from onshi.central.api.server import ensure_server_tls, serve_forever, serve_workers
    from onshi.central.services.central import Central
    from onshi.web import bind

    times = os.environ.get("ONSHI_BENCH_STATEMENT_TIMES")
    if times:
        _time_statements(Path(times))
    tls = ensure_server_tls(settings.data_dir, settings.ca_dir, "127.0.0.1")
    sock = bind("127.0.0.1", 0)
    ports.put(sock.getsockname()[1])
    if workers > 1:  # as `onshi central serve --workers N`: each worker builds its app
        serve_workers(
            lambda: create_app(Central.from_settings(settings), settings),
            tls,
            sock,
            workers=workers,
            log_level="warning",
        )
        return
    inline = os.environ.get("ONSHI_BENCH_INLINE")
    app: Any = create_app(
        Central.from_settings(settings),
        settings,
        inline_service_calls=inline == "1" if inline else None,
    )
    threads = int(os.environ.get("ONSHI_BENCH_THREADS", "0"))
    if threads:
        import anyio.to_thread

        inner = app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                anyio.to_thread.current_default_thread_limiter().total_tokens = threads
            await inner(scope, receive, send)

    serve_forever(app, tls, sock, log_level="warning")


def _time_statements(out: Path) -> None:
    """Every statement the server runs, timed: wall time and the running thread's CPU time, by
    the statement's first words; written to ``out`` (JSON) every 100 statements. A round trip
    whose wall time far exceeds its CPU time waited — for the database, or for the interpreter
    lock when the thread woke."""
    import json
    import threading

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    started = threading.local()
    totals: dict[str, list[float]] = {}  # kind → [count, wall s, thread CPU s]
    seen = [0]

    @event.listens_for(Engine, "before_cursor_execute")
    def before(*_args: Any) -> None:
        started.at = (time.perf_counter(), time.thread_time())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        wall, cpu = started.at
        kind = " ".join(statement.split()[:3])[:40]
        total = totals.setdefault(kind, [0, 0.0, 0.0])
        total[0] += 1
        total[1] += time.perf_counter() - wall
        total[2] += time.thread_time() - cpu
        seen[0] += 1
        if seen[0] % 100 == 0:
            out.write_text(json.dumps(totals))


def statement_times(out: Path) -> str:
    """The table of :func:`_time_statements`' figures, most frequent first."""
    import json

    if not out.exists():
        return "(no statement timed)"
    totals = json.loads(out.read_text())
    lines = [
        "| statement | count | wall ms (mean) | thread CPU ms (mean) |",
        "|---|---:|---:|---:|",
    ]
    for kind, (count, wall, cpu) in sorted(totals.items(), key=lambda item: -item[1][0]):
        lines.append(
            f"| `{kind}` | {count:.0f} | {wall / count * 1e3:.2f} | {cpu / count * 1e3:.2f} |"
        )
    return "\n".join(lines)


class ServerProcess:
    """The central service in a process of its own (it has the GIL to itself), on 127.0.0.1."""

    def __init__(self, settings: Any, files: Files, workers: int = 1) -> None:
        self.files = files
        context = mp.get_context("spawn")
        self._ports = context.Queue()
        # Not a daemon: a daemonic process may not fork the workers of ``workers > 1``.
        self.process = context.Process(
            target=_server_main, args=(settings, self._ports, workers), daemon=workers == 1
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


@contextmanager
def private_postgres(log_statements: bool = False) -> Iterator[str]:
    """A PostgreSQL cluster of this run's own (initdb in a temporary folder, a Unix socket)."""
    import sqlalchemy
    from tests.postgres import PrivateCluster, wait_ready

    cluster = PrivateCluster()
    admin = cluster.start()
    try:
        wait_ready(admin)
        engine = sqlalchemy.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sqlalchemy.text('CREATE DATABASE "central"'))
            if log_statements:
                c.execute(sqlalchemy.text("ALTER SYSTEM SET log_statement = 'all'"))
                c.execute(sqlalchemy.text("SELECT pg_reload_conf()"))
        engine.dispose()
        yield cluster.url("central")
        if log_statements:
            log = cluster.root / "server.log"
            print(f"statement log: {log.stat().st_size} bytes (copied to server.log)")
            shutil.copy(log, Path("server.log"))
    finally:
        cluster.stop()


def postmaster_pid(db_url: str) -> int | None:
    """The PostgreSQL server's pid when it runs on this machine (its backends share the cores)."""
    if db_url.startswith("sqlite"):
        return None
    import sqlalchemy

    engine = sqlalchemy.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as c:
        data = Path(c.execute(sqlalchemy.text("SHOW data_directory")).scalar_one())
    engine.dispose()
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None  # not ours to read: a server elsewhere


@contextmanager
def database(backend: str, work: Path, given: str | None, log: bool) -> Iterator[str]:
    if given:
        yield given
    elif backend == "sqlite":
        yield f"sqlite:///{work / 'central.sqlite3'}"
    else:
        with private_postgres(log) as url:
            yield url


P99_MS = 50.0  # the latency target, closed loop and open
PEAK = 900.0  # Japan's estimated peak, inquiries per second


@dataclass(frozen=True)
class Capacity:
    """The open-loop search on one server: the highest rate each endpoint sustained with p99
    within target, every probe as it went, and the inquiry at Japan's estimated peak."""

    trivial: float
    inquiry: float
    probes: list[tuple[str, Round, bool]]
    at_peak: Round


def sustained(r: Round) -> bool:
    """An open-loop probe the server kept up with: no errors, nearly every request sent and
    answered at the offered rate, p99 within target."""
    assert r.offered is not None
    due = r.offered * r.seconds
    return (
        r.errors == 0
        and r.unanswered <= 0.01 * due
        and r.requests >= 0.97 * due
        and Summary.of("", [r]).p99_ms <= P99_MS
    )


def search_capacity(
    probe: Any, starts: dict[str, float], step: float = 1.2, attempts: int = 3
) -> Capacity:
    """Raise each endpoint's rate by ``step`` while it is sustained (lower it until one is);
    a rate that fails is tried up to ``attempts`` times (a noisy moment of a shared machine
    lasts seconds) before that endpoint's search ends. The endpoints take turns, so the
    machine's mood weighs on both alike."""
    rate = dict(starts)
    best = dict.fromkeys(starts, 0.0)
    failed = dict.fromkeys(starts, 0)  # failures at the current rate
    probes: list[tuple[str, Round, bool]] = []
    active = list(starts)
    while active:
        for name in list(active):
            measured = probe(name, rate[name])
            ok = sustained(measured)
            probes.append((name, measured, ok))
            if ok:
                best[name] = rate[name]
                rate[name] *= step
                failed[name] = 0
            elif not best[name] and rate[name] > 50:  # not sustained yet: look lower
                rate[name] /= step
            else:
                failed[name] += 1
                if failed[name] >= attempts or len([p for p in probes if p[0] == name]) >= 16:
                    active.remove(name)
    return Capacity(best["trivial"], best["inquiry"], probes, probe("inquiry", PEAK))


def bench_backend(
    backend: str, populations: Path, scratch: Path, args: argparse.Namespace, pool: Any
) -> tuple[Summary, Summary, Capacity | None]:
    scratch.mkdir(parents=True, exist_ok=True)
    with database(backend, scratch, args.db, args.log_statements) as db_url:
        load_population(db_url, generate_csv(populations, args.persons))
        settings = settings_for(scratch, db_url)
        files = facility_files(settings)
        tls = TlsFiles(files.cert, files.key, files.ca)
        bodies = [
            {"QualificationConfirmationDate": ON, "QualificationConfirmSearchInfo": info}
            for info in sample_search_infos(db_url, 2000)
        ]
        trivial = [encode("GET", "/v1/health")]
        inquiry = [encode("POST", "/v1/eligibility/card-number", b) for b in bodies]
        times = scratch / "statement-times.json"
        if args.statement_times:
            os.environ["ONSHI_BENCH_STATEMENT_TIMES"] = str(times)
        server = ServerProcess(settings, files, workers=args.workers)
        with server as url:
            port = int(url.rsplit(":", 1)[1])
            pid = server.process.pid
            opts: dict[str, Any] = {
                "connections": args.connections,
                "processes": args.processes,
                "seconds": args.seconds,
                "server_pid": pid,
                "database_pid": postmaster_pid(db_url),
            }
            # Warm both paths (imports, caches, connection pools), then alternate short rounds
            # so that whatever else the machine does weighs on both endpoints alike.
            run_round(pool, "127.0.0.1", port, tls, trivial, **{**opts, "seconds": 1})
            run_round(pool, "127.0.0.1", port, tls, inquiry, **{**opts, "seconds": 1})
            trivial_rounds, inquiry_rounds = [], []
            if args.py_spy:
                inquiry_rounds.append(profiled(args, backend, pid, pool, port, tls, inquiry, opts))
            for _ in range(args.rounds):
                trivial_rounds.append(run_round(pool, "127.0.0.1", port, tls, trivial, **opts))
                inquiry_rounds.append(run_round(pool, "127.0.0.1", port, tls, inquiry, **opts))
            capacity = None
            if args.capacity:
                routes = {"trivial": trivial, "inquiry": inquiry}
                open_opts = {**opts, "connections": args.open_connections}

                def probe(name: str, rate: float) -> Round:
                    return run_round(
                        pool, "127.0.0.1", port, tls, routes[name], rate=rate, **open_opts
                    )

                closed = {"trivial": trivial_rounds, "inquiry": inquiry_rounds}
                capacity = search_capacity(
                    probe, {k: 0.5 * Summary.of(k, v).per_second for k, v in closed.items()}
                )
        if args.statement_times:
            os.environ.pop("ONSHI_BENCH_STATEMENT_TIMES", None)
            print(f"\n{backend}: statements run by the server\n\n{statement_times(times)}")
    return (
        Summary.of(f"{backend}: GET /v1/health (trivial)", trivial_rounds),
        Summary.of(f"{backend}: POST /v1/eligibility/card-number", inquiry_rounds),
        capacity,
    )


def profiled(
    args: argparse.Namespace,
    backend: str,
    pid: int,
    pool: Any,
    port: int,
    tls: TlsFiles,
    inquiry: list[bytes],
    opts: dict[str, Any],
) -> Round:
    """One inquiry round sampled by py-spy (collapsed stacks of every server thread)."""
    out = Path(f"py-spy-{backend}.txt")
    spy = start_py_spy(pid, out, "--duration", str(int(args.seconds) + 2))
    measured = run_round(pool, "127.0.0.1", port, tls, inquiry, **opts)
    spy.wait(60)
    print(f"py-spy: {out}")
    return measured


def start_py_spy(pid: int, out: Path, *options: str) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` at 200 Hz into ``out`` (collapsed stacks); stop it with SIGINT
    unless ``--duration`` is among ``options``."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            str(out),
            *options,
        ],
        stdout=subprocess.DEVNULL,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (serve --workers N)"
    )
    parser.add_argument("--db", help="use this database URL (one backend) instead")
    parser.add_argument("--work", type=Path, help="keep generated populations here")
    parser.add_argument("--py-spy", action="store_true", help="sample one inquiry round")
    parser.add_argument(
        "--log-statements", action="store_true", help="private PostgreSQL: log_statement=all"
    )
    parser.add_argument(
        "--capacity",
        action="store_true",
        help="also search, open-loop, the highest rate each endpoint sustains with p99 ≤ 50 ms",
    )
    parser.add_argument(
        "--open-connections", type=int, default=64, help="connections for the open-loop rounds"
    )
    parser.add_argument(
        "--statement-times",
        action="store_true",
        help="time every statement in the server (wall and thread CPU), print them by kind",
    )
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    if args.db:
        backends = ["sqlite" if args.db.startswith("sqlite") else "postgresql"]

    results: list[tuple[str, Summary, Summary, Capacity | None]] = []
    context = mp.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="onshi-bench-http-") as tmp,
        context.Pool(args.processes) as pool,
    ):
        populations = args.work or Path(tmp)
        populations.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            trivial, single, capacity = bench_backend(
                backend, populations, Path(tmp) / backend, args, pool
            )
            results.append((backend, trivial, single, capacity))
    print(
        f"\nbench_http: {args.persons} insured persons, {args.processes} client processes, "
        f"{args.connections} keep-alive mTLS connections (asyncio), {args.rounds} alternating "
        f"rounds of {args.seconds:.0f} s per endpoint, {args.workers} server process(es), "
        f"questions on {ON}\n"
    )
    print(table([row for _, trivial, single, _ in results for row in (trivial, single)]))
    met = True
    for backend, trivial, single, _ in results:
        ratio = single.per_second / trivial.per_second
        cpu = ""
        if trivial.cpu_ms_per_request and single.cpu_ms_per_request:
            cpu = (
                f", server CPU per request inquiry/trivial = "
                f"{single.cpu_ms_per_request / trivial.cpu_ms_per_request:.1f}"
            )
        print(
            f"{backend}: throughput ratio inquiry/trivial = {ratio:.2f} (target ≥ 0.50), "
            f"inquiry p99 {single.p99_ms:.1f} ms (target ≤ 50){cpu}; "
            f"2,000 inquiries/s = {2000 / trivial.per_second:.2f} × this trivial limit"
        )
        met = met and ratio >= 0.5 and single.p99_ms <= P99_MS and single.errors == 0
    for backend, _, _, capacity in results:
        if capacity is not None:
            print(capacity_report(backend, capacity, args.open_connections))
    return 0 if met else 1


def capacity_report(backend: str, capacity: Capacity, connections: int) -> str:
    rows = [
        f"\n{backend}: open loop ({connections} connections), each probe "
        f"{capacity.at_peak.seconds:.0f} s\n",
        "| endpoint | offered /s | answered /s | never sent | p50 ms | p99 ms | sustained |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r, ok in [*capacity.probes, ("inquiry at the peak", capacity.at_peak, None)]:
        s = Summary.of(name, [r])
        mark = "—" if ok is None else ("yes" if ok else "no")
        rows.append(
            f"| {name} | {r.offered:.0f} | {s.per_second:.0f} | {r.unanswered} "
            f"| {s.p50_ms:.1f} | {s.p99_ms:.1f} | {mark} |"
        )
    peak = Summary.of("", [capacity.at_peak])
    ratio = capacity.inquiry / capacity.trivial if capacity.trivial else 0.0
    rows.append(
        f"\n{backend}: sustained with p99 ≤ {P99_MS:.0f} ms: trivial {capacity.trivial:,.0f}/s, "
        f"inquiry {capacity.inquiry:,.0f}/s, ratio {ratio:.2f} (target ≥ 0.50); at Japan's "
        f"estimated peak ({PEAK:.0f} inquiries/s): p50 {peak.p50_ms:.1f} ms, "
        f"p99 {peak.p99_ms:.1f} ms, {capacity.at_peak.unanswered} never sent"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
