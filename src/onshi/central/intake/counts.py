"""What an import did, for the operator and for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ImportCounts:
    """Rows inserted, updated (old state kept in history) and found unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    limit_certificates: int = 0  # added from the insured CSV's limit-certification columns

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def summary(self) -> str:
        text = f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged"
        if self.limit_certificates:
            text += f", {self.limit_certificates} limit certificates added"
        return text
