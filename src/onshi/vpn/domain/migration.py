"""Migration from Medical Group Net (メディカル・グループネット・サービス) without paying twice.

The seed's schedule (1-5) for a customer who wants the medical VPN service in production from the
1st of month n: apply for the new service early enough that it opens on the first business day of
month n-1; verify during month n-1 (検証期間, at most about a month) while the old service still
runs; ask for the old service's cancellation from the 2nd of month n-1 so it ends on the last day
of n-1; the new service is billed from the 1st of month n.

The two services also differ at the session level (seed 2-2), which matters when a clinic moves:
Medical Group Net cut an idle connection after 30 minutes, this service after 24 hours; both cut
any connection after 24 hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from onshi.vpn.domain.calendar import YearMonth, latest_submission_for


@dataclass(frozen=True)
class SessionLimits:
    """When a VPN session is cut: after ``idle_disconnect`` without traffic (無通信断), and after
    ``max_connection`` in any case (連続通信断)."""

    idle_disconnect: dt.timedelta
    max_connection: dt.timedelta


MEDICAL_GROUP_NET_LIMITS = SessionLimits(
    idle_disconnect=dt.timedelta(minutes=30), max_connection=dt.timedelta(hours=24)
)
MEDICAL_VPN_LIMITS = SessionLimits(
    idle_disconnect=dt.timedelta(hours=24), max_connection=dt.timedelta(hours=24)
)


@dataclass(frozen=True)
class MigrationPlan:
    """The dates of a migration whose new service goes live (正式運用) on the 1st of ``go_live``."""

    go_live: YearMonth
    opening_target: dt.date
    apply_by: dt.date
    verification_until: dt.date
    old_service_end: dt.date
    old_cancel_request_from: dt.date
    billing_start: dt.date

    def as_dict(self) -> dict[str, str]:
        """The six dates by the names the CLI and portal use (ISO ``YYYY-MM-DD``)."""
        return {
            "opening_target": self.opening_target.isoformat(),
            "apply_by": self.apply_by.isoformat(),
            "verification_until": self.verification_until.isoformat(),
            "old_service_end": self.old_service_end.isoformat(),
            "old_cancel_request_from": self.old_cancel_request_from.isoformat(),
            "billing_start": self.billing_start.isoformat(),
        }


def migration_plan(go_live: YearMonth) -> MigrationPlan:
    """The plan for going live on the 1st of ``go_live`` (month n).

    ``opening_target`` is the first business day of n-1; ``apply_by`` the latest business day
    whose standard opening date (10 business days) is on or before it; verification and the old
    service both end on the last day of n-1; the old service's cancellation can be requested from
    the 2nd of n-1; fees for the new service start on the 1st of n.
    """
    before = go_live.plus(-1)
    opening_target = before.first_business_day()
    return MigrationPlan(
        go_live=go_live,
        opening_target=opening_target,
        apply_by=latest_submission_for(opening_target),
        verification_until=before.last_day,
        old_service_end=before.last_day,
        old_cancel_request_from=before.day(2),
        billing_start=go_live.first_day,
    )
