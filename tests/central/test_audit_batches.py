"""A write of many entries at once (a group of inquiries): stored in order, verifiable."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select

from onshi.central.services.audit import AuditLog
from onshi.central.storage import tables as t
from onshi.central.storage.database import Database

NOW = dt.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9)))


def test_a_large_write_keeps_its_order_and_values(database: Database) -> None:
    log = AuditLog(database, "i" * 64, lambda: NOW, audit_key=b"k" * 32)
    log.record_many([(None, "facility.check", None, "E0001")] * 3)  # only NULLs in a column
    entries = [
        (
            "1312345678" if i % 3 else None,
            "eligibility.card-number",
            log.subject(str(i)) if i % 5 else None,
            f"validity-{i % 5 + 1}",
        )
        for i in range(300)
    ]
    entries[7] = ("1312345678", "eligibility.card-number", None, '"\\\n\t診療😀\u0001')
    log.record_many(entries)
    with database.sessions() as s:
        rows = s.scalars(
            select(t.AuditEntry).where(t.AuditEntry.chain == log.chain).order_by(t.AuditEntry.seq)
        ).all()
    assert [r.chain_seq for r in rows] == list(range(1, 304))
    assert [(r.MedicalInstitutionCode, r.action, r.subject, r.outcome) for r in rows[3:]] == entries
    assert {r.recorded_at for r in rows} == {dt.datetime(2026, 11, 23, 10, 0, 0)}
    assert all(r.previous_hash == p.entry_hash for p, r in itertools.pairwise(rows))
    assert log.verify().entries == 303
