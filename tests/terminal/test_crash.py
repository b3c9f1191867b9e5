"""SIGKILL at any moment loses no request and duplicates no answer — per arrival.

A fixed request name is sent again whenever its previous answer has been read (and removed),
as billing software that reuses names does: each arrival is answered exactly once.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from onshi.central.storage import tables as t
from tests.stack import CentralStack, terminal_settings
from tests.terminal.oqs_files import (
    bulk_upload_request,
    drop,
    eligibility_request,
    read,
    text,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]


class Arrivals(FileSystemEventHandler):
    """Counts every time a file appears in res under its final name (created or renamed in)."""

    def __init__(self) -> None:
        self.count: collections.Counter[str] = collections.Counter()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type == "moved":
            name = Path(str(event.dest_path)).name
        elif event.event_type == "created":
            name = Path(str(event.src_path)).name
        else:
            return
        if not name.startswith("."):
            self.count[name] += 1


def start(settings_file: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.terminal.agent_process", str(settings_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


@pytest.mark.slow
def test_killing_the_agent_repeatedly_loses_and_duplicates_nothing(
    stack: CentralStack, tmp_path: Path
) -> None:
    settings = terminal_settings(stack, tmp_path)
    settings_file = tmp_path / "terminal.json"
    settings_file.write_text(settings.model_dump_json())
    req, res = settings.oqs_dir / "req", settings.oqs_dir / "res"
    req.mkdir(parents=True)
    res.mkdir(parents=True)
    arrivals = Arrivals()
    observer = Observer()
    observer.schedule(arrivals, str(res))
    observer.start()
    rng = random.Random(20261123)
    expected: list[str] = []
    fixed = "OQSsiquc01req_fixed.xml"
    fixed_answer = res / fixed.replace("req", "res")
    sent_fixed: list[str] = []  # the ArbitraryFileIdentifier of each arrival of the fixed name
    read_fixed: list[str] = []
    try:
        for round_ in range(6):
            # The client reads the previous answer of the fixed name and sends the name again.
            if fixed_answer.exists():
                read_fixed.append(
                    str(text(read(fixed_answer), "MessageHeader/ArbitraryFileIdentifier"))
                )
                fixed_answer.unlink()
            if not sent_fixed or len(read_fixed) == len(sent_fixed):
                sent_fixed.append(f"fixed-{round_}")
                drop(req, fixed, eligibility_request(identifier=sent_fixed[-1]))
            for i in range(15):
                name = f"OQSsiquc01req_r{round_}_{i}.xml"
                drop(req, name, eligibility_request(identifier=f"r{round_}-{i}"))
                expected.append(name.replace("req", "res"))
            name = f"OQSmuquc01req_r{round_}.xml"
            drop(req, name, bulk_upload_request(1500))
            expected.append(name.replace("req", "res"))
            process = start(settings_file)
            if round_ % 2 == 0:  # every other round the fixed name is answered before the kill
                wait_for(fixed_answer, timeout=30)
            time.sleep(rng.uniform(0.05, 0.6))
            process.send_signal(signal.SIGKILL)
            process.wait()
        process = start(settings_file)
        try:
            for name in expected:
                wait_for(res / name, timeout=60)
            while len(read_fixed) < len(sent_fixed):
                read_fixed.append(
                    str(
                        text(
                            read(wait_for(fixed_answer, timeout=60)),
                            "MessageHeader/ArbitraryFileIdentifier",
                        )
                    )
                )
                fixed_answer.unlink()
        finally:
            process.terminate()
            process.wait(10)
        time.sleep(0.5)
    finally:
        observer.stop()
        observer.join()
    answers = sorted(p.name for p in res.iterdir())
    assert answers == sorted(expected)  # nothing lost, nothing extra, no temporary files left
    assert not list(req.iterdir())
    once = {name: n for name, n in arrivals.count.items() if name != fixed_answer.name}
    assert set(once.values()) == {1}
    assert arrivals.count[fixed_answer.name] == len(sent_fixed)
    assert len(sent_fixed) >= 3  # the name really was sent again, several times
    assert read_fixed == sent_fixed  # one answer per arrival, in order
    # A bulk upload resent after a crash reuses its reception at the central service.
    with stack.central.db.sessions() as session:
        receptions = session.scalar(select(func.count()).select_from(t.BulkReception))
    assert receptions == 6
