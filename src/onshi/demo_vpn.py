"""The demo's medical VPN control plane and claims receiver (メディカルVPN, オンライン請求).

``onshi demo`` seeds the VPN service's default database (``var/vpn``) once — an operator, an
auditor, one opened application for the demo clinic with two IDs (x = 1), a password for each,
and a device certificate for the first ID written to ``var/vpn/demo/`` — then serves its portal.
A second start finds the seed and only opens the database: the argon2 hashes and the
certificate are made on the first start only. The claims receiver accepts the central
service's facility certificates, so the demo clinic can submit the sample UKE file it writes.

The passwords below are the demo's, printed by ``onshi demo``: never use them elsewhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onshi.vpn.services import VpnControlPlane

DEMO_ORGANISATION = "オンシ デモ診療所"
DEMO_OPERATOR = "demo-operator"
DEMO_AUDITOR = "demo-auditor"
# Demo only: printed by ``onshi demo`` so that a newcomer can log in; follows the password rules.
DEMO_PASSWORD = "onshi-demo-2026"  # noqa: S105 — the demo's, printed on purpose
DEMO_DEVICE = "reception-pc"
DEMO_IDS = 2
DEMO_EXTRA_CERTIFICATES = 1
# Documentation addresses: the gateway the demo's profiles dial, the services behind it.
DEMO_GATEWAY = "192.0.2.10"
DEMO_SERVICE_SUBNET = "198.51.100.0/24"


@dataclass(frozen=True)
class VpnSeed:
    """What the demo seeded (or found seeded): logins, the application, the device's files."""

    application: str
    accounts: tuple[str, ...]
    device_cert: Path
    device_key: Path
    ca_cert: Path


def seed(control: VpnControlPlane, folder: Path) -> VpnSeed:
    """Seed the demo's VPN data once; each step is skipped when already done (idempotent)."""
    from onshi.vpn.services import ApplicationState, Role

    known = {o.name for o in control.operators()}
    if DEMO_OPERATOR not in known:
        control.add_operator(DEMO_OPERATOR, Role.OPERATOR, DEMO_PASSWORD)
    if DEMO_AUDITOR not in known:
        control.add_operator(DEMO_AUDITOR, Role.AUDITOR, DEMO_PASSWORD)
    found = [a for a in control.applications() if a.organisation == DEMO_ORGANISATION]
    view = (
        found[0]
        if found
        else control.submit_application(
            organisation=DEMO_ORGANISATION,
            ids=DEMO_IDS,
            extra_certificates=DEMO_EXTRA_CERTIFICATES,
            by=DEMO_OPERATOR,
        )
    )
    steps = (
        ApplicationState.REVIEWED,
        ApplicationState.NETWORK_CONFIGURED,
        ApplicationState.OPENED,
    )
    for step in steps[steps.index(view.state) + 1 if view.state in steps else 0 :]:
        if view.state is ApplicationState.CANCELLED:
            break
        view = control.advance_application(view.code, step, by=DEMO_OPERATOR)
    for account in view.accounts:
        if not control.account(account).password_set:
            control.set_password(account, DEMO_PASSWORD, by=DEMO_OPERATOR)
    first = view.accounts[0]
    stem = folder / f"{first}.{DEMO_DEVICE}"
    cert, key, ca = Path(f"{stem}.cert.pem"), Path(f"{stem}.key.pem"), folder / "ca.cert.pem"
    valid = [d for d in control.devices(first) if d.device == DEMO_DEVICE and d.status == "valid"]
    if not (cert.exists() and key.exists() and ca.exists() and valid):
        issued = (
            control.renew_device(valid[0].serial, by=DEMO_OPERATOR)
            if valid
            else control.issue_device(first, DEMO_DEVICE, by=DEMO_OPERATOR)
        )
        _write_device(issued, folder, stem)
    return VpnSeed(view.code, tuple(view.accounts), cert, key, ca)


def _write_device(issued: object, folder: Path, stem: Path) -> None:
    from onshi.pki._files import PRIVATE_MODE, PUBLIC_MODE, write_atomically
    from onshi.vpn.services import IssuedDevice

    assert isinstance(issued, IssuedDevice)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(Path(f"{stem}.key.pem"), issued.key_pem, mode=PRIVATE_MODE)
    write_atomically(Path(f"{stem}.p12"), issued.p12, mode=PRIVATE_MODE)
    # The demo keeps the one-time passphrase beside its PKCS#12 (a real issuance shows it once).
    write_atomically(
        Path(f"{stem}.p12.passphrase"), issued.passphrase.encode() + b"\n", mode=PRIVATE_MODE
    )
    write_atomically(Path(f"{stem}.cert.pem"), issued.cert_pem, mode=PUBLIC_MODE)
    write_atomically(folder / "ca.cert.pem", issued.ca_pem, mode=PUBLIC_MODE)


def sample_claims_file(folder: Path, facility: str, today: dt.date | None = None) -> Path:
    """Last month's synthetic UKE file of the demo clinic (no real person), written once."""
    from onshi.claims.uke import sample_uke

    day = today or dt.date.today()
    month = (day.replace(day=1) - dt.timedelta(days=1)).strftime("%Y%m")
    path = folder / "sample.uke"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sample_uke(facility, month))
    return path
