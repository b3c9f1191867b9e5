"""``onshi claims …``: the minimal online claims receiver (placeholder until written)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="A minimal online claims receiver (オンライン請求システム).", no_args_is_help=True
)
