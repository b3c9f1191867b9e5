"""The terminal agent: watches ``req``, answers in ``res``, retries while the central is down.

Threads: the watcher (filesystem events) registers arrivals; one scheduler hands due requests
to a small worker pool and sleeps until the next retry is due or something new arrives (never
a busy poll); a health probe notices when the central service comes back; a supervisor
restarts the watcher should it die, and lets files found by a scan settle before claiming them.

Every entry of ``req`` whose name ends in ``.xml`` is answered — a directory, a FIFO, a
symbolic link, a file too large or with a name no answer can carry get an ``.err`` with a
stable code (``TERMINAL_…``, ``OQS_TOO_LARGE``) and are moved to the quarantine.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from onshi.central.client import CentralClient, CentralClientError
from onshi.logs import log_failure
from onshi.oqs import messages as m
from onshi.terminal.events import EventBus
from onshi.terminal.folders import (
    Entry,
    OqsFolders,
    RequestUnreadable,
    being_written,
    safe_name,
)
from onshi.terminal.processor import Answer, RetryLater, process
from onshi.terminal.settings import TerminalSettings
from onshi.terminal.state import RequestRow, Stage, StateStore, now
from onshi.terminal.watcher import Watcher

log = logging.getLogger(__name__)
HEALTH_INTERVAL = 15.0

# Why an arrival could not be read as a request: the code in its .err, and the reason file
# beside it in the quarantine. Stable codes; docs/terminal/agent.md lists them.
REFUSALS = {
    "TERMINAL_UNSAFE_NAME": (
        "the file name holds characters an answer's name cannot carry (control characters, "
        '\\ / : * ? " < > |); the .err is named with them replaced by _'
    ),
    "TERMINAL_SYMLINK": "the request is a symbolic link; links are never followed",
    "TERMINAL_NOT_A_FILE": "the request is not a regular file (a directory, FIFO or device)",
    "TERMINAL_STILL_WRITING": "the request file kept changing; it was taken as it was",
    "TERMINAL_UNREADABLE": "the request file cannot be opened",
    "OQS_TOO_LARGE": "the request file is larger than the limit; it was not read",
}


def is_request_candidate(name: str) -> bool:
    """An entry the agent answers: ``….xml``, not hidden; clients' temporary names are left alone."""
    return name.lower().endswith(".xml") and not name.startswith((".", "~"))


class AgentAlreadyRunning(Exception):
    """Another agent holds this state dir (``onshi demo`` or a second ``terminal run``)."""


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
        self.folders = OqsFolders(settings.oqs_dir, settings.state_dir)
        self.state = StateStore(settings.state_db)
        self.central = CentralStatus()
        self.watcher_restarts = 0
        self.watcher_detail = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._register_lock = threading.Lock()
        self._in_flight: set[int] = set()
        self._in_flight_lock = threading.Lock()
        self._settling: dict[str, tuple[tuple[int, int], float, float]] = {}
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="onshi-terminal")
        self._threads: list[threading.Thread] = []
        self._observer: Watcher | None = None
        self._lock_fd: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._hold_state_lock()
        self.recover()
        self._observer = self._watch()
        # A file written between recovery's scan and the watcher's start would be missed.
        self.scan()
        for target, name in (
            (self._schedule, "scheduler"),
            (self._probe, "health"),
            (self._supervise, "supervisor"),
        ):
            thread = threading.Thread(target=target, name=f"onshi-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _hold_state_lock(self) -> None:
        """One agent per state dir: a second one would answer the same arrivals again."""
        fd = os.open(self.settings.state_dir / "agent.lock", os.O_CREAT | os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AgentAlreadyRunning(
                f"another terminal agent is running on {self.settings.state_dir}"
            ) from None
        self._lock_fd = fd

    def _watch(self) -> Watcher:
        from onshi.terminal.watcher import watch

        return watch(self.folders.req, self._on_event, polling=self.settings.use_polling)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
        for thread in self._threads:
            thread.join(5)
        self._pool.shutdown(wait=True)
        self.state.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    def recover(self) -> None:
        """Finish what a killed process left: claim recorded arrivals, deliver, requeue."""
        for row in self.state.received():
            self._finish_claim(row)
        self.state.release_processing()
        for row in self.state.unfinished():
            if row.stage in (Stage.ANSWERED, Stage.STAGED):
                self._deliver(row)
        self._archive_leftovers()
        self.scan()

    def _finish_claim(self, row: RequestRow) -> None:
        """A crash came between recording an arrival and moving it into the inbox."""
        if self.folders.is_claimed(row.id):
            self.state.claimed(row.id)
            return
        name = os.fsdecode(row.raw_name)
        entry = self.folders.look(name)
        if entry is not None and entry.inode == row.inode and self.folders.claim(name, row.id):
            self.state.claimed(row.id)
        else:  # gone, or replaced by a new arrival that the scan will find
            self.state.withdrawn(row.id)

    def _archive_leftovers(self) -> None:
        """Inbox entries of delivered arrivals (a crash between delivery and archiving)."""
        open_ids = {row.id for row in self.state.unfinished()}
        for arrival in self.folders.claimed_leftovers():
            if arrival not in open_ids:
                self.folders.archive_claimed(arrival, "", "answered")

    def scan(self) -> None:
        for name in self.folders.pending_names():
            self.register(name, found=True)

    # -- intake ----------------------------------------------------------------------------

    def _on_event(self, name: str, created: bool) -> None:
        self.register(name, created=created)

    def register(self, name: str, *, created: bool = False, found: bool = False) -> None:
        """Something appeared in ``req``: record it as an arrival, claim it, wake the scheduler.

        ``created`` (inotify IN_CREATE): a regular file is still being written — its close
        will tell. A regular file some process still holds open for writing first has to
        settle; so does, where leases are unknown, one ``found`` by a scan that changed within
        the last ``settle_seconds``.
        """
        if not is_request_candidate(name):
            return
        entry = self.folders.look(name)
        if entry is None:
            return
        if entry.kind == "file":
            if created:
                return
            if self._maybe_being_written(name, entry, found=found):
                self._settle_later(name, entry)
                return
        self._record(name, entry)

    def _record(self, name: str, entry: Entry, refusal: str | None = None) -> None:
        with self._register_lock:
            if refusal is None:
                refusal = self._refusal(name, entry)
            current = self.folders.look(name)
            if current is None or current.inode != entry.inode:
                return  # claimed by a concurrent event, or replaced: that one is registered anew
            shown = safe_name(name)
            try:
                kind = m.kind_of_request(shown).value
            except m.OqsMessageError:
                kind = "unknown"
            row_id = self.state.add(
                shown,
                "",
                kind,
                raw_name=os.fsencode(name),
                inode=entry.inode,
                refusal=(refusal, REFUSALS[refusal]) if refusal else None,
                stage=Stage.RECEIVED,
            )
            if self.folders.claim(name, row_id):
                self.state.claimed(row_id)
            else:
                self.state.withdrawn(row_id)
        self._wake.set()

    def _refusal(self, name: str, entry: Entry) -> str | None:
        if safe_name(name) != name:
            return "TERMINAL_UNSAFE_NAME"
        if entry.kind == "symlink":
            return "TERMINAL_SYMLINK"
        if entry.kind != "file":
            return "TERMINAL_NOT_A_FILE"
        if entry.size > self.settings.max_request_bytes:
            return "OQS_TOO_LARGE"
        return None

    def _maybe_being_written(self, name: str, entry: Entry, *, found: bool) -> bool:
        """Someone holds the file open for writing (a writer with a second descriptor still
        open after one close); for a file found by a scan where leases are unknown, a change
        within ``settle_seconds`` counts as maybe still written."""
        writing = being_written(self.folders.req / name)
        if writing is None:
            return found and time.time() - entry.mtime_ns / 1e9 < self.settings.settle_seconds
        return writing

    def _settle_later(self, name: str, entry: Entry) -> None:
        started = time.monotonic()
        with self._register_lock:
            self._settling.setdefault(name, ((entry.size, entry.mtime_ns), started, started))

    def _settle(self) -> None:
        """Claim files found by a scan once nobody writes them any more, or at the limit.

        "Nobody writes" is known from a lease where the file system has them, else guessed
        from size and modification time unchanged for ``settle_seconds``.
        """
        clock = time.monotonic()
        ready: list[tuple[str, Entry, str | None]] = []
        with self._register_lock:
            for name, (signature, since, first) in list(self._settling.items()):
                entry = self.folders.look(name)
                if entry is None or entry.kind != "file":
                    del self._settling[name]
                    if entry is not None:
                        ready.append((name, entry, None))
                    continue
                writing = being_written(self.folders.req / name)
                current = (entry.size, entry.mtime_ns)
                if current != signature:
                    self._settling[name] = (current, clock, first)
                    since = clock
                if writing is False or (
                    writing is None and clock - since >= self.settings.settle_seconds
                ):
                    del self._settling[name]
                    ready.append((name, entry, None))
                elif clock - first >= self.settings.settle_max_seconds:
                    del self._settling[name]
                    ready.append((name, entry, "TERMINAL_STILL_WRITING"))
        for name, entry, refusal in ready:
            self._record(name, entry, refusal)

    # -- supervision -----------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.wait(0.25 if self._settling else 1.0):
            try:
                self._settle()
                if self._observer is not None and not self._observer.alive():
                    self._restart_watcher()
            except Exception as exc:  # noqa: BLE001 — the supervisor is the last one standing
                log_failure(log, "the agent's supervisor failed; it goes on", exc)

    def _restart_watcher(self) -> None:
        self.watcher_detail = "the req watcher stopped; restarting it"
        self.events.publish("watcher", **self.watcher_status())
        old, self._observer = self._observer, None
        if old is not None:
            with contextlib.suppress(OSError):
                old.stop()
        try:
            self._observer = self._watch()
        except OSError as exc:
            self.watcher_detail = f"the req watcher cannot start: {exc.strerror}"
            self._observer = old  # still dead: tried again on the next tick
            self.events.publish("watcher", **self.watcher_status())
            return
        self.watcher_restarts += 1
        log.warning("the req watcher was restarted (%d restarts)", self.watcher_restarts)
        self.scan()  # whatever arrived while nobody watched
        self.events.publish("watcher", **self.watcher_status())

    def watcher_status(self) -> dict[str, Any]:
        running = self._observer is not None and self._observer.alive()
        return {
            "running": running,
            "restarts": self.watcher_restarts,
            "detail": "" if running else self.watcher_detail or "the req watcher is not running",
        }

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
        except Exception as exc:  # noqa: BLE001 — the request is tried again, the agent goes on
            log_failure(log, f"request {row_id} failed in the agent; it will be tried again", exc)
            self._try_again(row_id)
        finally:
            with self._in_flight_lock:
                self._in_flight.discard(row_id)

    def _refused(self, row: RequestRow, code: str) -> Answer:
        message = REFUSALS.get(code, code)
        return Answer(
            m.error_name(row.name),
            m.render_error(row.name, code, message),
            code,
            {"file_kind": row.name[:10], "error": code, "message": message},
        )

    def _answer(self, row: RequestRow) -> None:
        if row.refusal:
            answer = self._refused(row, row.refusal)
        else:
            try:
                data = self.folders.read_claimed(row.id, self.settings.max_request_bytes)
            except FileNotFoundError:  # removed from the inbox by hand
                self.state.withdrawn(row.id)
                return
            except RequestUnreadable as exc:
                answer = self._refused(row, exc.code)
            else:
                try:
                    answer = process(
                        self.client, row.name, data, facility_code=self.settings.facility_code
                    )
                except RetryLater as exc:
                    self._retry_later(row, exc)
                    return
                if self.central.set(True):
                    self.events.publish("central", **self.central.as_dict())
        # The answer goes straight into its temporary file, then the row says staged: kept in
        # the row first, a 10,000-record bulk result (19 MB) cost 0.7 s of SQLite writes before
        # its rename (an update rewrites the whole row, secure_delete zeroes what it frees).
        self.folders.write_temporary(self.folders.res / answer.name, answer.data, row.id)
        self.state.staged(row.id, answer.name, answer.outcome)
        self._deliver(self.state.get(row.id))
        self.events.publish(
            "answer", request=row.name, answer=answer.name, outcome=answer.outcome, **answer.summary
        )

    def _backoff(self, attempts: int) -> dt.datetime:
        delay = min(
            self.settings.retry_first_seconds * 2 ** max(attempts - 1, 0),
            self.settings.retry_max_seconds,
        )
        return now() + dt.timedelta(seconds=delay)

    def _try_again(self, row_id: int) -> None:
        """An unexpected failure must not strand a request in PROCESSING until the next start."""
        try:
            if self.state.failed(row_id, self._backoff(self.state.get(row_id).attempts)):
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 — the next start releases it then
            log_failure(log, f"request {row_id} could not be rescheduled", exc)

    def _retry_later(self, row: RequestRow, exc: RetryLater) -> None:
        self.state.retry_later(row.id, self._backoff(row.attempts), "CENTRAL_UNAVAILABLE")
        if self.central.set(False, str(exc)):
            self.events.publish("central", **self.central.as_dict())
        self._wake.set()

    def _deliver(self, row: RequestRow) -> None:
        """STAGED → DELIVERED: the rename of the temporary file, then the row says so.

        Rows ANSWERED (left by earlier versions, which kept the answer in the row) have their
        temporary file written from the row first."""
        assert row.answer_name is not None
        final = self.folders.res / row.answer_name
        if row.stage is Stage.ANSWERED:
            assert row.answer is not None
            self.folders.write_temporary(final, row.answer, row.id)
            self.state.staged(row.id)
        self.folders.publish(final, row.id)
        self.state.delivered(row.id)
        if row.outcome == "ok":
            self.folders.archive_claimed(row.id, row.name, "answered")
        elif row.outcome in REFUSALS:
            note = f"{row.outcome}: {REFUSALS[row.outcome]}"
            self.folders.archive_claimed(row.id, row.name, "quarantine", note)
        else:
            self.folders.archive_claimed(row.id, row.name, "rejected")
        self.state.scrub()

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
            "watcher": self.watcher_status(),
            "pending": sum(
                counts.get(stage, 0) for stage in (Stage.RECEIVED, Stage.PENDING, Stage.PROCESSING)
            ),
            "delivered": counts.get(Stage.DELIVERED, 0),
            "facility": self.settings.facility_code,
        }
