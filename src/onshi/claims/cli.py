"""``onshi claims …``: the minimal online claims receiver (オンライン請求システム).

``serve`` runs the HTTPS receiver (mutual TLS), ``submit`` sends a claims file as a facility and
prints the receipt number, ``facility add`` issues a facility client certificate from the
receiver's CA (when it does not share the central service's).
Exit status: 0 done, 1 refused or failed, 2 bad input. Errors print ``error: CODE: message``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from onshi.claims.errors import ClaimsError, ClaimsFileInvalid, ClaimsInvalidInput
from onshi.claims.settings import ClaimsSettings

app = typer.Typer(
    help="A minimal online claims receiver (オンライン請求システム).", no_args_is_help=True
)
facility_app = typer.Typer(help="Facilities allowed to submit claims.", no_args_is_help=True)
app.add_typer(facility_app, name="facility")

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Received files, TLS files (default ONSHI_CLAIMS_DATA_DIR)."),
]
CaDirOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-dir",
        help="Facility CA directory (default: <data dir>/ca; give the central service's to share).",
    ),
]


def _fail(error: ClaimsError) -> NoReturn:
    typer.echo(f"error: {error.code}: {error.message}", err=True)
    raise typer.Exit(error.exit_status)


def _settings(**overrides: object) -> ClaimsSettings:
    from pydantic import ValidationError

    try:
        return ClaimsSettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        _fail(ClaimsInvalidInput(f"bad setting: {exc.errors()[0].get('msg', exc)}"))


@app.command()
def serve(
    data_dir: DataDirOption = None,
    ca_dir: CaDirOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 0: a free one, printed).")] = None,
) -> None:
    """Receive claims files over HTTPS from facilities with a client certificate."""
    from onshi.claims.server import claims_tls
    from onshi.claims.server import serve as serve_claims
    from onshi.logs import configure_logging
    from onshi.pki import PkiError
    from onshi.web import bind, url_of

    settings = _settings(data_dir=data_dir, ca_dir=ca_dir, host=host, port=port)
    configure_logging()
    try:
        tls = claims_tls(settings)
    except PkiError as exc:
        _fail(ClaimsError(f"cannot prepare TLS: {exc}"))
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        _fail(ClaimsError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"))
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host  # noqa: S104 — display only
    url = url_of("https", shown, sock.getsockname()[1])
    typer.echo(f"onshi claims receiver on {url}  (POST {url}/v1/claims)", color=False)
    typer.echo(f"clients trust {tls.client_ca_path}; files are kept under {settings.store_dir}")
    serve_claims(settings, sock, tls)


@app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="The claims file (UKE, Shift_JIS).")],
    url: Annotated[str, typer.Option("--url", help="The receiver, e.g. https://192.0.2.10:8444")],
    cert: Annotated[Path, typer.Option("--cert", help="Facility client certificate (PEM).")],
    key: Annotated[Path, typer.Option("--key", help="Its private key (PEM).")],
    ca: Annotated[Path, typer.Option("--ca", help="CA certificate to trust for the receiver.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 30.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole receipt as JSON.")
    ] = False,
) -> None:
    """Send a claims file; prints the receipt number (受付番号)."""
    from onshi.claims.client import submit_claims

    limit = _settings().max_file_bytes
    try:
        with file.open("rb") as fh:
            content = fh.read(limit + 1)
    except OSError as exc:
        _fail(ClaimsFileInvalid(f"cannot read {file}: {exc.strerror}"))
    try:
        receipt = submit_claims(content, url, cert=cert, key=key, ca=ca, timeout=timeout)
    except ClaimsError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(receipt, ensure_ascii=False))
    else:
        typer.echo(str(receipt["receipt"]))


@facility_app.command("add")
def facility_add(
    code: Annotated[str, typer.Argument(help="10-digit medical institution code.")],
    name: Annotated[str, typer.Argument(help="The facility's name.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for cert, key and CA.")],
    data_dir: DataDirOption = None,
    ca_dir: CaDirOption = None,
) -> None:
    """Issue a facility client certificate from the receiver's facility CA."""
    from onshi.pki import CertificateAuthority, PkiError

    settings = _settings(data_dir=data_dir, ca_dir=ca_dir)
    try:
        from onshi.central.api.server import FACILITY_CA_NAME

        ca = CertificateAuthority.load_or_create(settings.facility_ca_dir, FACILITY_CA_NAME)
        issued = ca.issue_facility_certificate(code, name)
        out.mkdir(parents=True, exist_ok=True)
        issued.write(out / "facility.cert.pem", out / "facility.key.pem")
        (out / "ca.cert.pem").write_bytes(ca.cert_pem)
    except PkiError as exc:
        _fail(ClaimsInvalidInput(str(exc)))
    except OSError as exc:
        _fail(ClaimsError(f"cannot write to {out}: {exc.strerror}"))
    typer.echo(f"wrote {out}/facility.cert.pem, facility.key.pem, ca.cert.pem")
