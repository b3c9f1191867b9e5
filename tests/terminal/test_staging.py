"""An answer goes into its temporary file in res before its row says staged, never into a row.

A 10,000-record bulk result is 19 MB: kept in the state database first, it cost 0.7 s of
SQLite writes before its rename. Rows an earlier version left ``answered`` (the answer in
the row) are still delivered on start.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from onshi.terminal.agent import Agent
from onshi.terminal.state import Stage, StateStore
from tests.stack import CentralStack, running_agent, terminal_settings
from tests.terminal.oqs_files import (
    bulk_download_request,
    bulk_upload_request,
    drop,
    eligibility_request,
    read,
    text,
    wait_for,
)


def test_the_temporary_file_is_complete_before_the_row_says_staged(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[dict[str, Any]] = []
    real_set = StateStore._set

    def spy(store: StateStore, row_id: int, **values: Any) -> None:
        seen = dict(values)
        if values.get("stage") is Stage.STAGED:
            temporary = agent.folders.res / f".onshi-{row_id}.tmp"
            seen["temporary"] = temporary.read_bytes() if temporary.exists() else None
        written.append(seen)
        real_set(store, row_id, **values)

    monkeypatch.setattr(StateStore, "_set", spy)
    drop(agent.folders.req, "OQSmuquc01req_s1.xml", bulk_upload_request(30))
    receipt = read(wait_for(agent.folders.res / "OQSmuquc01res_s1.xml"))
    reception = text(receipt, "MessageBody/ReceptionNumber")
    assert reception
    for attempt in range(100):
        name = f"OQSmuquc02req_s1_{attempt}.xml"
        drop(agent.folders.req, name, bulk_download_request(reception))
        result = wait_for(agent.folders.res / name.replace("req", "res"))
        if text(read(result), "MessageHeader/SegmentOfResult") == "1":
            break
    assert len(read(result).findall("MessageBody/BulkConfirmUnit")) == 30
    staged = [w for w in written if w.get("stage") is Stage.STAGED]
    assert staged and all(w["temporary"] is not None for w in staged)
    # The last one staged is the complete download: its temporary file held the final bytes.
    assert staged[-1]["temporary"] == result.read_bytes()
    assert staged[-1]["answer_name"] == result.name and staged[-1]["outcome"] == "ok"
    assert all(w.get("answer") is None for w in written)  # no answer ever entered a row
    with agent.state.engine.connect() as c:
        assert (
            c.exec_driver_sql("SELECT count(*) FROM arrival WHERE answer IS NOT NULL").scalar() == 0
        )


def test_rows_left_answered_or_staged_are_delivered_on_start(
    stack: CentralStack, tmp_path: Path
) -> None:
    settings = terminal_settings(stack, tmp_path)
    res = settings.oqs_dir / "res"
    res.mkdir(parents=True)
    settings.state_dir.mkdir(parents=True)
    state = StateStore(settings.state_db)
    # An earlier version's row: the answer kept in the row, no temporary file yet.
    legacy = state.add("OQSsiquc01req_old.xml", "", "OQSsiquc01", stage=Stage.PROCESSING)
    state._set(
        legacy,
        stage=Stage.ANSWERED,
        answer_name="OQSsiquc01res_old.xml",
        answer=b"<old/>",
        outcome="ok",
    )
    # This version's row: killed between staging and the rename.
    staged = state.add("OQSsiquc01req_new.xml", "", "OQSsiquc01", stage=Stage.PROCESSING)
    (res / f".onshi-{staged}.tmp").write_bytes(b"<new/>")
    state.staged(staged, "OQSsiquc01res_new.xml", "ok")
    state.dispose()
    with running_agent(settings) as agent:
        drop(agent.folders.req, "OQSsiquc01req_now.xml", eligibility_request())
        wait_for(res / "OQSsiquc01res_now.xml")
        assert (res / "OQSsiquc01res_old.xml").read_bytes() == b"<old/>"
        assert (res / "OQSsiquc01res_new.xml").read_bytes() == b"<new/>"
        assert sorted(p.name for p in res.iterdir()) == [
            "OQSsiquc01res_new.xml",
            "OQSsiquc01res_now.xml",
            "OQSsiquc01res_old.xml",
        ]
        # The row says delivered just after the rename that wait_for saw.
        deadline = time.monotonic() + 5
        while agent.state.counts().get(Stage.DELIVERED) != 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert agent.state.counts().get(Stage.DELIVERED) == 3
