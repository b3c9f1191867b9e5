"""A database error during an import says what failed, never what the row held.

An exception message ends up in logs and on the operator's terminal. SQLAlchemy appends a
statement's parameters (the earlier row, as history JSON: name, birthdate, card number) and
PostgreSQL its DETAIL and CONTEXT lines ("Failing row contains (…)", a COPY line's value).
"""

from __future__ import annotations

import io
import traceback

import pytest
from sqlalchemy import text

from onshi.central.errors import ImportFailed
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row

PERSONAL = ("山田", "ﾔﾏﾀﾞ", "5001", "19800115", "1980-01-15", "新宿区", "PX4242")


def _told(exc: BaseException) -> str:
    """Everything a log line or a traceback on the terminal would show."""
    return "".join(traceback.format_exception(exc))


def _refuse_history(database: Database) -> None:
    """The history insert fails on the server (as a full disk or a lost connection would)."""
    with database.engine.begin() as c:
        if database.engine.dialect.name == "postgresql":
            c.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$BEGIN RAISE EXCEPTION 'no space left on device'; END$$"
                )
            )
            c.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON qualification_history "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
        else:
            c.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON qualification_history "
                    "BEGIN SELECT RAISE(ABORT, 'no space left on device'); END"
                )
            )


def test_a_failing_history_insert_names_no_person(database: Database) -> None:
    first = [row(1, IndividualId="PX4242"), row(2)]
    assert import_insured(database, io.BytesIO(csv_bytes(first))) == ImportCounts(inserted=2)
    _refuse_history(database)
    before = counts(database)
    changed = [row(1, IndividualId="PX4242", Address="大阪府"), row(2)]
    with pytest.raises(ImportFailed) as caught:
        import_insured(database, io.BytesIO(csv_bytes(changed)), chunk_size=1)
    told = _told(caught.value)
    assert "no space left on device" in str(caught.value)
    assert not [p for p in PERSONAL if p in told], told
    assert counts(database) == before


@pytest.mark.postgres
@pytest.mark.parametrize("first_load", [True, False])
def test_a_constraint_the_server_checks_names_no_person(
    postgres_url: str, first_load: bool
) -> None:
    """A CHECK added later (here by hand) that a row fails: the server's DETAIL lists the row."""
    database = Database(postgres_url)
    try:
        if not first_load:
            import_insured(database, io.BytesIO(csv_bytes([row(9)])))
        with database.engine.begin() as c:
            c.execute(
                text(
                    'ALTER TABLE qualification ADD CONSTRAINT no_osaka CHECK ("Address" <> '
                    "'大阪府')"
                )
            )
        rows = [row(1, IndividualId="PX4242", Address="大阪府"), row(2)]
        with pytest.raises(ImportFailed, match="no_osaka") as caught:
            import_insured(database, io.BytesIO(csv_bytes(rows)))
        told = _told(caught.value)
        assert "CheckViolation" in told and "23514" in told
        assert not [p for p in PERSONAL if p in told], told
    finally:
        database.dispose()
