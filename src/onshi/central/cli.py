"""``onshi central …``: the operator's commands for the central eligibility service.

``serve`` runs the HTTPS API (mutual TLS), ``facility add`` registers a facility and writes its
client certificate, ``query`` answers one eligibility question in-process as flat JSON,
``audit verify`` walks the audit chains (against a signed checkpoint if given), ``audit
checkpoint`` signs one, ``audit rotate-key`` replaces the audit key and ``audit retire-keys``
closes the keys it replaced; ``central demo`` puts them together on sample data.
``onshi.demo`` (the whole-clinic ``onshi demo``) reuses ``settings_from_options``,
``load_sample_data`` and ``add_facility``.
Exit status: 0 done, 1 the check failed (audit) or the service failed, 2 bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from onshi.central.intake.cli import generate, import_app
from onshi.logs import configure_logging

app = typer.Typer(
    help="The central eligibility service (オンライン資格確認等システム).", no_args_is_help=True
)
app.add_typer(import_app, name="import")
app.command("generate")(generate)

facility_app = typer.Typer(help="Facilities (医療機関・薬局) allowed to ask.", no_args_is_help=True)
app.add_typer(facility_app, name="facility")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
card_app = typer.Typer(help="My Number cards registered as insurance cards.", no_args_is_help=True)
app.add_typer(card_app, name="card")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: ONSHI_CENTRAL_DATABASE_URL or var/central)."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="CAs, TLS files and keys (default: ONSHI_CENTRAL_DATA_DIR)."),
]

DATA_ROOT = Path("var")  # sample data in var/sample; the service's own files in var/central
FACILITY_DIR = Path("var/facility")
# The person the README and the docs ask about (診療 太郎, 06139999 12-34 4260, born 1980-04-01),
# added to every sample population so that their examples answer 有効.
EXAMPLE_PERSON_ROW = (
    "06139999,オンシ健康保険組合,12-34,4260,00,1,診療　太郎,診療　太郎,ｼﾝﾘｮｳ ﾀﾛｳ,1,19800401,"
    "東京都千代田区千代田1丁目1番1号,100-0001,01,20200401,20200401,,030,20200401,,,,,,,"
    "P9999999999\n"
)
DEMO_FACILITY = "1311111111"
DEMO_PERSONS = 2000
FACILITY_FILES = ("facility.cert.pem", "facility.key.pem", "ca.cert.pem")


def _fail(message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(status)


def settings_from_options(**options: Any) -> Any:
    """CentralSettings from the environment, with the options actually given on top."""
    from pydantic import ValidationError

    from onshi.central.settings import CentralSettings

    given = {name: value for name, value in options.items() if value is not None}
    try:
        return CentralSettings(**given)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


def _central(settings: Any) -> Any:
    from onshi.audit.keys import KeyFileError
    from onshi.central.services.central import Central
    from onshi.central.storage.loop_connection import UnsupportedDatabaseUrl

    try:
        return Central.from_settings(settings)
    except (KeyFileError, UnsupportedDatabaseUrl) as exc:  # a person's mistake, not a crash
        _fail(str(exc))


# -- serve -------------------------------------------------------------------------------------


@app.command()
def serve(
    db: DbOption = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 0: a free one, printed).")] = None,
    data_dir: DataDirOption = None,
    workers: Annotated[
        int,
        typer.Option(
            help="Worker processes accepting on the one port (more than 1 needs PostgreSQL)."
        ),
    ] = 1,
) -> None:
    """Serve the HTTPS API; facilities must present a client certificate (mutual TLS).

    On first run this creates the facility CA and the server certificate under the data dir.
    """
    from onshi.central.api import create_app
    from onshi.central.api.server import ensure_server_tls, serve_forever, serve_workers
    from onshi.db import is_sqlite
    from onshi.web import bind

    if workers < 1:
        _fail(f"--workers must be at least 1, got {workers}")
    settings = settings_from_options(database_url=db, host=host, port=port, data_dir=data_dir)
    if workers > 1 and is_sqlite(settings.database_url):
        _fail(
            "--workers above 1 needs a PostgreSQL database (--db postgresql+psycopg://…): "
            "SQLite lets one process write at a time"
        )
    configure_logging()
    central = _central(settings)  # migrates and makes the keys once, before any worker starts
    tls = ensure_server_tls(settings.data_dir, settings.ca_dir, settings.host)
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        _fail(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror} "
            "(is `onshi demo` or another central service running? choose another --port)",
            1,
        )
    url = _url(settings.host, sock.getsockname()[1])
    typer.echo(f"onshi central API on {url}  (OpenAPI: {url}/docs)")
    typer.echo(
        f"clients trust {tls.client_ca_path}; add facilities with `onshi central facility add`"
    )
    if workers == 1:
        serve_forever(create_app(central, settings), tls, sock)
        return
    central.db.dispose()  # each worker opens its own connections after the fork
    typer.echo(f"{workers} worker processes; Ctrl-C stops them all")
    status = serve_workers(
        lambda: create_app(_central(settings), settings), tls, sock, workers=workers
    )
    if status:
        _fail("a worker process failed; the service stopped", status)


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 — display only
    if ":" in shown:
        shown = f"[{shown}]"
    return f"https://{shown}:{port}"


# -- facility add ------------------------------------------------------------------------------


@facility_app.command("add")
def facility_add(
    code: Annotated[str, typer.Argument(help="MedicalInstitutionCode, 10 digits.")],
    name: Annotated[str, typer.Argument(help="The facility's name.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Directory for the certificate, key and CA (where the terminal looks)."
        ),
    ] = FACILITY_DIR,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Register a facility and write its client certificate, key and the CA certificate to OUT."""
    settings = settings_from_options(database_url=db, data_dir=data_dir)
    paths = add_facility(settings, code, name, out)
    for path in paths:
        typer.echo(str(path))


def add_facility(
    settings: Any, code: str, name: str, out: Path, central: Any = None
) -> tuple[Path, Path, Path]:
    """Register a facility and write its certificate, key and the CA to ``out``.

    Uses ``central`` when the caller already has the service open (the demos), else opens it.
    """
    from onshi.central.api.server import FACILITY_CA_NAME
    from onshi.oqs.identifiers import InvalidIdentifier, MedicalInstitutionCode
    from onshi.pki import CertificateAuthority, PkiError

    try:
        facility = MedicalInstitutionCode(code.strip())
    except InvalidIdentifier as exc:
        _fail(str(exc))
    if not name.strip():
        _fail("the facility needs a name")
    owned = central is None
    central = central or _central(settings)
    try:
        central.register_facility(facility, name.strip())
        ca = CertificateAuthority.load_or_create(settings.ca_dir, FACILITY_CA_NAME)
        issued = ca.issue_facility_certificate(facility.value, name.strip())
        out.mkdir(parents=True, exist_ok=True)
        cert, key, ca_copy = (out / f for f in FACILITY_FILES)
        issued.write(cert, key)
        ca_copy.write_bytes(ca.cert_pem)
    except (PkiError, OSError) as exc:
        _fail(str(exc), 1)
    finally:
        if owned:
            central.db.dispose()
    return cert, key, ca_copy


# -- query -------------------------------------------------------------------------------------


@app.command()
def query(
    insurer: Annotated[str, typer.Option("--insurer", help="InsurerNumber (6 or 8 digits).")],
    symbol: Annotated[str, typer.Option("--symbol", help="InsuredCardSymbol ('' if none).")],
    number: Annotated[str, typer.Option("--number", help="InsuredIdentificationNumber.")],
    birthdate: Annotated[str, typer.Option("--birthdate", help="Birthdate, YYYYMMDD.")],
    date: Annotated[str, typer.Option("--date", help="QualificationConfirmationDate, YYYYMMDD.")],
    branch: Annotated[
        str | None, typer.Option("--branch", help="InsuredBranchNumber (2 digits).")
    ] = None,
    limit_consent: Annotated[
        bool,
        typer.Option(
            "--limit-consent", help="LimitApplicationCertificateRelatedConsFlg=1: add limit info."
        ),
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Answer one eligibility question in-process; print one JSON object with OQS names."""
    from onshi.central.domain.qualification import CardKey
    from onshi.central.services.questions import CardNumberQuestion
    from onshi.oqs import identifiers as ids

    try:
        question = CardNumberQuestion(
            key=CardKey(
                ids.insurer_number(insurer),
                ids.insured_card_symbol(symbol),
                ids.insured_identification_number(number),
                ids.insured_branch_number(branch),
            ),
            birthdate=ids.oqs_date(birthdate, "--birthdate"),
            on=ids.oqs_date(date, "--date"),
            limit_consent=limit_consent,
        )
    except ids.InvalidIdentifier as exc:
        _fail(str(exc))
    central = _central(settings_from_options(database_url=db, data_dir=data_dir))
    try:
        answer = central.query_flat(question)
    finally:
        central.db.dispose()
    typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))


# -- audit verify / checkpoint -----------------------------------------------------------------

CheckpointOption = Annotated[
    Path | None,
    typer.Option("--checkpoint", help="A signed checkpoint the log must extend."),
]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        help="The checkpoint signer's public key (default: <signing key>.pub of the settings).",
    ),
]


SinceOption = Annotated[
    bool,
    typer.Option(
        "--since-checkpoint",
        help="Walk only what follows the checkpoint (hourly runs); a full walk finds more.",
    ),
]


def _read_checkpoint(settings: Any, path: Path, public_key: Path | None) -> Any:
    """A signed checkpoint whose signature verifies (exit 1 if it does not, 2 if unreadable)."""
    from onshi.audit.chain import CheckpointInvalid, parse_and_verify
    from onshi.audit.keys import KeyFileError, public_key_path, verification_key

    try:
        signer = verification_key(public_key or public_key_path(settings.audit_signing_key_path))
        text = path.read_text(encoding="utf-8")
    except (KeyFileError, OSError) as exc:
        _fail(str(exc))
    try:
        return parse_and_verify(text, signer)
    except CheckpointInvalid as exc:
        _fail(f"checkpoint {path} refused: {exc}", 1)


def _audit_keys(settings: Any, public_key: Path | None = None) -> Any:
    """The audit key and those it replaced (a KeyRing), their closing checkpoints checked with
    ``public_key`` (default: the signing key's ``.pub``); a tampered closing file is exit 1."""
    from onshi.audit.chain import CheckpointInvalid
    from onshi.audit.keys import KeyFileError, key_ring, public_key_path

    try:
        return key_ring(
            settings.audit_key_path,
            public_key or public_key_path(settings.audit_signing_key_path),
        )
    except KeyFileError as exc:
        _fail(f"{exc} (give --data-dir or ONSHI_CENTRAL_AUDIT_KEY_FILE)")
    except CheckpointInvalid as exc:
        _fail(f"a replaced audit key's closing checkpoint refused: {exc}", 1)


@audit_app.command("verify")
def audit_verify(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    checkpoint: CheckpointOption = None,
    public_key: PublicKeyOption = None,
    since_checkpoint: SinceOption = False,
) -> None:
    """Walk every audit chain: OK with the entry count and the full head, or the first broken
    entry or the missing tail (exit 1). With --checkpoint, the log must extend it."""
    from onshi.central.errors import AuditChainBroken
    from onshi.central.services.audit import verify_chain
    from onshi.central.storage.database import Database

    settings = settings_from_options(database_url=db, data_dir=data_dir)
    if since_checkpoint and checkpoint is None:
        _fail("--since-checkpoint needs --checkpoint")
    keys = _audit_keys(settings, public_key)
    pinned = None if checkpoint is None else _read_checkpoint(settings, checkpoint, public_key)
    database = Database(settings.database_url)
    try:
        report = verify_chain(database, keys, checkpoint=pinned, trust_checkpoint=since_checkpoint)
    except AuditChainBroken as exc:
        _fail(f"audit chain broken: {exc.message}", 1)
    finally:
        database.dispose()
    typer.echo(f"OK: {report.entries} entries in {len(report.chains)} chain(s), head {report.head}")
    if pinned is not None:
        typer.echo(
            f"extends the checkpoint of {pinned.time.isoformat()}"
            f" ({pinned.count} entries, head {pinned.head})"
        )
    for old in keys.unretired():
        typer.echo(
            f"note: audit key {old.id} was replaced but is not retired: its chains may still grow."
            " Once every process started before the rotation has stopped, run"
            " `onshi central audit retire-keys`."
        )


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option("--out", help="Where to write the signed checkpoint.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
    previous: Annotated[
        Path | None,
        typer.Option("--previous", help="The last checkpoint: walk only what follows it."),
    ] = None,
) -> None:
    """Verify the log, then write a signed checkpoint (count, head, time) to publish elsewhere."""
    from onshi.central.errors import AuditChainBroken
    from onshi.central.services.audit import make_checkpoint
    from onshi.central.services.clock import jst_now
    from onshi.central.storage.database import Database

    settings = settings_from_options(database_url=db, data_dir=data_dir)
    keys = _audit_keys(settings)
    signer = _signer(settings)
    last = None if previous is None else _read_checkpoint(settings, previous, None)
    database = Database(settings.database_url)
    try:
        made = make_checkpoint(database, keys, signer, jst_now(), last)
    except AuditChainBroken as exc:
        _fail(f"audit chain broken, no checkpoint written: {exc.message}", 1)
    finally:
        database.dispose()
    aside = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        aside.write_text(made.to_json(), encoding="utf-8")
        aside.replace(out)  # a reader never sees half a checkpoint
    except OSError as exc:
        _fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(f"checkpoint: {made.count} entries, head {made.head} -> {out}")


def _signer(settings: Any) -> Any:
    """The checkpoint signing key, made on first use."""
    from onshi.audit.keys import KeyFileError, signing_key

    try:
        return signing_key(settings.audit_signing_key_path, create=True)
    except KeyFileError as exc:
        _fail(str(exc))


@audit_app.command("rotate-key")
def audit_rotate_key(data_dir: DataDirOption = None) -> None:
    """Replace the audit key (say, after someone who could read it left). The old key is kept
    beside it for verifying; new service processes write new chains under the new key."""
    from onshi.audit.keys import KeyFileError, replaced_keys_dir, rotate_audit_key

    settings = settings_from_options(data_dir=data_dir)
    try:
        old, new = rotate_audit_key(settings.audit_key_path)
    except KeyFileError as exc:
        _fail(f"{exc} (give --data-dir or ONSHI_CENTRAL_AUDIT_KEY_FILE)")
    except OSError as exc:
        _fail(f"cannot replace the audit key: {exc}")
    typer.echo(
        f"audit key {old} replaced by {new}; the old key is kept in"
        f" {replaced_keys_dir(settings.audit_key_path)}.\n"
        "Restart every service process (processes running now go on under the old key), then"
        " run `onshi central audit retire-keys` so that nothing more is accepted under it."
    )


@audit_app.command("retire-keys")
def audit_retire_keys(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Close every replaced audit key: the log verified, the chains written under each key are
    signed as they are now; any entry added under it later makes `audit verify` fail."""
    from onshi.audit.keys import write_closing
    from onshi.central.errors import AuditChainBroken
    from onshi.central.services.audit import retire_old_keys
    from onshi.central.services.clock import jst_now
    from onshi.central.storage.database import Database

    settings = settings_from_options(database_url=db, data_dir=data_dir)
    keys = _audit_keys(settings)
    if not keys.unretired():
        typer.echo("no replaced audit key waits to be retired")
        return
    signer = _signer(settings)
    database = Database(settings.database_url)
    try:
        closings = retire_old_keys(database, keys, signer, jst_now())
    except AuditChainBroken as exc:
        _fail(f"audit chain broken, no key retired: {exc.message}", 1)
    finally:
        database.dispose()
    for closing in closings:
        try:
            out = write_closing(settings.audit_key_path, closing.to_json(), closing.audit_key_id)
        except OSError as exc:
            _fail(f"cannot write the closing of audit key {closing.audit_key_id}: {exc}")
        typer.echo(
            f"retired audit key {closing.audit_key_id}: {len(closing.chains)} chain(s),"
            f" {closing.count} entries pinned -> {out}"
        )


@card_app.command("revoke")
def card_revoke(
    serial: Annotated[str, typer.Argument(help="The user certificate's serial number, hex.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a card's user certificate (lost or suspended card): it is refused from now on."""
    if not serial.strip() or any(c not in "0123456789abcdefABCDEFx" for c in serial.strip()):
        _fail("the serial must be hexadecimal")
    central = _central(settings_from_options(database_url=db, data_dir=data_dir))
    try:
        revoked = central.revoke_card_serial(None, serial.strip())
    finally:
        central.db.dispose()
    if not revoked:
        _fail("no registered, unrevoked card has this serial", 1)
    typer.echo(f"revoked: {revoked} card link(s)")


# -- demo --------------------------------------------------------------------------------------


@app.command("demo")
def demo(
    db: DbOption = None,
    port: Annotated[
        int | None, typer.Option(help="Port of the API (default 8443; 0: any free one).")
    ] = None,
    facility: Annotated[str, typer.Option(help="The demo facility's code.")] = DEMO_FACILITY,
) -> None:
    """The central service alone on sample data: a facility certificate, the HTTPS API, a curl line.

    (``onshi demo`` starts the whole clinic, terminal agent and reception screen included.)
    """
    from onshi.central.api import create_app
    from onshi.central.api.server import ensure_server_tls, serve_forever
    from onshi.web import bind

    # The same defaults as every command (var/central, var/facility) and as `onshi demo`.
    settings = settings_from_options(database_url=db, host="127.0.0.1", port=port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging()
    central = _central(settings)
    load_sample_data(central, DATA_ROOT)
    cert, key, ca = (
        p.resolve()
        for p in add_facility(settings, facility, "オンシ デモ診療所", FACILITY_DIR, central)
    )
    tls = ensure_server_tls(settings.data_dir, settings.ca_dir, settings.host)
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        _fail(f"cannot listen on port {settings.port} ({exc.strerror}); try --port 0", 1)
    url = _url(settings.host, sock.getsockname()[1])
    _print_demo(url, settings, cert, key, ca, sample_person(central))
    serve_forever(create_app(central, settings), tls, sock)


def load_sample_data(central: Any, data_dir: Path) -> None:
    """Generate and import a sample population once (when the database has nobody yet)."""
    from sqlalchemy import func, select

    from onshi.central.storage import tables as t

    with central.db.sessions() as session:
        if session.scalar(select(func.count()).select_from(t.Qualification)):
            return
    from onshi.central.errors import ImportFailed

    try:
        from onshi.central.intake.generate import generate_population
        from onshi.central.intake.insured_store import import_insured
        from onshi.central.intake.records_store import import_linked
    except ImportError:  # pragma: no cover — intake not installed
        typer.echo("note: the intake generator is not available; the database stays empty")
        return
    sample = data_dir / "sample"
    typer.echo(f"generating {DEMO_PERSONS} sample insured persons in {sample} …")
    generate_population(sample, DEMO_PERSONS, history=True)
    with (sample / "insured.csv").open("a", encoding="utf-8", newline="") as csv:
        csv.write(EXAMPLE_PERSON_ROW)
    with (sample / "insured.csv").open("rb") as stream:
        try:
            typer.echo(f"insured.csv: {import_insured(central.db, stream).summary()}")
        except ImportFailed as exc:
            _fail(f"sample data not loaded: {exc.message}", 1)
    for kind in ("limit", "specific-disease", "drug", "checkup", "diagnosis", "operation"):
        path = sample / f"{kind}.jsonl"
        if path.exists():
            with path.open("rb") as stream:
                typer.echo(f"{path.name}: {import_linked(central.db, kind, stream).summary()}")


def sample_person(central: Any) -> dict[str, str] | None:
    from sqlalchemy import select

    from onshi.central.storage import tables as t

    with central.db.sessions() as session:
        row = session.scalars(
            select(t.Qualification)
            .where(t.Qualification.DisqualificationDate.is_(None))
            .order_by(t.Qualification.id)
            .limit(1)
        ).first()
        if row is None:
            return None
        return {
            "InsurerNumber": row.InsurerNumber,
            "InsuredCardSymbol": row.InsuredCardSymbol,
            "InsuredIdentificationNumber": row.InsuredIdentificationNumber,
            "InsuredBranchNumber": row.InsuredBranchNumber or "",
            "Birthdate": row.Birthdate.strftime("%Y%m%d"),
        }


def _print_demo(
    url: str, settings: Any, cert: Path, key: Path, ca: Path, person: dict[str, str] | None
) -> None:
    db_url = settings.database_url
    lines = [
        "",
        "onshi demo — central eligibility service",
        f"  API          {url}",
        f"  OpenAPI      {url}/docs   (a browser needs the facility certificate too)",
        f"  database     {db_url}",
        f"  facility     cert {cert}",
        f"               key  {key}",
        f"               CA   {ca}",
    ]
    if person is not None:
        curl, query = api_examples(url, db_url, settings.data_dir.resolve(), cert, key, ca, person)
        lines += ["", "Try:", f"  {curl}", "", f"  {query}"]
    lines += ["", "Ctrl-C stops the service.", ""]
    typer.echo("\n".join(lines))


def api_examples(
    url: str,
    db_url: str,
    data_dir: Path,
    cert: Path,
    key: Path,
    ca: Path,
    person: dict[str, str],
    program: str = "onshi",
) -> tuple[str, str]:
    """A ready-to-paste curl call of the API and the same question as ``onshi central query``."""
    today = dt.date.today().strftime("%Y%m%d")
    body = json.dumps(
        {"QualificationConfirmationDate": today, "QualificationConfirmSearchInfo": person},
        ensure_ascii=False,
    )
    curl = " ".join(
        [
            "curl",
            f"--cert {shlex.quote(str(cert))}",
            f"--key {shlex.quote(str(key))}",
            f"--cacert {shlex.quote(str(ca))}",
            "-H 'content-type: application/json'",
            f"-d {shlex.quote(body)}",
            f"{url}/v1/eligibility/card-number",
        ]
    )
    query = " ".join(
        [
            f"{program} central query",
            f"--db {shlex.quote(db_url)}",
            f"--data-dir {shlex.quote(str(data_dir))}",
            f"--insurer {shlex.quote(person['InsurerNumber'])}",
            f"--symbol {shlex.quote(person['InsuredCardSymbol'])}",
            f"--number {shlex.quote(person['InsuredIdentificationNumber'])}",
            *(
                [f"--branch {shlex.quote(person['InsuredBranchNumber'])}"]
                if person["InsuredBranchNumber"]
                else []
            ),
            f"--birthdate {person['Birthdate']}",
            f"--date {today}",
        ]
    )
    return curl, query
