"""Two imports at once: the second waits for the first to commit, then sees what it stored.

Without that, the second decides from what it read before the first committed: an IndividualId
it thinks new is created a second time (on PostgreSQL a unique violation whose message quotes
the id), or on SQLite an insurer it thinks new is inserted again, or its write fails on a stale
snapshot ("database is locked").
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from onshi.central.intake import insured_store
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

from .support import csv_bytes, row

KOKUHO = {"InsurerNumber": "138057", "InsurerName": "新宿区国民健康保険"}


def _store(database: Database) -> Any:
    if database.engine.dialect.name == "postgresql":
        return insured_store.PostgresMerge
    return insured_store.SqliteStore


@pytest.mark.parametrize("first_load", [False, True])
def test_a_second_import_waits_for_the_first(
    database: Database, monkeypatch: pytest.MonkeyPatch, first_load: bool
) -> None:
    if not first_load:
        import_insured(database, io.BytesIO(csv_bytes([row(100)])))
    store = _store(database)
    original = store.finish
    reached, go = threading.Event(), threading.Event()

    def paused(self: Any) -> ImportCounts:
        if not reached.is_set():  # the first import only: written, not committed yet
            reached.set()
            assert go.wait(30)
        return original(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(store, "finish", paused)
    files = {
        "first": csv_bytes([row(1), row(2, IndividualId="P1")]),
        # another insurer's file naming the same person
        "second": csv_bytes([row(3, IndividualId="P1", **KOKUHO), row(4, **KOKUHO)]),
    }
    results: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            results[name] = import_insured(database, io.BytesIO(files[name]), parse_ahead=False)
        except Exception as exc:
            results[name] = exc

    first = threading.Thread(target=run, args=("first",))
    first.start()
    assert reached.wait(30)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    time.sleep(0.5)  # the second import gets as far as it can
    go.set()
    first.join(60)
    second.join(60)
    assert results == {"first": ImportCounts(inserted=2), "second": ImportCounts(inserted=2)}
    with database.engine.connect() as c:
        cards = c.exec_driver_sql(
            'SELECT q."InsuredIdentificationNumber" FROM qualification q JOIN individual i '
            "ON i.id = q.individual_id WHERE i.external_id = 'P1'"
        ).scalars()
        assert sorted(cards) == ["5002", "5003"]
