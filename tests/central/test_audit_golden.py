"""Audit subjects and links byte for byte as the log has always written them: the expected
values below were computed by the code before its HMAC and JSON were made faster, so a log
written then still verifies (and one written now verifies with that code)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from onshi.audit import chain as ac
from onshi.central.services import audit as a
from onshi.central.storage.database import Database

AT = dt.datetime(2026, 11, 23, 10, 0, 0)


def _log(tmp_path: Path) -> a.AuditLog:
    log = a.AuditLog(Database(f"sqlite:///{tmp_path}/a.sqlite3"), "i" * 64, audit_key=b"k" * 32)
    log.chain = "golden.host.1"
    return log


def test_subjects_as_before(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert (
        log.subject("06139999", "12-34", "4260", "01")
        == "d7b355c82f7c48e790958b056f9fe148a3ece24ad3f5d8adaf5bebc8dce74866"
    )
    assert (
        log.subject(None, "ｼﾝﾘｮｳ\u3000太郎", '\x1f"\\')
        == "40259bf144b76d2c1dcd6db80be93bf9ebf2e1b644cc2d61296f0362ba42515e"
    )


def test_links_as_before(tmp_path: Path) -> None:
    batch = [
        a._Pending("1312345678", "eligibility.card-number", "ab" * 32, "validity-1", AT),
        a._Pending(None, "facility.check", None, "E0001", AT),
        a._Pending("1312345678", "eligibility.card.face", '診療"\n', "validity-3", AT),
    ]
    log = _log(tmp_path)  # the rows of both writers (AuditLog, LoopChain) are made here
    rows, head = a._linked_rows(log.audit_key, log.chain, batch, (41, "0f" * 32))
    assert [(r["chain_seq"], r["entry_hash"]) for r in rows] == [
        (42, "448d6160ce0d852abcdbf65a7fe0aa4c590fcc8ae9da39ea3c8caca7600cdb29"),
        (43, "bbaa0d5259af9b8b4e6eec18682091a125c5982c37c085a2c017986330aa16c6"),
        (44, "dbbefcb1bbd10a4746b45bf49feb28ed0db4f15c6845fab567c59b41e95a5469"),
    ]
    assert [r["previous_hash"] for r in rows] == ["0f" * 32] + [r["entry_hash"] for r in rows[:2]]
    assert head == (44, rows[-1]["entry_hash"])


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)


@given(st.binary(min_size=1, max_size=80), st.binary(min_size=32, max_size=32), st.binary())
def test_linker_is_link(key: bytes, previous: bytes, entry: bytes) -> None:
    linked = ac.Linker(key)
    assert linked(previous.hex(), entry) == ac.link(key, previous.hex(), entry)
    assert linked(previous.hex(), entry) == ac.link(key, previous.hex(), entry)  # reusable
    assert ac.link(key, previous.hex(), entry) == (
        hmac.new(key, previous + entry, hashlib.sha256).hexdigest()
    )


@given(st.lists(st.one_of(st.none(), st.integers(), TEXT), max_size=8))
def test_canonical_is_compact_json(fields: list[object]) -> None:
    assert ac.canonical(fields) == (
        json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    )
