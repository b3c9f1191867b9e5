"""What the lint reports: a finding names its rule, a severity, a 1-based line and a message."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from onshi.edge.ixconfig.filters import Packet


class Severity(enum.StrEnum):
    """Like pybatfish's soft/hard asserts: errors fail the check, warnings and info do not."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    line: int
    message: str
    # A concrete packet that shows the problem (filter rules only); not part of the JSON form.
    witness: Packet | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "message": self.message,
        }


@dataclass(frozen=True)
class LintReport:
    findings: tuple[Finding, ...]

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.findings)

    def rules(self) -> set[str]:
        return {f.rule for f in self.findings}

    def as_json(self) -> dict[str, object]:
        return {"findings": [f.as_json() for f in self.findings]}
