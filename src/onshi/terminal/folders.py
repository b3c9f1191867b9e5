"""The shared OQS folder: ``req`` (requests in), ``res`` (answers out), ``face`` (card results).

Whatever lands in ``req`` is distrusted: an entry is looked at with ``lstat`` and opened with
``O_NOFOLLOW | O_NONBLOCK``, so a symbolic link is never followed out of the folder and a FIFO
never blocks; only a regular file within the size limit is read. Each arrival is *claimed* by
renaming it into the agent's inbox under its row number (``<state-dir>/inbox/<id>``), so the
same name sent again is a new arrival; once answered it goes on to the archive, never deleted.

Answers appear atomically: written under a short hidden temporary name in the same folder
(``.onshi-<id>.tmp``, short so that a 255-byte answer name still fits), then renamed, so a
client polling ``res`` never reads half a file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Characters no answer name may carry: path separators, what Windows clients of a shared folder
# cannot open, and anything invisible (control and format characters, undecodable bytes).
UNSAFE_IN_NAME = set('\\/:*?"<>|')
ARCHIVED_NAME_CHARS = 120  # of the request's name kept in an archived file's name


class RequestUnreadable(Exception):
    """An entry in ``req`` that is no readable request; ``code`` says why (a stable code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Entry:
    """What ``lstat`` says about a name in ``req``, before anything is opened."""

    kind: str  # "file", "symlink", "directory", "fifo", "other"
    size: int
    inode: int
    mtime_ns: int


def describe(st: os.stat_result) -> Entry:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        kind = "file"
    elif stat.S_ISLNK(mode):
        kind = "symlink"
    elif stat.S_ISDIR(mode):
        kind = "directory"
    elif stat.S_ISFIFO(mode):
        kind = "fifo"
    else:
        kind = "other"
    return Entry(kind, st.st_size, st.st_ino, st.st_mtime_ns)


def safe_name(name: str) -> str:
    """``name`` with every character unfit for an answer's name replaced by ``_``."""
    return "".join(
        "_"
        if c in UNSAFE_IN_NAME
        or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")
        else c
        for c in name
    )


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``; never follows links.

    The checks are made on the opened descriptor (``fstat``), so nothing swapped in between a
    check and the read is ever read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RequestUnreadable(
                "TERMINAL_SYMLINK", "the request is a symbolic link; it was not followed"
            ) from None
        if exc.errno == errno.ENOENT:
            raise
        raise RequestUnreadable(
            "TERMINAL_UNREADABLE", f"the request cannot be opened ({exc.strerror})"
        ) from None
    with os.fdopen(fd, "rb", buffering=0) as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise RequestUnreadable("TERMINAL_NOT_A_FILE", "the request is not a regular file")
        if st.st_size > max_bytes:
            raise RequestUnreadable(
                "OQS_TOO_LARGE", f"the request has {st.st_size} bytes, more than {max_bytes}"
            )
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew after fstat
        raise RequestUnreadable("OQS_TOO_LARGE", f"the request has more than {max_bytes} bytes")
    return data


def being_written(path: Path) -> bool | None:
    """Whether some process holds ``path`` open for writing; None where Linux cannot tell.

    A read lease (``F_SETLEASE``) is refused with EAGAIN while the file is open for writing
    anywhere; file systems without leases (network shares) answer None, and the caller falls
    back to waiting until size and modification time stop changing.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return True if exc.errno in (errno.EAGAIN, errno.EBUSY) else None
    else:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


class OqsFolders:
    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root = root
        self.req = root / "req"
        self.res = root / "res"
        self.face = root / "face"
        self.inbox = state_dir / "inbox"
        self.archive = state_dir / "archive"
        for folder in (self.req, self.res, self.face, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)
        for reason in ("answered", "rejected", "quarantine"):
            (self.archive / reason).mkdir(parents=True, exist_ok=True)

    # -- requests ------------------------------------------------------------------------------

    def look(self, name: str) -> Entry | None:
        """``lstat`` of ``req/name``: what is there, without following or opening it."""
        try:
            return describe(os.lstat(self.req / name))
        except FileNotFoundError:
            return None

    def claimed(self, arrival: int) -> Path:
        """Where arrival ``arrival`` is kept until archived: the inbox, or hidden in ``req``."""
        inbox = self.inbox / str(arrival)
        hidden = self.req / f".onshi-{arrival}.claimed"
        return hidden if not os.path.lexists(inbox) and os.path.lexists(hidden) else inbox

    def is_claimed(self, arrival: int) -> bool:
        return os.path.lexists(self.claimed(arrival))

    def claim(self, name: str, arrival: int) -> bool:
        """Move ``req/name`` into the inbox as arrival ``arrival``; False if it is gone.

        Where ``req`` is on another file system than the state dir (a network share), no
        rename reaches the inbox: the entry is renamed to a hidden name inside ``req``
        instead, which the agent (and well-behaved clients) ignore.
        """
        source = self.req / name
        try:
            source.rename(self.inbox / str(arrival))
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            try:
                source.rename(self.req / f".onshi-{arrival}.claimed")
            except FileNotFoundError:
                return False
        return True

    def claimed_leftovers(self) -> list[int]:
        """Arrivals still in the inbox or hidden in ``req`` (the caller knows which are done)."""
        found = [int(p.name) for p in self.inbox.iterdir() if p.name.isdigit()]
        for p in self.req.iterdir():
            middle = p.name.removeprefix(".onshi-").removesuffix(".claimed")
            if p.name.startswith(".onshi-") and p.name.endswith(".claimed") and middle.isdigit():
                found.append(int(middle))
        return found

    def read_claimed(self, arrival: int, max_bytes: int) -> bytes:
        return read_regular_file(self.claimed(arrival), max_bytes)

    def archive_claimed(self, arrival: int, name: str, reason: str, note: str = "") -> None:
        """Move an answered arrival from the inbox to ``archive/<reason>/`` (a no-op if done).

        ``note`` (the error code and message of an entry that could not be read) is written
        beside it as ``….reason``, so whoever empties the quarantine knows what it was.
        """
        source = self.claimed(arrival)
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
        target = (
            self.archive / reason / f"{stamp}_{arrival}_{safe_name(name)[:ARCHIVED_NAME_CHARS]}"
        )
        if note:
            with contextlib.suppress(OSError):
                target.with_name(target.name + ".reason").write_text(note + "\n", encoding="utf-8")
        try:
            source.rename(target)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            _move_across(source, target)

    def pending_names(self) -> list[str]:
        """Every name in ``req`` except hidden ones (our own and clients' temporary files)."""
        return sorted(p.name for p in self.req.iterdir() if not p.name.startswith("."))

    # -- answers -------------------------------------------------------------------------------

    @staticmethod
    def temporary(final: Path, arrival: int | None = None) -> Path:
        if arrival is not None:
            return final.with_name(f".onshi-{arrival}.tmp")
        return final.with_name(f".{final.name}.onshi-tmp")

    def write_temporary(self, final: Path, data: bytes, arrival: int | None = None) -> Path:
        # No fsync: the rename protects readers from half a file, and the page cache survives
        # the agent's death; fsync would add milliseconds to every answer for power loss only,
        # where the state database (synchronous=NORMAL) is not durable either.
        tmp = self.temporary(final, arrival)
        tmp.write_bytes(data)
        return tmp

    def publish(self, final: Path, arrival: int | None = None) -> None:
        """Rename the temporary file into place; a no-op if that already happened."""
        tmp = self.temporary(final, arrival)
        with contextlib.suppress(FileNotFoundError):
            tmp.replace(final)

    def write_atomically(self, final: Path, data: bytes) -> None:
        self.write_temporary(final, data)
        self.publish(final)


def _move_across(source: Path, target: Path) -> None:
    """Move to another file system: copy (links as links, never followed), then remove.

    A FIFO or device node has nothing to copy; it is only removed (its .reason says what it was).
    """
    mode = os.lstat(source).st_mode
    if stat.S_ISLNK(mode):
        target.symlink_to(source.readlink())
        source.unlink()
    elif stat.S_ISDIR(mode):
        shutil.copytree(source, target, symlinks=True)
        shutil.rmtree(source)
    elif stat.S_ISREG(mode):
        shutil.copy2(source, target, follow_symlinks=False)
        source.unlink()
    else:
        source.unlink()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
