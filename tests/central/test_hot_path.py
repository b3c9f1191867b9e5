"""The inquiry's hot path on the database: reads without a transaction, a pool that fits.

Measured in bench/bench_http.py; these tests pin the behaviour the figures rest on.
"""

from __future__ import annotations

import pytest
from psycopg import pq
from sqlalchemy import func, select, text

from onshi.central.domain.qualification import CardKey
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.db import make_engine


@pytest.mark.postgres
def test_reads_run_in_autocommit_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.reads() as session:
            repository.find_by_card_key(session, CardKey("06139999", "1", "2", None))
            driver = session.connection().connection.driver_connection
            # No BEGIN was sent: the SELECT ran on its own, nothing is left open to roll back.
            assert driver.info.transaction_status == pq.TransactionStatus.IDLE
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
            driver = session.connection().connection.driver_connection
            assert driver.info.transaction_status == pq.TransactionStatus.INTRANS
    finally:
        db.dispose()


@pytest.mark.postgres
def test_reads_never_write(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.reads() as session:
            count = session.scalar(select(func.count()).select_from(t.Qualification))
        assert count == 0
        # The pooled connection is back in transactional mode for the next user.
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
            driver = session.connection().connection.driver_connection
            assert driver.autocommit is False
    finally:
        db.dispose()


def test_reads_see_committed_rows(database: Database) -> None:
    with database.transaction() as session:
        session.add(t.Insurer(InsurerNumber="06139999", InsurerName="テスト健保"))
    with database.reads() as session:
        names = session.scalars(select(t.Insurer.InsurerName)).all()
    assert names == ["テスト健保"]


def test_postgresql_pool_fits_the_thread_pool_and_does_not_ping() -> None:
    engine = make_engine("postgresql://onshi@192.0.2.1/central")
    try:
        assert engine.pool.size() >= 40  # anyio's default thread pool runs 40 requests at once
        assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
        assert engine.pool._recycle == 1800  # type: ignore[attr-defined]
    finally:
        engine.dispose()
