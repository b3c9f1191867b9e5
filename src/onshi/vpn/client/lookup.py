"""The device's certificate and the service CA from the control plane (its services facade).

The one place the terminal side reads the control plane, so the profile command has a single
seam: a device must exist under the account and be usable (not revoked, not expired, its
contract not cancelled), or no profile is written.
"""

from __future__ import annotations

from pathlib import Path

from onshi.vpn.client.errors import DeviceUnknown


def device_certificate(
    account: str, device: str, *, database_url: str | None, data_dir: Path | None
) -> tuple[bytes, bytes]:
    """``(device certificate PEM, service CA PEM)`` of a usable device; raises otherwise."""
    raise DeviceUnknown(
        "looking devices up in the control plane is not available in this build: "
        "give --cert and --ca (the device certificate and the service CA)"
    )
