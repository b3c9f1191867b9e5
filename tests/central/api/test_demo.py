"""``onshi central demo`` end to end: sample data, a facility certificate, HTTPS, the printed example works."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import httpx
import pytest

from onshi.pki import client_ssl_context
from tests.stack import demo_process


@pytest.mark.slow
def test_demo_serves_the_example_it_prints(tmp_path: Path) -> None:
    with demo_process(tmp_path, "central", "demo", "--port", "0") as lines:
        printed = "".join(lines)
        curl = shlex.split(next(line for line in lines if line.strip().startswith("curl")))
        cert, key, ca = (curl[curl.index(flag) + 1] for flag in ("--cert", "--key", "--cacert"))
        body = json.loads(curl[curl.index("-d") + 1])
        url = curl[-1]
        assert re.match(r"https://127\.0\.0\.1:\d+/v1/eligibility/card-number$", url)
        assert "/docs" in printed and "onshi central query" in printed
        context = client_ssl_context(cert, key, ca)
        with httpx.Client(verify=context, timeout=30) as client:
            for _ in range(100):  # the server starts right after printing
                try:
                    response = client.post(url, json=body)
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
        assert response.status_code == 200, response.text
        assert response.json()["MessageBody"]["QualificationValidity"] == "1"
