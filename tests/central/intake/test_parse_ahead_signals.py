"""The parsing child when something dies: the importing process, or the child itself.

The child inherits the importing process's database connection (its socket): a child left
running after its parent died keeps that connection open, and on PostgreSQL the dead import's
transaction, with its locks, with it.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from onshi.central.intake import insured_store
from onshi.central.intake.counts import ImportCounts
from onshi.central.intake.insured_store import import_insured
from onshi.central.storage.database import Database

from .support import counts, csv_bytes, row

# An import whose writes never end: the child parses ahead until the pipe and queue are full.
_STALLED_IMPORT = """
import os, sys, time, multiprocessing
from onshi.central.intake import insured_store
from onshi.central.storage.database import Database

def stalled(self, chunk):
    (child,) = multiprocessing.active_children()
    print(child.pid, flush=True)
    time.sleep(3600)

for store in (insured_store.SqliteStore, insured_store.PostgresMerge):
    store.send = stalled
with open(sys.argv[2], "rb") as f:
    insured_store.import_insured(Database(sys.argv[1]), f, chunk_size=50, parse_ahead=True)
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # ended, not (yet) reaped by its new parent


def _sessions(url: str) -> int:
    """Other sessions connected to the database of ``url``."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as c:
            return int(
                c.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_the_child_ends_when_the_importing_process_is_killed(db_url: str, tmp_path: Path) -> None:
    """SIGKILL (or an OOM kill) gives the importing process no chance to stop its child: the
    child must notice on its own, and let go of the connection it inherited."""
    path = tmp_path / "insured.csv"
    path.write_bytes(csv_bytes([row(n) for n in range(1, 3000)]))
    parent = subprocess.Popen(
        [sys.executable, "-c", _STALLED_IMPORT, db_url, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.5)  # the child fills the queue and the pipe, then waits to send
        assert not _gone(child)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(child), "the parsing child outlived the importing process"
        if db_url.startswith("postgresql"):
            deadline = time.monotonic() + 10
            while _sessions(db_url) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _sessions(db_url) == 0  # the dead import's transaction (and locks) ended
    finally:
        parent.kill()
        parent.wait()
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)
    database = Database(db_url)
    try:
        assert set(counts(database).values()) == {0}
    finally:
        database.dispose()


def test_a_child_killed_mid_file_is_a_clear_error(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while its next chunk is half written to the pipe: the import fails saying so,
    stores nothing, and leaves no child (nor zombie) behind."""
    store = (
        insured_store.PostgresMerge
        if database.engine.dialect.name == "postgresql"
        else insured_store.SqliteStore
    )
    original = store.send
    killed: list[int] = []

    def kill_the_child(self: Any, chunk: Any) -> None:
        if not killed:
            (child,) = multiprocessing.active_children()
            time.sleep(0.5)  # the pipe fills: the next chunk is in it only in part
            os.kill(child.pid, signal.SIGKILL)
            killed.append(child.pid)
            while not _gone(child.pid):
                time.sleep(0.01)
        original(self, chunk)

    monkeypatch.setattr(store, "send", kill_the_child)
    data = csv_bytes([row(n) for n in range(1, 3000)])
    with pytest.raises(RuntimeError, match=r"parsing process ended .*exit code -9"):
        import_insured(database, io.BytesIO(data), chunk_size=1000, parse_ahead=True)
    assert killed
    assert not multiprocessing.active_children()
    assert not Path(f"/proc/{killed[0]}").exists()  # reaped
    assert set(counts(database).values()) == {0}
    monkeypatch.undo()
    assert import_insured(database, io.BytesIO(data), parse_ahead=True) == ImportCounts(
        inserted=2999
    )
