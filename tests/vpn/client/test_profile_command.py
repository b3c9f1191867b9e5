"""``onshi vpn client profile`` with the ``--cert``/``--ca`` seam: files written, refusals coded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from onshi.cli import app
from onshi.pki import CertificateAuthority

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["vpn", "client", "profile", *args])
    return result.exit_code, result.stdout, result.stderr


def base(device_files: tuple[Path, Path], service_ca: CertificateAuthority) -> list[str]:
    cert, _key = device_files
    return [
        "--account", "acct01", "--device", "pc1", "--gateway", "192.0.2.1",
        "--service-subnet", "10.99.0.0/24",
        "--cert", str(cert), "--ca", str(service_ca.cert_path),
    ]  # fmt: skip


def test_writes_each_format(
    tmp_path: Path, device_files: tuple[Path, Path], service_ca: CertificateAuthority
) -> None:
    for fmt, name in (("swanctl", "p.conf"), ("sswan", "p.sswan"), ("windows", "p.ps1")):
        code, out, err = invoke(
            *base(device_files, service_ca), "--format", fmt, "--out", str(tmp_path / name)
        )
        assert code == 0, err
        assert str(tmp_path / name) in out
    assert "remote_ts = 10.99.0.0/24" in (tmp_path / "p.conf").read_text()
    assert json.loads((tmp_path / "p.sswan").read_text())["type"] == "ikev2-cert-eap"
    assert "Import-PfxCertificate" in (tmp_path / "p.ps1").read_text(encoding="utf-8-sig")


def test_directory_gets_a_swanctl_tree(
    tmp_path: Path, device_files: tuple[Path, Path], service_ca: CertificateAuthority
) -> None:
    code, _out, err = invoke(*base(device_files, service_ca), "--out", str(tmp_path))
    assert code == 0, err
    assert (tmp_path / "conf.d" / "onshi.conf").is_file()
    assert (tmp_path / "x509ca" / "onshi-ca.cert.pem").read_bytes() == service_ca.cert_pem
    assert (tmp_path / "x509" / "onshi-device.cert.pem").read_bytes() == device_files[
        0
    ].read_bytes()


def test_stdout(device_files: tuple[Path, Path], service_ca: CertificateAuthority) -> None:
    code, out, _err = invoke(*base(device_files, service_ca), "--out", "-")
    assert code == 0 and out.startswith("# onshi medical VPN")


def test_foreign_or_expired_certificate_is_refused(
    tmp_path: Path, device_files: tuple[Path, Path], service_ca: CertificateAuthority
) -> None:
    foreign = CertificateAuthority.create(tmp_path / "foreign", "foreign CA")
    args = base(device_files, service_ca)
    args[args.index("--ca") + 1] = str(foreign.cert_path)
    code, _out, err = invoke(*args, "--out", str(tmp_path / "x.conf"))
    assert code == 1 and "VPN_CLIENT_DEVICE_NOT_USABLE" in err
    assert not (tmp_path / "x.conf").exists()

    old = service_ca.issue_device_certificate(
        "acct01-pc1",
        not_before=datetime.now(UTC) - timedelta(days=30),
        not_after=datetime.now(UTC) - timedelta(days=1),
    )
    old.write(tmp_path / "old.pem", tmp_path / "old.key")
    args = base(device_files, service_ca)
    args[args.index("--cert") + 1] = str(tmp_path / "old.pem")
    code, _out, err = invoke(*args, "--out", str(tmp_path / "x.conf"))
    assert code == 1 and "expired" in err


def test_bad_input_exits_2(
    tmp_path: Path, device_files: tuple[Path, Path], service_ca: CertificateAuthority
) -> None:
    code, _out, err = invoke(*base(device_files, service_ca), "--format", "ovpn", "--out", "-")
    assert code == 2 and "VPN_CLIENT_PROFILE_INVALID" in err
    args = [
        a for a in base(device_files, service_ca) if a not in ("--service-subnet", "10.99.0.0/24")
    ]
    code, _out, err = invoke(*args, "--out", "-")
    assert code == 2 and "--service-subnet" in err
    code, _out, err = invoke(*base(device_files, service_ca), "--account", "a b", "--out", "-")
    assert code == 2
