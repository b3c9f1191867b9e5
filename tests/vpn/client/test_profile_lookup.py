"""``onshi vpn client profile`` reading the control plane (both databases): only usable devices."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from onshi.cli import app
from onshi.vpn.services import VpnControlPlane
from onshi.vpn.settings import VpnSettings
from tests.vpn.conftest import open_application

runner = CliRunner()


def profile(
    settings: VpnSettings, account: str, device: str, fmt: str = "sswan"
) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        [
            "vpn", "client", "profile",
            "--account", account, "--device", device, "--format", fmt,
            "--gateway", "vpn.example.jp", "--service-subnet", "10.99.0.0/24",
            "--db", settings.database_url, "--data-dir", str(settings.data_dir),
            "--out", "-",
        ],
    )  # fmt: skip
    return result.exit_code, result.stdout, result.stderr


def test_a_valid_device_gets_its_profile(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    (account,) = open_application(control).accounts
    issued = control.issue_device(account, "reception-pc")
    code, out, err = profile(vpn_settings, account, "reception-pc")
    assert code == 0, err
    document = json.loads(out)
    assert document["local"]["eap_id"] == account
    assert document["remote"]["addr"] == "vpn.example.jp"
    code, out, err = profile(vpn_settings, account, "reception-pc", "windows")
    assert code == 0, err
    assert issued.certificate.strongswan_id in out  # the Windows layout finds the key by DN


def test_unknown_and_revoked_are_refused(
    control: VpnControlPlane, vpn_settings: VpnSettings
) -> None:
    (account,) = open_application(control).accounts
    code, _out, err = profile(vpn_settings, account, "nobody-pc")
    assert code == 2 and "VPN_CLIENT_DEVICE_UNKNOWN" in err
    code, _out, err = profile(vpn_settings, "A999999-001", "pc")
    assert code != 0 and "VPN_UNKNOWN_ACCOUNT" in err
    issued = control.issue_device(account, "old-pc")
    control.revoke_device(issued.certificate.serial)
    code, _out, err = profile(vpn_settings, account, "old-pc")
    assert code == 1 and "VPN_CLIENT_DEVICE_NOT_USABLE" in err and "revoked" in err
