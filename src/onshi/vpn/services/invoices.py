"""Monthly invoices from stored applications: the facts billing needs, then H4's rules."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from onshi.vpn.domain import lifecycle
from onshi.vpn.domain.billing import ContractFacts, ExtraCertificateChange, Invoice, invoice_for
from onshi.vpn.domain.calendar import JST, YearMonth
from onshi.vpn.services.context import Context
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t


def contract_facts(session: Session, row: t.Application) -> ContractFacts | None:
    """What billing needs about one application; None if it never opened (nothing to bill).

    A change of x counts from the day (in Japan) it was recorded; the number in force on the
    opening date is the contract's starting number, later changes are listed.
    """
    if row.opened_on is None:
        return None
    changes = [
        (e.at.replace(tzinfo=dt.UTC).astimezone(JST).date(), int(e.from_value), int(e.to_value))
        for e in repo.application_events(session, row.id)
        if e.kind == "extra_certificates"
    ]
    at_opening = changes[0][1] if changes else row.extra_certificates
    later: list[ExtraCertificateChange] = []
    for day, _before, after in changes:
        if day <= row.opened_on:
            at_opening = after
        else:
            later.append(ExtraCertificateChange(effective_on=day, per_id=after))
    return ContractFacts(
        application_id=lifecycle.application_code(row.id),
        organisation=row.organisation,
        ids=row.id_count,
        extra_certificates_per_id=at_opening,
        opening_date=row.opened_on,
        migration_go_live=YearMonth.parse(row.migration_go_live) if row.migration_go_live else None,
        cancellation_effective=row.cancellation_effective_on,
        extra_certificate_changes=tuple(later),
    )


class Invoices:
    def __init__(self, context: Context) -> None:
        self._c = context

    def for_month(self, month: YearMonth) -> list[Invoice]:
        """Every contract's invoice for ``month`` (contracts not billed that month have none)."""
        invoices: list[Invoice] = []
        with self._c.db.sessions() as session:
            for row in repo.applications(session):
                facts = contract_facts(session, row)
                if facts is None:
                    continue
                invoice = invoice_for(facts, month)
                if invoice is not None:
                    invoices.append(invoice)
        return invoices
