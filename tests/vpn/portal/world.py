"""A small service for the portal's tests: one opened application, an operator, an auditor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from onshi.vpn.domain.accounts import Role
from onshi.vpn.domain.lifecycle import ApplicationState
from onshi.vpn.portal.services_backend import ServicesBackend
from onshi.vpn.portal.settings import PortalSettings
from onshi.vpn.services import VpnControlPlane
from onshi.vpn.settings import VpnSettings

CLINIC_PASSWORD = "Clinic-pass-2026"
OPERATOR_PASSWORD = "Operator-pass-2026"
AUDITOR_PASSWORD = "Auditor-pass-2026"


@dataclass
class World:
    control: VpnControlPlane
    backend: ServicesBackend
    application: str  # opened, 1 extra certificate: 3 devices per ID
    account: str
    second_account: str
    pending_application: str  # submitted, not yet reviewed
    operator: str = "ops1"
    auditor: str = "audit1"

    def close(self) -> None:
        self.control.close()


def vpn_settings(db_url: str, data_dir: Path, **extra: object) -> VpnSettings:
    # The cheapest argon2id the settings allow: tests log in often; the cost is benchmarked apart.
    return VpnSettings(
        database_url=db_url,
        data_dir=data_dir,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        **extra,  # type: ignore[arg-type]
    )


def build_world(
    db_url: str, data_dir: Path, portal: PortalSettings | None = None, **extra: object
) -> World:
    control = VpnControlPlane.open(vpn_settings(db_url, data_dir, **extra))
    control.add_operator("ops1", Role.OPERATOR, OPERATOR_PASSWORD)
    control.add_operator("audit1", Role.AUDITOR, AUDITOR_PASSWORD)
    opened = control.submit_application(
        organisation="さくら内科クリニック",
        ids=2,
        extra_certificates=1,
        submitted=dt.date(2026, 4, 1),
    )
    for state in (
        ApplicationState.REVIEWED,
        ApplicationState.NETWORK_CONFIGURED,
        ApplicationState.OPENED,
    ):
        control.advance_application(opened.code, state, by="ops1", on=dt.date(2026, 4, 15))
    for name in opened.accounts:
        control.set_password(name, CLINIC_PASSWORD, by="ops1")
    pending = control.submit_application(
        organisation="つばめ薬局", ids=1, extra_certificates=0, submitted=dt.date(2026, 11, 2)
    )
    return World(
        control=control,
        backend=ServicesBackend(control, portal),
        application=opened.code,
        account=opened.accounts[0],
        second_account=opened.accounts[1],
        pending_application=pending.code,
    )
