"""一括照会 (bulk eligibility checks): accepted at once, answered in the background.

Questions and answers live in the database, not in memory: a worker killed mid-way resumes at
the first unanswered record when it starts again, and every record is answered exactly once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class BulkWorker:
    """A thread that answers pending receptions; ``notify`` wakes it after a submission."""

    def __init__(self, process_pending: Callable[[], int], *, idle_seconds: float = 5.0) -> None:
        self._process_pending = process_pending
        self._idle = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="onshi-bulk", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        # Pending work from before a restart is picked up at once, then on every wake-up;
        # the idle timeout catches receptions submitted through another process.
        while not self._stop.is_set():
            try:
                self._process_pending()
            except Exception:
                log.exception("bulk processing failed; retrying")
            self._wake.wait(self._idle)
            self._wake.clear()


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
