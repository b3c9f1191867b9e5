"""``onshi vpn …``: the medical VPN service's commands (operators, scripts and terminals)."""

from __future__ import annotations

import typer

from onshi.vpn.commands import contracts, facts, gateway, portal, terminal

app = typer.Typer(
    help="The medical VPN service (メディカルVPN接続サービス): contracts, IDs, certificates, gateway.",
    no_args_is_help=True,
)
for module in (facts, contracts, portal, gateway, terminal):
    module.register(app)
