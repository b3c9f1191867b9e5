"""The namespace harness cleans up after itself, also after a failure or a crashed run."""

from __future__ import annotations

import subprocess

import pytest

from tests.netns import PREFIX, Lab, clean_leftovers
from tests.vpn.gateway.conftest import require_netns

pytestmark = pytest.mark.netns


def _namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_a_failing_test_still_removes_its_namespaces_and_processes() -> None:
    require_netns()
    made: list[str] = []
    with pytest.raises(RuntimeError, match="boom"), Lab() as lab:
        a, b = lab.host("a"), lab.host("b")
        lab.link(a, "192.0.2.1/30", b, "192.0.2.2/30")
        sleeper = b.popen("sleep", "600")
        made = [a.name, b.name]
        assert set(made) <= _namespaces()
        raise RuntimeError("boom")
    assert not set(made) & _namespaces()
    assert sleeper.poll() is not None


def test_leftovers_of_a_dead_run_are_removed_and_others_kept() -> None:
    require_netns()
    dead = f"{PREFIX}999999999-1-x"  # no such pid
    subprocess.run(["ip", "netns", "add", dead], check=True)
    with Lab() as lab:
        mine = lab.host("keep")
        assert dead not in _namespaces()  # a new Lab cleans first
        clean_leftovers()
        assert mine.name in _namespaces()  # a live run's namespaces stay
