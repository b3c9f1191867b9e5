"""The folder interface end to end: request files in, answers out, exactly once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from onshi.terminal.agent import Agent
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


def test_eligibility_request_is_answered_under_the_res_name(agent: Agent) -> None:
    drop(agent.folders.req, "OQSsiquc01req_20261123000001.xml", eligibility_request())
    result = read(wait_for(agent.folders.res / "OQSsiquc01res_20261123000001.xml"))
    assert text(result, "MessageBody/QualificationValidity") == "1"
    assert text(result, "MessageHeader/ArbitraryFileIdentifier") == "X1"
    assert text(result, "MessageHeader/CharacterCodeIdentifier") == "0"
    assert (
        text(result, "MessageBody/ResultList/ResultOfQualificationConfirmation/NameKana")
        == "ｼﾝﾘｮｳ ﾀﾛｳ"
    )
    # The request is moved aside, never deleted; no temporary file is left in res.
    time.sleep(0.2)
    assert not list(agent.folders.req.iterdir())
    assert len(list((agent.folders.archive / "answered").iterdir())) == 1
    assert [p.name for p in agent.folders.res.iterdir()] == ["OQSsiquc01res_20261123000001.xml"]


def test_lost_qualification_answer(agent: Agent) -> None:
    drop(agent.folders.req, "OQSsiquc01req_lost.xml", eligibility_request(number="5000"))
    result = read(wait_for(agent.folders.res / "OQSsiquc01res_lost.xml"))
    assert text(result, "MessageBody/QualificationValidity") == "2"
    assert (
        text(result, "MessageBody/ResultList/ResultOfQualificationConfirmation/ReasonOfLoss")
        == "03"
    )


def test_shift_jis_request_is_answered_in_shift_jis(agent: Agent) -> None:
    drop(agent.folders.req, "OQSsiquc01req_sjis.xml", eligibility_request(encoding="Shift_JIS"))
    data = wait_for(agent.folders.res / "OQSsiquc01res_sjis.xml").read_bytes()
    assert b'encoding="Shift_JIS"' in data[:100]
    assert "診療".encode("cp932") in data
    assert (
        text(
            read(agent.folders.res / "OQSsiquc01res_sjis.xml"),
            "MessageHeader/CharacterCodeIdentifier",
        )
        == "1"
    )


def test_malformed_and_hostile_requests_get_err_files(agent: Agent) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE XmlMsg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><XmlMsg>&b;</XmlMsg>'
    )
    drop(agent.folders.req, "OQSsiquc01req_broken.xml", b"<XmlMsg><MessageHeader>")
    drop(agent.folders.req, "OQSsiquc01req_bomb.xml", bomb)
    drop(agent.folders.req, "OQSsiquc01req_other.xml", eligibility_request(facility="1311112222"))
    codes = {}
    for name in ("broken", "bomb"):
        err = read(wait_for(agent.folders.res / f"OQSsiquc01req_{name}.err"))
        assert text(err, "MessageHeader/SegmentOfResult") == "9"
        assert text(err, "MessageHeader/ErrorMessage")
        codes[name] = text(err, "MessageHeader/ErrorCode")
    assert codes == {"broken": "OQS_MALFORMED_XML", "bomb": "OQS_FORBIDDEN_XML"}
    # Another facility's request is readable: answered in kind, status 2 (エラー).
    other = read(wait_for(agent.folders.res / "OQSsiquc01res_other.xml"))
    assert text(other, "MessageBody/ProcessingResultStatus") == "2"
    assert text(other, "MessageBody/ProcessingResultCode") == "OQS_WRONG_FACILITY"
    time.sleep(0.2)
    assert len(list((agent.folders.archive / "rejected").iterdir())) == 3


def test_a_client_temporary_file_is_not_a_request(agent: Agent) -> None:
    (agent.folders.req / "OQSsiquc01req_x.xml.part").write_bytes(b"half")
    drop(agent.folders.req, "OQSsiquc01req_after.xml", eligibility_request())
    wait_for(agent.folders.res / "OQSsiquc01res_after.xml")
    assert not list(agent.folders.res.glob("*.err"))


def test_central_down_keeps_requests_pending_then_answers_once(
    agent: Agent, stack: CentralStack
) -> None:
    stack.stop()
    drop(agent.folders.req, "OQSsiquc01req_wait.xml", eligibility_request())
    time.sleep(1.0)
    assert not (agent.folders.res / "OQSsiquc01res_wait.xml").exists()
    assert agent.status()["pending"] == 1
    assert agent.central.reachable is False
    stack.start()
    result = read(wait_for(agent.folders.res / "OQSsiquc01res_wait.xml", timeout=20))
    assert text(result, "MessageBody/QualificationValidity") == "1"
    assert agent.status()["pending"] == 0
    assert len(list(agent.folders.res.iterdir())) == 1


def test_an_unexpected_failure_is_tried_again_not_stranded(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug or a passing fault while answering leaves the request pending, due again soon;
    it is answered once the fault has passed, and only once."""
    import onshi.terminal.agent as agent_module

    real_process = agent_module.process
    calls: list[str] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        if len(calls) == 1:
            raise RuntimeError("a passing fault")
        return real_process(*args, **kwargs)

    monkeypatch.setattr(agent_module, "process", flaky)
    drop(agent.folders.req, "OQSsiquc01req_flaky.xml", eligibility_request())
    result = read(wait_for(agent.folders.res / "OQSsiquc01res_flaky.xml", timeout=20))
    assert text(result, "MessageBody/QualificationValidity") == "1"
    assert calls == ["OQSsiquc01req_flaky.xml", "OQSsiquc01req_flaky.xml"]
    assert agent.status()["pending"] == 0
    assert [p.name for p in agent.folders.res.iterdir()] == ["OQSsiquc01res_flaky.xml"]


def test_bulk_upload_then_download(agent: Agent) -> None:
    drop(agent.folders.req, "OQSmuquc01req_b1.xml", bulk_upload_request(25))
    receipt = read(wait_for(agent.folders.res / "OQSmuquc01res_b1.xml"))
    reception = text(receipt, "MessageBody/ReceptionNumber")
    assert reception and text(receipt, "MessageBody/ReceptionDateTime")
    deadline = time.monotonic() + 15
    attempt = 0
    while True:
        attempt += 1
        name = f"OQSmuquc02req_b1_{attempt}.xml"
        drop(agent.folders.req, name, bulk_download_request(reception))
        result = read(wait_for(agent.folders.res / name.replace("req", "res")))
        if text(result, "MessageHeader/SegmentOfResult") == "1":
            break
        assert text(result, "MessageHeader/SegmentOfResult") == "2"
        assert time.monotonic() < deadline
        time.sleep(0.1)
    units = result.findall("MessageBody/BulkConfirmUnit")
    assert len(units) == 25
    assert {text(u, "QualificationConfirmSearchInfo/ArbitraryIdentifier") for u in units} == {
        f"R{i}" for i in range(25)
    }
    assert {text(u, "QualificationValidity") for u in units} == {"1"}


def test_requests_written_in_place_or_moved_in_from_elsewhere(agent: Agent, tmp_path: Path) -> None:
    # Written directly: only the close after writing makes it a request.
    with (agent.folders.req / "OQSsiquc01req_direct.xml").open("wb") as fh:
        data = eligibility_request()
        fh.write(data[:40])
        fh.flush()
        time.sleep(0.3)
        assert not (agent.folders.res / "OQSsiquc01res_direct.xml").exists()
        assert not list(agent.folders.res.glob("*.err"))
        fh.write(data[40:])
    wait_for(agent.folders.res / "OQSsiquc01res_direct.xml")
    # Prepared in another folder and moved in whole.
    elsewhere = tmp_path / "outbox" / "OQSsiquc01req_moved.xml"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(eligibility_request())
    elsewhere.rename(agent.folders.req / elsewhere.name)
    wait_for(agent.folders.res / "OQSsiquc01res_moved.xml")


def test_polling_waits_until_a_file_stops_growing(stack: CentralStack, tmp_path: Path) -> None:
    settings = terminal_settings(stack, tmp_path).model_copy(update={"use_polling": True})
    with running_agent(settings) as polling:
        data = eligibility_request()
        with (polling.folders.req / "OQSsiquc01req_slow.xml").open("wb") as fh:
            for start in range(0, len(data), 60):  # a slow writer on a network share
                fh.write(data[start : start + 60])
                fh.flush()
                time.sleep(0.3)
        result = read(wait_for(polling.folders.res / "OQSsiquc01res_slow.xml"))
        assert text(result, "MessageBody/QualificationValidity") == "1"
        assert not list(polling.folders.res.glob("*.err"))
