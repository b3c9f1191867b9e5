"""The IX configuration lint: a tree, a set of rules, findings with lines.

``lint_text(text, area=…)`` → :class:`LintReport`. Rules are registered by id in
:mod:`.registry`; one page per rule lives in ``docs/edge/rules/<rule-id>.md``.
"""

from __future__ import annotations

from onshi.edge.areas import Area, load_catalog
from onshi.edge.ixconfig.model import IxConfig, load
from onshi.edge.lint import dns_rules, filter_rules, interface_rules  # noqa: F401  (register)
from onshi.edge.lint.context import LintContext
from onshi.edge.lint.findings import Finding, LintReport, Severity
from onshi.edge.lint.registry import RULES

__all__ = ["RULES", "Finding", "LintReport", "Severity", "lint_config", "lint_text"]


def lint_config(config: IxConfig, area: Area | None = None) -> LintReport:
    ctx = LintContext(config, area, load_catalog())
    findings = [f for spec in RULES.values() for f in spec.check(ctx)]
    findings.sort(key=lambda f: (f.line, f.rule))
    return LintReport(tuple(findings))


def lint_text(text: str, area: Area | str | None = None) -> LintReport:
    return lint_config(load(text), Area(area) if area is not None else None)
