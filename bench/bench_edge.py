"""Lint throughput of the network edge toolkit (target: ≥ 500 configurations/s).

    .venv/bin/python bench/bench_edge.py [--seconds 2]

Lints the seed's router configurations (layout A router ①, ②, layout B router ③) over and over
for a fixed time each, and prints configurations per second, the ratio to the 500/s target, and
a reference measured in the same run: the cost of merely parsing the text into a tree, so that
"lint / parse" tells how much of the time the rules themselves take on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from onshi.edge.ixconfig.parser import parse
from onshi.edge.lint import lint_text

TARGET_PER_SECOND = 500
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "edge" / "fixtures"
CONFIGS = ("seed_router1_east.cfg", "seed_router2.cfg", "seed_router3_east.cfg")


def rate(work: Callable[[], object], seconds: float) -> float:
    """Calls per second, best of three runs of ``seconds / 3`` each."""
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        deadline = start + seconds / 3
        while True:
            work()
            count += 1
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()

    texts = {name: (FIXTURES / name).read_text(encoding="utf-8") for name in CONFIGS}
    for name, text in texts.items():  # the benchmark is only meaningful on clean configs
        assert lint_text(text, "east").findings == (), name

    rows = []
    for name, text in texts.items():
        lint_rate = rate(lambda text=text: lint_text(text, "east"), args.seconds)
        parse_rate = rate(lambda text=text: parse(text), args.seconds)
        rows.append((name, len(text.splitlines()), lint_rate, parse_rate))
    mixed = list(texts.values())
    all_rate = rate(lambda: [lint_text(t, "east") for t in mixed], args.seconds) * len(mixed)

    print(
        f"{'configuration':<24}{'lines':>6}{'lint/s':>10}{'× target':>10}{'parse/s':>10}{'time lint÷parse':>17}"
    )
    for name, lines, lint_rate, parse_rate in rows:
        print(
            f"{name:<24}{lines:>6}{lint_rate:>10.0f}{lint_rate / TARGET_PER_SECOND:>10.1f}"
            f"{parse_rate:>10.0f}{parse_rate / lint_rate:>17.1f}"
        )
    print(f"{'all three, mixed':<24}{'':>6}{all_rate:>10.0f}{all_rate / TARGET_PER_SECOND:>10.1f}")
    worst = min(r[2] for r in rows)
    verdict = "meets" if worst >= TARGET_PER_SECOND else "MISSES"
    print(f"slowest configuration: {worst:.0f}/s — {verdict} the {TARGET_PER_SECOND}/s target")
    return 0 if worst >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
