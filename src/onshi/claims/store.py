"""Where received claims files live: one directory per facility and month, with a small index.

::

    <data_dir>/received/<facility code>/<YYYYMM>/
        index.json                  {sha256: receipt} — the month's receipts, rewritten atomically
        <sha256>.uke                the file as received (0600: it holds patients' data)
        .lock                       serialises receipts within the month

A receipt number (受付番号) is ``<YYYYMM>-<facility code>-<sequence>``. The same bytes sent again
(a retry after a lost answer) get the same receipt: the content's SHA-256 is the key. Files are
written to a temporary sibling, fsynced and renamed before the index names them, so a crash
leaves either nothing or a file the index does not know yet (taken again on the resend).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from onshi.claims.errors import ClaimsError, ClaimsReceiptNotFound
from onshi.claims.uke import ClaimsFileSummary

__all__ = ["ClaimsStore", "Receipt"]

_DIR_MODE = 0o700
_FILE_MODE = 0o600
_RECEIPT = re.compile(r"([0-9]{6})-([0-9]{10})-([0-9]{6})")


@dataclass(frozen=True)
class Receipt:
    """The answer to a submission: the receipt number and what was filed under it."""

    receipt: str
    medical_institution_code: str
    claim_month: str
    claims: int
    records: int
    size: int
    sha256: str
    received_at: str  # ISO 8601, UTC
    duplicate: bool = False

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as exc:
        raise ClaimsError(f"cannot store the claims file: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class ClaimsStore:
    """Received files under ``root``; safe for several threads and processes at once."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _month_dir(self, facility: str, month: str) -> Path:
        # Both come from validated fields (10 digits, 6 digits): no path can escape root.
        if not (re.fullmatch(r"[0-9]{10}", facility) and re.fullmatch(r"[0-9]{6}", month)):
            raise ClaimsError("facility code or month malformed")
        return self.root / facility / month

    @contextlib.contextmanager
    def _locked(self, directory: Path) -> Iterator[None]:
        try:
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except OSError as exc:
            raise ClaimsError(f"cannot open the claims store: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @staticmethod
    def _index(directory: Path) -> dict[str, dict[str, object]]:
        try:
            loaded = json.loads((directory / "index.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ClaimsError("the claims index cannot be read") from exc
        if not isinstance(loaded, dict):
            raise ClaimsError("the claims index is not an object")
        return loaded

    def receive(self, content: bytes, summary: ClaimsFileSummary) -> Receipt:
        """File ``content``; the receipt, the earlier one if the same bytes came before."""
        digest = hashlib.sha256(content).hexdigest()
        directory = self._month_dir(summary.medical_institution_code, summary.claim_month)
        with self._locked(directory):
            index = self._index(directory)
            if digest in index:
                earlier = Receipt(**index[digest])  # type: ignore[arg-type]
                return Receipt(**{**asdict(earlier), "duplicate": True})
            sequence = len(index) + 1
            receipt = Receipt(
                receipt=f"{summary.claim_month}-{summary.medical_institution_code}-{sequence:06d}",
                medical_institution_code=summary.medical_institution_code,
                claim_month=summary.claim_month,
                claims=summary.claims,
                records=summary.records,
                size=len(content),
                sha256=digest,
                received_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            _write_atomically(directory / f"{digest}.uke", content)
            index[digest] = asdict(receipt)
            _write_atomically(
                directory / "index.json",
                json.dumps(index, ensure_ascii=False, indent=1).encode("utf-8"),
            )
            return receipt

    def find(self, facility: str, receipt: str) -> Receipt:
        """A receipt of ``facility``; :class:`ClaimsReceiptNotFound` for any other."""
        match = _RECEIPT.fullmatch(receipt)
        if match is None or match.group(2) != facility:
            raise ClaimsReceiptNotFound(f"no receipt {receipt!r} for this facility")
        directory = self._month_dir(facility, match.group(1))
        for entry in self._index(directory).values():
            if entry.get("receipt") == receipt:
                return Receipt(**entry)  # type: ignore[arg-type]
        raise ClaimsReceiptNotFound(f"no receipt {receipt!r} for this facility")

    def content(self, receipt: Receipt) -> bytes:
        """The stored bytes of a receipt (for the operator; not served over HTTP)."""
        directory = self._month_dir(receipt.medical_institution_code, receipt.claim_month)
        return (directory / f"{receipt.sha256}.uke").read_bytes()
