"""Atomic file writes with explicit permissions.

A reader (another worker, strongSwan, uvicorn) must never see half a key, and a private key
must never exist on disk, even briefly, with a mode wider than 0600. So every file is written
to a temporary sibling created with its final mode, fsynced, then moved into place.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from .errors import PkiError

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def write_atomically(path: Path, data: bytes, *, mode: int, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` in one step; with ``overwrite=False`` refuse an existing file.

    The no-overwrite variant uses ``os.link``, which fails if the target exists, so two
    processes creating the same CA at once cannot both win.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise PkiError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            # The umask may have narrowed the mode given to open(); set it exactly.
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise PkiError(f"refusing to overwrite existing file {path}") from exc
    except OSError as exc:
        raise PkiError(f"cannot write {path}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_file(path: Path, what: str) -> bytes:
    """Read a file, turning OS errors into a :class:`PkiError` that names what was expected."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise PkiError(f"{what} not found: {path}") from exc
    except OSError as exc:
        raise PkiError(f"cannot read {what} {path}: {exc.strerror}") from exc
