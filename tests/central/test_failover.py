"""The central service survives the loss of its primary database (Patroni + etcd, loopback).

Two PostgreSQL nodes under Patroni with a synchronous standby, one etcd; the service reaches
them through one libpq multi-host URL (``target_session_attrs=read-write``). Facilities keep
asking over HTTPS while the primary's postmaster is killed with SIGKILL. Shown: the standby is
promoted, answers resume within 30 s, every answer the service gave has its audit entry on the
new primary, and ``onshi central audit verify`` passes there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from onshi.central.api.errors import install_error_handlers
from onshi.central.client import CentralClient, CentralRefused, CentralUnavailable
from onshi.central.storage import tables as t
from onshi.db import is_sqlite, make_engine, normalise_url
from tests.central import factories
from tests.patroni import PatroniCluster, create_database, missing_tools
from tests.stack import CentralStack, central_stack

PERSONS = 5
CLIENTS = 3
RESUME_WITHIN_SECONDS = 30


@pytest.fixture
def cluster() -> Iterator[PatroniCluster]:
    reason = missing_tools()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    cluster = PatroniCluster(nodes=2)
    try:
        cluster.start()
        create_database(cluster)
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Outcome:
    person: int
    started: float
    ended: float
    error: str | None  # None: answered


@dataclass
class Traffic:
    """Facilities asking in a loop, each from its own thread and HTTPS connection."""

    stack: CentralStack
    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        s = self.stack
        with CentralClient(s.url, s.cert_path, s.key_path, s.ca_path, timeout=20) as client:
            i = worker
            while not self.stop.is_set():
                person = i % PERSONS
                i += CLIENTS
                started = time.monotonic()
                error = None
                try:
                    answer = client.confirm_by_card_number(_question(person))
                    assert answer["MessageBody"]["QualificationValidity"] == "1", answer
                except CentralRefused as exc:
                    error = f"refused {exc.status} {exc.code}"
                except CentralUnavailable as exc:
                    # 503 DATABASE_UNAVAILABLE: the terminal agent would retry later.
                    database = "DATABASE_UNAVAILABLE" in exc.message
                    error = "503 DATABASE_UNAVAILABLE" if database else exc.message
                    time.sleep(0.2)  # what Retry-After asks of a client, shortened
                with self.lock:
                    self.outcomes.append(Outcome(person, started, time.monotonic(), error))

    def answered(self, after: float = 0.0) -> list[Outcome]:
        with self.lock:
            return [o for o in self.outcomes if o.error is None and o.started >= after]


def _question(person: int) -> dict[str, object]:
    return {
        "QualificationConfirmationDate": "20261123",
        "QualificationConfirmSearchInfo": {
            "InsurerNumber": factories.DEFAULTS["InsurerNumber"],
            "InsuredCardSymbol": factories.DEFAULTS["InsuredCardSymbol"],
            "InsuredIdentificationNumber": str(person),
            "InsuredBranchNumber": factories.DEFAULTS["InsuredBranchNumber"],
            "Birthdate": "19800401",
        },
    }


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("whole_node", [False, True], ids=["postmaster", "whole-node"])
def test_answers_resume_after_the_primary_is_killed(
    cluster: PatroniCluster, tmp_path: Path, whole_node: bool
) -> None:
    url = cluster.url()
    stack = central_stack(url, tmp_path)  # migrates the schema through the multi-host URL
    traffic = Traffic(stack)
    threads = [threading.Thread(target=traffic.run, args=(w,)) for w in range(CLIENTS)]
    try:
        with stack.central.db.transaction() as session:
            factories.qualifications(session, PERSONS)
        for thread in threads:
            thread.start()
        _wait(lambda: len(traffic.answered()) >= 30, 60, "no steady traffic before the kill")
        # Every commit so far waited for the standby: it is synchronous and streaming.
        with stack.central.db.engine.connect() as connection:
            states = connection.execute(
                text("SELECT application_name, sync_state, state FROM pg_stat_replication")
            ).all()
        assert [tuple(r) for r in states] == [(cluster.nodes[1].name, "sync", "streaming")]

        killed = cluster.kill_primary(whole_node=whole_node)
        killed_at = time.monotonic()
        _wait(
            lambda: len(traffic.answered(after=killed_at)) >= 30,
            RESUME_WITHIN_SECONDS + 30,
            f"answers did not resume; errors: {_errors(traffic)}\n{cluster.logs()}",
        )
    finally:
        traffic.stop.set()
        for thread in threads:
            thread.join(30)
        stack.close()

    # The synchronous standby took over (a failover, not a restart of the same node).
    _wait(lambda: cluster.leader() is not None, 30, "no leader after the failover")
    leader = cluster.leader()
    assert leader is not None and leader.name != killed.name

    resumed = min(o.ended for o in traffic.answered(after=killed_at)) - killed_at
    assert resumed < RESUME_WITHIN_SECONDS, f"first answer {resumed:.1f} s after the kill"
    # While no primary existed, the service said so (503, Retry-After), nothing else.
    assert set(_errors(traffic)) <= {"503 DATABASE_UNAVAILABLE"}, _errors(traffic)

    # Every answer given has its audit entry on the new primary: none committed was lost.
    # A request that failed may still have left one (audited, not answered: the safe side).
    answered = _per_person(traffic.answered())
    failed = _per_person([o for o in traffic.outcomes if o.error is not None])
    audited = _audited_per_subject(stack, url)
    for person in range(PERSONS):
        subject = _subject(stack, person)
        assert answered[person] <= audited.get(subject, 0) <= answered[person] + failed[person], (
            person,
            answered[person],
            failed[person],
            audited.get(subject),
        )

    verify = subprocess.run(
        [sys.executable, "-m", "onshi", "central", "audit", "verify", "--db", url],
        capture_output=True,
        text=True,
        env={**os.environ, **stack_env(stack)},
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr

    rejoined = ""
    if not whole_node:
        # Its Patroni rewinds the old primary (use_pg_rewind) and it follows the new one.
        started = time.monotonic()
        _wait(
            lambda: _role(cluster, killed.name) == "sync_standby",
            60,
            f"{killed.name} did not rejoin as the synchronous standby\n{cluster.logs()}",
        )
        rejoined = (
            f"; {killed.name} rejoined as sync standby {time.monotonic() - started:.0f} s later"
        )
    print(
        f"\nfailover: first answer {resumed:.1f} s after SIGKILL of {killed.name}'s "
        f"{'Patroni and postmaster' if whole_node else 'postmaster'}; "
        f"{sum(answered.values())} answered, {sum(failed.values())} refused meanwhile; "
        f"new leader {leader.name}{rejoined}"
    )


def _role(cluster: PatroniCluster, name: str) -> str | None:
    for member in cluster.members():
        if member.get("name") == name and member.get("state") in ("running", "streaming"):
            return str(member.get("role"))
    return None


@pytest.mark.slow
@pytest.mark.postgres
def test_restore_drill_from_base_backup_and_wal_archive(
    cluster: PatroniCluster, tmp_path: Path
) -> None:
    """docs/central/operations.md's restore drill: pg_basebackup, more answers (only in the
    archived WAL), then a lone server restored from both holds every audit entry and verifies."""
    url = cluster.url()
    stack = central_stack(url, tmp_path)
    try:
        with stack.central.db.transaction() as session:
            factories.qualifications(session, PERSONS)
        s = stack
        with CentralClient(s.url, s.cert_path, s.key_path, s.ca_path) as client:
            for i in range(10):
                client.confirm_by_card_number(_question(i % PERSONS))
            backup = cluster.base_backup("daily")
            for i in range(15):  # after the base backup: recoverable from the archive only
                client.confirm_by_card_number(_question(i % PERSONS))
        cluster.archive_current_wal()
        before = _audited_per_subject(stack, url)
    finally:
        stack.close()
    assert sum(before.values()) == 25

    restored = cluster.restore(backup)
    assert _audited_per_subject(stack, restored) == before
    verify = subprocess.run(
        [sys.executable, "-m", "onshi", "central", "audit", "verify", "--db", restored],
        capture_output=True,
        text=True,
        env={**os.environ, **stack_env(stack)},
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


def stack_env(stack: CentralStack) -> dict[str, str]:
    """The settings the service ran with, for the CLI in another process."""
    return {
        "ONSHI_CENTRAL_DATA_DIR": str(stack.settings.data_dir),
        "ONSHI_CENTRAL_IDENTIFIER_KEY": stack.settings.identifier_key,
    }


def _errors(traffic: Traffic) -> dict[str, int]:
    counts: dict[str, int] = {}
    with traffic.lock:
        for o in traffic.outcomes:
            if o.error is not None:
                counts[o.error] = counts.get(o.error, 0) + 1
    return counts


def _per_person(outcomes: list[Outcome]) -> dict[int, int]:
    counts = dict.fromkeys(range(PERSONS), 0)
    for o in outcomes:
        counts[o.person] += 1
    return counts


def _subject(stack: CentralStack, person: int) -> str:
    d = factories.DEFAULTS
    return stack.central.audit.subject(
        d["InsurerNumber"], d["InsuredCardSymbol"], str(person), d["InsuredBranchNumber"]
    )


def _audited_per_subject(stack: CentralStack, url: str) -> dict[str, int]:
    from onshi.central.storage.database import Database

    db = Database(url)
    try:
        with db.sessions() as session:
            rows = session.execute(
                select(t.AuditEntry.subject, func.count())
                .where(t.AuditEntry.action == "eligibility.card-number")
                .group_by(t.AuditEntry.subject)
            ).all()
        return {subject: count for subject, count in rows}
    finally:
        db.dispose()


# -- the pieces, without a cluster -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "hosts", "ports", "extra"),
    [
        (
            "postgresql://onshi:s%40cret@192.0.2.1:5432,192.0.2.2:5433/central"
            "?target_session_attrs=read-write",
            "192.0.2.1,192.0.2.2",
            "5432,5433",
            {"target_session_attrs": "read-write", "password": "s@cret"},
        ),
        ("postgres://192.0.2.1,192.0.2.2:5433/central", "192.0.2.1,192.0.2.2", ",5433", {}),
        (  # SQLAlchemy's own form passes through
            "postgresql+psycopg://onshi@/central?host=192.0.2.1:5432&host=192.0.2.2:5432",
            "192.0.2.1,192.0.2.2",
            "5432,5432",
            {},
        ),
    ],
)
def test_multi_host_urls_reach_libpq_with_every_host(
    given: str, hosts: str, ports: str, extra: dict[str, str]
) -> None:
    assert not is_sqlite(given)
    engine = make_engine(given)
    seen: dict[str, Any] = {}

    @event.listens_for(engine, "do_connect")
    def _capture(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        seen.update(cparams)
        raise _Captured  # what libpq would be given; no connection attempted

    try:
        with pytest.raises(_Captured):
            engine.connect()
    finally:
        engine.dispose()
    args = seen
    assert (args["host"], args["port"], args["dbname"]) == (hosts, ports, "central")
    assert args["connect_timeout"] == 5  # each unreachable node costs at most 5 s
    for key, value in extra.items():
        assert args[key] == value


class _Captured(Exception):
    pass


def test_single_host_and_sqlite_urls_are_unchanged() -> None:
    assert normalise_url("postgresql://onshi@192.0.2.1/central") == (
        "postgresql+psycopg://onshi@192.0.2.1/central"
    )
    assert normalise_url("sqlite:///var/central/central.sqlite3") == (
        "sqlite:///var/central/central.sqlite3"
    )


def test_no_database_is_503_with_retry_after() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/")
    def _down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("no primary"))

    response = TestClient(app).get("/")
    assert response.status_code == 503
    assert response.json()["code"] == "DATABASE_UNAVAILABLE"
    assert int(response.headers["retry-after"]) > 0
    assert "no primary" not in response.text  # the database's own words stay inside


def test_client_treats_503_as_unavailable_so_terminals_retry() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        body = {"code": "DATABASE_UNAVAILABLE", "message": "retry shortly"}
        return httpx.Response(503, json=body, headers={"Retry-After": "2"})

    client = CentralClient("https://central.invalid", transport=httpx.MockTransport(handler))
    with client, pytest.raises(CentralUnavailable) as unavailable:
        client.confirm_by_card_number(_question(0))
    assert "DATABASE_UNAVAILABLE" in unavailable.value.message
    assert "retry after 2 s" in unavailable.value.message
