"""Command-line adapter of the network edge toolkit (placeholder until the toolkit lands)."""

from __future__ import annotations

import typer

router_app = typer.Typer(help="Router configurations for the IP-VPN connection method.", no_args_is_help=True)


def subsidy() -> None:
    """Estimate the 2021 subsidy for a facility (not implemented yet)."""
    raise typer.Exit(2)
