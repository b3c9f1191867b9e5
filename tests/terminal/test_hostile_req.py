"""Whatever lands in req is answered, moved aside, and never stops the agent (issue 7, §3).

A real agent against a real central service: directories, FIFOs, symbolic links out of the
folder, names no answer can carry, a 50 MB file, files still being written, a watcher that
dies, a re-sent name, and no patient data left in the state database after delivery.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from onshi.terminal.agent import Agent
from onshi.terminal.watcher import InotifyWatcher
from tests.stack import CentralStack, running_agent, terminal_settings
from tests.terminal.oqs_files import drop, eligibility_request, read, text, wait_for

ROOT = Path(__file__).resolve().parents[2]
LONG_ID = "a" * (255 - len("OQSsiquc01req_") - len(".xml"))


def error_code(path: Path) -> str | None:
    err = read(wait_for(path))
    assert text(err, "MessageHeader/SegmentOfResult") == "9"
    assert text(err, "MessageHeader/ErrorMessage")
    return text(err, "MessageHeader/ErrorCode")


def settle_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def plant_hostile_entries(req: Path) -> dict[str, str]:
    """Every kind of entry §3 lists; returns the expected .err name → code."""
    (req / "OQSsiquc01req_empty.xml").mkdir()  # made in place
    made_elsewhere = req.parent / "dir.xml"  # a folder with content, moved in
    made_elsewhere.mkdir()
    (made_elsewhere / "inside.txt").write_text("x")
    made_elsewhere.rename(req / "OQSsiquc01req_dir.xml")
    os.mkfifo(req / "OQSsiquc01req_fifo.xml")
    (req / "OQSsiquc01req_shadow.xml").symlink_to("/etc/shadow")
    (req / "OQSsiquc01req_zero.xml").symlink_to("/dev/zero")
    with (req / "OQSsiquc01req_big.xml").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # 50 MB (sparse: cheap to make, never read)
    drop(req, "OQSsiquc01req_back\\slash.xml", eligibility_request())
    drop(req, "OQSsiquc01req_bell\x07\x1b.xml", eligibility_request())
    fd = os.open(os.fsencode(req) + b"/OQSsiquc01req_latin\xff.xml", os.O_CREAT | os.O_WRONLY)
    os.write(fd, eligibility_request())
    os.close(fd)
    return {
        "OQSsiquc01req_dir.err": "TERMINAL_NOT_A_FILE",
        "OQSsiquc01req_empty.err": "TERMINAL_NOT_A_FILE",
        "OQSsiquc01req_fifo.err": "TERMINAL_NOT_A_FILE",
        "OQSsiquc01req_shadow.err": "TERMINAL_SYMLINK",
        "OQSsiquc01req_zero.err": "TERMINAL_SYMLINK",
        "OQSsiquc01req_big.err": "OQS_TOO_LARGE",
        "OQSsiquc01req_back_slash.err": "TERMINAL_UNSAFE_NAME",
        "OQSsiquc01req_bell__.err": "TERMINAL_UNSAFE_NAME",
        "OQSsiquc01req_latin_.err": "TERMINAL_UNSAFE_NAME",
    }


def test_hostile_entries_get_err_files_and_the_agent_keeps_serving(agent: Agent) -> None:
    check_hostile_entries(agent)


def test_hostile_entries_with_the_polling_watcher(stack: CentralStack, tmp_path: Path) -> None:
    settings = terminal_settings(stack, tmp_path).model_copy(update={"use_polling": True})
    with running_agent(settings) as polling:
        check_hostile_entries(polling)


def test_req_on_another_file_system_than_the_state(
    stack: CentralStack, tmp_path: Path, shm_folder: Path
) -> None:
    """A network share, say: claims are renamed aside inside req, archives are copied."""
    settings = terminal_settings(stack, tmp_path).model_copy(update={"oqs_dir": shm_folder})
    assert os.stat(shm_folder).st_dev != os.stat(tmp_path).st_dev
    with running_agent(settings) as agent:
        check_hostile_entries(agent, fifo_kept=False)  # a FIFO has nothing to copy
        assert not [p for p in agent.folders.req.iterdir()]  # hidden claims archived too


@pytest.fixture
def shm_folder(tmp_path: Path) -> Iterator[Path]:
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) here")
    folder = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="onshi-oqs-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def check_hostile_entries(agent: Agent, *, fifo_kept: bool = True) -> None:
    req, res = agent.folders.req, agent.folders.res
    shadow = Path("/etc/shadow").read_bytes() if Path("/etc/shadow").exists() else None
    expected = plant_hostile_entries(req)
    # 255 bytes, the longest name a Linux folder holds: more than the 200-character identifier
    # the OQS layer accepts, so an .err of that very length; 200 characters are answered.
    (req / f"OQSsiquc01req_{LONG_ID}.xml").write_bytes(eligibility_request())
    (req / f"OQSsiquc01req_{'b' * 200}.xml").write_bytes(eligibility_request())
    expected[f"OQSsiquc01req_{LONG_ID}.err"] = "OQS_UNKNOWN_MESSAGE"
    drop(req, "OQSsiquc01req_after.xml", eligibility_request())
    assert {name: error_code(res / name) for name in expected} == expected
    answer = read(wait_for(res / f"OQSsiquc01res_{'b' * 200}.xml"))
    assert text(answer, "MessageBody/QualificationValidity") == "1"
    assert (
        text(read(wait_for(res / "OQSsiquc01res_after.xml")), "MessageBody/QualificationValidity")
        == "1"
    )
    settle_until(lambda: not list(req.iterdir()))  # everything moved aside
    quarantine = agent.folders.archive / "quarantine"
    # Archiving follows the answer: wait for it (the long name is a readable file: rejected).
    quarantined = len(expected) - 1 if fifo_kept else len(expected) - 2
    settle_until(lambda: len(list(quarantine.iterdir())) >= len(expected) - 1 + quarantined)
    reasons = sorted(p.read_text() for p in quarantine.glob("*.reason"))
    assert len(reasons) == len(expected) - 1  # the long name is a readable file: rejected
    assert all(r.split(":")[0] in set(expected.values()) for r in reasons)
    moved = [p for p in quarantine.iterdir() if not p.name.endswith(".reason")]
    assert len(moved) == quarantined
    assert sum(p.is_symlink() for p in moved) == 2  # the links themselves, never their targets
    assert sorted(p.name for p in res.iterdir()) == sorted(
        [*expected, f"OQSsiquc01res_{'b' * 200}.xml", "OQSsiquc01res_after.xml"]
    )
    if shadow is not None:
        assert Path("/etc/shadow").read_bytes() == shadow
    assert agent.watcher_status()["running"] is True


def test_a_file_still_being_written_at_start_is_waited_for_but_not_forever(
    stack: CentralStack, tmp_path: Path
) -> None:
    settings = terminal_settings(stack, tmp_path).model_copy(
        update={"settle_seconds": 0.5, "settle_max_seconds": 3.0}
    )
    req = settings.oqs_dir / "req"
    req.mkdir(parents=True)
    res = settings.oqs_dir / "res"
    data = eligibility_request()
    stop = threading.Event()

    def endless_writer() -> None:
        with (req / "OQSsiquc01req_endless.xml").open("wb") as fh:
            while not stop.wait(0.1):
                fh.write(b" ")
                fh.flush()

    writer = threading.Thread(target=endless_writer)
    writer.start()
    try:
        with (req / "OQSsiquc01req_slow.xml").open("wb") as slow:
            slow.write(data[:50])
            slow.flush()
            with running_agent(settings) as agent:
                time.sleep(1.2)  # the scan found both; neither is taken while it changes…
                slow.write(data[50:])
                slow.flush()
                assert not list(res.iterdir())
                slow.close()  # …and the close after writing makes it a request
                answer = read(wait_for(res / "OQSsiquc01res_slow.xml"))
                assert text(answer, "MessageBody/QualificationValidity") == "1"
                # A file that keeps changing is taken at the limit and answered with an .err.
                assert (
                    error_code(
                        res / "OQSsiquc01req_endless.err",
                    )
                    == "TERMINAL_STILL_WRITING"
                )
                assert agent.status()["pending"] == 0
    finally:
        stop.set()
        writer.join()


def test_a_dead_watcher_is_reported_and_restarted(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_self: InotifyWatcher) -> list[tuple[str, bool]]:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(InotifyWatcher, "_next_events", broken)
    drop(agent.folders.req, "OQSsiquc01req_wake.xml", eligibility_request())  # wakes the loop
    wait_for(agent.folders.res / "OQSsiquc01res_wake.xml")
    # Every restart dies at once: the status (what the screen shows) says so.
    settle_until(lambda: agent.watcher_restarts >= 1)
    settle_until(lambda: agent.status()["watcher"]["running"] is False)
    assert agent.status()["watcher"]["detail"]
    assert any(e["kind"] == "watcher" for e in agent.events.recent())
    drop(agent.folders.req, "OQSsiquc01req_during.xml", eligibility_request())
    monkeypatch.undo()
    # Healed: the next restart holds, and what arrived meanwhile is answered (by its scan).
    wait_for(agent.folders.res / "OQSsiquc01res_during.xml", timeout=10)
    settle_until(lambda: agent.status()["watcher"]["running"] is True)
    drop(agent.folders.req, "OQSsiquc01req_later.xml", eligibility_request())
    wait_for(agent.folders.res / "OQSsiquc01res_later.xml")


def test_the_same_name_sent_again_after_its_answer_is_answered_again(agent: Agent) -> None:
    name, answer = (
        "OQSsiquc01req_202611231015.xml",
        agent.folders.res / "OQSsiquc01res_202611231015.xml",
    )
    for _round in range(3):  # the same content each time, as a client retrying would send it
        drop(agent.folders.req, name, eligibility_request())
        assert text(read(wait_for(answer)), "MessageBody/QualificationValidity") == "1"
        answer.unlink()  # read and removed, as OQSDrug2 does
    answered = agent.folders.archive / "answered"
    settle_until(lambda: len(list(answered.iterdir())) == 3)  # archiving follows the answer


def test_no_patient_data_stays_in_the_state_database(agent: Agent) -> None:
    for i in range(3):
        drop(agent.folders.req, f"OQSsiquc01req_p{i}.xml", eligibility_request())
    for i in range(3):
        wait_for(agent.folders.res / f"OQSsiquc01res_p{i}.xml")
    assert "診療　太郎".encode() in (agent.folders.res / "OQSsiquc01res_p0.xml").read_bytes()
    settle_until(lambda: agent.status()["pending"] == 0)
    time.sleep(0.2)
    state_files = list(agent.settings.state_dir.glob("terminal.sqlite3*"))
    assert state_files
    for path in state_files:
        content = path.read_bytes()
        for secret in ("診療　太郎", "ｼﾝﾘｮｳ ﾀﾛｳ"):
            assert secret.encode() not in content, path.name
            assert secret.encode("cp932") not in content, path.name


@pytest.mark.slow
def test_hostile_entries_survive_a_crash_and_are_answered_once(
    stack: CentralStack, tmp_path: Path
) -> None:
    settings = terminal_settings(stack, tmp_path)
    settings_file = tmp_path / "terminal.json"
    settings_file.write_text(settings.model_dump_json())
    req, res = settings.oqs_dir / "req", settings.oqs_dir / "res"
    req.mkdir(parents=True)
    expected = plant_hostile_entries(req)
    for delay in (0.05, 0.3):
        process = start(settings_file)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
    process = start(settings_file)
    try:
        assert {name: error_code(res / name) for name in expected} == expected
        settle_until(lambda: not list(req.iterdir()))
    finally:
        process.terminate()
        process.wait(10)
    assert sorted(p.name for p in res.iterdir()) == sorted(expected)
    inbox = settings.state_dir / "inbox"
    assert not list(inbox.iterdir())


def start(settings_file: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.terminal.agent_process", str(settings_file)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def test_a_close_while_another_descriptor_still_writes_is_not_the_end(agent: Agent) -> None:
    path = agent.folders.req / "OQSsiquc01req_twofd.xml"
    data = eligibility_request()
    with path.open("wb") as second:
        with path.open("r+b") as first:
            first.write(data[:40])
        # The first close fired IN_CLOSE_WRITE, but the file is still open for writing.
        time.sleep(0.5)
        assert path.exists() and not list(agent.folders.res.iterdir())
        second.seek(40)
        second.write(data[40:])
    answer = read(wait_for(agent.folders.res / "OQSsiquc01res_twofd.xml"))
    assert text(answer, "MessageBody/QualificationValidity") == "1"
