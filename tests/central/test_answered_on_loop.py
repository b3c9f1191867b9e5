"""Inquiries by card number answered from the event loop through asyncpg (the server's way on
PostgreSQL): the same answers and audit entries as the threaded way, in a chain of the loop's
own; a connection that dies costs the group it was serving, nothing else."""

# ruff: noqa: F811 - the fixtures of test_services are imported, then asked for by name

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text

from onshi.central.api.routes import RegisteredFacilities
from onshi.central.api.routes.eligibility import card_number_answers_on_loop
from onshi.central.errors import DatabaseUnavailable, FacilityNotAuthorised
from onshi.central.services.central import Central
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database
from onshi.central.storage.loop_connection import LoopConnection
from tests.central.test_answered_together import _questions, _without_time
from tests.central.test_bulk_batching import _people
from tests.central.test_services import (  # noqa: F401 - fixtures
    CLINIC,
    PHARMACY,
    Clock,
    central,
    clock,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """PostgreSQL only: the server answers on the loop there (on SQLite, in its own thread)."""
    return postgres_url


@pytest.fixture
def on_postgres(central: Central, database: Database) -> Central:
    central.register_facility(PHARMACY, "pharmacy")
    with database.transaction() as s:
        _people(s)
    return central


def _chains(database: Database) -> dict[str, int]:
    with database.sessions() as s:
        rows = s.execute(select(t.AuditEntry.chain, func.count()).group_by(t.AuditEntry.chain))
        return {chain: count for chain, count in rows}


def test_answered_on_the_loop_as_by_a_thread(on_postgres: Central, database: Database) -> None:
    central = on_postgres
    questions = _questions()
    asked = [(CLINIC if i % 3 else PHARMACY, q) for i, q in enumerate(questions)]
    plain = [a for a in asked if not a[1].limit_consent]
    assert plain and len(plain) < len(asked)
    threaded = central.confirm_by_card_numbers(asked)

    async def on_loop() -> tuple[list[Any], list[Any]]:
        try:
            return (
                await central.confirm_by_card_numbers_on_loop(plain),
                # With the limit consent, certificates to read too (in a thread, between).
                await central.confirm_by_card_numbers_on_loop(asked),
            )
        finally:
            await central.close_loop_connection()

    looped, mixed = asyncio.run(on_loop())
    by_thread = dict(zip(map(id, asked), threaded, strict=True))
    assert [_without_time(a) for a in looped] == [_without_time(by_thread[id(a)]) for a in plain]
    assert [_without_time(a) for a in mixed] == [_without_time(a) for a in threaded]
    # The loop wrote a chain of its own; the threaded answers went to the threads' chain.
    assert sorted(_chains(database).values()) == [len(asked), len(plain) + len(asked)]
    assert central.audit.verify().entries == len(plain) + 2 * len(asked)


def test_a_dead_connection_fails_its_group_only(on_postgres: Central, database: Database) -> None:
    central = on_postgres
    plain = [(CLINIC, q) for q in _questions() if not q.limit_consent][:4]

    async def scenario() -> list[Any]:
        outcomes: list[Any] = [await central.confirm_by_card_numbers_on_loop(plain)]
        connection = central._loop_connection
        assert connection is not None
        pid = connection.server_pid
        assert pid is not None
        with database.engine.connect() as c:  # what a failover does to it
            c.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        try:
            await central.confirm_by_card_numbers_on_loop(plain)
        except DatabaseUnavailable as exc:
            outcomes.append(exc)
        outcomes.append(await central.confirm_by_card_numbers_on_loop(plain))
        await central.close_loop_connection()
        return outcomes

    first, failed, again = asyncio.run(scenario())
    assert isinstance(failed, DatabaseUnavailable), failed
    assert [_without_time(a) for a in again] == [_without_time(a) for a in first]
    assert central.audit.verify().entries == 2 * len(plain)  # the failed group: not audited


def test_an_append_whose_answer_was_lost_goes_on_from_the_stored_head(
    on_postgres: Central, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The INSERT committed, but its answer never came back (a failover between the two): the
    group fails, and the next append continues after the entries that did get in."""
    central = on_postgres
    plain = [(CLINIC, q) for q in _questions() if not q.limit_consent][:3]
    lose_answer = [False]
    real_using = LoopConnection.using

    class AnswerLost:
        def __init__(self, connection: Any) -> None:
            self.connection = connection

        def __getattr__(self, name: str) -> Any:  # the rest as the real connection
            return getattr(self.connection, name)

        async def execute(self, statement: str, *params: Any) -> Any:
            done = await self.connection.execute(statement, *params)
            if lose_answer[0] and statement.startswith("INSERT"):
                lose_answer[0] = False
                raise ConnectionError("the INSERT's answer was lost")
            return done

    @contextlib.asynccontextmanager
    async def using(self: LoopConnection) -> AsyncIterator[Any]:
        async with real_using(self) as connection:
            yield AnswerLost(connection)

    monkeypatch.setattr(LoopConnection, "using", using)

    async def scenario() -> None:
        await central.confirm_by_card_numbers_on_loop(plain)
        lose_answer[0] = True
        with pytest.raises(DatabaseUnavailable) as lost:
            await central.confirm_by_card_numbers_on_loop(plain)
        assert isinstance(lost.value.__cause__, ConnectionError)
        await central.confirm_by_card_numbers_on_loop(plain)
        await central.close_loop_connection()

    asyncio.run(scenario())
    # One chain: the lost group's entries are in (audited, not answered: the safe side).
    assert list(_chains(database).values()) == [3 * len(plain)]
    assert central.audit.verify().entries == 3 * len(plain)


def test_what_counts_as_the_database_unavailable(database: Database) -> None:
    """503 and ask again for a lost server, a standby, a connection in a broken state; a
    statement the server refuses stays what it is (500 at the API). The connection is dropped
    either way, and the next use has a new one."""
    connection = LoopConnection(database.engine)

    async def raised(statement: str) -> BaseException:
        with pytest.raises(Exception) as caught:
            async with connection.using() as c:
                await c.execute(statement)
        return caught.value

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with connection.using() as c:
            await c.fetchval("SELECT 1")
        first = connection.server_pid
        seen["refused"] = await raised("SELECT 1 / 0")
        seen["dropped"] = connection.server_pid is None
        seen["read-only"] = await raised(  # as on a primary demoted under the connection
            "BEGIN READ ONLY; CREATE TABLE written (x int); COMMIT"
        )
        seen["terminated"] = await raised("SELECT pg_terminate_backend(pg_backend_pid())")
        with pytest.raises(DatabaseUnavailable) as broken:
            async with connection.using():
                raise asyncpg.InternalClientError("another operation is in progress")
        seen["broken"] = broken.value
        async with connection.using() as c:
            seen["after"] = await c.fetchval("SELECT 1")
        seen["new"] = connection.server_pid not in (None, first)
        await connection.close()
        return seen

    seen = asyncio.run(scenario())
    assert isinstance(seen["refused"], asyncpg.DivisionByZeroError)
    assert seen["dropped"] and seen["new"]
    assert isinstance(seen["read-only"], DatabaseUnavailable)
    assert isinstance(seen["read-only"].__cause__, asyncpg.ReadOnlySQLTransactionError)
    assert isinstance(seen["terminated"], DatabaseUnavailable)
    assert isinstance(seen["broken"].__cause__, asyncpg.InternalClientError)
    assert seen["after"] == 1


def test_facility_look_ups_and_refusals_leave_the_loop(
    on_postgres: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A facility not confirmed lately is looked up, and a refused one audited, in a worker
    thread (blocking calls through the engine); a group of confirmed facilities needs neither."""
    central = on_postgres
    registered = RegisteredFacilities(ttl=60)
    answer_many = card_number_answers_on_loop(central, registered)
    looked_up: list[tuple[str, bool]] = []
    require = central.require_facility

    def recording(code: str) -> Any:
        looked_up.append((code, threading.current_thread() is threading.main_thread()))
        return require(code)

    monkeypatch.setattr(central, "require_facility", recording)
    question = next(q for q in _questions() if not q.limit_consent)
    unknown = "0119999999"

    async def scenario() -> tuple[list[Any], list[Any]]:
        try:
            first = await answer_many([(CLINIC.value, None, question), (unknown, None, question)])
            again = await answer_many([(CLINIC.value, None, question)])
            return first, again
        finally:
            await central.close_loop_connection()

    first, again = asyncio.run(scenario())
    assert isinstance(first[1], FacilityNotAuthorised)
    assert isinstance(first[0], dict) and _without_time(first[0]) == _without_time(again[0])
    # Both looked up once, neither on the loop's thread; the confirmed one not again.
    assert sorted(looked_up) == sorted([(CLINIC.value, False), (unknown, False)])
