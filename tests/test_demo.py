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

DEMO = ("demo", "--port", "0", "--central-port", "0", "--vpn-port", "0", "--claims-port", "0")


@pytest.mark.slow
def test_demo_runs_the_whole_clinic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_")}
    with demo_process(tmp_path, *DEMO) as lines:
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


def _printed_command(lines: list[str], marker: str) -> list[str]:
    """The printed ``onshi …`` command containing ``marker``, run with this interpreter."""
    words = shlex.split(next(line for line in lines if marker in line))
    start = words.index(marker.split()[0])
    return [sys.executable, "-m", "onshi", *words[start:]]


def _login(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    form = client.get(path)
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    return client.post(path, data={**fields, "csrf": csrf.group(1)})


@pytest.mark.slow
def test_demo_runs_the_vpn_portal_and_the_claims_receiver(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONSHI_")}
    with demo_process(tmp_path, *DEMO) as lines:
        printed = "".join(lines)
        portal = re.search(r"VPN portal \(ポータル\)\s+(http://127\.0\.0\.1:\d+)/", printed)
        password = re.search(r"password (\S+) \(DEMO ONLY", printed)
        ids = re.search(r"clinic IDs (A\d{6}-001), (A\d{6}-002) \(application (A\d{6})\)", printed)
        assert portal and password and ids, printed
        assert "onshi vpn gateway run" in printed and "docs/vpn/gateway.md" in printed

        # A clinic ID and the operator log in with the printed demo password; a wrong one fails.
        with httpx.Client(base_url=portal.group(1), timeout=30) as client:
            wrong = _login(client, "/login", {"account": ids.group(1), "password": "not-it-123"})
            assert wrong.status_code == 401
            ok = _login(client, "/login", {"account": ids.group(1), "password": password.group(1)})
            assert ok.status_code == 303, ok.text
            home = client.get("/")
            assert home.status_code == 200 and ids.group(1) in home.text
            assert "reception-pc" in home.text  # the seeded device certificate
        with httpx.Client(base_url=portal.group(1), timeout=30) as client:
            ok = _login(
                client, "/operator/login", {"name": "demo-operator", "password": password.group(1)}
            )
            assert ok.status_code == 303, ok.text
            page = client.get("/operator/")
            assert page.status_code == 200 and ids.group(3) in page.text

        # The printed client profile command renders the seeded device's profile.
        profile = subprocess.run(
            _printed_command(lines, "vpn client profile"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert profile.returncode == 0, profile.stdout + profile.stderr
        assert f"account {ids.group(1)}, device reception-pc" in profile.stdout
        assert "remote_ts = 198.51.100.0/24" in profile.stdout

        # The printed claims command submits the sample file: a receipt number comes back.
        claims = subprocess.run(
            _printed_command(lines, "claims submit"),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert claims.returncode == 0, claims.stdout + claims.stderr
        assert re.fullmatch(r"\d{6}-1311111111-\d{6}\n", claims.stdout), claims.stdout

    # A second start reuses the seed: the same application and IDs, nothing added.
    with demo_process(tmp_path, *DEMO) as lines:
        assert ids.group(0) in "".join(lines)
    listed = subprocess.run(
        [sys.executable, "-m", "onshi", "vpn", "application", "list", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert [a["application"] for a in json.loads(listed.stdout)] == [ids.group(3)]
    devices = subprocess.run(
        [sys.executable, "-m", "onshi", "vpn", "device", "list", ids.group(1), "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert [d["status"] for d in json.loads(devices.stdout)] == ["valid"]
