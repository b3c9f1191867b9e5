"""The device's certificate and the service CA from the control plane (its services facade).

The one place the terminal side reads the control plane, so the profile command has a single
seam: the device must exist under the ID and hold a valid certificate, and the ID must be
allowed to connect now (its application opened, not ended), or no profile is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from onshi.vpn.client.errors import DeviceNotUsable, DeviceUnknown

if TYPE_CHECKING:
    from onshi.vpn.services import VpnControlPlane

__all__ = ["device_certificate", "usable_device"]


def device_certificate(
    account: str, device: str, *, database_url: str | None, data_dir: Path | None
) -> tuple[bytes, bytes]:
    """``(device certificate PEM, service CA PEM)`` of a usable device; raises otherwise.

    Errors of the control plane (e.g. ``VPN_UNKNOWN_ACCOUNT``, ``VPN_DATABASE``) pass through.
    """
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings

    overrides: dict[str, object] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    control = VpnControlPlane.open(VpnSettings(**overrides))  # type: ignore[arg-type]
    try:
        return usable_device(control, account, device)
    finally:
        control.close()


def usable_device(control: VpnControlPlane, account: str, device: str) -> tuple[bytes, bytes]:
    """The same, on a control plane the caller already holds (the portal has one)."""
    control.account(account)  # VPN_UNKNOWN_ACCOUNT if there is no such ID
    certificates = [c for c in control.devices(account) if c.device == device]
    if not certificates:
        raise DeviceUnknown(f"ID {account} has no device {device!r}")
    valid = [c for c in certificates if c.status == "valid"]
    if not valid:
        latest = max(certificates, key=lambda c: c.issued_at)
        raise DeviceNotUsable(
            f"device {device!r} of ID {account} has no valid certificate (latest: "
            f"{latest.status}); issue or renew one first"
        )
    if account not in {g.account for g in control.gateway_accounts()}:
        raise DeviceNotUsable(
            f"ID {account} may not connect now (its application is not opened, or has ended)"
        )
    current = max(valid, key=lambda c: c.issued_at)
    return current.cert_pem.encode("ascii"), control.ca_certificate_pem()
