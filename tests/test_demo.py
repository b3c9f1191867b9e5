"""``onshi demo`` end to end: what it prints works — screen, request files, reader, API."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from onshi.pki import client_ssl_context
from tests.stack import demo_process


@pytest.mark.slow
def test_demo_runs_the_whole_clinic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_")}
    with demo_process(tmp_path, "demo", "--port", "0", "--central-port", "0") as lines:
        printed = "".join(lines)
        screen = re.search(r"受付画面\)\s+(http://127\.0\.0\.1:\d+)/", printed)
        assert screen, printed
        page = httpx.get(screen.group(1) + "/", timeout=10)
        assert page.status_code == 200 and "受付画面" in page.text

        # The billing software's part: copy the example request, read the answer.
        copy = shlex.split(next(line for line in lines if "cp " in line).split(":", 1)[1])
        # copyfile, not copy: the agent takes the file at once, before a chmod could follow
        shutil.copyfile(copy[1], Path(copy[2]) / Path(copy[1]).name)
        answer = Path(copy[2]) / Path(copy[1]).name.replace("req", "res")
        answer = answer.parent.parent / "res" / answer.name
        for _ in range(300):
            if answer.exists():
                break
            time.sleep(0.05)
        assert "<QualificationValidity>1</QualificationValidity>" in answer.read_text(
            encoding="utf-8"
        )

        # The reader's part: present the first virtual card, see a face file.
        present = shlex.split(
            next(line for line in lines if "onshi reader present" in line).split(":", 1)[1]
        )
        card = present[present.index("present") + 1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "onshi",
                "reader",
                "present",
                card,
                "--method",
                "pin",
                "--pin",
                "1234",
                "--terminal",
                screen.group(1),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "QualificationValidity: 1" in result.stdout
        assert list((answer.parent.parent / "face").glob("OQSsiquc01res_face_*.xml"))

        # The API, as the printed curl line asks it.
        curl = shlex.split(next(line for line in lines if line.strip().startswith("curl")))
        cert, key, ca = (curl[curl.index(flag) + 1] for flag in ("--cert", "--key", "--cacert"))
        with httpx.Client(verify=client_ssl_context(cert, key, ca), timeout=30) as client:
            response = client.post(curl[-1], json=json.loads(curl[curl.index("-d") + 1]))
        assert response.status_code == 200, response.text
        assert response.json()["MessageBody"]["QualificationValidity"] == "1"
