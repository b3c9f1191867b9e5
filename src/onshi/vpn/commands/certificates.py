"""``onshi vpn device …`` and ``onshi vpn crl``: device certificates (PKCS#12 once, PEM for
swanctl) and the CRL of the service CA."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from onshi.pki import PkiError
from onshi.pki._files import PRIVATE_MODE, PUBLIC_MODE, write_atomically
from onshi.vpn.commands._store import (
    AccountArgument,
    ByOption,
    DataDirOption,
    DbOption,
    FormatOption,
    check_format,
    check_out_dir,
    fail,
    print_json,
    run,
)
from onshi.vpn.errors import InvalidInput
from onshi.vpn.services import IssuedDevice, VpnControlPlane

# -- device certificates -----------------------------------------------------------------

device_app = typer.Typer(
    help="Device certificates: issue, renew, revoke, list.", no_args_is_help=True
)


def _write_issued(control: VpnControlPlane, issued: IssuedDevice, out: Path) -> dict[str, str]:
    """Write the PKCS#12, certificate, key and CA; if that fails, revoke what was just issued
    (its key is lost) so no unusable certificate counts towards the ID's limit."""
    cert = issued.certificate
    stem = f"{cert.account}.{cert.device}"
    paths = {
        "p12": out / f"{stem}.p12",
        "cert_pem": out / f"{stem}.cert.pem",
        "key_pem": out / f"{stem}.key.pem",
    }
    try:
        write_atomically(paths["key_pem"], issued.key_pem, mode=PRIVATE_MODE)
        write_atomically(paths["p12"], issued.p12, mode=PRIVATE_MODE)
        write_atomically(paths["cert_pem"], issued.cert_pem, mode=PUBLIC_MODE)
        write_atomically(out / "ca.cert.pem", issued.ca_pem, mode=PUBLIC_MODE)
    except PkiError as exc:
        control.revoke_device(cert.serial)
        raise InvalidInput(f"{exc}; certificate {cert.serial} was revoked again") from exc
    return {key: str(path) for key, path in paths.items()}


def _print_issued(issued: IssuedDevice, files: dict[str, str], output: str) -> None:
    cert = issued.certificate
    if output == "json":
        print_json(
            {
                "serial": cert.serial,
                "subject": cert.subject,
                "p12": files["p12"],
                "passphrase": issued.passphrase,
                "cert_pem": files["cert_pem"],
                "key_pem": files["key_pem"],
            }
        )
        return
    typer.echo(f"serial      {cert.serial}")
    typer.echo(f"subject     {cert.subject}")
    typer.echo(f"valid until {cert.not_after.isoformat()}Z")
    typer.echo(f"PKCS#12     {files['p12']}")
    typer.echo(f"passphrase  {issued.passphrase}   (shown once: it is not stored anywhere)")
    typer.echo(f"cert, key   {files['cert_pem']}, {files['key_pem']}")
    if issued.replaced_serial:
        typer.echo(f"replaces    {issued.replaced_serial} (revoked)")


OutOption = Annotated[Path, typer.Option("--out", help="folder for the .p12 and PEM files")]


def _issue_and_print(
    db: str | None,
    data_dir: Path | None,
    out: Path,
    output: str,
    issue: Callable[[VpnControlPlane], IssuedDevice],
) -> None:
    """Issue (in one transaction with writing the files), then print the result."""
    check_format(output)
    check_out_dir(out)

    def issue_and_write(control: VpnControlPlane) -> tuple[IssuedDevice, dict[str, str]]:
        issued = issue(control)
        return issued, _write_issued(control, issued, out)

    issued, files = run(db, data_dir, issue_and_write)
    _print_issued(issued, files, output)


@device_app.command("issue")
def device_issue(
    account: AccountArgument,
    name: Annotated[str, typer.Option("--name", help="the device, e.g. reception-pc")],
    out: OutOption,
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a device certificate: PKCS#12 with a one-time passphrase, plus PEM for swanctl."""
    _issue_and_print(db, data_dir, out, output, lambda c: c.issue_device(account, name, by=by))


@device_app.command("renew")
def device_renew(
    serial: Annotated[str, typer.Argument(help="the serial (hex) of the certificate to renew")],
    out: OutOption,
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """A new certificate for the same device; the old one is revoked (superseded)."""
    _issue_and_print(db, data_dir, out, output, lambda c: c.renew_device(serial, by=by))


@device_app.command("revoke")
def device_revoke(
    serial: Annotated[str, typer.Argument(help="the serial (hex) of the certificate")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a device certificate; the CRL is regenerated at once."""
    check_format(output)
    view = run(db, data_dir, lambda c: c.revoke_device(serial, by=by))
    if output == "json":
        print_json(
            {
                "serial": view.serial,
                "account": view.account,
                "device": view.device,
                "status": view.status,
            }
        )
    else:
        typer.echo(f"certificate {view.serial} of {view.account}/{view.device} revoked")


@device_app.command("list")
def device_list(
    account: AccountArgument,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every certificate issued to an ID, with its status."""
    check_format(output)
    views = run(db, data_dir, lambda c: c.devices(account))
    rows = [
        {
            "serial": v.serial,
            "device": v.device,
            "subject": v.subject,
            "status": v.status,
            "not_after": v.not_after.isoformat() + "Z",
        }
        for v in views
    ]
    if output == "json":
        print_json(rows)
    else:
        for row in rows:
            typer.echo(
                f"{row['serial']}  {row['device']}  {row['status']}  until {row['not_after']}"
            )


def crl_command(
    out: Annotated[Path, typer.Option("--out", help="file to write the CRL to")],
    der: Annotated[bool, typer.Option("--der", help="DER instead of PEM")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the current CRL of the device CA (with its nextUpdate) to a file."""
    crl = run(db, data_dir, lambda c: c.crl())
    try:
        write_atomically(out, crl.der if der else crl.pem, mode=PUBLIC_MODE)
    except PkiError as exc:
        fail(InvalidInput(str(exc)))
    typer.echo(
        f"CRL with {crl.revoked} revoked certificates written to {out} "
        f"(next update {crl.next_update.isoformat()}Z)"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")
    app.command("crl")(crl_command)
