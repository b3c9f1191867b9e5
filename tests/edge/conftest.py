"""Fixtures of the edge toolkit's tests: the seed's router configurations, verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

# Verbatim from seed 002 (both areas' DNS servers, as printed) and with one area chosen, as the
# seed tells integrators to do ("エリアに応じて選択し、不要な方を削除してください").
SEED_VERBATIM = ("seed_router1.cfg", "seed_router2.cfg", "seed_router3.cfg")
SEED_CLEAN = (
    "seed_router1_east.cfg",
    "seed_router1_west.cfg",
    "seed_router2.cfg",
    "seed_router3_east.cfg",
    "seed_router3_west.cfg",
)


def read_fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    """1-based line number of the only line containing ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) == 1, f"{fragment!r} found on lines {hits}"
    return hits[0]


def replace_line(text: str, fragment: str, new: str | None) -> str:
    """Replace (or delete, with None) the only line containing ``fragment``."""
    number = line_of(text, fragment)
    lines = text.splitlines()
    if new is None:
        del lines[number - 1]
    else:
        lines[number - 1] = new
    return "\n".join(lines) + "\n"


@pytest.fixture
def router1() -> str:
    return read_fixture("seed_router1_east.cfg")


@pytest.fixture
def router2() -> str:
    return read_fixture("seed_router2.cfg")


@pytest.fixture
def router3() -> str:
    return read_fixture("seed_router3_east.cfg")
