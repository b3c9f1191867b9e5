"""What the bulk and history use cases need of the service: a seam, not the ``Central`` facade.

:class:`~onshi.central.services.central.Central` satisfies :class:`ServiceContext`
structurally and passes itself; :mod:`~onshi.central.services.bulk` and
:mod:`~onshi.central.services.history` import only this protocol, so the facade can import
them without an import circle (tests/central/test_architecture.py keeps it that way).
"""

from __future__ import annotations

from typing import Protocol

from onshi.central.domain.qualification import CardKey
from onshi.central.services.audit import AuditLog
from onshi.central.services.clock import Clock
from onshi.central.storage.database import Database


class Notifiable(Protocol):
    def notify(self) -> None: ...


class ServiceContext(Protocol):
    """The database, audit log, clock and limits of one running service."""

    db: Database
    audit: AuditLog
    clock: Clock
    max_bulk_records: int

    @property
    def bulk_worker(self) -> Notifiable: ...

    def card_key_subject(self, key: CardKey) -> str: ...
