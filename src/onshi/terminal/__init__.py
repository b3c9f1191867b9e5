"""The eligibility terminal agent (資格確認端末).

Billing/EMR software (レセコン/電子カルテ) talks to it only through files in a shared folder;
patients through the face-authentication card reader; it talks to the central service over
HTTPS with the facility's client certificate. Layout::

    settings.py   typed settings (ONSHI_TERMINAL_…)
    state.py      the local state database: every request's progress survives a crash
    folders.py    the OQS folder (req/res/face): atomic writes, requests moved aside
    watcher.py    filesystem events (inotify through watchdog; polling only as a fallback)
    processor.py  one request: parse, ask the central service, write the answer exactly once
    agent.py      workers, retries with backoff, connection state, events for the screen
    reception/    the reception screen and the local API the card reader calls
    cli.py        ``onshi terminal run``
"""
