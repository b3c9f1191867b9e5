"""``onshi vpn session …``, ``invoice`` and ``audit``: what operators and auditors look at."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from onshi.audit.chain import GENESIS, Checkpoint, CheckpointInvalid, parse_and_verify
from onshi.audit.keys import (
    KeyFileError,
    public_key_path,
    replaced_keys_dir,
    verification_key,
)
from onshi.pki import PkiError
from onshi.pki._files import PUBLIC_MODE, write_atomically
from onshi.vpn.commands._store import (
    ByOption,
    DataDirOption,
    DbOption,
    FormatOption,
    check_format,
    check_out_dir,
    fail,
    load_settings,
    print_json,
    reported,
    run,
)
from onshi.vpn.domain.billing import Invoice, Issuer
from onshi.vpn.domain.calendar import YearMonth
from onshi.vpn.errors import AuditChainBroken, InvalidInput
from onshi.vpn.settings import VpnSettings

# -- sessions ----------------------------------------------------------------------------

session_app = typer.Typer(help="VPN sessions the gateway reported; cut one.", no_args_is_help=True)


@session_app.command("list")
def session_list(
    account: Annotated[
        str | None, typer.Option("--account", help="one ID's sessions (default: all up now)")
    ] = None,
    recent: Annotated[
        bool, typer.Option("--recent", help="with --account: the latest, ended ones too")
    ] = False,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Sessions up now (or an ID's latest connections)."""
    check_format(output)
    if recent and account is None:
        fail(InvalidInput("--recent needs --account"))
    views = run(
        db,
        data_dir,
        lambda c: (
            c.recent_connections(account) if recent and account else c.active_sessions(account)
        ),
    )
    rows = [
        {
            "id": v.id,
            "account": v.account,
            "device": v.device,
            "virtual_address": v.virtual_address,
            "started_at": v.started_at.isoformat() + "Z",
            "ended_at": v.ended_at.isoformat() + "Z" if v.ended_at else None,
            "bytes_in": v.bytes_in,
            "bytes_out": v.bytes_out,
            "termination_requested": v.termination_requested,
        }
        for v in views
    ]
    if output == "json":
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['id']:>6}  {r['account']}  {r['device'] or '-'}  {r['virtual_address'] or '-'}  "
            f"since {r['started_at']}  {'ended ' + str(r['ended_at']) if r['ended_at'] else 'up'}"
            + ("  (cut requested)" if r["termination_requested"] else "")
        )


@session_app.command("cut")
def session_cut(
    session_id: Annotated[int, typer.Argument(help="the session's id (session list)")],
    by: ByOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Ask the gateway to cut a session (it polls the requests and reports back)."""
    request = run(db, data_dir, lambda c: c.request_session_termination(session_id, by=by))
    typer.echo(f"termination of session {session_id} requested (request {request})")


def _issuer(settings: VpnSettings) -> Issuer:
    return Issuer(
        name=settings.invoice_issuer_name,
        registration_number=settings.invoice_registration_number,
        address=settings.invoice_issuer_address,
        contact=settings.invoice_issuer_contact,
        payment_terms=settings.invoice_payment_terms,
    )


def invoice_command(
    month: Annotated[str, typer.Option("--month", help="the billed month, YYYY-MM")],
    output: FormatOption = "text",
    out: Annotated[
        Path | None, typer.Option("--out", help="folder to write one PDF per invoice into")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Every contract's invoice for a month (JSON, a table, and with --out the PDFs)."""
    check_format(output)
    with reported():
        billed = YearMonth.parse(month)
        issuer = _issuer(load_settings(db, data_dir))
    if out is not None:
        check_out_dir(out)
    invoices: list[Invoice] = run(db, data_dir, lambda c: c.invoices(billed))
    pdfs: dict[str, str] = {}
    if out is not None:
        from onshi.vpn.invoice_pdf import render_invoice_pdf  # reportlab only when asked

        for invoice in invoices:
            path = out / f"{invoice.number}.pdf"
            try:
                write_atomically(path, render_invoice_pdf(invoice, issuer), mode=PUBLIC_MODE)
            except PkiError as exc:
                fail(InvalidInput(str(exc)))
            pdfs[invoice.number] = str(path)
    if output == "json":
        print_json(
            [
                {**invoice.as_dict(), **({"pdf": pdfs[invoice.number]} if pdfs else {})}
                for invoice in invoices
            ]
        )
        return
    if not invoices:
        typer.echo(f"no contract is billed for {billed}")
    for invoice in invoices:
        typer.echo(
            f"{invoice.number}  {invoice.organisation}  subtotal ¥{invoice.subtotal_yen:,}  "
            f"tax ¥{invoice.tax_yen:,}  total ¥{invoice.total_yen:,}"
            + (f"  {pdfs[invoice.number]}" if pdfs else "")
        )


audit_app = typer.Typer(
    help="The tamper-evident audit log: show, verify, checkpoint, replace and retire its key.",
    invoke_without_command=True,
)


@audit_app.callback()
def audit_command(
    context: typer.Context,
    limit: Annotated[int, typer.Option("--limit", help="newest entries to show")] = 50,
    verify: Annotated[bool, typer.Option("--verify", help="check the whole hash chain")] = False,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="with --verify: a signed checkpoint the log must extend"),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="the checkpoint signer's public key (default: <signing key>.pub of the settings)",
        ),
    ] = None,
    viewer: Annotated[
        str | None, typer.Option("--viewer", help="the auditor reading (default: console)")
    ] = None,
    output: FormatOption = "text",
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Show the newest audit entries, or verify the keyed hash chain (exit 1 if broken)."""
    if context.invoked_subcommand is not None:
        return
    check_format(output)
    if checkpoint is not None and not verify:
        fail(InvalidInput("--checkpoint goes with --verify"))
    if verify:
        pinned = None
        if checkpoint is not None:
            pinned = _read_checkpoint(load_settings(db, data_dir), checkpoint, public_key)
        report = run(db, data_dir, lambda c: c.verify_audit_chain(pinned))
        if output == "json":
            print_json(
                {
                    "entries": report.entries,
                    "head": report.head,
                    **({"checkpoint": _summary(pinned)} if pinned else {}),
                }
            )
            return
        typer.echo(f"OK: audit chain intact: {report.entries} entries, head {report.head}")
        if pinned is not None:
            typer.echo(
                f"extends the checkpoint of {pinned.time.isoformat()}"
                f" ({pinned.count} entries, head {_chain_head(pinned)})"
            )
        for old in report.unretired:
            typer.echo(
                f"note: audit key {old} was replaced but is not retired: entries under it could"
                " still be rewritten by whoever holds it. Run `onshi vpn audit retire-keys`."
            )
        return
    entries = run(db, data_dir, lambda c: c.audit_log(viewer=viewer, limit=limit))
    rows = [
        {
            "seq": e.seq,
            "at": e.recorded_at.isoformat() + "Z",
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "outcome": e.outcome,
            "detail": e.detail,
        }
        for e in entries
    ]
    if output == "json":
        print_json(rows)
    else:
        for r in rows:
            typer.echo(
                f"{r['seq']:>6}  {r['at']}  {r['actor']}  {r['action']}  {r['subject'] or '-'}  "
                f"{r['outcome']}  {r['detail'] or ''}"
            )


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option("--out", help="where to write the signed checkpoint")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Verify the chain, then write a signed checkpoint (count, head, time) to publish elsewhere."""
    made = run(db, data_dir, lambda c: c.audit_checkpoint())
    try:
        # Written aside then renamed: a reader never sees half a checkpoint.
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, made.to_json().encode(), mode=PUBLIC_MODE)
    except PkiError as exc:
        fail(InvalidInput(str(exc)))
    except OSError as exc:
        fail(InvalidInput(f"cannot write {out}: {exc.strerror}"))
    typer.echo(f"checkpoint: {made.count} entries, head {_chain_head(made)} -> {out}")


@audit_app.command("rotate-key")
def audit_rotate_key(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Replace the audit key (say, after someone who could read it left) and hand the chain
    over to the new one; the old key is kept beside it for verifying."""
    old, new = run(db, data_dir, lambda c: c.rotate_audit_key())
    kept = replaced_keys_dir(load_settings(db, data_dir).audit_key_path)
    typer.echo(
        f"audit key {old} replaced by {new}; the chain is handed over to it (an"
        f" audit.key-rotated entry). The old key is kept in {kept}.\n"
        "Running processes follow at their next action. Then run `onshi vpn audit retire-keys`"
        " so that nothing more is accepted under the old key."
    )


@audit_app.command("retire-keys")
def audit_retire_keys(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Close every replaced audit key: the log verified, where each key's part of the chain
    ends is signed and kept beside it; any entry under it later makes `--verify` fail."""
    closings = run(db, data_dir, lambda c: c.retire_audit_keys())
    if not closings:
        typer.echo("no replaced audit key waits to be retired")
    for closing, out in closings:
        typer.echo(
            f"retired audit key {closing.audit_key_id}: its part ends at entry"
            f" {closing.count} -> {out}"
        )


def _summary(checkpoint: Checkpoint) -> dict[str, object]:
    return {
        "time": checkpoint.time.isoformat(),
        "entries": checkpoint.count,
        "head": _chain_head(checkpoint),
    }


def _chain_head(checkpoint: Checkpoint) -> str:
    """The newest link the checkpoint pins, the value ``--verify`` prints as ``head`` (the file's
    own ``head`` is the tree head of the shared checkpoint format, over this one chain)."""
    return next((c.head for c in checkpoint.chains), GENESIS)


def _read_checkpoint(settings: VpnSettings, path: Path, public_key: Path | None) -> Checkpoint:
    """A checkpoint whose signature verifies (exit 1 if it does not, 2 if it cannot be read)."""
    try:
        signer = verification_key(public_key or public_key_path(settings.audit_signing_key_path))
        content = path.read_text(encoding="utf-8")
    except KeyFileError as exc:
        fail(InvalidInput(str(exc)))
    except (OSError, UnicodeDecodeError) as exc:
        fail(InvalidInput(f"cannot read the checkpoint {path}: {exc}"))
    try:
        return parse_and_verify(content, signer)
    except CheckpointInvalid as exc:
        fail(AuditChainBroken(f"checkpoint {path} refused: {exc}"))


def register(app: typer.Typer) -> None:
    app.add_typer(session_app, name="session")
    app.command("invoice")(invoice_command)
    app.add_typer(audit_app, name="audit")
