"""The shared OQS folder: ``req`` (requests in), ``res`` (answers out), ``face`` (card results).

Answers appear atomically: written under a hidden temporary name in the same folder, flushed,
then renamed, so a client polling ``res`` never reads half a file. Requests are moved out of
``req`` into the agent's archive once answered, never deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from pathlib import Path


class OqsFolders:
    def __init__(self, root: Path, archive: Path) -> None:
        self.root = root
        self.req = root / "req"
        self.res = root / "res"
        self.face = root / "face"
        self.archive = archive
        for folder in (self.req, self.res, self.face, archive / "answered", archive / "rejected"):
            folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def temporary(final: Path) -> Path:
        return final.with_name(f".{final.name}.onshi-tmp")

    def write_temporary(self, final: Path, data: bytes) -> Path:
        # No fsync: the rename protects readers from half a file, and the page cache survives
        # the agent's death; fsync would add milliseconds to every answer for power loss only,
        # where the state database (synchronous=NORMAL) is not durable either.
        tmp = self.temporary(final)
        tmp.write_bytes(data)
        return tmp

    def publish(self, final: Path) -> None:
        """Rename the temporary file into place; a no-op if that already happened."""
        tmp = self.temporary(final)
        if tmp.exists():
            tmp.replace(final)

    def write_atomically(self, final: Path, data: bytes) -> None:
        self.write_temporary(final, data)
        self.publish(final)

    def read_request(self, name: str) -> bytes | None:
        try:
            return (self.req / name).read_bytes()
        except FileNotFoundError:
            return None

    def move_aside(self, name: str, *, rejected: bool) -> None:
        source = self.req / name
        stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
        target = self.archive / ("rejected" if rejected else "answered") / f"{stamp}_{name}"
        with contextlib.suppress(FileNotFoundError):
            source.replace(target)

    def pending_names(self) -> list[str]:
        return sorted(
            p.name for p in self.req.iterdir() if p.is_file() and not p.name.startswith(".")
        )


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
