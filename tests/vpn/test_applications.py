"""Applications (申請書): submission, the lifecycle, x for every ID, cancellation; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.errors import (
    ExtraCertificatesOutOfRange,
    IdCountOutOfRange,
    IllegalTransition,
    InvalidInput,
    NotPermitted,
    UnknownApplication,
    UnknownOperator,
)
from onshi.vpn.services import Role, VpnControlPlane
from onshi.vpn.storage import tables as t
from tests.vpn.conftest import FakeClock, open_application


def _count(control: VpnControlPlane, table: type[t.Base]) -> int:
    with control.db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_submit_creates_the_application_and_its_ids(control: VpnControlPlane) -> None:
    view = control.submit_application(
        organisation="  さくら   薬局 ", ids=3, extra_certificates=2, submitted=dt.date(2026, 4, 1)
    )
    assert view.code == "A000001"
    assert view.organisation == "さくら 薬局"
    assert view.accounts == ("A000001-001", "A000001-002", "A000001-003")
    assert view.state is ApplicationState.SUBMITTED
    assert view.devices_per_id == 4
    # 10 business days after Wed 2026-04-01 (the day itself not counted), no holiday between.
    assert view.standard_opening_date == dt.date(2026, 4, 15)
    second = control.submit_application(organisation="b", ids=1, extra_certificates=0)
    assert second.code == "A000002" and second.accounts == ("A000002-001",)
    assert control.application("a2").code == "A000002"


def test_standard_opening_date_skips_golden_week(control: VpnControlPlane) -> None:
    view = control.submit_application(
        organisation="a", ids=1, extra_certificates=0, submitted=dt.date(2026, 4, 24)
    )
    # 4/27, 4/28, 4/30, 5/1, 5/7, 5/8, 5/11, 5/12, 5/13, 5/14 (4/29 and 5/4–5/6 are holidays).
    assert view.standard_opening_date == dt.date(2026, 5, 14)


@pytest.mark.parametrize(
    ("ids", "extra", "error", "code"),
    [
        (1, 4, ExtraCertificatesOutOfRange, "VPN_EXTRA_CERTIFICATES"),
        (1, -1, ExtraCertificatesOutOfRange, "VPN_EXTRA_CERTIFICATES"),
        (0, 0, IdCountOutOfRange, "VPN_ID_COUNT_OUT_OF_RANGE"),
        (1000, 0, IdCountOutOfRange, "VPN_ID_COUNT_OUT_OF_RANGE"),
    ],
)
def test_bad_submissions_store_nothing(
    control: VpnControlPlane, ids: int, extra: int, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as caught:
        control.submit_application(organisation="a", ids=ids, extra_certificates=extra)
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert _count(control, t.Application) == 0
    assert _count(control, t.Account) == 0
    assert _count(control, t.AuditEntry) == 0


def test_blank_organisation_is_refused(control: VpnControlPlane) -> None:
    with pytest.raises(InvalidInput):
        control.submit_application(organisation="  ", ids=1, extra_certificates=0)


def test_lifecycle_records_who_and_when(control: VpnControlPlane, clock: FakeClock) -> None:
    control.add_operator("sato", Role.OPERATOR, "Operator-pass-1")
    view = control.submit_application(organisation="a", ids=1, extra_certificates=0, by="sato")
    clock.advance(days=1)
    view = control.advance_application(view.code, ApplicationState.REVIEWED, by="sato")
    view = control.advance_application(view.code, ApplicationState.NETWORK_CONFIGURED)
    view = control.advance_application(
        view.code, ApplicationState.OPENED, by="sato", on=dt.date(2026, 4, 15)
    )
    assert view.state is ApplicationState.OPENED and view.opened_on == dt.date(2026, 4, 15)
    steps = [(e.from_value, e.to_value, e.by) for e in view.events]
    assert steps == [
        ("", "submitted", "sato"),
        ("submitted", "reviewed", "sato"),
        ("reviewed", "network_configured", "console"),
        ("network_configured", "opened", "sato"),
    ]
    assert view.events[1].at == dt.datetime(2026, 4, 2, 1, 0)
    actions = [e.action for e in control.audit_log()]
    assert actions.count("application.advance") == 3


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), ApplicationState.OPENED),
        ((), ApplicationState.NETWORK_CONFIGURED),
        (("reviewed",), ApplicationState.REVIEWED),
        (("reviewed", "network_configured", "opened"), ApplicationState.REVIEWED),
        (("cancelled",), ApplicationState.OPENED),
        (("cancelled",), ApplicationState.CANCELLED),
    ],
)
def test_illegal_transitions_are_refused(
    control: VpnControlPlane, path: tuple[str, ...], target: ApplicationState
) -> None:
    view = control.submit_application(organisation="a", ids=1, extra_certificates=0)
    for state in path:
        view = control.advance_application(view.code, ApplicationState(state))
    before = _count(control, t.ApplicationEvent)
    with pytest.raises(IllegalTransition) as caught:
        control.advance_application(view.code, target)
    assert caught.value.code == "VPN_ILLEGAL_TRANSITION"
    assert target.value in caught.value.message
    assert _count(control, t.ApplicationEvent) == before
    assert control.application(view.code).state == view.state


def test_only_operators_act(control: VpnControlPlane) -> None:
    control.add_operator("kato", Role.AUDITOR, "Auditor-pass-1")
    view = control.submit_application(organisation="a", ids=1, extra_certificates=0)
    with pytest.raises(NotPermitted):
        control.advance_application(view.code, ApplicationState.REVIEWED, by="kato")
    with pytest.raises(UnknownOperator):
        control.advance_application(view.code, ApplicationState.REVIEWED, by="nobody")
    assert control.application(view.code).state is ApplicationState.SUBMITTED


def test_unknown_application(control: VpnControlPlane) -> None:
    with pytest.raises(UnknownApplication):
        control.advance_application("A000099", ApplicationState.REVIEWED)
    with pytest.raises(InvalidInput):
        control.application("not-an-id")


def test_extra_certificates_change_for_every_id(control: VpnControlPlane) -> None:
    view = open_application(control, ids=3, extra_certificates=0, password=None)
    assert {control.account(a).devices_allowed for a in view.accounts} == {2}
    control.set_extra_certificates(view.code, 3)
    assert {control.account(a).devices_allowed for a in view.accounts} == {5}
    with pytest.raises(ExtraCertificatesOutOfRange):
        control.set_extra_certificates(view.code, 4)
    assert control.application(view.code).extra_certificates == 3


def test_cancellation_takes_effect_at_a_month_end_after_the_minimum_term(
    control: VpnControlPlane,
) -> None:
    view = open_application(control, password=None)  # opened 2026-04-15: billed from May
    cancelled = control.advance_application(
        view.code, ApplicationState.CANCELLED, on=dt.date(2026, 6, 10)
    )
    assert cancelled.cancellation_requested_on == dt.date(2026, 6, 10)
    # 12 billed months: May 2026 – April 2027.
    assert cancelled.cancellation_effective_on == dt.date(2027, 4, 30)


def test_cancellation_at_a_named_month(control: VpnControlPlane) -> None:
    view = open_application(control, password=None)
    cancelled = control.advance_application(
        view.code,
        ApplicationState.CANCELLED,
        on=dt.date(2027, 6, 3),
        cancel_at_end_of=YearMonth(2027, 8),
    )
    assert cancelled.cancellation_effective_on == dt.date(2027, 8, 31)


def test_cancelled_before_opening_ends_at_once(control: VpnControlPlane) -> None:
    view = control.submit_application(organisation="a", ids=1, extra_certificates=0)
    cancelled = control.advance_application(
        view.code, ApplicationState.CANCELLED, on=dt.date(2026, 4, 3)
    )
    assert cancelled.cancellation_effective_on == dt.date(2026, 4, 3)
    assert control.invoices(YearMonth(2026, 5)) == []


def test_migration_go_live_moves_billing(control: VpnControlPlane) -> None:
    view = control.submit_application(
        organisation="a",
        ids=2,
        extra_certificates=1,
        submitted=dt.date(2026, 4, 1),
        migration_go_live=YearMonth(2026, 6),
    )
    for state in ("reviewed", "network_configured", "opened"):
        control.advance_application(view.code, ApplicationState(state), on=dt.date(2026, 5, 1))
    # Opened in May for verification, billed from the go-live month (June), not twice.
    assert control.invoices(YearMonth(2026, 5)) == []
    (june,) = control.invoices(YearMonth(2026, 6))
    assert [(line.code, line.quantity) for line in june.lines] == [
        ("NS2E050S", 2),
        ("NS2E050G", 2),
        ("NS2E051G", 2),
    ]
    assert june.subtotal_yen == 2 * 5000 + 2 * 2500 + 2 * 350


def test_invoice_follows_a_change_of_x(control: VpnControlPlane, clock: FakeClock) -> None:
    view = open_application(control, ids=2, extra_certificates=0, password=None)
    clock.now = dt.datetime(2026, 7, 10, 3, 0, tzinfo=dt.UTC)
    control.set_extra_certificates(view.code, 2)
    (june,) = control.invoices(YearMonth(2026, 6))
    (july,) = control.invoices(YearMonth(2026, 7))
    assert june.subtotal_yen == 2 * 2500
    assert july.subtotal_yen == 2 * 2500 + 2 * 2 * 350
