"""``onshi vpn`` commands that store: applications, IDs, operators, device certificates, the CRL,
invoices and the audit log. Each runs as one transaction (nothing half-stored) and prints
``error: CODE: message`` on failure, with exit status 2 for bad input and 1 for refusals.

Every storing command takes ``--db URL`` and ``--data-dir DIR`` (default: ``ONSHI_VPN_DATABASE_URL``
and ``ONSHI_VPN_DATA_DIR``, else ``VpnSettings``'s defaults).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from onshi.pki import PkiError
from onshi.pki._files import PRIVATE_MODE, PUBLIC_MODE, write_atomically
from onshi.vpn.domain.accounts import parse_role
from onshi.vpn.domain.billing import Invoice, Issuer
from onshi.vpn.domain.calendar import YearMonth, parse_date
from onshi.vpn.domain.lifecycle import parse_state
from onshi.vpn.errors import DatabaseUnavailable, InvalidInput, VpnError
from onshi.vpn.services import ApplicationView, IssuedDevice, VpnControlPlane
from onshi.vpn.settings import VpnSettings

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="database URL (default: ONSHI_VPN_DATABASE_URL or var/vpn)"),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="CA, sealing key, CRL (default: ONSHI_VPN_DATA_DIR or var/vpn)"
    ),
]
ByOption = Annotated[
    str | None,
    typer.Option("--by", help="the operator acting (default: console, the service host)"),
]
FormatOption = Annotated[str, typer.Option("--format", help="text or json", metavar="text|json")]


def _fail(error: VpnError) -> NoReturn:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(error.exit_status)


def _settings(db: str | None, data_dir: Path | None) -> VpnSettings:
    overrides: dict[str, Any] = {}
    if db is not None:
        overrides["database_url"] = db
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    try:
        return VpnSettings(**overrides)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        _fail(InvalidInput(f"invalid VPN settings ({fields}): check ONSHI_VPN_* variables"))


@contextmanager
def _control(db: str | None, data_dir: Path | None) -> Iterator[VpnControlPlane]:
    control = VpnControlPlane.open(_settings(db, data_dir))
    try:
        yield control
    finally:
        control.close()


def _run(db: str | None, data_dir: Path | None, action: Callable[[VpnControlPlane], T]) -> T:
    try:
        with _control(db, data_dir) as control:
            return action(control)
    except VpnError as error:
        _fail(error)
    except (SQLAlchemyError, ArgumentError) as exc:
        # The message may quote the URL (and a password in it): the type is enough.
        _fail(DatabaseUnavailable(f"the database cannot be used ({type(exc).__name__})"))
    except OSError as exc:
        _fail(DatabaseUnavailable(f"the database or data directory cannot be used: {exc.strerror}"))


def _check_format(value: str) -> str:
    if value not in ("text", "json"):
        _fail(InvalidInput(f"--format must be text or json, not {value!r}"))
    return value


def _json(value: object) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=None))


def _read_password(prompt: str) -> str:
    """The password from standard input (first line), or asked twice on a terminal."""
    if sys.stdin.isatty():
        return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line:
        _fail(InvalidInput("no password on standard input"))
    return line.rstrip("\r\n")


def _application_dict(view: ApplicationView) -> dict[str, object]:
    def day(value: object) -> object:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "application": view.code,
        "organisation": view.organisation,
        "ids": view.ids,
        "extra_certificates": view.extra_certificates,
        "devices_per_id": view.devices_per_id,
        "state": view.state.value,
        "submitted": day(view.submitted_on),
        "standard_opening_date": day(view.standard_opening_date),
        "opened": day(view.opened_on),
        "migration_go_live": view.migration_go_live,
        "cancellation_requested": day(view.cancellation_requested_on),
        "cancellation_effective": day(view.cancellation_effective_on),
        "accounts": list(view.accounts),
        "events": [
            {
                "kind": e.kind,
                "from": e.from_value,
                "to": e.to_value,
                "by": e.by,
                "at": e.at.isoformat() + "Z",
            }
            for e in view.events
        ],
    }


def _print_application(view: ApplicationView) -> None:
    typer.echo(
        f"{view.code}  {view.state.value}  {view.organisation}  IDs {view.ids}  "
        f"extra {view.extra_certificates}/ID ({view.devices_per_id} devices/ID)  "
        f"submitted {view.submitted_on}  standard opening {view.standard_opening_date}"
        + (f"  opened {view.opened_on}" if view.opened_on else "")
        + (f"  ends {view.cancellation_effective_on}" if view.cancellation_effective_on else "")
    )


# -- applications ------------------------------------------------------------------------

application_app = typer.Typer(
    help="Applications (申請書): submit, advance, list.", no_args_is_help=True
)


@application_app.command("submit")
def application_submit(
    organisation: Annotated[str, typer.Option("--organisation", help="the clinic or pharmacy")],
    ids: Annotated[int, typer.Option("--ids", help="K, the number of IDs")],
    extra_certificates: Annotated[
        int, typer.Option("--extra-certificates", help="x = 0–3 extra certificates per ID")
    ] = 0,
    submitted: Annotated[
        str | None, typer.Option("--submitted", help="YYYY-MM-DD (default: today in Japan)")
    ] = None,
    migration_go_live: Annotated[
        str | None,
        typer.Option("--migration-go-live", help="YYYY-MM, when moving from Medical Group Net"),
    ] = None,
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Store an application and create its IDs; prints the application id and the ID names."""
    _check_format(output)
    try:
        day = parse_date(submitted) if submitted is not None else None
        go_live = YearMonth.parse(migration_go_live) if migration_go_live else None
    except VpnError as error:
        _fail(error)
    view = _run(
        db,
        data_dir,
        lambda c: c.submit_application(
            organisation=organisation,
            ids=ids,
            extra_certificates=extra_certificates,
            submitted=day,
            migration_go_live=go_live,
            by=by,
        ),
    )
    if output == "json":
        _json({"application": view.code, "accounts": list(view.accounts)})
    else:
        _print_application(view)
        for name in view.accounts:
            typer.echo(f"  {name}")


@application_app.command("advance")
def application_advance(
    application: Annotated[str, typer.Argument(help="the application id, e.g. A000042")],
    to: Annotated[
        str,
        typer.Option("--to", help="reviewed, network_configured, opened or cancelled"),
    ],
    on: Annotated[
        str | None, typer.Option("--on", help="the day it happens, YYYY-MM-DD (default: today)")
    ] = None,
    cancel_at_end_of: Annotated[
        str | None,
        typer.Option("--at-end-of", help="cancelling: the month to end in, YYYY-MM"),
    ] = None,
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Move an application one step through its lifecycle (who and when are recorded)."""
    _check_format(output)
    try:
        state = parse_state(to)
        day = parse_date(on) if on is not None else None
        month = YearMonth.parse(cancel_at_end_of) if cancel_at_end_of else None
    except VpnError as error:
        _fail(error)
    view = _run(
        db,
        data_dir,
        lambda c: c.advance_application(application, state, by=by, on=day, cancel_at_end_of=month),
    )
    if output == "json":
        _json(_application_dict(view))
    else:
        _print_application(view)


@application_app.command("extra-certificates")
def application_extra_certificates(
    application: Annotated[str, typer.Argument(help="the application id, e.g. A000042")],
    extra: Annotated[int, typer.Option("--to", help="x = 0–3, for every ID of the application")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change the number of extra certificates of every ID of an application."""
    _check_format(output)
    view = _run(db, data_dir, lambda c: c.set_extra_certificates(application, extra, by=by))
    if output == "json":
        _json(_application_dict(view))
    else:
        _print_application(view)


@application_app.command("list")
def application_list(
    state: Annotated[str | None, typer.Option("--state", help="only this state")] = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List applications, oldest first."""
    _check_format(output)
    try:
        wanted = parse_state(state) if state else None
    except VpnError as error:
        _fail(error)
    views = _run(db, data_dir, lambda c: c.applications(wanted))
    if output == "json":
        _json([_application_dict(v) for v in views])
    else:
        for view in views:
            _print_application(view)


@application_app.command("show")
def application_show(
    application: Annotated[str, typer.Argument(help="the application id, e.g. A000042")],
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """One application with its IDs and its history."""
    _check_format(output)
    view = _run(db, data_dir, lambda c: c.application(application))
    if output == "json":
        _json(_application_dict(view))
        return
    _print_application(view)
    for name in view.accounts:
        typer.echo(f"  {name}")
    for e in view.events:
        typer.echo(
            f"  {e.at.isoformat()}Z  {e.kind}  {e.from_value or '-'} → {e.to_value}  by {e.by}"
        )


# -- IDs and operators -------------------------------------------------------------------

account_app = typer.Typer(help="IDs: passwords.", no_args_is_help=True)


@account_app.command("password")
def account_password(
    account: Annotated[str, typer.Argument(help="the ID, e.g. A000042-001")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set an ID's password (read from standard input); also unlocks the ID."""
    password = _read_password("new password")
    _run(db, data_dir, lambda c: c.set_password(account, password, by=by))
    typer.echo(f"password of {account} set")


@account_app.command("unlock")
def account_unlock(
    account: Annotated[str, typer.Argument(help="the ID, e.g. A000042-001")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Lift an ID's lockout now (the password stays)."""
    _run(db, data_dir, lambda c: c.unlock_account(account, by=by))
    typer.echo(f"{account} unlocked")


operator_app = typer.Typer(help="Operators and auditors of the service.", no_args_is_help=True)


@operator_app.command("add")
def operator_add(
    name: Annotated[str, typer.Argument(help="login name, e.g. sato")],
    role: Annotated[str, typer.Option("--role", help="operator or auditor")] = "operator",
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Add an operator or auditor; the password is read from standard input."""
    try:
        parsed = parse_role(role)
    except VpnError as error:
        _fail(error)
    password = _read_password("password")
    view = _run(db, data_dir, lambda c: c.add_operator(name, parsed, password, by=by))
    typer.echo(f"operator {view.name} added with role {view.role.value}")


@operator_app.command("password")
def operator_password(
    name: Annotated[str, typer.Argument(help="the operator's login name")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Reset an operator's password (read from standard input); also unlocks."""
    password = _read_password("new password")
    _run(db, data_dir, lambda c: c.set_operator_password(name, password, by=by))
    typer.echo(f"password of operator {name} set")


# -- device certificates -----------------------------------------------------------------

device_app = typer.Typer(
    help="Device certificates: issue, renew, revoke, list.", no_args_is_help=True
)


def _check_out_dir(out: Path) -> Path:
    """Refuse an unusable output folder before anything is issued."""
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = out / ".onshi-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        _fail(InvalidInput(f"cannot write into {out}: {exc.strerror}"))
    return out


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
        _json(
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


@device_app.command("issue")
def device_issue(
    account: Annotated[str, typer.Argument(help="the ID, e.g. A000042-001")],
    name: Annotated[str, typer.Option("--name", help="the device, e.g. reception-pc")],
    out: Annotated[Path, typer.Option("--out", help="folder for the .p12 and PEM files")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Issue a device certificate: PKCS#12 with a one-time passphrase, plus PEM for swanctl."""
    _check_format(output)
    _check_out_dir(out)

    def issue(control: VpnControlPlane) -> tuple[IssuedDevice, dict[str, str]]:
        issued = control.issue_device(account, name, by=by)
        return issued, _write_issued(control, issued, out)

    issued, files = _run(db, data_dir, issue)
    _print_issued(issued, files, output)


@device_app.command("renew")
def device_renew(
    serial: Annotated[str, typer.Argument(help="the serial (hex) of the certificate to renew")],
    out: Annotated[Path, typer.Option("--out", help="folder for the .p12 and PEM files")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """A new certificate for the same device; the old one is revoked (superseded)."""
    _check_format(output)
    _check_out_dir(out)

    def renew(control: VpnControlPlane) -> tuple[IssuedDevice, dict[str, str]]:
        issued = control.renew_device(serial, by=by)
        return issued, _write_issued(control, issued, out)

    issued, files = _run(db, data_dir, renew)
    _print_issued(issued, files, output)


@device_app.command("revoke")
def device_revoke(
    serial: Annotated[str, typer.Argument(help="the serial (hex) of the certificate")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a device certificate; the CRL is regenerated at once."""
    _check_format(output)
    view = _run(db, data_dir, lambda c: c.revoke_device(serial, by=by))
    if output == "json":
        _json(
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
    account: Annotated[str, typer.Argument(help="the ID, e.g. A000042-001")],
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every certificate issued to an ID, with its status."""
    _check_format(output)
    views = _run(db, data_dir, lambda c: c.devices(account))
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
        _json(rows)
    else:
        for row in rows:
            typer.echo(
                f"{row['serial']}  {row['device']}  {row['status']}  until {row['not_after']}"
            )


# -- sessions ----------------------------------------------------------------------------

session_app = typer.Typer(help="VPN sessions the gateway reported; cut one.", no_args_is_help=True)


@session_app.command("list")
def session_list(
    account: Annotated[
        str | None, typer.Option("--account", help="one ID's sessions (default: all up now)")
    ] = None,
    recent: Annotated[
        bool, typer.Option("--recent", help="with --account: the latest, ended ones too")
    ] = False,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Sessions up now (or an ID's latest connections)."""
    _check_format(output)
    if recent and account is None:
        _fail(InvalidInput("--recent needs --account"))
    views = _run(
        db,
        data_dir,
        lambda c: (
            c.recent_connections(account) if recent and account else c.active_sessions(account)
        ),
    )
    rows = [
        {
            "id": v.id,
            "account": v.account,
            "device": v.device,
            "virtual_address": v.virtual_address,
            "started_at": v.started_at.isoformat() + "Z",
            "ended_at": v.ended_at.isoformat() + "Z" if v.ended_at else None,
            "bytes_in": v.bytes_in,
            "bytes_out": v.bytes_out,
            "termination_requested": v.termination_requested,
        }
        for v in views
    ]
    if output == "json":
        _json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']:>6}  {r['account']}  {r['device'] or '-'}  {r['virtual_address'] or '-'}  "
            f"since {r['started_at']}  {'ended ' + str(r['ended_at']) if r['ended_at'] else 'up'}"
            + ("  (cut requested)" if r["termination_requested"] else "")
        )


@session_app.command("cut")
def session_cut(
    session_id: Annotated[int, typer.Argument(help="the session's id (session list)")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the gateway to cut a session (it polls the requests and reports back)."""
    request = _run(db, data_dir, lambda c: c.request_session_termination(session_id, by=by))
    typer.echo(f"termination of session {session_id} requested (request {request})")


# -- CRL, invoices, audit ----------------------------------------------------------------


def crl_command(
    out: Annotated[Path, typer.Option("--out", help="file to write the CRL to")],
    der: Annotated[bool, typer.Option("--der", help="DER instead of PEM")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the current CRL of the device CA (with its nextUpdate) to a file."""
    crl = _run(db, data_dir, lambda c: c.crl())
    try:
        write_atomically(out, crl.der if der else crl.pem, mode=PUBLIC_MODE)
    except PkiError as exc:
        _fail(InvalidInput(str(exc)))
    typer.echo(
        f"CRL with {crl.revoked} revoked certificates written to {out} "
        f"(next update {crl.next_update.isoformat()}Z)"
    )


def _issuer(settings: VpnSettings) -> Issuer:
    return Issuer(
        name=settings.invoice_issuer_name,
        registration_number=settings.invoice_registration_number,
        address=settings.invoice_issuer_address,
        contact=settings.invoice_issuer_contact,
        payment_terms=settings.invoice_payment_terms,
    )


def invoice_command(
    month: Annotated[str, typer.Option("--month", help="the billed month, YYYY-MM")],
    output: FormatOption = "text",
    out: Annotated[
        Path | None, typer.Option("--out", help="folder to write one PDF per invoice into")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every contract's invoice for a month (JSON, a table, and with --out the PDFs)."""
    _check_format(output)
    try:
        billed = YearMonth.parse(month)
        issuer = _issuer(_settings(db, data_dir))
    except VpnError as error:
        _fail(error)
    if out is not None:
        _check_out_dir(out)
    invoices: list[Invoice] = _run(db, data_dir, lambda c: c.invoices(billed))
    pdfs: dict[str, str] = {}
    if out is not None:
        from onshi.vpn.invoice_pdf import render_invoice_pdf  # reportlab only when asked

        for invoice in invoices:
            path = out / f"{invoice.number}.pdf"
            try:
                write_atomically(path, render_invoice_pdf(invoice, issuer), mode=PUBLIC_MODE)
            except PkiError as exc:
                _fail(InvalidInput(str(exc)))
            pdfs[invoice.number] = str(path)
    if output == "json":
        _json(
            [
                {**invoice.as_dict(), **({"pdf": pdfs[invoice.number]} if pdfs else {})}
                for invoice in invoices
            ]
        )
        return
    if not invoices:
        typer.echo(f"no contract is billed for {billed}")
    for invoice in invoices:
        typer.echo(
            f"{invoice.number}  {invoice.organisation}  subtotal ¥{invoice.subtotal_yen:,}  "
            f"tax ¥{invoice.tax_yen:,}  total ¥{invoice.total_yen:,}"
            + (f"  {pdfs[invoice.number]}" if pdfs else "")
        )


def audit_command(
    limit: Annotated[int, typer.Option("--limit", help="newest entries to show")] = 50,
    verify: Annotated[bool, typer.Option("--verify", help="check the whole hash chain")] = False,
    viewer: Annotated[
        str | None, typer.Option("--viewer", help="the auditor reading (default: console)")
    ] = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the newest audit entries, or verify the hash chain (exit 1 if broken)."""
    _check_format(output)
    if verify:
        report = _run(db, data_dir, lambda c: c.verify_audit_chain())
        if output == "json":
            _json({"entries": report.entries, "head": report.head})
        else:
            typer.echo(f"audit chain intact: {report.entries} entries, head {report.head}")
        return
    entries = _run(db, data_dir, lambda c: c.audit_log(viewer=viewer, limit=limit))
    rows = [
        {
            "seq": e.seq,
            "at": e.recorded_at.isoformat() + "Z",
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "outcome": e.outcome,
            "detail": e.detail,
        }
        for e in entries
    ]
    if output == "json":
        _json(rows)
    else:
        for r in rows:
            typer.echo(
                f"{r['seq']:>6}  {r['at']}  {r['actor']}  {r['action']}  {r['subject'] or '-'}  "
                f"{r['outcome']}  {r['detail'] or ''}"
            )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.add_typer(application_app, name="application")
    app.add_typer(account_app, name="account")
    app.add_typer(operator_app, name="operator")
    app.add_typer(device_app, name="device")
    app.add_typer(session_app, name="session")
    app.command("crl")(crl_command)
    app.command("invoice")(invoice_command)
    app.command("audit")(audit_command)
