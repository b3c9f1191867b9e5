"""``onshi central import …`` and ``onshi central generate`` (placeholder until intake lands)."""

from __future__ import annotations

import typer

import_app = typer.Typer(
    help="Import insurers' data into the central database.", no_args_is_help=True
)


def generate() -> None:
    """Write a synthetic population in the intake formats (not implemented yet)."""
    raise typer.Exit(2)
