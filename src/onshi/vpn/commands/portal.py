"""``onshi vpn portal serve``: the web portal for clinic staff and operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

portal_app = typer.Typer(
    help="The web portal (ユーザーポータル / 運用者画面).", no_args_is_help=True
)


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


@portal_app.command("serve")
def serve(
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: the service's).")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="The service's data directory (CA, keys).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default 8790; 0 picks a free one).")
    ] = None,
) -> None:
    """Serve the portal until Ctrl-C; prints its URL first.

    Plain HTTP: put a TLS-terminating proxy in front of it on this host (it is trusted for
    X-Forwarded-Proto, and the session cookie is then marked Secure).
    """
    from pydantic import ValidationError

    from onshi.logs import configure_logging
    from onshi.vpn.portal import create_portal_app
    from onshi.vpn.portal.server import serve_forever
    from onshi.vpn.portal.services_backend import ServicesBackend
    from onshi.vpn.portal.settings import PortalSettings
    from onshi.vpn.services import VpnControlPlane
    from onshi.vpn.settings import VpnSettings
    from onshi.web import bind, url_of

    given = {
        k: v
        for k, v in {"database_url": db, "data_dir": data_dir, "host": host, "port": port}.items()
        if v is not None
    }
    try:
        settings = VpnSettings(**given)  # type: ignore[arg-type]
        portal_settings = PortalSettings()
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    configure_logging()
    backend = ServicesBackend(VpnControlPlane.open(settings), portal_settings)
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        _fail(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror} "
            "(is another portal running? choose another --port)",
            1,
        )
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host  # noqa: S104
    url = url_of("http", shown, sock.getsockname()[1])
    typer.echo(f"onshi VPN portal on {url}/  (operators: {url}/operator/)")
    serve_forever(create_portal_app(backend, portal_settings), sock)


def register(app: typer.Typer) -> None:
    """Add ``onshi vpn portal …`` to ``app``."""
    app.add_typer(portal_app, name="portal")
