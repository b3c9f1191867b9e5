"""``onshi vpn`` commands that answer from the rules alone (no database): opening dates,
migration plans, quotes and the support desk's hours."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from onshi.vpn.commands._store import check_format, print_json, reported
from onshi.vpn.domain.calendar import JST, YearMonth, parse_date, standard_opening_date
from onshi.vpn.domain.migration import migration_plan
from onshi.vpn.domain.pricing import quote
from onshi.vpn.domain.support import is_support_open, support_hours
from onshi.vpn.errors import InvalidInput

T = TypeVar("T")

# a minute, optionally seconds and an offset; a bare date is refused (which time of day?)
_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?")

FormatOption = Annotated[
    str, typer.Option("--format", help="text (a table) or json", metavar="text|json")
]


def _run(action: Callable[[], T]) -> T:
    with reported():
        return action()


def _parse_minute(text: str) -> dt.datetime:
    """``YYYY-MM-DDTHH:MM`` (JST, or with an explicit offset) → aware datetime."""
    value = None
    if _MINUTE.fullmatch(text.strip()):
        with contextlib.suppress(ValueError):
            value = dt.datetime.fromisoformat(text.strip())
    if value is None:
        raise InvalidInput(
            f"{text!r} is not a time; write it as YYYY-MM-DDTHH:MM (JST), e.g. 2026-04-10T22:30"
        )
    return value.replace(tzinfo=JST) if value.tzinfo is None else value


def _parse_count(text: str, option: str) -> int:
    """A whole number for ``option``; Click's own message would not carry the error code."""
    value = text.strip()
    if not value.lstrip("-").isdigit() or not value.isascii():
        raise InvalidInput(f"{option} must be a whole number, not {text!r}")
    return int(value)


def opening_date(
    submitted: Annotated[
        str, typer.Option("--submitted", help="the day the application is submitted, YYYY-MM-DD")
    ],
) -> None:
    """Print the standard opening date: the 10th business day after submission."""
    day = _run(lambda: standard_opening_date(parse_date(submitted)))
    typer.echo(day.isoformat())


def migration_plan_command(
    go_live: Annotated[
        str, typer.Option("--go-live", help="the month the new service goes live, YYYY-MM")
    ],
    output: FormatOption = "text",
) -> None:
    """Print the dates of a migration from Medical Group Net going live on the 1st of a month."""
    check_format(output)
    plan = _run(lambda: migration_plan(YearMonth.parse(go_live)))
    if output == "json":
        print_json(plan.as_dict())
        return
    table = Table(title=f"Migration from Medical Group Net, live from {plan.go_live.first_day}")
    table.add_column("step")
    table.add_column("date")
    rows = (
        ("apply for the medical VPN service by (apply_by)", plan.apply_by),
        ("service opens (opening_target)", plan.opening_target),
        (
            "request the old service's cancellation from (old_cancel_request_from)",
            plan.old_cancel_request_from,
        ),
        ("verification until (verification_until)", plan.verification_until),
        ("old service ends (old_service_end)", plan.old_service_end),
        ("new service billed from (billing_start)", plan.billing_start),
    )
    for label, day in rows:
        table.add_row(label, day.isoformat())
    Console().print(table)


def quote_command(
    ids: Annotated[str, typer.Option("--ids", help="number of IDs (K ≥ 1)", metavar="K")],
    terminals: Annotated[
        str,
        typer.Option("--terminals", help="terminals used at once per ID (1–5)", metavar="T"),
    ],
    output: FormatOption = "text",
) -> None:
    """Print a quote before tax: extra certificates, initial and monthly fees, yen per terminal."""
    check_format(output)
    result = _run(lambda: quote(_parse_count(ids, "--ids"), _parse_count(terminals, "--terminals")))
    if output == "json":
        print_json(result.as_dict())
        return
    table = Table(title="Quote (yen before tax)")
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("IDs", str(result.ids))
    table.add_row("terminals at once per ID", str(result.terminals))
    table.add_row("extra certificates per ID", str(result.extra_certificates_per_id))
    table.add_row("extra certificates in all", str(result.extra_certificates))
    table.add_row("initial fee (once)", f"¥{result.initial_yen:,}")
    table.add_row("monthly fee", f"¥{result.monthly_yen:,}")
    table.add_row("monthly per terminal (guide)", f"¥{result.per_terminal_yen:,}")
    Console().print(table)


def support_open(
    at: Annotated[str, typer.Option("--at", help="a time, YYYY-MM-DDTHH:MM (JST)")],
    output: FormatOption = "text",
) -> None:
    """Tell whether the support desk takes calls at a time (9–21 daily, 9–24 on the 10th)."""
    check_format(output)
    moment = _run(lambda: _parse_minute(at))
    is_open = is_support_open(moment)
    if output == "json":
        print_json({"open": is_open})
        return
    opens, closes = support_hours(moment.astimezone(JST).date())
    hours = f"{opens:%H:%M}–{'24:00' if closes.date() > opens.date() else f'{closes:%H:%M}'}"
    typer.echo(f"{'open' if is_open else 'closed'} (that day: {hours} JST)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("opening-date")(opening_date)
    app.command("migration-plan")(migration_plan_command)
    app.command("quote")(quote_command)
    app.command("support-open")(support_open)
