"""The claims store: one directory per facility and month, receipts idempotent by content."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from onshi.claims.errors import ClaimsReceiptNotFound
from onshi.claims.store import ClaimsStore
from onshi.claims.uke import read_uke, sample_uke

CODE = "1311234567"


def receive(store: ClaimsStore, data: bytes):  # type: ignore[no-untyped-def]
    return store.receive(data, read_uke(data))


def test_receipts_are_numbered_per_facility_and_month(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path)
    first = receive(store, sample_uke(CODE, "202611", claims=1))
    second = receive(store, sample_uke(CODE, "202611", claims=2))
    other_month = receive(store, sample_uke(CODE, "202610", claims=1))
    assert first.receipt == f"202611-{CODE}-000001"
    assert second.receipt == f"202611-{CODE}-000002"
    assert other_month.receipt == f"202610-{CODE}-000001"
    month_dir = tmp_path / CODE / "202611"
    assert (month_dir / f"{first.sha256}.uke").read_bytes() == sample_uke(CODE, "202611", claims=1)
    index = json.loads((month_dir / "index.json").read_text())
    assert {entry["receipt"] for entry in index.values()} == {first.receipt, second.receipt}
    # Patients' data: files readable by the service user only.
    assert stat.S_IMODE((month_dir / f"{first.sha256}.uke").stat().st_mode) == 0o600
    assert stat.S_IMODE(month_dir.stat().st_mode) == 0o700
    assert not list(month_dir.glob(".*.tmp"))


def test_the_same_bytes_again_get_the_same_receipt(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path)
    data = sample_uke(CODE, "202611")
    first = receive(store, data)
    again = receive(store, data)
    assert again.receipt == first.receipt and again.duplicate and not first.duplicate
    assert again.received_at == first.received_at
    assert len(list((tmp_path / CODE / "202611").glob("*.uke"))) == 1


def test_find_only_for_the_owning_facility(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path)
    receipt = receive(store, sample_uke(CODE, "202611"))
    assert store.find(CODE, receipt.receipt) == receipt
    for facility, number in (
        ("2711234567", receipt.receipt),
        (CODE, f"202611-{CODE}-000009"),
        (CODE, "../../etc/passwd"),
    ):
        with pytest.raises(ClaimsReceiptNotFound):
            store.find(facility, number)


def test_concurrent_submissions_get_distinct_receipts(tmp_path: Path) -> None:
    store = ClaimsStore(tmp_path)
    files = [sample_uke(CODE, "202611", claims=n) for n in range(1, 11)]
    receipts: list[str] = []
    lock = threading.Lock()

    def send(data: bytes) -> None:
        r = receive(store, data)
        with lock:
            receipts.append(r.receipt)

    threads = [threading.Thread(target=send, args=(d,)) for d in files + files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(receipts)) == 10  # each file once, resends share its receipt
    assert sorted(set(receipts))[-1].endswith("-000010")
