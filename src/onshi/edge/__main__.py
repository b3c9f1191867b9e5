"""``python -m onshi.edge``: the toolkit's commands on their own (``router …``, ``subsidy``)."""

from __future__ import annotations

import typer

from onshi.edge.cli import router_app, subsidy


def build_app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    app.add_typer(router_app, name="router")
    app.command("subsidy")(subsidy)
    return app


if __name__ == "__main__":
    build_app()()
