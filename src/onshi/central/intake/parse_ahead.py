"""Parsing the insured-persons CSV in a second process while this one stores the previous chunk.

Parsing and validating is pure Python: in one process it and the database work take turns under
the GIL, so an import costs parse time plus write time. For a big file the parser runs in a
forked child instead: it reads the stream, validates, turns each chunk of records into what the
store sends to its database (``prepare``: COPY text for PostgreSQL, rows in SQLite's storage form)
and pipes that back, a few chunks ahead; this process only writes. An import then keeps both
cores busy, where the parse-only reference uses one.

The child touches nothing of its parent but the stream: it never uses the parent's database
connection, freezes the objects it inherited so that none is finalised there (a connection's
finaliser would talk over the parent's socket), and ends with ``os._exit``. It does hold that
connection's socket open, though, for as long as it runs: so it closes its copy of the pipe's
reading end, and ends at once when a write to the pipe fails (the importing process is gone,
killed maybe, with no chance to stop it) rather than wait forever for a reader, keeping a dead
import's transaction and locks alive on the server. Ctrl-C is left to the importing process,
which stops the child. Small files, or a stream whose size is unknown, are parsed in this
process by the same code.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, BinaryIO

from onshi.central.errors import RowProblem
from onshi.central.intake.insured_csv import InsuredCsv, InsuredRecord

# Below this many bytes (≈ 16,000 rows) starting a process costs more than it saves.
PARSE_AHEAD_BYTES = 4 << 20
AHEAD_CHUNKS = 4  # prepared chunks the child may hold while this process is busy

Prepare = Callable[[list[InsuredRecord]], Any]


def in_chunks(parsed: InsuredCsv, chunk_size: int) -> Iterator[list[InsuredRecord]]:
    """Records in lists of ``chunk_size``; none once a problem was found (nothing will be stored)."""
    chunk: list[InsuredRecord] = []
    for record in parsed.records():
        if parsed.problems:
            chunk.clear()
            continue
        chunk.append(record)
        if len(chunk) >= chunk_size:
            yield chunk
            chunk = []
    if chunk and not parsed.problems:
        yield chunk


def worth_a_process(stream: BinaryIO) -> bool:
    """A stream known to hold at least :data:`PARSE_AHEAD_BYTES` more, where forking is safe:
    not in a daemonic process (it may not have children), and only in a process running one
    thread (a fork copies locks other threads may hold, say a server's, never released)."""
    if not hasattr(os, "fork") or multiprocessing.current_process().daemon:
        return False
    if threading.active_count() > 1:
        return False
    size: int | None = None
    try:
        size = os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        if isinstance(stream, io.BytesIO):
            size = stream.getbuffer().nbytes - stream.tell()
    return size is not None and size >= PARSE_AHEAD_BYTES


class ParsedChunks:
    """Iterate the prepared chunks of a file; :attr:`problems` is complete once iteration ends.

    As with :class:`InsuredCsv`, chunks stop coming once a problem is found, and the caller must
    discard what it stored if ``problems`` is not empty at the end.
    """

    def __init__(self, stream: BinaryIO, prepare: Prepare, chunk_size: int, *, ahead: bool) -> None:
        self.stream = stream
        self.prepare = prepare
        self.chunk_size = chunk_size
        self.ahead = ahead
        self.problems: list[RowProblem] = []

    def __iter__(self) -> Generator[Any, None, None]:
        return self._forked() if self.ahead else self._inline()

    def _inline(self) -> Generator[Any, None, None]:
        parsed = InsuredCsv(self.stream)
        for chunk in in_chunks(parsed, self.chunk_size):
            yield self.prepare(chunk)
        self.problems = parsed.problems

    def _forked(self) -> Generator[Any, None, None]:
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        child = context.Process(
            target=_parse_in_child,
            args=(receive, send, self.stream, self.prepare, self.chunk_size),
            name="onshi-intake-parse",
            daemon=True,
        )
        child.start()
        send.close()
        try:
            while True:
                try:
                    kind, value = pickle.loads(receive.recv_bytes())  # noqa: S301 - our own child
                except (EOFError, OSError):  # OSError: it ended half-way through a message
                    child.join(5)
                    raise RuntimeError(
                        f"the parsing process ended without an answer (exit code {child.exitcode})"
                    ) from None
                if kind == "chunk":
                    yield value
                elif kind == "end":
                    self.problems = value
                    return
                else:
                    raise value
        finally:
            if child.is_alive():  # ending after its last message, or still parsing if the
                child.kill()  # caller gave up (an error while storing): stop it either way
            child.join()
            receive.close()


def _parse_in_child(
    receive: Any, send: Any, stream: BinaryIO, prepare: Prepare, chunk_size: int
) -> None:  # pragma: no cover - runs in the forked child (covered by the tests, not measured)
    gc.freeze()  # inherited objects (the parent's connections among them) are never collected
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the importing process stops us
    receive.close()  # the parent's end: with it open here, a write would never fail
    ready: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD_CHUNKS)

    def sender() -> None:  # writes while the main thread parses (a pipe write releases the GIL)
        try:
            while (blob := ready.get()) is not None:
                send.send_bytes(blob)
        except OSError:  # the importing process is gone: end now, letting go of its socket
            os._exit(1)

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        parsed = InsuredCsv(stream)
        for chunk in in_chunks(parsed, chunk_size):
            ready.put(pickle.dumps(("chunk", prepare(chunk)), protocol=pickle.HIGHEST_PROTOCOL))
        ready.put(pickle.dumps(("end", parsed.problems), protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            blob = pickle.dumps(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            blob = pickle.dumps(("error", RuntimeError(f"parsing failed: {type(exc).__name__}")))
        ready.put(blob)
    ready.put(None)
    thread.join()
