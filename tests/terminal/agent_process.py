"""Run an agent alone in a process, for tests that kill it: ``python -m tests.terminal.agent_process SETTINGS.json``."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

from onshi.terminal.cli import start_agent
from onshi.terminal.settings import TerminalSettings


def main() -> None:
    settings = TerminalSettings(**json.loads(Path(sys.argv[1]).read_text()))
    agent = start_agent(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    agent.stop()


if __name__ == "__main__":
    main()
