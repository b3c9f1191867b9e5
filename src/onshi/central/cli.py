"""``onshi central …``: the operator's commands for the central eligibility service."""

from __future__ import annotations

import typer

from onshi.central.intake.cli import generate, import_app

app = typer.Typer(help="The central eligibility service (オンライン資格確認等システム).", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.command("generate")(generate)


def demo() -> None:
    """Start the demo stack (not implemented yet)."""
    raise typer.Exit(2)
