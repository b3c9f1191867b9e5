"""Audit order across processes: writers on one PostgreSQL database, each on its own chain.

Two processes append concurrently (each keeps writing until it has seen the other write), then
the whole log verifies and their entries interleave in ``seq``. Two writers forced onto one
chain (a misconfiguration) are kept correct by re-reading the head on a conflict; a forked
child starts a chain of its own.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from onshi.central.services.audit import AuditLog, verify_chain
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

AUDIT_KEY = bytes(range(1, 33))
ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, threading
    from sqlalchemy import func, select
    from onshi.central.services.audit import AuditLog
    from onshi.central.storage import tables as t
    from onshi.central.storage.database import Database

    url, key, facility = sys.argv[1], bytes.fromhex(sys.argv[2]), sys.argv[3]
    db = Database(url)
    log = AuditLog(db, "i" * 64, audit_key=key)

    def others() -> int:
        with db.sessions() as s:
            return s.scalar(
                select(func.count()).select_from(t.AuditEntry)
                .where(t.AuditEntry.MedicalInstitutionCode != facility)
            ) or 0

    def write(n: int) -> None:
        for i in range(n):
            log.record(facility=facility, action="eligibility.card-number",
                       subject=log.subject(str(i)), outcome="validity-1")

    # Write until the other process has written too, so that the two really overlap.
    written = 0
    while written < 200 or others() < 40:
        threads = [threading.Thread(target=write, args=(10,)) for _ in range(4)]
        for th in threads: th.start()
        for th in threads: th.join()
        written += 40
        if written > 20_000:
            sys.exit("the other writer never wrote")
    print(written)
    """
)


@pytest.mark.postgres
def test_two_processes_append_concurrently_and_the_log_verifies(postgres_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgres_url, AUDIT_KEY.hex(), facility],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for facility in ("1311111111", "1341111111")
    ]
    written = []
    for w in writers:
        out, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
        written.append(int(out))
    db = Database(postgres_url)
    try:
        report = verify_chain(db, AUDIT_KEY)
        with db.sessions() as s:
            rows = s.execute(
                select(t.AuditEntry.seq, t.AuditEntry.chain, t.AuditEntry.MedicalInstitutionCode)
            ).all()
    finally:
        db.dispose()
    assert report.entries == sum(written) == len(rows)
    assert len(report.chains) == 2
    by_facility: dict[str, set[str]] = {}
    seqs: dict[str, list[int]] = {}
    for seq, chain, facility in rows:
        by_facility.setdefault(facility, set()).add(chain)
        seqs.setdefault(chain, []).append(seq)
    assert all(len(chains) == 1 for chains in by_facility.values())  # one chain per process
    first, second = seqs.values()
    assert min(first) < max(second) and min(second) < max(first)  # they did interleave


@pytest.fixture
def two_logs(database: Database) -> Iterator[tuple[AuditLog, AuditLog]]:
    a = AuditLog(database, "i" * 64, audit_key=AUDIT_KEY)
    b = AuditLog(database, "i" * 64, audit_key=AUDIT_KEY)
    for log in (a, b):  # both claim one chain, as two processes given one name would
        log._pid, log.chain = os.getpid(), "shared"
    yield a, b
    a.close()
    b.close()


def record(log: AuditLog, outcome: str) -> None:
    log.record(
        facility="1311111111", action="eligibility.card-number", subject=None, outcome=outcome
    )


def test_writers_sharing_a_chain_retry_on_the_moved_head(
    two_logs: tuple[AuditLog, AuditLog], database: Database
) -> None:
    a, b = two_logs
    record(a, "a1")
    record(b, "b1")  # b's head was read after a1: fine
    record(a, "a2")  # a's cached head is stale: the conflict makes it re-read and retry
    record(b, "b2")
    report = verify_chain(database, AUDIT_KEY)
    assert report.entries == 4 and [c.chain for c in report.chains] == ["shared"]
    with database.sessions() as s:
        outcomes = s.scalars(select(t.AuditEntry.outcome).order_by(t.AuditEntry.chain_seq)).all()
    assert outcomes == ["a1", "b1", "a2", "b2"]


def _child_writes(log: AuditLog) -> None:
    record(log, "child")
    log.close()


def test_a_forked_child_writes_a_chain_of_its_own(database: Database) -> None:
    log = AuditLog(database, "i" * 64, audit_key=AUDIT_KEY)
    record(log, "parent")
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(log,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    record(log, "parent again")  # the parent's own connection still works
    report = verify_chain(database, AUDIT_KEY)
    assert report.entries == 3 and len(report.chains) == 2
    log.close()
