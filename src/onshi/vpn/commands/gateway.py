"""``onshi vpn gateway …``: the strongSwan data plane (VPNゲートウェイ) driven by the control plane."""

from __future__ import annotations

import ipaddress
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import typer

from onshi.vpn.gateway.policy import Target

gateway_app = typer.Typer(
    help="The VPN gateway: strongSwan (charon) kept in sync with the control plane.",
    no_args_is_help=True,
)


def _fail(code: str, message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {code}: {message}", err=True)
    raise typer.Exit(status)


def _targets(values: list[str]) -> tuple[Target, ...]:
    targets = []
    for value in values:
        try:
            targets.append(Target.parse(value))
        except ValueError as exc:
            _fail("VPN_INVALID_INPUT", str(exc))
    if not targets:
        _fail("VPN_INVALID_INPUT", "give at least one --target NAME=ADDR:PORT")
    return tuple(targets)


def _network(value: str, option: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        _fail(
            "VPN_INVALID_INPUT",
            f"{option} wants an IPv4 network like 203.0.113.0/25, got {value!r}",
        )


TargetOption = Annotated[
    list[str],
    typer.Option(
        "--target",
        help="A service terminals may reach, NAME=ADDR:PORT (TCP); repeat for each.",
    ),
]


@gateway_app.command("run")
def run(
    listen: Annotated[str, typer.Option(help="The gateway's public address (IKE, UDP 500/4500).")],
    pool: Annotated[str, typer.Option(help="Virtual addresses handed to terminals (CIDR).")],
    target: TargetOption,
    db: Annotated[str | None, typer.Option("--db", help="Control plane database URL.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The service's data directory (CA, keys).")
    ] = None,
    service_net: Annotated[
        list[str] | None,
        typer.Option(
            "--service-net",
            help="Subnet announced to terminals (repeatable); default: each target's /24.",
        ),
    ] = None,
    idle_timeout: Annotated[
        int, typer.Option(min=1, help="Seconds without traffic before a session is closed.")
    ] = 24 * 3600,
    max_connect: Annotated[
        int, typer.Option(min=1, help="Seconds of continuous connection before it is cut.")
    ] = 24 * 3600,
    hostname: Annotated[
        list[str] | None,
        typer.Option("--hostname", help="DNS name in the gateway certificate (repeatable)."),
    ] = None,
    gateway_id: Annotated[
        str | None,
        typer.Option(
            "--gateway-id",
            help="The gateway's IKE identity, as in the terminals' profiles "
            "(default: the first --hostname, else --listen).",
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="charon's directory (config, socket, log); default DATA_DIR/charon."),
    ] = None,
    vici: Annotated[
        Path | None,
        typer.Option(help="Attach to a charon already running on this VICI socket."),
    ] = None,
    debug: Annotated[bool, typer.Option(help="charon logs at level 2.")] = False,
) -> None:
    """Start charon (or attach to one) and keep it in sync until Ctrl-C or SIGTERM.

    Runs in the network namespace it is started in; needs root (charon, nftables).
    """
    from pydantic import ValidationError

    from onshi.logs import configure_logging
    from onshi.vpn.errors import VpnError
    from onshi.vpn.gateway.adapter import ControlPlaneDirectory
    from onshi.vpn.gateway.runner import Gateway, GatewayOptions
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings

    try:
        ipaddress.IPv4Address(listen)
    except ValueError:
        _fail("VPN_INVALID_INPUT", f"--listen wants an IPv4 address, got {listen!r}")
    targets = _targets(target)
    nets = tuple(_network(n, "--service-net") for n in service_net or ())
    given = {k: v for k, v in {"database_url": db, "data_dir": data_dir}.items() if v is not None}
    try:
        settings = VpnSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        _fail(
            "VPN_INVALID_INPUT",
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
        )
    configure_logging()
    options = GatewayOptions(
        listen=listen,
        pool=_network(pool, "--pool"),
        targets=targets,
        service_nets=nets,
        gateway_id=gateway_id or (hostname[0] if hostname else listen),
        idle_timeout=idle_timeout,
        max_connect=max_connect,
        state_dir=state_dir or settings.data_dir / "charon",
        vici_socket=vici,
        debug=debug,
    )
    control = VpnControlPlane.open(settings)
    directory = ControlPlaneDirectory(
        control, gateway_hostnames=hostname or (), gateway_addresses=(listen,)
    )
    gateway = Gateway(options, directory)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        gateway.start()
        typer.echo(
            f"onshi VPN gateway on {listen}: pool {options.pool}, ESP "
            f"{gateway.engine.value if gateway.engine else '?'}, "
            f"targets {', '.join(f'{t.name}={t.address}:{t.port}' for t in targets)}",
        )
        gateway.run_in_thread()
        while not stop.wait(1.0):
            if not gateway.alive():
                _fail("VPN_GATEWAY_CHARON_START", "charon exited; see its log in the state dir", 1)
    except VpnError as exc:
        _fail(exc.code, exc.message, exc.exit_status)
    finally:
        gateway.stop()
        control.close()


@gateway_app.command("policy")
def policy(
    pool: Annotated[str, typer.Option(help="Virtual addresses handed to terminals (CIDR).")],
    target: TargetOption,
    engine: Annotated[
        str, typer.Option(help="ESP engine the rules are for: userspace or kernel.")
    ] = "userspace",
) -> None:
    """Print the nftables ruleset ``run`` would apply (nothing is changed)."""
    from onshi.vpn.gateway.config import EspEngine
    from onshi.vpn.gateway.policy import AccessPolicy, render_ruleset

    try:
        chosen = EspEngine(engine)
    except ValueError:
        _fail("VPN_INVALID_INPUT", f"--engine is userspace or kernel, got {engine!r}")
    targets = _targets(target)
    rules = render_ruleset(AccessPolicy(_network(pool, "--pool"), targets, chosen.tunnel_match()))
    typer.echo(rules, nl=False)


def register(app: typer.Typer) -> None:
    """Add ``onshi vpn gateway …`` to ``app``."""
    app.add_typer(gateway_app, name="gateway")
