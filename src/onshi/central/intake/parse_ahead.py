"""Parsing the insured-persons CSV in other processes while this one stores what they send.

Parsing and validating is pure Python: in one process it and the database work take turns under
the GIL, so an import costs parse time plus write time. For a big file the parser runs in a
forked child instead: it reads the stream, validates, turns each chunk of records into what the
store sends to its database (``prepare``: COPY text for PostgreSQL, rows in SQLite's storage
form; ``prepare_in_child`` if the store has something else done there: a SQLite first load packs
each chunk as a database) and pipes that back, a few chunks ahead; this process only writes.

A big enough file on disk is read by two children at once, each one half: the first reads from
the start up to a line start near the middle, the second from there to the end, after the
header. Their chunks are stored in turns. What only the whole file shows is checked here: a
card key in both halves (before its chunk is stored: the stores count on keys being unique),
an InsurerNumber named differently in each (when both are done). The middle is
a guess: a quoted field may span lines (a CSV record is not a line), and the first child, made
to stop there, then finds its last record cut short. Anything wrong at all (a problem in a
record, a check across the halves, a middle inside a record) raises :class:`ParseAgain`: the
caller discards what it stored and imports again with one child, which names every problem
exactly as a reading from start to end does. A refused file is thus read up to twice; a good
one, with the middle at a record boundary (all but the rarest files), once, on two cores.

The children touch nothing of their parent but the file: they never use the parent's database
connection, freeze the objects they inherited so that none is finalised there (a connection's
finaliser would talk over the parent's socket), and end with ``os._exit``. A child does hold
that connection's socket open, though, for as long as it runs: so it closes its copy of the
pipe's reading end, and ends at once when a write to the pipe fails (the importing process is
gone, killed maybe, with no chance to stop it) rather than wait forever for a reader, keeping a
dead import's transaction and locks alive on the server. Ctrl-C is left to the importing
process, which stops its children. Small files, or a stream whose size is unknown, are parsed
in this process by the same code.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import pickle
import queue
import signal
import stat
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from onshi.central.errors import RowProblem
from onshi.central.intake.insured_csv import InsuredCsv, InsuredRecord

# Below this many bytes (≈ 16,000 rows) starting a process costs more than it saves.
PARSE_AHEAD_BYTES = 4 << 20
SPLIT_BYTES = 2 * PARSE_AHEAD_BYTES  # two children: each half worth a process
AHEAD_CHUNKS = 4  # prepared chunks a child may hold while this process is busy

Prepare = Callable[[list[InsuredRecord]], Any]


class ParseAgain(Exception):
    """The file read in two halves needs reading from ``start`` to its end: it has a problem (or
    the middle was not a record boundary). Discard what was stored and import with one child."""

    def __init__(self, start: int) -> None:
        super().__init__(f"read the file again from byte {start}")
        self.start = start


def in_chunks(
    parsed: InsuredCsv, chunk_size: int, *, to_the_end: bool = True
) -> Iterator[list[InsuredRecord]]:
    """Records in lists of ``chunk_size``; none once a problem was found (nothing will be
    stored), the rest of the file read only to find every problem ``to_the_end``."""
    chunk: list[InsuredRecord] = []
    for record in parsed.records():
        if parsed.problems:
            if not to_the_end:
                return
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


@dataclass(frozen=True)
class Half:
    """One child's part of a file: bytes ``start`` to ``end``; after the first half, the
    ``header`` line goes first and ``skipped`` lines (header excluded) were left out."""

    start: int
    end: int
    header: bytes = b""
    skipped: int = 0


def halves(stream: BinaryIO, minimum: int | None = None) -> tuple[Half, Half] | None:
    """The two halves of a file on disk holding at least ``minimum`` more bytes
    (:data:`SPLIT_BYTES`), on a machine with two cores for them; None if not worth it or not
    possible (the header is quoted, no line starts after the middle)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cores or 1) < 2:
        return None
    try:
        fd, start = stream.fileno(), stream.tell()
        info = os.fstat(fd)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size - start < (minimum or SPLIT_BYTES):
        return None
    header = os.pread(fd, 1 << 16, start).partition(b"\n")[0] + b"\n"
    middle = start + (info.st_size - start) // 2
    after = os.pread(fd, 1 << 20, middle).find(b"\n")
    if b'"' in header or len(header) > 1 << 15 or after < 0:
        return None
    second = middle + after + 1
    if second >= info.st_size:
        return None
    skipped = _count_lines(fd, start, second) - 1
    return Half(start, second), Half(second, info.st_size, header, skipped)


def _count_lines(fd: int, start: int, end: int) -> int:
    count = 0
    while start < end:
        block = os.pread(fd, min(1 << 20, end - start), start)
        if not block:
            break
        count += block.count(b"\n")
        start += len(block)
    return count


class _FileAt(io.RawIOBase):
    """A file read from ``position`` on with ``pread``: a place of this process's own (forked
    processes share the file offset of an open file)."""

    def __init__(self, fd: int, position: int) -> None:
        super().__init__()
        self.fd, self.position = fd, position

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        read = os.preadv(self.fd, [buffer], self.position)
        self.position += read
        return read


def _lines_of(fd: int, half: Half) -> Iterator[bytes]:
    """The header (if any), then the lines of ``half``: it starts and ends at a line start."""
    if half.header:
        yield half.header
    left = half.end - half.start
    for line in io.BufferedReader(_FileAt(fd, half.start), 1 << 20):
        yield line
        left -= len(line)
        if left <= 0:
            return


@dataclass(frozen=True)
class HalfRead:
    """What a child reports of its half at the end: its problems (it stops at the first), and
    the name each InsurerNumber has."""

    problems: list[RowProblem]
    insurer_names: dict[str, str]

    def agrees_with(self, other: HalfRead) -> bool:
        names = self.insurer_names
        return all(names.get(number, name) == name for number, name in other.insurer_names.items())


def _key_hashes(chunk: list[InsuredRecord]) -> list[int]:
    """A half's chunk comes with its card keys as this interpreter's hashes: the children of one
    process hash alike, and a collision only costs a needless second reading."""
    return [hash(record.card_key) for record in chunk]


class ParsedChunks:
    """Iterate the prepared chunks of a file; :attr:`problems` is complete once iteration ends.

    As with :class:`InsuredCsv`, chunks stop coming once a problem is found, and the caller must
    discard what it stored if ``problems`` is not empty at the end. With ``split``, a big file
    on disk is read in halves, and any problem raises :class:`ParseAgain` instead.
    """

    def __init__(
        self,
        stream: BinaryIO,
        prepare: Prepare,
        chunk_size: int,
        *,
        ahead: bool,
        split: bool,
        prepare_in_child: Prepare | None = None,
    ) -> None:
        self.stream = stream
        self.prepare = prepare
        self.prepare_in_child = prepare_in_child or prepare  # what a parsing process runs
        self.chunk_size = chunk_size
        self.ahead = ahead
        self.split = split
        self.problems: list[RowProblem] = []

    def __iter__(self) -> Generator[Any, None, None]:
        if not self.ahead:
            return self._inline()
        parts = halves(self.stream) if self.split else None
        return self._forked((None,) if parts is None else parts)

    def _inline(self) -> Generator[Any, None, None]:
        parsed = InsuredCsv(self.stream)
        for chunk in in_chunks(parsed, self.chunk_size):
            yield self.prepare(chunk)
        self.problems = parsed.problems

    def _forked(self, parts: Sequence[Half | None]) -> Generator[Any, None, None]:
        """Chunks from one child per part, taken in turns; each ends with its problems (the
        whole file) or a :class:`HalfRead` (a half)."""
        context = multiprocessing.get_context("fork")
        children = []
        try:
            for part in parts:
                receive, send = context.Pipe(duplex=False)
                child = context.Process(
                    target=_parse_in_child,
                    args=(
                        receive,
                        send,
                        self.stream,
                        self.prepare_in_child,
                        self.chunk_size,
                        part,
                    ),
                    name="onshi-intake-parse",
                    daemon=True,
                )
                children.append((receive, child))
                child.start()
                send.close()
            turns = deque(children)
            ends: list[HalfRead] = []
            halved = parts[0] is not None
            start = parts[0].start if parts[0] is not None else 0
            keys: set[int] = set()
            while turns:
                receive, child = turns.popleft()
                try:
                    kind, value = pickle.loads(receive.recv_bytes())  # noqa: S301 - our child
                except (EOFError, OSError):  # OSError: it ended half-way through a message
                    child.join(5)
                    raise RuntimeError(
                        f"the parsing process ended without an answer (exit code {child.exitcode})"
                    ) from None
                if kind == "chunk":
                    if halved:
                        value, hashes = value
                        if not keys.isdisjoint(hashes):
                            raise ParseAgain(start)
                        keys.update(hashes)
                    yield value
                    turns.append((receive, child))
                elif kind == "error":
                    raise value
                elif isinstance(value, HalfRead):
                    if value.problems:
                        raise ParseAgain(start)
                    ends.append(value)
                else:
                    self.problems = value
            if len(ends) == 2 and not ends[0].agrees_with(ends[1]):
                raise ParseAgain(start)
        finally:
            for receive, child in children:
                if child.is_alive():  # ending after its last message, or still parsing if
                    child.kill()  # the caller gave up (an error while storing): stop it
                child.join()
                receive.close()


def _parse_in_child(
    receive: Any, send: Any, stream: BinaryIO, prepare: Prepare, chunk_size: int, half: Half | None
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

    def put(kind: str, value: Any) -> None:
        ready.put(pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL))

    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        if half is None:
            parsed = InsuredCsv(stream)
            for chunk in in_chunks(parsed, chunk_size):
                put("chunk", prepare(chunk))
            put("end", parsed.problems)
        else:
            parsed = InsuredCsv(_lines_of(stream.fileno(), half), skipped=half.skipped)
            for chunk in in_chunks(parsed, chunk_size, to_the_end=False):
                put("chunk", (prepare(chunk), _key_hashes(chunk)))
            names = {number: name for number, (name, _) in parsed.insurer_names.items()}
            put("end", HalfRead(parsed.problems, names))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            blob = pickle.dumps(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            blob = pickle.dumps(("error", RuntimeError(f"parsing failed: {type(exc).__name__}")))
        ready.put(blob)
    ready.put(None)
    thread.join()
