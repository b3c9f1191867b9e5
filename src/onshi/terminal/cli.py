"""``onshi terminal run``: the agent, its reception screen and the reader's local API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="The eligibility terminal agent (資格確認端末).", no_args_is_help=True)


def build_settings(**options: Any) -> Any:
    from pydantic import ValidationError

    from onshi.terminal.settings import TerminalSettings

    try:
        return TerminalSettings(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None


def start_agent(settings: Any) -> Any:
    """Build and start the agent with its central client; the caller stops it."""
    from onshi.central.client import CentralClient
    from onshi.terminal.agent import Agent, AgentAlreadyRunning

    for path in (settings.cert_path, settings.key_path, settings.ca_path):
        if not Path(path).is_file():
            typer.echo(
                f"error: missing {path}: get the facility's certificate with "
                "`onshi central facility add CODE NAME` (it writes var/facility/), "
                "or run `onshi demo` once",
                err=True,
            )
            raise typer.Exit(2)
    client = CentralClient(
        settings.central_url, settings.cert_path, settings.key_path, settings.ca_path
    )
    agent = Agent(settings, client)
    try:
        agent.start()
    except AgentAlreadyRunning as exc:
        agent.stop()
        typer.echo(f"error: {exc}; is `onshi demo` running? stop it first", err=True)
        raise typer.Exit(1) from None
    return agent


@app.command()
def run(
    oqs_dir: Annotated[
        Path | None, typer.Option(help="The shared OQS folder (req/res/face).")
    ] = None,
    central_url: Annotated[str | None, typer.Option(help="The central service's URL.")] = None,
    facility: Annotated[
        str | None, typer.Option(help="This terminal's MedicalInstitutionCode.")
    ] = None,
    cert: Annotated[Path | None, typer.Option(help="The facility's client certificate.")] = None,
    key: Annotated[Path | None, typer.Option(help="Its private key.")] = None,
    ca: Annotated[Path | None, typer.Option(help="onshi's CA certificate.")] = None,
    state_dir: Annotated[
        Path | None, typer.Option(help="The agent's own state and archive.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the reception screen (127.0.0.1).")
    ] = None,
    polling: Annotated[
        bool, typer.Option(help="Poll the folder (only where inotify fails).")
    ] = False,
) -> None:
    """Watch OQS/req, answer in OQS/res, serve the reception screen until interrupted."""
    from onshi.logs import configure_logging
    from onshi.terminal.reception import serve_reception

    configure_logging()
    settings = build_settings(
        oqs_dir=oqs_dir,
        central_url=central_url,
        facility_code=facility,
        cert_path=cert,
        key_path=key,
        ca_path=ca,
        state_dir=state_dir,
        port=port,
        use_polling=polling or None,
    )
    agent = start_agent(settings)
    try:
        serve_reception(agent, settings.host, settings.port, announce=typer.echo)
    except OSError as exc:
        typer.echo(
            f"error: the reception screen cannot listen on {settings.host}:{settings.port} "
            f"({exc.strerror}); is `onshi demo` or another agent running? stop it, or choose "
            "--port (0: any free port)",
            err=True,
        )
        raise typer.Exit(1) from None
    finally:
        agent.stop()
