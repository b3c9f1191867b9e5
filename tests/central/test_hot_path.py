"""The inquiry's hot path on the database: kept reads without a transaction, a pool that fits.

Measured in bench/bench_http.py; these tests pin the behaviour the figures rest on.
"""

from __future__ import annotations

import pytest
from psycopg import pq
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from onshi.central.domain.qualification import CardKey
from onshi.central.storage import repository
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.db import make_engine


@pytest.mark.postgres
def test_lookups_run_in_autocommit_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.lookups() as connection:
            repository.find_by_card_key(connection, CardKey("06139999", "1", "2", None))
            driver = connection.connection.driver_connection
            # No BEGIN was sent: the SELECT ran on its own, nothing is left open to roll back.
            assert driver.info.transaction_status == pq.TransactionStatus.IDLE
        with db.sessions() as session:
            session.execute(text("SELECT 1"))
            driver = session.connection().connection.driver_connection
            assert driver.info.transaction_status == pq.TransactionStatus.INTRANS
    finally:
        db.dispose()


def test_lookups_keep_their_connection_between_requests(database: Database) -> None:
    with database.lookups() as first:
        pass
    with database.lookups() as again:
        assert again is first  # no pool checkout, no new Connection
        # Two at once (two worker threads): the second is another connection.
        with database.lookups() as other:
            assert other is not first


@pytest.mark.postgres
def test_lookups_never_write(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.lookups() as connection:
            count = connection.scalar(select(func.count()).select_from(t.Qualification))
        assert count == 0
        # The pooled connections are in transactional mode for every other user.
        with db.transaction() as session:
            session.execute(text("SELECT 1"))
            driver = session.connection().connection.driver_connection
            assert driver.autocommit is False
    finally:
        db.dispose()


def test_lookups_see_committed_rows(database: Database) -> None:
    with database.lookups() as connection:
        assert connection.scalars(select(t.Insurer.InsurerName)).all() == []
    with database.transaction() as session:
        session.add(t.Insurer(InsurerNumber="06139999", InsurerName="テスト健保"))
    with database.lookups() as connection:  # the same kept connection, no stale snapshot
        names = connection.scalars(select(t.Insurer.InsurerName)).all()
    assert names == ["テスト健保"]


@pytest.mark.postgres
def test_kept_lookups_are_dropped_together_when_the_server_goes_away(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.lookups() as a, db.lookups() as b, db.lookups() as c:
            pids = {
                int(x.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) for x in (a, b, c)
            }
        # What a failover does to every kept connection at once.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            for pid in pids:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        with pytest.raises(OperationalError), db.lookups() as dead:
            dead.exec_driver_sql("SELECT 1")  # one request answers 503…
        with db.lookups() as fresh:  # …the next one works, on a new backend
            assert int(fresh.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()) not in pids
    finally:
        db.dispose()


def test_postgresql_pool_fits_the_thread_pool_and_does_not_ping() -> None:
    engine = make_engine("postgresql://onshi@192.0.2.1/central")
    try:
        assert engine.pool.size() >= 40  # anyio's default thread pool runs 40 requests at once
        assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
        assert engine.pool._recycle == 1800  # type: ignore[attr-defined]
    finally:
        engine.dispose()
