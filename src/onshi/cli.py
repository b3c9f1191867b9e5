"""The ``onshi`` command: one sub-command group per component."""

from __future__ import annotations

import typer

from onshi.central.cli import app as central_app
from onshi.claims.cli import app as claims_app
from onshi.demo import demo
from onshi.edge.cli import router_app, subsidy
from onshi.reader.cli import card_app, reader_app
from onshi.registration import issue as issue_card
from onshi.terminal.cli import app as terminal_app
from onshi.vpn.cli import app as vpn_app

app = typer.Typer(
    name="onshi",
    help="onshi — online eligibility verification (オンライン資格確認), open and self-hostable.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(central_app, name="central")
app.add_typer(terminal_app, name="terminal")
card_app.command("issue")(issue_card)  # the registration desk, beside the card's own commands
app.add_typer(card_app, name="card")
app.add_typer(reader_app, name="reader")
app.add_typer(router_app, name="router")
app.add_typer(vpn_app, name="vpn")
app.add_typer(claims_app, name="claims")
app.command("subsidy")(subsidy)
app.command("demo")(demo)


def main() -> None:
    app()
