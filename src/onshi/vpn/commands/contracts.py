"""``onshi vpn`` commands that store: applications (申請書), IDs and operators here; device
certificates and the CRL in :mod:`.certificates`; sessions, invoices and the audit log in
:mod:`.operations`. Shared options and error handling: :mod:`._store`.

Every storing command takes ``--db URL`` and ``--data-dir DIR`` (default: ``ONSHI_VPN_DATABASE_URL``
and ``ONSHI_VPN_DATA_DIR``, else ``VpnSettings``'s defaults), runs as one transaction and prints
``error: CODE: message`` on failure (exit 2 for bad input, 1 for refusals).
"""

from __future__ import annotations

from typing import Annotated

import typer

from onshi.vpn.commands import certificates, operations
from onshi.vpn.commands._store import (
    AccountArgument,
    ByOption,
    DataDirOption,
    DbOption,
    FormatOption,
    check_format,
    print_json,
    read_password,
    reported,
    run,
)
from onshi.vpn.domain.accounts import parse_role
from onshi.vpn.domain.calendar import YearMonth, parse_date
from onshi.vpn.domain.lifecycle import parse_state
from onshi.vpn.services import ApplicationView


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


def _show(view: ApplicationView, output: str) -> None:
    if output == "json":
        print_json(_application_dict(view))
    else:
        _print_application(view)


ApplicationArgument = Annotated[str, typer.Argument(help="the application id, e.g. A000042")]

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
    check_format(output)
    with reported():
        day = parse_date(submitted) if submitted is not None else None
        go_live = YearMonth.parse(migration_go_live) if migration_go_live else None
    view = run(
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
        print_json({"application": view.code, "accounts": list(view.accounts)})
    else:
        _print_application(view)
        for name in view.accounts:
            typer.echo(f"  {name}")


@application_app.command("advance")
def application_advance(
    application: ApplicationArgument,
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
    check_format(output)
    with reported():
        state = parse_state(to)
        day = parse_date(on) if on is not None else None
        month = YearMonth.parse(cancel_at_end_of) if cancel_at_end_of else None
    view = run(
        db,
        data_dir,
        lambda c: c.advance_application(application, state, by=by, on=day, cancel_at_end_of=month),
    )
    _show(view, output)


@application_app.command("extra-certificates")
def application_extra_certificates(
    application: ApplicationArgument,
    extra: Annotated[int, typer.Option("--to", help="x = 0–3, for every ID of the application")],
    by: ByOption = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Change the number of extra certificates of every ID of an application."""
    check_format(output)
    view = run(db, data_dir, lambda c: c.set_extra_certificates(application, extra, by=by))
    _show(view, output)


@application_app.command("list")
def application_list(
    state: Annotated[str | None, typer.Option("--state", help="only this state")] = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List applications, oldest first."""
    check_format(output)
    with reported():
        wanted = parse_state(state) if state else None
    views = run(db, data_dir, lambda c: c.applications(wanted))
    if output == "json":
        print_json([_application_dict(v) for v in views])
    else:
        for view in views:
            _print_application(view)


@application_app.command("show")
def application_show(
    application: ApplicationArgument,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """One application with its IDs and its history."""
    check_format(output)
    view = run(db, data_dir, lambda c: c.application(application))
    if output == "json":
        print_json(_application_dict(view))
        return
    _print_application(view)
    for name in view.accounts:
        typer.echo(f"  {name}")
    for e in view.events:
        typer.echo(
            f"  {e.at.isoformat()}Z  {e.kind}  {e.from_value or '-'} → {e.to_value}  by {e.by}"
        )


# -- IDs and operators -------------------------------------------------------------------

account_app = typer.Typer(help="IDs: passwords and lockouts.", no_args_is_help=True)


@account_app.command("password")
def account_password(
    account: AccountArgument,
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Set an ID's password (read from standard input); also unlocks the ID."""
    password = read_password("new password")
    run(db, data_dir, lambda c: c.set_password(account, password, by=by))
    typer.echo(f"password of {account} set")


@account_app.command("unlock")
def account_unlock(
    account: AccountArgument,
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Lift an ID's lockout now (the password stays)."""
    run(db, data_dir, lambda c: c.unlock_account(account, by=by))
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
    with reported():
        parsed = parse_role(role)
    password = read_password("password")
    view = run(db, data_dir, lambda c: c.add_operator(name, parsed, password, by=by))
    typer.echo(f"operator {view.name} added with role {view.role.value}")


@operator_app.command("password")
def operator_password(
    name: Annotated[str, typer.Argument(help="the operator's login name")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Reset an operator's password (read from standard input); also unlocks."""
    password = read_password("new password")
    run(db, data_dir, lambda c: c.set_operator_password(name, password, by=by))
    typer.echo(f"password of operator {name} set")


def register(app: typer.Typer) -> None:
    """Add this module's commands (and its siblings') to ``app``."""
    app.add_typer(application_app, name="application")
    app.add_typer(account_app, name="account")
    app.add_typer(operator_app, name="operator")
    certificates.register(app)
    operations.register(app)
