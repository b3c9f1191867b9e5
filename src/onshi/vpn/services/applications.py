"""Use cases of applications (申請書): submit, advance through the lifecycle, change x, cancel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from onshi.vpn.domain import lifecycle, terms
from onshi.vpn.domain.accounts import account_name
from onshi.vpn.domain.calendar import YearMonth, standard_opening_date
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import ApplicationClosed, InvalidInput
from onshi.vpn.services import audit
from onshi.vpn.services.context import Context, acting_operator
from onshi.vpn.services.views import ApplicationEventView, ApplicationView
from onshi.vpn.storage import repository as repo
from onshi.vpn.storage import tables as t


def to_view(session: Session, row: t.Application, *, events: bool = False) -> ApplicationView:
    return ApplicationView(
        code=lifecycle.application_code(row.id),
        organisation=row.organisation,
        ids=row.id_count,
        extra_certificates=row.extra_certificates,
        devices_per_id=lifecycle.devices_allowed(row.extra_certificates),
        state=ApplicationState(row.state),
        submitted_on=row.submitted_on,
        standard_opening_date=row.standard_opening_date,
        opened_on=row.opened_on,
        migration_go_live=row.migration_go_live,
        cancellation_requested_on=row.cancellation_requested_on,
        cancellation_effective_on=row.cancellation_effective_on,
        accounts=tuple(repo.account_names(session, row.id)),
        events=tuple(
            ApplicationEventView(e.kind, e.from_value, e.to_value, e.by, e.at)
            for e in repo.application_events(session, row.id)
        )
        if events
        else (),
    )


class Applications:
    def __init__(self, context: Context) -> None:
        self._c = context

    def submit(
        self,
        *,
        organisation: str,
        ids: int,
        extra_certificates: int,
        submitted: dt.date | None = None,
        migration_go_live: YearMonth | None = None,
        by: str | None = None,
    ) -> ApplicationView:
        organisation = lifecycle.check_organisation(organisation)
        lifecycle.check_id_count(ids)
        lifecycle.check_extra_certificates(extra_certificates)
        submitted_on = submitted or self._c.today()
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = t.Application(
                organisation=organisation,
                id_count=ids,
                extra_certificates=extra_certificates,
                state=ApplicationState.SUBMITTED.value,
                submitted_on=submitted_on,
                standard_opening_date=standard_opening_date(submitted_on),
                migration_go_live=str(migration_go_live) if migration_go_live else None,
                created_at=now,
            )
            session.add(row)
            session.flush()
            code = lifecycle.application_code(row.id)
            for number in range(1, ids + 1):
                session.add(
                    t.Account(
                        name=account_name(code, number),
                        application_id=row.id,
                        number=number,
                        failed_logins=0,
                    )
                )
            session.add(
                t.ApplicationEvent(
                    application_id=row.id,
                    kind="transition",
                    from_value="",
                    to_value=ApplicationState.SUBMITTED.value,
                    by=actor,
                    at=now,
                )
            )
            session.flush()
            audit.append(
                session,
                now=now,
                actor=actor,
                action="application.submit",
                subject=code,
                detail=f"ids={ids} extra_certificates={extra_certificates}",
            )
            return to_view(session, row, events=True)

    def advance(
        self,
        code: str,
        to: ApplicationState,
        *,
        by: str | None = None,
        on: dt.date | None = None,
        cancel_at_end_of: YearMonth | None = None,
    ) -> ApplicationView:
        """Move an application one step; ``on`` is the day it happens (default: today in Japan).

        Opening records ``on`` as the opening date. Cancelling records the request and the day
        it takes effect: a month end, never inside the minimum term (H4's contract terms); an
        application cancelled before it opened ends on the day of the request.
        """
        number = lifecycle.parse_application_code(code)
        day = on or self._c.today()
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = repo.application(session, number, for_update=True)
            current = ApplicationState(row.state)
            lifecycle.check_transition(current, to)
            if to is ApplicationState.OPENED:
                if day < row.submitted_on:
                    raise InvalidInput(
                        f"an application submitted on {row.submitted_on} cannot open on {day}"
                    )
                row.opened_on = day
            elif to is ApplicationState.CANCELLED:
                row.cancellation_requested_on = day
                row.cancellation_effective_on = self._cancellation_effective(
                    row, day, cancel_at_end_of
                )
            row.state = to.value
            session.add(
                t.ApplicationEvent(
                    application_id=row.id,
                    kind="transition",
                    from_value=current.value,
                    to_value=to.value,
                    by=actor,
                    at=now,
                )
            )
            audit.append(
                session,
                now=now,
                actor=actor,
                action="application.advance",
                subject=lifecycle.application_code(row.id),
                detail=f"{current.value}->{to.value}",
            )
            return to_view(session, row, events=True)

    @staticmethod
    def _cancellation_effective(
        row: t.Application, day: dt.date, at_end_of: YearMonth | None
    ) -> dt.date:
        if row.opened_on is None:
            return day
        go_live = YearMonth.parse(row.migration_go_live) if row.migration_go_live else None
        start = terms.billing_start(row.opened_on, go_live)
        return terms.cancellation_effective_date(day, start, at_end_of)

    def set_extra_certificates(
        self, code: str, extra_certificates: int, *, by: str | None = None
    ) -> ApplicationView:
        """Change x for every ID of the application at once (the seed: 各IDで同数適用).

        Lowering x does not revoke certificates already issued: an ID over its new limit just
        cannot get another until it is back under it (the operator revokes what the customer
        gives up).
        """
        number = lifecycle.parse_application_code(code)
        lifecycle.check_extra_certificates(extra_certificates)
        now = self._c.now_naive()
        with self._c.db.transaction() as session:
            actor = acting_operator(session, by)
            row = repo.application(session, number, for_update=True)
            if row.state == ApplicationState.CANCELLED.value:
                raise ApplicationClosed(f"application {code} is cancelled")
            previous = row.extra_certificates
            row.extra_certificates = extra_certificates
            session.add(
                t.ApplicationEvent(
                    application_id=row.id,
                    kind="extra_certificates",
                    from_value=str(previous),
                    to_value=str(extra_certificates),
                    by=actor,
                    at=now,
                )
            )
            audit.append(
                session,
                now=now,
                actor=actor,
                action="application.extra_certificates",
                subject=lifecycle.application_code(row.id),
                detail=f"{previous}->{extra_certificates}",
            )
            return to_view(session, row, events=True)

    def get(self, code: str) -> ApplicationView:
        number = lifecycle.parse_application_code(code)
        with self._c.db.sessions() as session:
            return to_view(session, repo.application(session, number), events=True)

    def list(self, state: ApplicationState | None = None) -> list[ApplicationView]:
        with self._c.db.sessions() as session:
            return [
                to_view(session, row)
                for row in repo.applications(session, state.value if state else None)
            ]
