"""``onshi vpn`` commands of the terminal side: ``client profile`` and ``doctor``.

``client profile`` renders a device's connection profile (swanctl, Android .sswan, Windows
script) from the control plane's records, or from ``--cert``/``--ca`` files when run away from
the control plane's database. ``doctor`` checks a terminal's path to the gateway.
Exit status: 0 done (doctor: every check passed), 1 a check failed or the device is not usable,
2 bad input. Errors print ``error: CODE: message``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from onshi.vpn.errors import VpnError

client_app = typer.Typer(help="The terminal side: connection profiles.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(client_app, name="client")
    app.command("doctor")(doctor)


def _fail(error: VpnError) -> NoReturn:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(error.exit_status)


def _read(path: Path, what: str) -> bytes:
    from onshi.vpn.client.errors import ProfileInvalid

    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProfileInvalid(f"cannot read {what} {path}: {exc.strerror}") from exc


# -- client profile -----------------------------------------------------------------------------


@client_app.command("profile")
def profile(
    account: Annotated[str, typer.Option("--account", help="The ID (also the EAP identity).")],
    device: Annotated[str, typer.Option("--device", help="The device's name under the ID.")],
    gateway: Annotated[str, typer.Option("--gateway", help="Gateway host or address to dial.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="File to write; '-' for stdout; an existing directory gets a swanctl tree.",
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="swanctl | sswan | windows.")] = "swanctl",
    service_subnet: Annotated[
        list[str] | None,
        typer.Option(
            "--service-subnet",
            help="Subnet the terminal may reach (repeat); default ONSHI_VPN_CLIENT_SERVICE_SUBNETS.",
        ),
    ] = None,
    gateway_id: Annotated[
        str | None, typer.Option("--gateway-id", help="Gateway IKE identity (default: --gateway).")
    ] = None,
    db: Annotated[str | None, typer.Option("--db", help="Control-plane database URL.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Control-plane data dir (the service CA).")
    ] = None,
    cert: Annotated[
        Path | None,
        typer.Option("--cert", help="Device certificate PEM (instead of the database)."),
    ] = None,
    ca: Annotated[
        Path | None, typer.Option("--ca", help="Service CA certificate PEM (with --cert).")
    ] = None,
) -> None:
    """Write a device's connection profile; the password is never in it."""
    from onshi.vpn.client.errors import ProfileInvalid
    from onshi.vpn.client.profiles import FORMATS, ClientProfile, render, render_swanctl
    from onshi.vpn.client.settings import ClientSettings

    try:
        if fmt not in FORMATS:
            raise ProfileInvalid(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
        settings = ClientSettings()
        subnets = tuple(service_subnet or settings.service_subnets)
        if not subnets:
            raise ProfileInvalid(
                "give --service-subnet (or set ONSHI_VPN_CLIENT_SERVICE_SUBNETS): the subnet(s) "
                "of the eligibility and claims services behind the gateway"
            )
        if (cert is None) != (ca is None):
            raise ProfileInvalid("give both --cert and --ca, or neither")
        if cert is not None and ca is not None:
            cert_pem, ca_pem = _read(cert, "device certificate"), _read(ca, "CA certificate")
            _check_device_certificate(cert_pem, ca_pem)
        else:
            cert_pem, ca_pem = _from_control_plane(account, device, db, data_dir)
        client = ClientProfile(
            account=account,
            device=device,
            gateway_host=gateway,
            ca_pem=ca_pem,
            service_subnets=subnets,
            gateway_id=gateway_id if gateway_id is not None else settings.gateway_id,
            device_cert_pem=cert_pem,
        )
        rendered = render(client, fmt)
        if str(out) == "-":
            sys.stdout.buffer.write(rendered.content)
            return
        if out.is_dir():
            if fmt != "swanctl":
                raise ProfileInvalid("--out may be a directory only with --format swanctl")
            _write_swanctl_tree(out, render_swanctl(client).encode(), client, cert_pem)
            typer.echo(f"wrote a swanctl tree under {out} (put the device key in {out}/private/)")
            return
        _write(out, rendered.content)
        typer.echo(f"wrote {out} ({rendered.media_type})")
    except VpnError as exc:
        _fail(exc)


def _check_device_certificate(cert_pem: bytes, ca_pem: bytes) -> None:
    """The device certificate must be the CA's and valid now; else no profile is written."""
    from datetime import UTC, datetime

    from onshi.pki import PkiError, parse_certificate_pem, verify_certificate
    from onshi.vpn.client.errors import DeviceNotUsable, ProfileInvalid

    try:
        certificate = parse_certificate_pem(cert_pem, source="device certificate")
        authority = parse_certificate_pem(ca_pem, source="CA certificate")
    except PkiError as exc:
        raise ProfileInvalid(exc.args[0] if exc.args else str(exc)) from exc
    try:
        verify_certificate(certificate, authority, at=datetime.now(UTC))
    except PkiError as exc:
        raise DeviceNotUsable(f"the device certificate cannot be used: {exc}") from exc


def _from_control_plane(
    account: str, device: str, db: str | None, data_dir: Path | None
) -> tuple[bytes, bytes]:
    """The device's current certificate and the service CA, from the control plane's records."""
    from onshi.vpn.client.lookup import device_certificate

    return device_certificate(account, device, database_url=db, data_dir=data_dir)


def _write(path: Path, data: bytes) -> None:
    import os
    import secrets

    from onshi.vpn.client.errors import ProfileInvalid

    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProfileInvalid(f"cannot write {path}: {exc.strerror}") from exc


def _write_swanctl_tree(root: Path, conf: bytes, client: object, cert_pem: bytes) -> None:
    from onshi.vpn.client.profiles import ClientProfile

    assert isinstance(client, ClientProfile)
    _write(root / "conf.d" / "onshi.conf", conf)
    _write(root / "x509ca" / client.ca_cert_file, client.ca_pem_text.encode("ascii"))
    _write(root / "x509" / client.device_cert_file, cert_pem)
    (root / "private").mkdir(mode=0o700, exist_ok=True)


# -- doctor -------------------------------------------------------------------------------------


def doctor(
    gateway: Annotated[str, typer.Option("--gateway", help="Gateway host or address.")],
    profile_path: Annotated[
        Path | None,
        typer.Option("--profile", help="The swanctl profile (its certificate is checked too)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json.")] = "text",
    health_url: Annotated[
        str | None,
        typer.Option(
            "--health-url",
            help="URL of the eligibility service to fetch through the tunnel "
            "(default ONSHI_VPN_CLIENT_HEALTH_URL; skipped when neither is set).",
        ),
    ] = None,
    time_url: Annotated[
        str | None,
        typer.Option(
            "--time-url", help="HTTP(S) URL whose Date header is compared with our clock."
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait for each probe.")
    ] = None,
    ca: Annotated[
        Path | None, typer.Option("--ca", help="CA to trust for --health-url (default: system).")
    ] = None,
) -> None:
    """Check this terminal's path to the gateway; each check says what to fix (UDP 500/4500, ESP)."""
    from onshi.vpn.client.doctor import DoctorOptions, run_checks
    from onshi.vpn.client.errors import ProfileInvalid
    from onshi.vpn.client.settings import ClientSettings

    try:
        if fmt not in ("text", "json"):
            raise ProfileInvalid(f"unknown --format {fmt!r}; choose text or json")
        settings = ClientSettings()
        options = DoctorOptions(
            gateway=gateway,
            profile_path=profile_path,
            health_url=health_url if health_url is not None else settings.health_url,
            time_url=time_url or "",
            timeout=timeout if timeout is not None else settings.probe_timeout,
            health_ca=ca,
        )
        report = run_checks(options)
    except VpnError as exc:
        _fail(exc)
    if fmt == "json":
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.as_text())
    raise typer.Exit(0 if report.ok else 1)
