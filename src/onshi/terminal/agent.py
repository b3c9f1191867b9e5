"""The terminal agent: watches ``req``, answers in ``res``, retries while the central is down.

Threads: the watcher (filesystem events) registers requests; one scheduler hands due requests
to a small worker pool and sleeps until the next retry is due or something new arrives (never
a busy poll); a health probe notices when the central service comes back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from onshi.central.client import CentralClient, CentralClientError
from onshi.logs import log_failure
from onshi.oqs import messages as m
from onshi.terminal.events import EventBus
from onshi.terminal.folders import OqsFolders, digest
from onshi.terminal.processor import RetryLater, process
from onshi.terminal.settings import TerminalSettings
from onshi.terminal.state import RequestRow, Stage, StateStore, now

log = logging.getLogger(__name__)
HEALTH_INTERVAL = 15.0
REQUEST_NAME = re.compile(r"[A-Za-z0-9]+req_[^/\\]*\.xml", re.IGNORECASE)


class CentralStatus:
    """What the reception screen shows about the connection to the central service."""

    def __init__(self) -> None:
        self.reachable: bool | None = None
        self.since = now()
        self.detail = ""

    def set(self, reachable: bool, detail: str = "") -> bool:
        changed = reachable != self.reachable
        if changed:
            self.since = now()
        self.reachable, self.detail = reachable, detail
        return changed

    def as_dict(self) -> dict[str, Any]:
        return {
            "reachable": self.reachable,
            "since": self.since.isoformat(timespec="seconds"),
            "detail": self.detail,
        }


class Agent:
    def __init__(
        self, settings: TerminalSettings, client: CentralClient, events: EventBus | None = None
    ) -> None:
        self.settings = settings
        self.client = client
        self.events = events or EventBus()
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.folders = OqsFolders(settings.oqs_dir, settings.state_dir / "archive")
        self.state = StateStore(settings.state_db)
        self.central = CentralStatus()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._register_lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._in_flight_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="onshi-terminal")
        self._threads: list[threading.Thread] = []
        self._observer: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        from onshi.terminal.watcher import watch

        self.recover()
        self._observer = watch(self.folders.req, self.register, polling=self.settings.use_polling)
        # A file written between recovery's scan and the watcher's start would be missed.
        for name in self.folders.pending_names():
            self.register(name)
        for target, name in ((self._schedule, "scheduler"), (self._probe, "health")):
            thread = threading.Thread(target=target, name=f"onshi-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
        for thread in self._threads:
            thread.join(5)
        self._pool.shutdown(wait=True)
        self.state.dispose()

    def recover(self) -> None:
        """Finish what a killed process left: deliver staged answers, requeue the rest."""
        self.state.release_processing()
        for row in self.state.unfinished():
            if row.stage in (Stage.ANSWERED, Stage.STAGED):
                self._deliver(row)
        for name in self.folders.pending_names():
            self.register(name)

    # -- intake ----------------------------------------------------------------------------

    def register(self, name: str) -> None:
        """A file appeared in ``req``: remember it (once) and wake the scheduler.

        Only names of the form ``…req_….xml`` are requests; anything else (a client's
        temporary file, a stray document) is left alone.
        """
        if not REQUEST_NAME.fullmatch(name):
            return
        with self._register_lock:
            if self.state.open_row(name) is not None:
                return
            data = self.folders.read_request(name)
            if data is None:
                return
            fingerprint = digest(data)
            if self.state.delivered_with_digest(name, fingerprint) is not None:
                # Answered before a crash kept it from being moved aside: move it now.
                self.folders.move_aside(name, rejected=False)
                return
            try:
                kind = m.kind_of_request(name).value
            except m.OqsMessageError:
                kind = "unknown"
            self.state.add(name, fingerprint, kind)
        self._wake.set()

    # -- scheduling ------------------------------------------------------------------------

    def _schedule(self) -> None:
        while not self._stop.is_set():
            for row_id in self.state.due():
                with self._in_flight_lock:
                    if row_id in self._in_flight:
                        continue
                    self._in_flight.add(row_id)
                self._pool.submit(self._work, row_id)
            upcoming = self.state.next_due()
            timeout = 60.0 if upcoming is None else max(0.0, (upcoming - now()).total_seconds())
            self._wake.wait(min(timeout, 60.0))
            self._wake.clear()

    def _work(self, row_id: int) -> None:
        try:
            if self.state.claim(row_id):
                self._answer(self.state.get(row_id))
        except Exception as exc:  # noqa: BLE001 — a request stays pending, the agent keeps going
            log_failure(log, f"request {row_id} failed in the agent; it stays pending", exc)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(row_id)

    def _answer(self, row: RequestRow) -> None:
        data = self.folders.read_request(row.name)
        if data is None:  # the client withdrew it
            self.state.delivered(row.id)
            return
        try:
            answer = process(self.client, row.name, data, facility_code=self.settings.facility_code)
        except RetryLater as exc:
            delay = min(
                self.settings.retry_first_seconds * 2 ** max(row.attempts - 1, 0),
                self.settings.retry_max_seconds,
            )
            self.state.retry_later(
                row.id, now() + dt.timedelta(seconds=delay), "CENTRAL_UNAVAILABLE"
            )
            if self.central.set(False, str(exc)):
                self.events.publish("central", **self.central.as_dict())
            self._wake.set()
            return
        if self.central.set(True):
            self.events.publish("central", **self.central.as_dict())
        self.state.answered(row.id, answer.name, answer.data, answer.outcome)
        self._deliver(self.state.get(row.id))
        self.events.publish(
            "answer", request=row.name, answer=answer.name, outcome=answer.outcome, **answer.summary
        )

    def _deliver(self, row: RequestRow) -> None:
        """ANSWERED → STAGED → DELIVERED: the temp file is written before its rename is recorded."""
        assert row.answer_name is not None
        final = self.folders.res / row.answer_name
        if row.stage is Stage.ANSWERED:
            assert row.answer is not None
            self.folders.write_temporary(final, row.answer)
            self.state.staged(row.id)
        self.folders.publish(final)
        self.state.delivered(row.id)
        self.folders.move_aside(row.name, rejected=row.outcome != "ok")

    def _probe(self) -> None:
        while not self._stop.wait(HEALTH_INTERVAL if self.central.reachable else 2.0):
            try:
                self.client.health()
                reachable, detail = True, ""
            except CentralClientError as exc:
                reachable, detail = False, exc.message
            if self.central.set(reachable, detail):
                self.events.publish("central", **self.central.as_dict())
                if reachable:  # retry everything waiting, now
                    self._retry_all_now()

    def _retry_all_now(self) -> None:
        for row in self.state.unfinished():
            if row.stage is Stage.PENDING:
                self.state.retry_later(row.id, now(), row.outcome or "")
        self._wake.set()

    # -- status for the screen ---------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        counts = self.state.counts()
        return {
            "central": self.central.as_dict(),
            "pending": counts.get(Stage.PENDING, 0) + counts.get(Stage.PROCESSING, 0),
            "delivered": counts.get(Stage.DELIVERED, 0),
            "facility": self.settings.facility_code,
        }
