"""The rule registry: each rule is a function of a :class:`LintContext`, registered by its id."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from onshi.edge.ixconfig.filters import Packet
from onshi.edge.lint.context import LintContext
from onshi.edge.lint.findings import Finding, Severity

Check = Callable[[LintContext], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str
    check: Check


RULES: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, summary: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        if rule_id in RULES:
            raise RuntimeError(f"rule {rule_id} registered twice")
        RULES[rule_id] = Rule(rule_id, severity, summary, check)
        return check

    return register


def finding(
    rule_id: str,
    line: int,
    message: str,
    *,
    severity: Severity | None = None,
    witness: Packet | None = None,
) -> Finding:
    return Finding(rule_id, severity or RULES[rule_id].severity, line, message, witness)
