"""The command line: render, lint (exit 0/1/2, JSON shape), through typer and as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import onshi.edge
from onshi.edge.cli import router_app

from .conftest import FIXTURES, read_fixture, replace_line

RUN = CliRunner()
SRC = str(Path(onshi.edge.__file__).parents[2])


def edge(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "onshi.edge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_render_to_stdout_marks_each_router() -> None:
    result = RUN.invoke(router_app, ["render", "--vendor", "ix", "--layout", "a", "--area", "east"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "! router1" and lines.count("! router2") == 1
    assert "proxy-dns server 2404:1a8:f583:d00::53:1 url-list online-sikaku priority 200" in lines


def test_render_to_directory(tmp_path: Path) -> None:
    result = RUN.invoke(router_app, ["render", "--layout", "b", "--area", "west", "--out", str(tmp_path / "cfg"),
                                     "--extra-domain", "kenporen.com", "--extra-domain", "*.flets-west.jp"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["router.cfg"]
    text = (tmp_path / "cfg" / "router.cfg").read_text()
    assert "url-list online-sikaku permit domain kenporen.com" in text
    lint = RUN.invoke(router_app, ["lint", str(tmp_path / "cfg" / "router.cfg"), "--area", "west"])
    assert lint.exit_code == 0, lint.output


@pytest.mark.parametrize("vendor", ["rtx", "linux"])
def test_render_other_vendors(vendor: str, tmp_path: Path) -> None:
    result = RUN.invoke(router_app, ["render", "--vendor", vendor, "--layout", "a", "--area", "east", "--no-dns-proxy", "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["router1.cfg", "router2.cfg"]


@pytest.mark.parametrize("args", [
    ["--layout", "a", "--area", "east", "--no-dns-proxy", "--extra-domain", "x.example"],
    ["--layout", "c", "--area", "east"],
    ["--layout", "a", "--area", "south"],
    ["--layout", "a", "--area", "east", "--linkage-address", "192.168.1.1/24"],
    ["--layout", "a", "--area", "east", "--extra-domain", "bad domain"],
    ["--layout", "a", "--area", "east", "--vendor", "cisco"],
])  # fmt: skip
def test_render_refuses_impossible_profiles(args: list[str]) -> None:
    result = RUN.invoke(router_app, ["render", *args])
    assert result.exit_code == 2


def test_render_error_names_its_code() -> None:
    result = RUN.invoke(
        router_app,
        ["render", "--layout", "a", "--area", "east", "--linkage-address", "192.168.1.1/24"],
    )
    assert "error [edge.profile.overlap]" in result.stderr


def test_lint_clean_seed_exit_0_json() -> None:
    result = RUN.invoke(
        router_app,
        ["lint", str(FIXTURES / "seed_router3_east.cfg"), "--area", "east", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"findings": []}


def test_lint_findings_exit_1_json_shape(tmp_path: Path) -> None:
    text = replace_line(read_fixture("seed_router1_east.cfg"), "2404:1a8:f583:d00::53:2", None)
    text = replace_line(text, "ipv6 nd ra enable", None)
    path = tmp_path / "r1.cfg"
    path.write_text(text)
    result = RUN.invoke(router_app, ["lint", str(path), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"findings"}
    for f in doc["findings"]:
        assert set(f) == {"rule", "severity", "line", "message"}
        assert f["severity"] in ("error", "warning", "info") and isinstance(f["line"], int)
    assert {(f["rule"], f["severity"]) for f in doc["findings"]} == {
        ("dns-server-redundant", "warning"), ("terminal-lan-ra", "error"),
    }  # fmt: skip


def test_lint_warnings_only_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "r1.cfg"
    path.write_text(
        replace_line(read_fixture("seed_router1_east.cfg"), "2404:1a8:f583:d00::53:2", None)
    )
    result = RUN.invoke(router_app, ["lint", str(path)])
    assert result.exit_code == 0
    assert f"{path}:" in result.stdout and "warning [dns-server-redundant]" in result.stdout


def test_lint_unreadable_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "blob.cfg"
    binary.write_bytes(b"\xff\xfe\x00interface")
    for target in (tmp_path / "missing.cfg", tmp_path, binary):
        result = RUN.invoke(router_app, ["lint", str(target)])
        assert result.exit_code == 2, (target, result.output)
        assert "edge.config.read" in result.stderr


def test_as_a_process_exit_codes(tmp_path: Path) -> None:
    clean = edge("router", "lint", str(FIXTURES / "seed_router2.cfg"), "--format", "json")
    assert clean.returncode == 0 and json.loads(clean.stdout) == {"findings": []}
    dirty = edge(
        "router", "lint", str(FIXTURES / "seed_router1.cfg"), "--area", "west", "--format", "json"
    )
    assert dirty.returncode == 1
    assert {f["rule"] for f in json.loads(dirty.stdout)["findings"]} == {"dns-area-consistent"}
    missing = edge("router", "lint", str(tmp_path / "nope.cfg"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_root_command_wires_the_toolkit() -> None:
    env = os.environ | {"PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "onshi", "subsidy", "--facility", "pharmacy", "--readers", "1",
         "--cost", "429000", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["subsidy_yen"] == 321000
